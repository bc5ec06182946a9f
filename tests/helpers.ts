import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CallToolResult, Client, StdioClientTransport } from "./sdk.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const MAIN = join(ROOT, "main.ts");

/** A temporary state directory, removed (with any task still in it stopped) by the caller. */
export async function tempDir(prefix = "backburner-test-"): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? "condition"} (last: ${last})`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}

/** The flags the server runs with, as deno.json's start task gives them: narrow permissions. */
export function serverPermissions(home: string): string[] {
  return [
    "--v8-flags=--max-semi-space-size=1",
    "--no-prompt",
    `--allow-read=${home}`,
    `--allow-write=${home}`,
    "--allow-run",
    "--allow-env",
  ];
}

export interface ServerHandle {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly home: string;
  /** The server process id. */
  readonly pid: number;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Calls a tool; returns structuredContent, or throws the error text of an isError result. */
  call(name: string, args?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Calls a tool and returns the raw result, error or not. */
  raw(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface StartServerOptions {
  readonly env?: Record<string, string>;
  /** Working directory of the server. Default: the state directory. */
  readonly cwd?: string;
  /** Run this script instead of main.ts (the bundle, for example). */
  readonly entry?: string;
  /** Arguments after the script, such as ["serve", "--cwd", dir]. */
  readonly args?: readonly string[];
}

/** Starts main.ts as a subprocess and connects a real MCP client to it over stdio. */
export async function startServer(
  home: string,
  options: StartServerOptions = {},
): Promise<ServerHandle> {
  // As an MCP client would start it: without the INIT_CWD `deno task test` sets.
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", ...serverPermissions(home), options.entry ?? MAIN, ...(options.args ?? [])],
    env: {
      ...inherited,
      BACKBURNER_HOME: home,
      NO_COLOR: "1",
      ...options.env,
    },
    cwd: options.cwd ?? home,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => {
    stderr += new TextDecoder().decode(chunk);
  });
  const client = new Client({ name: "backburner-tests", version: "1.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) throw new Error("The server process has no pid");
  const raw = async (name: string, args: Record<string, unknown> = {}) =>
    await client.callTool({ name, arguments: args }) as CallToolResult;
  return {
    client,
    transport,
    home,
    pid,
    stderr: () => stderr,
    raw,
    async call(name, args = {}) {
      const result = await raw(name, args);
      if (result.isError) {
        const text = result.content.map((c) => c.type === "text" ? c.text : "").join("");
        throw new ToolError(text);
      }
      return result.structuredContent as Record<string, unknown>;
    },
    async close() {
      await client.close();
      await waitFor(() => !isAlive(pid), { what: `server ${pid} to exit` });
    },
  };
}

export class ToolError extends Error {
  override name = "ToolError";
}

/** The error text of an isError result. */
export function errorText(result: CallToolResult): string {
  if (!result.isError) throw new Error(`Expected an error result, got ${JSON.stringify(result)}`);
  return result.content.map((c) => c.type === "text" ? c.text : "").join("");
}

/**
 * A shell word that runs its arguments in a new session: util-linux setsid where it exists (Linux),
 * perl's POSIX::setsid elsewhere (macOS has perl but no setsid command).
 */
export const SETSID = (() => {
  try {
    const found = new Deno.Command("sh", {
      args: ["-c", "command -v setsid"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    if (found.success) return "setsid";
  } catch {
    // no sh: Windows, where nothing uses this
  }
  return `perl -MPOSIX -e 'POSIX::setsid() or die; exec @ARGV' --`;
})();

/** Linux and macOS: tasks run POSIX shell commands, and the tests can see each process's tree. */
export const POSIX = Deno.build.os !== "windows";

/**
 * Deno.test for the tests whose commands are POSIX shell (sleep, printf, traps) and whose checks
 * look at processes; Windows runs its own in windows_test.ts.
 */
export function posixTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !POSIX, fn });
}

function psLines(args: string[]): string[] {
  const output = new Deno.Command("ps", { args, stdout: "piped", stderr: "null" }).outputSync();
  return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line.trim());
}

/** True while a process runs; a zombie counts as gone. */
export function isAlive(pid: number): boolean {
  if (Deno.build.os === "windows") {
    const output = new Deno.Command("tasklist", {
      args: ["/FI", `PID eq ${pid}`, "/NH"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return new TextDecoder().decode(output.stdout).includes(` ${pid} `);
  }
  if (Deno.build.os !== "linux") {
    const state = psLines(["-o", "stat=", "-p", String(pid)])[0]?.trim() ?? "";
    return state !== "" && !state.startsWith("Z");
  }
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The process group of a live process (POSIX). */
export function processGroup(pid: number): number {
  if (Deno.build.os === "linux") {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  }
  return Number(psLines(["-o", "pgid=", "-p", String(pid)])[0]?.trim());
}

/** Pids of live processes whose environment carries the task's marker ([] where unseen). */
export function taskPids(taskId: string): number[] {
  const marker = `BACKBURNER_TASK_ID=${taskId}`;
  if (Deno.build.os === "windows") return [];
  if (Deno.build.os !== "linux") {
    // macOS: ps -E appends each process's environment to its command line.
    return psLines(["-A", "-E", "-ww", "-o", "pid=,stat=,command="])
      .map((line) => line.trim().split(/\s+/))
      .filter(([, stat, ...rest]) => !stat.startsWith("Z") && rest.includes(marker))
      .map(([pid]) => Number(pid));
  }
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || !isAlive(pid)) continue;
    try {
      const environ = Deno.readTextFileSync(`/proc/${pid}/environ`);
      if (environ.split("\0").includes(marker)) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Kills every process of every task under a state directory: the tests' safety net. */
export function killTasksOf(home: string): void {
  let ids: string[] = [];
  try {
    ids = [...Deno.readDirSync(join(home, "tasks"))].map((e) => e.name);
  } catch {
    return;
  }
  for (const id of ids) {
    for (const pid of taskPids(id)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/** Removes a test's state directory after stopping whatever its tasks left running. */
export async function cleanup(home: string): Promise<void> {
  killTasksOf(home);
  await Deno.remove(home, { recursive: true }).catch(() => {});
}

/** True for a status a task never leaves: not queued, not working. */
export function hasEnded(status: unknown): boolean {
  return status !== "queued" && status !== "working";
}

/** Starts a task and waits until it has ended. */
export async function runToEnd(
  server: ServerHandle,
  args: Record<string, unknown>,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  const started = await server.call("start_task", args);
  return await waitFor(async () => {
    const status = await server.call("task_status", { task_id: started.task_id });
    return hasEnded(status.status) ? status : null;
  }, { timeoutMs, what: `task ${started.task_id} to end` });
}
