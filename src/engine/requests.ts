/**
 * What callers ask the engine for (start a task, read its output, list tasks), checked and
 * normalised before anything happens: each refusal is a BackburnerError("invalid_argument") that
 * names the argument, its value and what to pass instead.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { BackburnerError } from "../errors.ts";
import { TASK_MARKER } from "../executors/executor.ts";
import { type SlurmResources, validateSlurmSettings } from "../executors/slurm/resources.ts";
import type { GrepResult } from "../logs/grep.ts";
import type { Slice } from "../logs/slice.ts";
import {
  DEFAULT_QUEUE,
  type ExecutorName,
  isExecutorName,
  isQueueName,
  isTaskId,
  MAX_QUEUE_LIMIT,
  type Task,
  TASK_STATUSES,
  type TaskStatus,
} from "../task.ts";

export interface StartRequest {
  readonly command: string;
  readonly cwd?: string;
  readonly timeoutSeconds?: number;
  /** Extra environment variables for this task. */
  readonly env?: Record<string, string>;
  /** A short name shown in lists. */
  readonly label?: string;
  /** Text fed to the command's stdin, which is then closed. Default: empty stdin. */
  readonly stdin?: string;
  /** A stdin that stays open for send_input until it is closed, instead of stdin. Default false. */
  readonly interactive?: boolean;
  /**
   * A protocol task's ttl: keep it this long after creation (ms), capped at the retention period;
   * null for the retention period. Left out (plain tasks), a task is kept for the retention
   * period after it ends.
   */
  readonly ttlMs?: number | null;
  /** The queue whose limit it counts against. Default "default". */
  readonly queue?: string;
  /** Task ids that must all complete before it starts; if one does not, it fails without running. */
  readonly after?: readonly string[];
  /** How many times to run the command again when it exits non-zero (0 to 100). Default 0. */
  readonly retries?: number;
  /** Seconds before the first retry, doubled for each next one (capped at an hour). Default 1. */
  readonly retryDelaySeconds?: number;
  /**
   * Makes the start idempotent: while a task with this key is queued or working, or ended less
   * than IDEMPOTENCY_WINDOW_MS ago (capped by the retention period), the start returns it.
   */
  readonly idempotencyKey?: string;
  /** "local" (this machine) or "slurm" (a Slurm job). Default: the engine's default executor. */
  readonly executor?: string;
  /** What the Slurm job asks for (executor "slurm" only), checked by validateSlurmSettings. */
  readonly slurm?: unknown;
}

export interface ListRequest {
  readonly limit?: number;
  readonly status?: string;
  readonly label?: string;
  readonly cwd?: string;
}

/** Which part of a task's output to read; at most one of tail, head, offset and grep. */
export interface OutputRequest {
  readonly tailLines?: number;
  readonly headLines?: number;
  readonly offset?: number;
  readonly maxBytes?: number;
  readonly grep?: RegExp;
  readonly context?: number;
  readonly maxMatches?: number;
  /** The bytes as written instead of clean text. */
  readonly raw?: boolean;
}

export interface TaskOutput {
  readonly task: Task;
  /** Set for tail, head and range reads. */
  readonly slice?: Slice;
  /** Set for a grep. */
  readonly grep?: GrepResult;
}

const MAX_COMMAND_CHARS = 100_000;
export const MAX_STDIN_BYTES = 10 * 1024 * 1024;
const MAX_LABEL_CHARS = 100;
const MAX_ENV_ENTRIES = 200;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_TIMEOUT_SECONDS = 30 * 24 * 3600;
export const MAX_AFTER = 100;
export const MAX_RETRIES = 100;
export const MAX_RETRY_DELAY_SECONDS = 3600;
const MAX_KEY_CHARS = 200;

function invalid(message: string): BackburnerError {
  return new BackburnerError("invalid_argument", message);
}

/** A start request as the engine runs it: every field checked, the cwd resolved. */
export interface CheckedStart {
  readonly command: string;
  readonly cwd: string;
  readonly timeoutSeconds: number | null;
  readonly env: Record<string, string>;
  readonly label: string | null;
  /** The stdin text as bytes; undefined for an empty stdin. */
  readonly stdin: Uint8Array | undefined;
  /** A stdin that stays open for later input (input.ts). */
  readonly interactive: boolean;
  readonly queue: string;
  /** Distinct task ids, in the order given. */
  readonly after: readonly string[];
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly idempotencyKey: string | null;
  readonly executor: ExecutorName;
  /** Validated Slurm settings: set (possibly all null) for slurm tasks, null for local ones. */
  readonly slurm: SlurmResources | null;
}

/** Checks a start request; `defaultCwd` is where a task without a cwd (or a relative one) runs. */
export function checkStart(
  request: StartRequest,
  defaultCwd: string,
  defaultExecutor: ExecutorName = "local",
): CheckedStart {
  const command = request.command;
  if (typeof command !== "string" || command.trim() === "") {
    throw invalid("Cannot start task: command is empty: pass the shell command to run");
  }
  if (command.length > MAX_COMMAND_CHARS) {
    throw invalid(
      `Cannot start task: command is ${command.length} characters, more than ${MAX_COMMAND_CHARS}: put long scripts in a file and run that`,
    );
  }
  if (command.includes("\0")) {
    throw invalid("Cannot start task: command contains a NUL character: remove it");
  }
  const timeoutSeconds = request.timeoutSeconds ?? null;
  if (
    timeoutSeconds !== null &&
    !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 &&
      timeoutSeconds <= MAX_TIMEOUT_SECONDS)
  ) {
    throw invalid(
      `Cannot start task: timeout_seconds ${timeoutSeconds} is out of range: pass a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}, or leave it out for no timeout`,
    );
  }
  return {
    command,
    cwd: resolveCwd(request.cwd, defaultCwd),
    timeoutSeconds,
    env: checkEnv(request.env),
    label: checkLabel(request.label),
    stdin: checkStdin(request.stdin),
    interactive: checkInteractiveFlag(request.interactive, request.stdin),
    queue: checkQueue(request.queue),
    after: checkAfter(request.after),
    retries: checkRetries(request.retries),
    retryDelayMs: checkRetryDelay(request.retryDelaySeconds),
    idempotencyKey: checkKey(request.idempotencyKey),
    ...checkExecutor(request.executor, request.slurm, defaultExecutor),
  };
}

/** The executor and its settings, checked: slurm settings only with the slurm executor. */
function checkExecutor(
  executor: string | undefined,
  slurm: unknown,
  defaultExecutor: ExecutorName,
): { executor: ExecutorName; slurm: SlurmResources | null } {
  const name = executor ?? defaultExecutor;
  if (!isExecutorName(name)) {
    throw invalid(
      `Cannot start task: executor "${
        String(name).slice(0, 80)
      }" is unknown: pass "local" or "slurm", or leave it out for "${defaultExecutor}"`,
    );
  }
  if (name === "local") {
    if (slurm !== undefined && slurm !== null) {
      throw invalid(
        'Cannot start task: slurm settings apply only to executor "slurm": pass executor "slurm" or leave slurm out',
      );
    }
    return { executor: name, slurm: null };
  }
  try {
    return { executor: name, slurm: validateSlurmSettings(slurm ?? {}) };
  } catch (error) {
    if (error instanceof RangeError) throw invalid(error.message);
    throw error;
  }
}

/** A queue name, checked: 1 to 64 letters, digits, _, . or -. */
export function checkQueue(queue: string | undefined): string {
  if (queue === undefined) return DEFAULT_QUEUE;
  if (typeof queue !== "string" || !isQueueName(queue)) {
    throw invalid(
      `Invalid queue "${
        String(queue).slice(0, 80)
      }": use 1 to 64 letters, digits, _, . or -, or leave it out for "${DEFAULT_QUEUE}"`,
    );
  }
  return queue;
}

function checkAfter(after: readonly string[] | undefined): string[] {
  if (after === undefined) return [];
  if (!Array.isArray(after)) throw invalid("Cannot start task: after must be a list of task ids");
  if (after.length > MAX_AFTER) {
    throw invalid(
      `Cannot start task: after names ${after.length} tasks, more than ${MAX_AFTER}: chain fewer`,
    );
  }
  for (const id of after) {
    if (typeof id !== "string" || !isTaskId(id)) {
      throw invalid(
        `Cannot start task: after names unknown task "${
          String(id).slice(0, 80)
        }": pass ids that start_task or list_tasks returned`,
      );
    }
  }
  return [...new Set(after)];
}

function checkRetries(retries: number | undefined): number {
  if (retries === undefined) return 0;
  if (!(Number.isSafeInteger(retries) && retries >= 0 && retries <= MAX_RETRIES)) {
    throw invalid(
      `Cannot start task: retries ${retries} is out of range: pass a whole number from 0 to ${MAX_RETRIES}`,
    );
  }
  return retries;
}

function checkRetryDelay(seconds: number | undefined): number {
  if (seconds === undefined) return 1000;
  if (!(Number.isFinite(seconds) && seconds >= 0 && seconds <= MAX_RETRY_DELAY_SECONDS)) {
    throw invalid(
      `Cannot start task: retry_delay_seconds ${seconds} is out of range: pass a number of seconds from 0 to ${MAX_RETRY_DELAY_SECONDS}`,
    );
  }
  return Math.round(seconds * 1000);
}

function checkKey(key: string | undefined): string | null {
  if (key === undefined) return null;
  if (
    typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_CHARS || key.includes("\0")
  ) {
    throw invalid(
      `Cannot start task: idempotency_key must be 1 to ${MAX_KEY_CHARS} characters without NUL`,
    );
  }
  return key;
}

/** A queue limit, checked: a whole number from 1 to MAX_QUEUE_LIMIT, or null for none. */
export function checkQueueLimit(limit: number | null): number | null {
  if (limit === null) return null;
  if (!(Number.isSafeInteger(limit) && limit >= 1 && limit <= MAX_QUEUE_LIMIT)) {
    throw invalid(
      `Invalid queue limit ${limit}: pass a whole number from 1 to ${MAX_QUEUE_LIMIT}, or none for no limit`,
    );
  }
  return limit;
}

/**
 * Refuses a cwd that does not exist or is not a directory, before the task is queued (a queued
 * task would otherwise fail only when it starts). A cwd this process may not look at is left to
 * the spawn.
 */
export function checkCwdExists(cwd: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(cwd);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new BackburnerError(
        "spawn_failed",
        `Cannot start task: cwd "${cwd}" does not exist: pass an existing directory`,
      );
    }
    return;
  }
  if (!info.isDirectory) {
    throw new BackburnerError(
      "spawn_failed",
      `Cannot start task: cwd "${cwd}" is not a directory: pass an existing directory`,
    );
  }
}

/** A task's working directory: absolute, relative to `defaultCwd`, or `defaultCwd` itself. */
export function resolveCwd(cwd: string | undefined, defaultCwd: string): string {
  if (cwd === undefined) return defaultCwd;
  if (typeof cwd !== "string" || cwd.trim() === "") {
    throw invalid(
      "Cannot start task: cwd is empty: pass a directory, or leave cwd out to use the server's",
    );
  }
  if (cwd.includes("\0")) {
    throw invalid("Cannot start task: cwd contains a NUL character: remove it");
  }
  return isAbsolute(cwd) ? resolve(cwd) : resolve(defaultCwd, cwd);
}

function checkEnv(env: Record<string, string> | undefined): Record<string, string> {
  if (env === undefined) return {};
  const entries = Object.entries(env);
  if (entries.length > MAX_ENV_ENTRIES) {
    throw invalid(
      `Cannot start task: env has ${entries.length} variables, more than ${MAX_ENV_ENTRIES}: pass fewer`,
    );
  }
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) {
      throw invalid(
        `Cannot start task: env name "${
          name.slice(0, 80)
        }" is not a valid variable name: use letters, digits and _, not starting with a digit`,
      );
    }
    if (name === TASK_MARKER) {
      throw invalid(`Cannot start task: env may not set ${TASK_MARKER}: backburner sets it`);
    }
    if (typeof value !== "string" || value.includes("\0")) {
      throw invalid(
        `Cannot start task: env value of "${name}" must be a string without NUL characters`,
      );
    }
  }
  return env;
}

function checkLabel(label: string | undefined): string | null {
  if (label === undefined) return null;
  const trimmed = label.trim();
  if (trimmed === "" || trimmed.length > MAX_LABEL_CHARS || /\p{Cc}/u.test(trimmed)) {
    throw invalid(
      `Cannot start task: label "${
        label.slice(0, 80)
      }" must be 1 to ${MAX_LABEL_CHARS} printable characters`,
    );
  }
  return trimmed;
}

function checkInteractiveFlag(
  interactive: boolean | undefined,
  stdin: string | undefined,
): boolean {
  if (interactive === undefined) return false;
  if (typeof interactive !== "boolean") {
    throw invalid("Cannot start task: interactive must be true or false");
  }
  if (interactive && stdin !== undefined) {
    throw invalid(
      "Cannot start task: pass either stdin (fixed text) or interactive: true (input sent later with send_input), not both",
    );
  }
  return interactive;
}

function checkStdin(stdin: string | undefined): Uint8Array | undefined {
  if (stdin === undefined) return undefined;
  const bytes = new TextEncoder().encode(stdin);
  if (bytes.length > MAX_STDIN_BYTES) {
    throw invalid(
      `Cannot start task: stdin is ${bytes.length} bytes, more than ${MAX_STDIN_BYTES}: write large input to a file and redirect it in the command`,
    );
  }
  return bytes;
}

/** Checks an output request: one mode at most, options only with their mode, numbers in range. */
export function checkOutput(request: OutputRequest): void {
  const modes = [
    request.tailLines !== undefined && "tail_lines",
    request.headLines !== undefined && "head_lines",
    request.offset !== undefined && "offset",
    request.grep !== undefined && "grep",
  ].filter(Boolean);
  if (modes.length > 1) {
    throw invalid(
      `Pass only one of tail_lines, head_lines, offset and grep, not ${modes.join(" and ")}`,
    );
  }
  if (request.maxBytes !== undefined && request.offset === undefined) {
    throw invalid("max_bytes goes with offset: pass offset too (0 reads from the start)");
  }
  if (
    (request.context !== undefined || request.maxMatches !== undefined) &&
    request.grep === undefined
  ) {
    throw invalid("context and max_matches go with grep: pass a grep pattern too");
  }
  // Checked here in the tool's own words; logs.ts checks again in its own.
  const ranges = [
    ["tail_lines", request.tailLines, 1, 1_000_000],
    ["head_lines", request.headLines, 1, 1_000_000],
    ["offset", request.offset, 0, Number.MAX_SAFE_INTEGER],
    ["max_bytes", request.maxBytes, 1, Number.MAX_SAFE_INTEGER],
    ["context", request.context, 0, 20],
    ["max_matches", request.maxMatches, 1, 1000],
  ] as const;
  for (const [name, value, min, max] of ranges) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= min && value <= max)) {
      throw invalid(
        `${name} ${value} is out of range: pass a whole number from ${min}${
          max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""
        }${name === "offset" ? ", such as next_offset from the previous reply" : ""}`,
      );
    }
  }
}

/** A list request's limit (default 20) and status, checked. */
export function checkList(request: ListRequest): { limit: number; status?: TaskStatus } {
  const limit = request.limit ?? 20;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
    throw invalid(`limit ${limit} is out of range: pass a whole number from 1 to 1000`);
  }
  const status = request.status;
  if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
    throw invalid(
      `Unknown status "${String(status).slice(0, 40)}": pass one of ${TASK_STATUSES.join(", ")}`,
    );
  }
  return { limit, status: status as TaskStatus | undefined };
}
