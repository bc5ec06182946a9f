/** A cgroup v2 per task on Linux: finding where one can be made, and removing or killing them. */
import { run } from "./process_table.ts";

/** The folder of task cgroups a wrapper may create, as probeCgroup names it. */
export const CGROUP_FOLDER = "backburner-tasks";

/**
 * True for a cgroup path of the shape the wrapper uses, for this very task. The task can write the
 * file that names its cgroup: a task cannot make a cancel kill someone else's cgroup.
 */
export function isTaskCgroup(path: string, taskId: string): boolean {
  return path.startsWith("/") && path.endsWith(`/${CGROUP_FOLDER}/${taskId}`) &&
    !path.split("/").some((part) => part === "." || part === "..") && !/[\0\n]/.test(path);
}

// Finds the cgroup v2 mount and this process's own cgroup, creates the task folder below it, and
// checks that a process can be moved into a cgroup there (the v2 rules: write access to both
// cgroup.procs files, and no controllers enabled that forbid processes in an inner node). Prints
// the folder, or "-" and why not.
const CGROUP_PROBE = `mount= root= own=
while read -r _ _ _ r m rest; do
  case $rest in *" - cgroup2 "*) mount=$m root=$r; break ;; esac
done </proc/self/mountinfo
while IFS= read -r line; do
  case $line in 0::*) own=\${line#0::} ;; esac
done </proc/self/cgroup
[ -n "$mount" ] || { echo "- no cgroup2 file system is mounted"; exit 0; }
[ -n "$own" ] || { echo "- this process is in no cgroup v2"; exit 0; }
case $own in "$root"*) own=\${own#"\${root%/}"} ;; *) echo "- this process's cgroup is outside the mount"; exit 0 ;; esac
base="\${mount%/}\${own%/}/$1"
probe="$base/probe-$$"
mkdir -p "$base" 2>/dev/null && mkdir "$probe" 2>/dev/null ||
  { echo "- cannot create a cgroup in \${mount%/}\${own%/}"; exit 0; }
if sh -c 'echo $$ >"$1/cgroup.procs"' sh "$probe" 2>/dev/null; then echo "$base"; else
  echo "- cannot move a process into a cgroup below \${mount%/}\${own%/}"; fi
rmdir "$probe" 2>/dev/null
true`;

/**
 * Where tasks may get a cgroup of their own (Linux with a writable cgroup v2 subtree), or why not.
 * Done through sh: a server with narrow permissions may not read /proc or write /sys itself.
 */
export async function probeCgroup(): Promise<{ base: string } | { reason: string }> {
  if (Deno.build.os !== "linux") return { reason: "cgroups exist only on Linux" };
  if (Deno.env.get("BACKBURNER_CGROUPS")?.trim().toLowerCase() === "off") {
    return { reason: "BACKBURNER_CGROUPS is off" };
  }
  const text = (await run("sh", ["-c", CGROUP_PROBE, "sh", CGROUP_FOLDER])).trim();
  if (text.startsWith("/")) return { base: text };
  return { reason: text.replace(/^- ?/, "") || "the cgroup probe failed" };
}

/** Removes the empty task cgroups in `base` (rmdir refuses any that still holds a process). */
export async function sweepCgroups(base: string): Promise<void> {
  await run("sh", ["-c", 'for d in "$1"/*/; do rmdir "$d"; done 2>/dev/null; true', "sh", base]);
}

/** cgroup.kill: SIGKILL to every process in the cgroup at once, so that none can fork away. */
export async function killCgroup(path: string): Promise<void> {
  await run("sh", ["-c", 'echo 1 >"$1/cgroup.kill" 2>/dev/null; true', "sh", path]);
}
