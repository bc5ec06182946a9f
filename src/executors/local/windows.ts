/**
 * The Windows side of the local executor: spawning through cmd.exe, listing processes through CIM, and
 * killing trees with taskkill. Windows has no process groups, no signals and no /proc, so a task's
 * tree is its wrapper and the wrapper's descendants by parent pid. Tested by the Windows CI job;
 * it cannot run on the Linux machines this project is developed on.
 */
import type { SpawnedTask, SpawnRequest } from "../executor.ts";
import type { ProcessEntry } from "./process_table.ts";
import { spawnDetached } from "./spawn.ts";

/** Where the wrapper finds the command, so that cmd parses it only once, in the inner shell. */
const COMMAND_VARIABLE = "BACKBURNER_COMMAND";

/**
 * Runs the command with `cmd /d /s /c`, its output appended to the log and its exit code written
 * to the exit record (temp file + move) by the outer cmd, which waits for it. The command reaches
 * the inner cmd through delayed expansion of an environment variable: expanded after the outer
 * cmd has split its own line, so an `&` or `|` in the command belongs to the command.
 */
export function spawnWindows(request: SpawnRequest, marker: string): SpawnedTask {
  const stdin = request.stdinPath ?? "NUL";
  const temp = `${request.exitPath}.tmp`;
  const line = `cmd /d /s /c !${COMMAND_VARIABLE}! <"${stdin}" >>"${request.logPath}" 2>&1` +
    ` & echo !ERRORLEVEL!>"${temp}" & move /y "${temp}" "${request.exitPath}" >nul`;
  const child = spawnDetached("cmd.exe", {
    args: [`/d /v:on /s /c "${line}"`],
    windowsRawArguments: true,
    cwd: request.cwd,
    env: { ...request.env, [marker]: request.taskId, [COMMAND_VARIABLE]: request.command },
  });
  // The outer cmd exits with move's code, not the command's: only the exit record has that.
  return { pid: child.pid, exited: child.status.then(() => ({ code: null, signal: null })) };
}

const LIST_PROCESSES = "Get-CimInstance Win32_Process | ForEach-Object { " +
  "'{0} {1} {2}' -f $_.ProcessId, $_.ParentProcessId, $_.CreationDate.ToFileTimeUtc() }";

/** Every process, from CIM; a process is its own "group" (pgid = pid), and no marker is visible. */
export async function listWindowsProcesses(): Promise<ProcessEntry[]> {
  const output = await new Deno.Command("powershell.exe", {
    args: ["-NoProfile", "-NonInteractive", "-Command", LIST_PROCESSES],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const entries: ProcessEntry[] = [];
  for (const line of new TextDecoder().decode(output.stdout).split(/\r?\n/)) {
    const [pid, ppid, created] = line.trim().split(" ");
    if (!pid || !ppid || !created) continue;
    entries.push({
      pid: Number(pid),
      ppid: Number(ppid),
      pgid: Number(pid),
      sid: null,
      zombie: false,
      startTime: created,
      taskId: null,
    });
  }
  return entries;
}

/** taskkill of one process and its descendants; without `force` it asks them to close. */
export async function taskkill(pid: number, force: boolean): Promise<void> {
  await new Deno.Command("taskkill.exe", {
    args: ["/PID", String(pid), "/T", ...(force ? ["/F"] : [])],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
}
