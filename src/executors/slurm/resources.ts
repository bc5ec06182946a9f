/**
 * What a task asks of Slurm (`slurm: {partition?, cpus?, memory?, gpus?, time_limit?, account?}`),
 * validated into sbatch's options. Each bad field is a RangeError naming the field, the value and
 * what to pass instead.
 *
 * @module
 */

/** A task's Slurm settings as an agent passes them. */
export interface SlurmSettings {
  readonly partition?: string;
  readonly cpus?: number;
  /** sbatch's --mem: a number of megabytes, or with a unit (K, M, G, T), such as "4G". */
  readonly memory?: string | number;
  /** sbatch's --gpus: a count, or "type:count", such as "a100:2". */
  readonly gpus?: string | number;
  /** Slurm's time formats: "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS". */
  readonly time_limit?: string;
  readonly account?: string;
}

/** Validated settings, in the units sbatch takes. */
export interface SlurmResources {
  readonly partition: string | null;
  readonly cpus: number | null;
  /** sbatch --mem's value ("4G", "512M"). */
  readonly memory: string | null;
  /** sbatch --gpus's value ("2", "a100:2"). */
  readonly gpus: string | null;
  /** Seconds; null for the partition's default limit. */
  readonly timeLimitSeconds: number | null;
  readonly account: string | null;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MEMORY = /^([1-9][0-9]*)([KMGT]?)B?$/i;
const GPUS = /^(?:([A-Za-z0-9][A-Za-z0-9_.-]*):)?([1-9][0-9]*)$/;
const KNOWN = new Set(["partition", "cpus", "memory", "gpus", "time_limit", "account"]);

function invalid(field: string, value: unknown, hint: string): RangeError {
  return new RangeError(`Invalid slurm.${field} ${JSON.stringify(value)}: ${hint}`);
}

function name(field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || !NAME.test(value) || value.length > 64) {
    throw invalid(field, value, `pass the name of a Slurm ${field} (letters, digits, _ . -)`);
  }
  return value;
}

/**
 * Seconds in one of Slurm's time formats; null when the text is none of them. Slurm reads "MM",
 * "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM" and "D-HH:MM:SS".
 */
export function parseSlurmTime(text: string): number | null {
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text.trim());
  if (!match) return null;
  const [, days, a, b, c] = match;
  const n = (part: string | undefined) => part === undefined ? 0 : Number(part);
  if (days !== undefined) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    return n(days) * 86_400 + n(a) * 3_600 + n(b) * 60 + n(c);
  }
  if (c !== undefined) return n(a) * 3_600 + n(b) * 60 + n(c);
  if (b !== undefined) return n(a) * 60 + n(b);
  return n(a) * 60;
}

/** Validates a task's Slurm settings. Throws RangeError naming the first bad field. */
export function validateSlurmSettings(settings: unknown): SlurmResources {
  if (settings === undefined || settings === null) settings = {};
  if (typeof settings !== "object" || Array.isArray(settings)) {
    throw new RangeError(
      `Invalid slurm settings ${
        JSON.stringify(settings)
      }: pass an object such as {"cpus": 4, "memory": "8G"}`,
    );
  }
  const input = settings as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) {
      throw new RangeError(
        `Unknown slurm setting "${key}": pass only partition, cpus, memory, gpus, time_limit or account`,
      );
    }
  }
  const { cpus, memory, gpus, time_limit } = input;
  if (cpus !== undefined && (!Number.isInteger(cpus) || (cpus as number) < 1)) {
    throw invalid("cpus", cpus, "pass a whole number of CPUs, 1 or more, such as 4");
  }
  let mem: string | null = null;
  if (memory !== undefined) {
    const match = MEMORY.exec(String(memory));
    if ((typeof memory !== "string" && typeof memory !== "number") || !match) {
      throw invalid(
        "memory",
        memory,
        'pass megabytes as a number, or a size such as "512M" or "8G"',
      );
    }
    mem = `${match[1]}${(match[2] || "M").toUpperCase()}`;
  }
  let gpu: string | null = null;
  if (gpus !== undefined) {
    if ((typeof gpus !== "string" && typeof gpus !== "number") || !GPUS.test(String(gpus))) {
      throw invalid(
        "gpus",
        gpus,
        'pass a count of GPUs such as 1, or a type and count such as "a100:2"',
      );
    }
    gpu = String(gpus);
  }
  let limit: number | null = null;
  if (time_limit !== undefined) {
    const seconds = typeof time_limit === "string" ? parseSlurmTime(time_limit) : null;
    if (seconds === null || seconds < 1) {
      throw invalid(
        "time_limit",
        time_limit,
        'pass a duration in a Slurm time format, such as "30" (minutes), "2:00:00" or "1-12:00:00"',
      );
    }
    limit = seconds;
  }
  return {
    partition: name("partition", input.partition),
    cpus: (cpus as number | undefined) ?? null,
    memory: mem,
    gpus: gpu,
    timeLimitSeconds: limit,
    account: name("account", input.account),
  };
}
