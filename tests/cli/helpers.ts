/** What the end-to-end tests of the command line share: running it as a person would. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "../../src/store.ts";
import { hasEnded, MAIN, type ServerHandle, serverPermissions, waitFor } from "../helpers.ts";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
}

export function cliCommand(home: string, args: string[], options: CliOptions): Deno.Command {
  // As a person's shell would run it: no INIT_CWD from `deno task`, no NO_COLOR from the tests.
  const { INIT_CWD: _, NO_COLOR: __, ...inherited } = Deno.env.toObject();
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(home), MAIN, ...args],
    env: { ...inherited, BACKBURNER_HOME: home, ...options.env },
    clearEnv: true,
    cwd: options.cwd ?? home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the command line to its end with the server's narrow permissions. */
export async function cli(
  home: string,
  args: string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const output = await cliCommand(home, args, options).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

export interface RunningCli {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Settles with the exit code once both streams are drained. */
  readonly done: Promise<number>;
  kill(): Promise<void>;
}

/** Starts the command line and collects its output as it comes. */
export function spawnCli(home: string, args: string[], options: CliOptions = {}): RunningCli {
  const child = cliCommand(home, args, options).spawn();
  let stdout = "";
  let stderr = "";
  const collect = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) add(text);
  };
  const done = Promise.all([
    collect(child.stdout, (text) => stdout += text),
    collect(child.stderr, (text) => stderr += text),
  ]).then(async () => (await child.status).code);
  return {
    pid: child.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await done;
    },
  };
}

/** The id `backburner run` printed: its whole stdout. */
export async function runTask(
  home: string,
  args: string[],
  options: CliOptions = {},
): Promise<string> {
  const result = await cli(home, ["run", ...args], options);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^[a-z2-9]{12}\n$/);
  assert.equal(result.stderr, "");
  return result.stdout.trim();
}

export function ownerOf(home: string, id: string): string | null | undefined {
  const store = new Store(join(home, "state.db"));
  try {
    return store.getTask(id)?.owner;
  } finally {
    store.close();
  }
}

export function logOf(home: string, id: string): string {
  try {
    return Deno.readTextFileSync(join(home, "tasks", id, "output.log"));
  } catch {
    return "";
  }
}

export async function ended(server: ServerHandle, id: string): Promise<Record<string, unknown>> {
  return await waitFor(async () => {
    const status = await server.call("task_status", { task_id: id });
    return hasEnded(status.status) ? status : null;
  }, { what: `task ${id} to end` });
}

/**
 * `logs --grep` with patterns a backtracking engine takes minutes on answers at once, and refuses
 * one it cannot match in linear time with a sentence saying what to change.
 */
export async function assertNoBacktracking(home: string): Promise<void> {
  const id = await runTask(home, ["--", "printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\\nab\\n'"]);
  assert.equal((await cli(home, ["wait", id])).code, 0);
  const started = Date.now();
  const found = await cli(home, ["logs", id, "--grep", "(a+)+$"]);
  assert.equal(found.stdout, "", found.stderr);
  assert.equal((await cli(home, ["logs", id, "--grep", "^(a|a)*b"])).stdout, "2:ab\n");
  assert.ok(Date.now() - started < 10_000, `the searches took ${Date.now() - started} ms`);
  assertOneErrorLine(
    await cli(home, ["logs", id, "--grep", "(a*)*\\1$"]),
    2,
    /--grep: The pattern "\(a\*\)\*\\1\$" combines a backreference \(\\1\) with unbounded repetition/,
  );
}

/** One line on stderr, `backburner: …`, nothing on stdout. */
export function assertOneErrorLine(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code of ${JSON.stringify(result)}`);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^backburner: [^\n]+\n$/);
  assert.match(result.stderr, pattern);
}

// deno-lint-ignore no-control-regex
export const TERMINAL_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
