/** Starting a task's wrapper, the same way on every platform. */

export interface DetachedOptions {
  readonly args: string[];
  /** Working directory; undefined runs in the server's own. */
  readonly cwd: string | undefined;
  readonly env: Record<string, string>;
  /** Windows only: pass the arguments as written, for cmd.exe to parse. */
  readonly windowsRawArguments?: boolean;
}

/**
 * Starts a wrapper in a new session (detached) with no stdio of the server's. The task must not
 * keep the server alive, nor die with it.
 */
export function spawnDetached(program: string, options: DetachedOptions): Deno.ChildProcess {
  const child = new Deno.Command(program, {
    ...options,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  return child;
}
