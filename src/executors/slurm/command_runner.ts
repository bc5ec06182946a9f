/**
 * Runs one Slurm command with a deadline: the seam through which the Slurm client layer reaches
 * Slurm, passed in so a caller can add environment (SLURM_CONF) or log the calls.
 *
 * @module
 */
import { SlurmError } from "./slurm_error.ts";

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** The command is killed and a SlurmError "unreachable" thrown after this many ms. */
  readonly timeoutMs: number;
}

/**
 * Runs `command args…` and returns how it exited. Throws SlurmError "missing" when the command
 * is not installed, "unreachable" when it did not end within the deadline.
 */
export type CommandRunner = (
  command: string,
  args: readonly string[],
  options: RunOptions,
) => Promise<CommandResult>;

export interface DenoCommandRunnerOptions {
  /** Extra environment for every Slurm command (SLURM_CONF, …). Default: none. */
  readonly env?: Record<string, string>;
}

/** The CommandRunner that runs real Slurm commands with Deno.Command. */
export function denoCommandRunner(options: DenoCommandRunnerOptions = {}): CommandRunner {
  return async (command, args, { timeoutMs }) => {
    // An aborted Deno.Command is killed and its output resolves with signal SIGTERM; it does not throw.
    const deadline = AbortSignal.timeout(timeoutMs);
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(command, {
        args: [...args],
        env: options.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: deadline,
      }).output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new SlurmError(
          "missing",
          command,
          `Cannot run ${command}: it is not installed here; install the Slurm client commands (Debian: slurm-client) or use the local executor`,
        );
      }
      throw error;
    }
    if (deadline.aborted) {
      throw new SlurmError(
        "unreachable",
        command,
        `${command} did not answer within ${
          Number((timeoutMs / 1000).toFixed(1))
        } s: check that slurmctld is running (scontrol ping) and try again`,
      );
    }
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  };
}
