/**
 * The POSIX wrapper that runs a task's command and its stopper, both plain sh: spawning a task
 * on Linux and macOS.
 */
import {
  type SpawnedTask,
  type SpawnRequest,
  START_WINDOW_MS,
  TASK_MARKER,
  type WrapperExit,
} from "../executor.ts";
import { spawnDetached } from "./spawn.ts";

// The wrapper runs the command with its output going to the log without the server in the data
// path (output survives the server), waits, and records the exit code atomically (temp file +
// rename) so a later server can read it. stdin is a file of the given text, or /dev/null, so
// nothing waits on a terminal. The wrapper sets no trap while its command runs: a shell forked from
// one with a trap keeps the trap's handler until it resets it, and a SIGTERM arriving in that moment
// is swallowed, so a command stopped as it started would run on to its end. Stops spare the wrapper
// instead (the executor's stop and the STOPPER signal every process but it until the grace period
// is over); it ends by itself once its command has. It notes its command's pid in <task>/command.
//
// Arguments: 1 command, 2 log, 3 exit record, 4 stdin, 5 cgroup folder for tasks (or empty),
// 6 log cap in 512-byte blocks (or empty), 7 timeout in seconds (or empty), 8 grace period in
// tenths of a second, 9 task id, 10 the stopper script (STOPPER), 11 an interactive task's input
// FIFO, <task>/input-<attempt> (or empty), 12 the exit event to touch once the record is written,
// <home>/events/<task id> (or empty; see src/engine/exit_events.ts).
//
// - interactive: the command's stdin is the FIFO (argument 11), and a holder (a subshell of the
//   wrapper, so in its process group and cgroup: every stop takes it too) keeps it open for
//   writing, so the command never reads end-of-file between two inputs or when a server dies.
//   Any server writes to the FIFO (send_input). The holder lets go, and the command reads
//   end-of-file, once a line arrives on the control FIFO beside it (.ctl), which it holds open
//   read-write so that a close can be written without waiting and it never reads end-of-file
//   itself. The open of the FIFO for writing waits until the command opens it for reading. The
//   holder ignores TERM: a stop's SIGTERM reaching it before the command would let the command
//   read end-of-file and exit 0, and a cancelled task look completed. The wrapper SIGKILLs it once
//   the command has ended (wherever it waits then), as does a stop's SIGKILL, and removes both
//   FIFOs, so a late writer finds none.
//
// - cgroup: the wrapper moves itself into a cgroup of its own before it starts anything, so every
//   process of the task, even a `setsid env -i` daemon, is in it; it notes the path in
//   <task>/cgroup, and removes the cgroup at the end when nothing is left in it.
// - log cap: RLIMIT_FSIZE would apply to every file the task writes (a build's 2 GB artifact), so
//   the limit is set only on a `cat` that does nothing but copy the command's output from a pipe
//   into the log. It dies of SIGXFSZ at the cap; its parent, still holding the pipe open so that
//   no writer sees EPIPE before the reason is recorded, claims the stop as "log_limit" and becomes
//   the stopper. That cat ignores TERM, so what a stopping task says on its way out is still
//   logged; it ends when the last writer has gone.
// - timeout: a watchdog sleeps for the timeout, claims the stop as "timeout" and becomes the
//   stopper, so a task started with no server running is still stopped on time.
// - A claim is <task>/stop, written by whoever creates the folder <task>/claim first: a stopper
//   (the first reason wins), or the wrapper itself the moment its command has ended, so a stop
//   that comes after the command ended by itself claims nothing; the exit record is then
//   "<code> <reason>".
// - Once the command has ended, the wrapper waits for the cat to copy what is left in the pipe
//   (at most a second while a background process keeps the pipe open), so the log is complete
//   when the exit record appears. A command is run in a subshell so that the wrapper's own
//   messages ("Killed") do not go to the pipe.
// - The record keeps the time its command ended (touch -r from the first note of the code), not
//   the later time the wrapper had finished waiting for the log: a stop whose first signal came
//   after that time did not end the command.
// - Once the command has ended, TERM/INT/HUP are ignored, which the record writer (mv)
//   inherits: a stop that comes as the command ends cannot lose its record.
export const WRAPPER = `w=$$ exitf=$3 dir=\${3%/*} cg= g= wd=
claim() { mkdir "$dir/claim" 2>/dev/null && printf '%s\\n' "$1" >"$dir/stop"; }
if [ -n "$5" ]; then
  cg="$5/$9"
  { mkdir "$cg"; echo "$w" >"$cg/cgroup.procs"; } 2>/dev/null ||
    { mkdir "$cg" && echo "$w" >"$cg/cgroup.procs"; } 2>/dev/null || cg=
  [ -z "$cg" ] || printf '%s\\n' "$cg" >"$dir/cgroup"
fi
if command -v bash >/dev/null 2>&1; then shell=bash; else shell=sh; fi
if [ -n "$6" ] && mkfifo -m 600 "$dir/pipe" 2>/dev/null; then
  (
    trap '' TERM INT HUP
    (ulimit -c 0; ulimit -f "$6" 2>/dev/null; exec cat) >>"$2"
    status=$?
    if [ "$(kill -l "$status" 2>/dev/null)" = XFSZ ] && claim log_limit; then
      exec sh -c "\${10}" backburner-stop "$w" "$dir" "$cg" "$8" </dev/null
    fi
  ) <"$dir/pipe" &
  g=$!
  exec 3>"$dir/pipe"
  rm -f "$dir/pipe"
else
  exec 3>>"$2"
fi
in=$4 h=
if [ -n "\${11}" ]; then
  in=\${11}
  rm -f "$in" "$in.ctl"
  if mkfifo -m 600 "$in" "$in.ctl" 2>&3; then
    (
      trap '' TERM INT HUP
      exec 5<>"$in.ctl" 4>"$in"
      read -r _ <&5
    ) </dev/null >/dev/null 2>&1 3>&- &
    h=$!
  else
    in=/dev/null
  fi
fi
if [ -n "$7" ]; then
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    trap '' INT HUP
    sleep "$7" & s=$!
    wait "$s" || exit 0
    trap '' TERM
    claim timeout || exit 0
    exec sh -c "\${10}" backburner-stop "$w" "$dir" "$cg" "$8" </dev/null
  ) 3>&- &
  wd=$!
fi
(exec sh -c 'echo "$$" >"$0"; exec "$1" -c "$2"' "$dir/command" "$shell" "$1" <"$in" >&3 2>&3 3>&-)
code=$?
trap '' TERM INT HUP
[ -z "$h" ] || { kill -s KILL "$h" 2>/dev/null; rm -f "$in" "$in.ctl"; }
mkdir "$dir/claim" 2>/dev/null
umask 077
printf '%s\\n' "$code" >"$exitf.tmp"
exec 3>&-
[ -z "$wd" ] || kill "$wd" 2>/dev/null
if [ -n "$g" ]; then
  trap : CHLD
  sleep 1 & t=$!
  while kill -0 "$g" 2>/dev/null; do
    wait "$g"
    kill -0 "$t" 2>/dev/null || [ -e "$dir/stop" ] || break
  done
  trap - CHLD
  kill -s KILL "$t" 2>/dev/null
  wait "$t"
fi
[ -z "$wd" ] || wait "$wd"
reason=
[ ! -e "$dir/stop" ] || read -r reason _ <"$dir/stop"
printf '%s\\n' "$code\${reason:+ $reason}" >"$exitf.new" &&
  { touch -r "$exitf.tmp" "$exitf.new" 2>/dev/null; mv -f "$exitf.new" "$exitf"; }
rm -f "$exitf.tmp"
[ -z "\${12}" ] || { : >"\${12}"; } 2>/dev/null
[ -z "$cg" ] || { echo "$w" >"\${cg%/*}/cgroup.procs" && rmdir "$cg"; } 2>/dev/null
exit "$code"`;

// The stopper: SIGTERM to every process of the task but the wrapper (which ends once its command
// has) and itself, then SIGKILL after the grace period, and "forced" added to the claim when that
// was needed. It finds the processes by the task's cgroup, process group and (with /proc) session;
// processes it runs itself to look are not the task's. With a cgroup, it steps out of it with the
// wrapper and kills the rest with cgroup.kill, which no fork can outrun.
export const STOPPER = `trap '' TERM INT HUP
w=$1 dir=$2 cg=$3 tenths=$4 me=$$
others() {
  procs=/dev/null
  [ -z "$cg" ] || [ ! -r "$cg/cgroup.procs" ] || procs="$cg/cgroup.procs"
  if [ -r /proc/self/stat ]; then
    cat /proc/[0-9]*/stat 2>/dev/null
  else
    ps -A -o pid= -o ppid= -o pgid= -o stat= 2>/dev/null
  fi | awk -v w="$w" -v me="$me" -v proc="$([ -r /proc/self/stat ] && echo 1)" '
    FILENAME != "-" { cg[$1] = 1; next }
    {
      if (proc) {
        match($0, /.*[)] /)
        split(substr($0, RSTART + RLENGTH), f, " ")
        state = f[1]; parent = f[2]; group = f[3]; session = f[4]
      } else {
        parent = $2; group = $3; session = ""; state = $4
      }
      ppid[$1] = parent
      if (state ~ /^Z/) next
      alive[$1] = 1
      if (group == w || session == w) hit[$1] = 1
    }
    END {
      for (p in cg) if (p in alive) hit[p] = 1
      for (p in hit) {
        if (p == w || p == me) continue
        q = p; ours = 0
        for (i = 0; i < 16 && (q in ppid); i++) { q = ppid[q]; if (q == me) { ours = 1; break } }
        if (!ours) print p
      }
    }' "$procs" -
}
termed=" " marked= sent=
# The marks every server reads (see the executor's signalMark and signalSentMark), each made
# once, by whichever stopper is first: one just before the first signal, one right after it.
mark() { (set -C && : >"$dir/$1") 2>/dev/null; }
i=0
while left=$(others) && [ -n "$left" ]; do
  [ -n "$marked" ] || { mark signalled; marked=1; }
  if [ "$i" -ge "$tenths" ]; then
    read -r reason _ <"$dir/stop"
    printf '%s forced\\n' "$reason" >"$dir/stop.tmp" && mv -f "$dir/stop.tmp" "$dir/stop"
    if [ -n "$cg" ] && [ -e "$cg/cgroup.kill" ]; then
      { echo "$me" >"\${cg%/*}/cgroup.procs"; echo "$w" >"\${cg%/*}/cgroup.procs"; echo 1 >"$cg/cgroup.kill"; } 2>/dev/null
    fi
    n=0
    while left=$(others) && [ -n "$left" ] && [ "$n" -lt 100 ]; do
      for p in $left; do kill -s KILL "$p" 2>/dev/null; done
      [ -n "$sent" ] || { mark signalled.after; sent=1; }
      sleep 0.05; n=$((n + 1))
    done
    [ -n "$sent" ] || mark signalled.after
    exit 0
  fi
  for p in $left; do
    case $termed in *" $p "*) ;; *) kill -s TERM "$p" 2>/dev/null; termed="$termed$p " ;; esac
  done
  [ -n "$sent" ] || { mark signalled.after; sent=1; }
  sleep 0.1; i=$((i + 1))
done`;

export interface PosixSpawnRequest extends SpawnRequest {
  /** Folder (from probeCgroup) in which the task gets a cgroup of its own; null for none. */
  readonly cgroupBase?: string | null;
}

/** RLIMIT_FSIZE as the shell's ulimit -f takes it: 512-byte blocks, rounded up. */
export function logLimitBlocks(maxLogBytes: number | undefined): string {
  if (maxLogBytes === undefined || !Number.isFinite(maxLogBytes)) return "";
  return String(Math.max(1, Math.ceil(maxLogBytes / 512)));
}

/**
 * Starts the command in a new session (pid = process group id = session id). Throws
 * Deno.errors.NotFound when the cwd does not exist or is not a directory.
 */
export function spawnPosix(request: PosixSpawnRequest): SpawnedTask {
  const timeout = request.timeoutSeconds;
  const child = spawnDetached("sh", {
    args: [
      "-c",
      WRAPPER,
      "backburner",
      request.command,
      request.logPath,
      request.exitPath,
      request.stdinPath ?? "/dev/null",
      request.cgroupBase ?? "",
      logLimitBlocks(request.maxLogBytes),
      // Not before the start-up window is over: a signal then is lost (see START_WINDOW_MS).
      timeout === undefined || timeout === null
        ? ""
        : Math.max(timeout, START_WINDOW_MS / 1000).toFixed(3),
      String(Math.ceil((request.graceSeconds ?? 5) * 10)),
      request.taskId,
      STOPPER,
      request.inputPath ?? "",
      request.exitEventPath ?? "",
    ],
    cwd: request.cwd,
    env: { ...request.env, [TASK_MARKER]: request.taskId },
  });
  return { pid: child.pid, exited: child.status.then(wrapperExit) };
}

/** Only an exit by itself carries the command's code; a killed wrapper's code means nothing. */
export function wrapperExit(status: Deno.CommandStatus): WrapperExit {
  return status.signal === null
    ? { code: status.code, signal: null }
    : { code: null, signal: status.signal };
}
