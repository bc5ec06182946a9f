import { join } from "node:path";
import { type ExecutorName, isExecutorName, isQueueName, MAX_QUEUE_LIMIT } from "./task.ts";

/** Everything the server reads from its environment, validated once. */
export interface Config {
  /** State directory: the database and one folder per task. BACKBURNER_HOME, default ~/.backburner */
  readonly home: string;
  /** Seconds between SIGTERM and SIGKILL when stopping a task. BACKBURNER_GRACE_SECONDS, default 5 */
  readonly graceSeconds: number;
  /** Most characters of output one reply returns. BACKBURNER_MAX_OUTPUT_CHARS, default 20000 */
  readonly maxOutputChars: number;
  /** A task whose log grows past this many bytes is stopped. BACKBURNER_MAX_LOG_BYTES, default 1 GiB */
  readonly maxLogBytes: number;
  /** Ended tasks are removed this many days after they ended. BACKBURNER_RETENTION_DAYS, default 30 */
  readonly retentionDays: number;
  /** What a graceful shutdown does with this server's running tasks. BACKBURNER_ON_EXIT, default keep */
  readonly onExit: "keep" | "cancel";
  /** Comma-separated regexes every simple command must match. BACKBURNER_ALLOW */
  readonly allow: string | undefined;
  /** Comma-separated regexes no simple command may match. BACKBURNER_DENY */
  readonly deny: string | undefined;
  /**
   * The longest MCP message read from stdin, in bytes; also how much may wait unread on stdout
   * before the client is taken as gone. BACKBURNER_MAX_MESSAGE_BYTES, default 64 MiB
   */
  readonly maxMessageBytes: number;
  /**
   * Queue limits set where the store has none yet, e.g. "default=4,gpu=1". BACKBURNER_QUEUES,
   * default: no limits
   */
  readonly queueLimits: ReadonlyMap<string, number>;
  /** The executor of tasks started without one. BACKBURNER_EXECUTOR, "local" or "slurm", default local */
  readonly defaultExecutor: ExecutorName;
}

/** Parses BACKBURNER_QUEUES ("name=limit,..."); throws a RangeError naming the bad entry. */
export function parseQueueLimits(raw: string | undefined): Map<string, number> {
  const limits = new Map<string, number>();
  if (raw === undefined || raw.trim() === "") return limits;
  for (const entry of raw.split(",")) {
    if (entry.trim() === "") continue;
    const [name, limit, ...rest] = entry.split("=").map((part) => part.trim());
    const value = Number(limit);
    if (
      rest.length > 0 || !isQueueName(name ?? "") || limit === undefined || limit === "" ||
      !Number.isSafeInteger(value) || value < 1 || value > MAX_QUEUE_LIMIT
    ) {
      throw new RangeError(
        `Invalid BACKBURNER_QUEUES entry "${entry.trim()}": write name=limit pairs separated by commas, such as "default=4,gpu=1", with names of 1 to 64 letters, digits, _, . or - and limits from 1 to ${MAX_QUEUE_LIMIT}`,
      );
    }
    limits.set(name, value);
  }
  return limits;
}

function number(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(
      `Invalid ${name} "${raw}": set it to a number from ${min} to ${max}, or unset it for ${fallback}`,
    );
  }
  return value;
}

/**
 * Reads the settings from `env`; `homeDir` is the user's home for the default state directory.
 * Throws RangeError naming the variable when a value is unusable.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  homeDir: string | undefined,
): Config {
  const home = env.BACKBURNER_HOME?.trim() ||
    (homeDir ? join(homeDir, ".backburner") : undefined);
  if (!home) {
    throw new RangeError("Cannot find a state directory: set BACKBURNER_HOME or HOME");
  }
  const onExit = (env.BACKBURNER_ON_EXIT?.trim() || "keep").toLowerCase();
  if (onExit !== "keep" && onExit !== "cancel") {
    throw new RangeError(
      `Invalid BACKBURNER_ON_EXIT "${env.BACKBURNER_ON_EXIT}": set it to "keep" or "cancel"`,
    );
  }
  const executor = (env.BACKBURNER_EXECUTOR?.trim() || "local").toLowerCase();
  if (!isExecutorName(executor)) {
    throw new RangeError(
      `Invalid BACKBURNER_EXECUTOR "${env.BACKBURNER_EXECUTOR}": set it to "local" or "slurm", or unset it for local`,
    );
  }
  return {
    home,
    graceSeconds: number(env, "BACKBURNER_GRACE_SECONDS", 5, 0, 3600),
    maxOutputChars: number(env, "BACKBURNER_MAX_OUTPUT_CHARS", 20_000, 200, 10_000_000),
    maxLogBytes: number(env, "BACKBURNER_MAX_LOG_BYTES", 1024 ** 3, 1024, 2 ** 50),
    retentionDays: number(env, "BACKBURNER_RETENTION_DAYS", 30, 0, 36_500),
    onExit,
    allow: env.BACKBURNER_ALLOW,
    deny: env.BACKBURNER_DENY,
    maxMessageBytes: number(
      env,
      "BACKBURNER_MAX_MESSAGE_BYTES",
      64 * 1024 ** 2,
      1024 ** 2,
      256 * 1024 ** 2,
    ),
    queueLimits: parseQueueLimits(env.BACKBURNER_QUEUES),
    defaultExecutor: executor,
  };
}
