/**
 * The one error type the engine (and what lies below it) throws for a condition a caller should
 * hear about. Each face maps a code in one place: the MCP layer to an isError sentence or a
 * JSON-RPC code, the command line to an exit code. Nothing decides by an error's class or text.
 *
 * @module
 */

/** What went wrong, in the words each face maps. */
export type ErrorCode =
  /** No task has that id (or it was removed after its retention period). */
  | "unknown_task"
  /** A request's argument is missing, malformed or out of range. */
  | "invalid_argument"
  /** The command policy (BACKBURNER_ALLOW / BACKBURNER_DENY) refused a command or env entry. */
  | "refused_by_policy"
  /** An agent's regular expression that cannot be run safely, or that is not valid. */
  | "refused_pattern"
  /** The task's shell could not be started (cwd, missing shell, permissions). */
  | "spawn_failed"
  /** The executor a task needs (Slurm) is missing, not answering, or refused the task. */
  | "executor_unavailable"
  /** The state directory could not record something (disk full, database error). */
  | "storage_failure"
  /** The state directory was removed or replaced under the server: restart it. */
  | "state_lost";

export const ERROR_CODES: readonly ErrorCode[] = [
  "unknown_task",
  "invalid_argument",
  "refused_by_policy",
  "refused_pattern",
  "spawn_failed",
  "executor_unavailable",
  "storage_failure",
  "state_lost",
];

/** An expected failure with a sentence for people and agents: what went wrong, what to do. */
export class BackburnerError extends Error {
  override readonly name = "BackburnerError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** True for an error the engine threw on purpose (as opposed to a bug). */
export function isBackburnerError(error: unknown): error is BackburnerError {
  return error instanceof BackburnerError;
}
