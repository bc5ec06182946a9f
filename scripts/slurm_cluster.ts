/**
 * A real one-node Slurm cluster on this machine, for the Slurm tests and CI.
 *
 *   deno run --no-prompt -A scripts/slurm_cluster.ts up|down|status
 *
 * `up` installs slurm-wlm and munge from Debian when they are missing (root only), writes
 * /etc/slurm/slurm.conf and cgroup.conf for this host, starts munged, slurmctld and slurmd in that
 * order and waits until the node is idle. `down` cancels what jobs are left and stops the daemons
 * in reverse order by pid (TERM, then KILL after a deadline), leaving nothing running. Both are
 * idempotent. When the cluster cannot come up here (not root, no apt-get, no Debian mirror), `up`
 * prints one line saying why, starting with "slurm cluster: unavailable:", and exits 2; the tests
 * then skip the Slurm tests with that reason in their names (tests/executors/slurm/cluster.ts).
 * Facts behind the configuration: /work/shared/docs/slurm.md.
 *
 * @module
 */

const CONF_DIR = "/etc/slurm";
const CONF_MARK = "# Written by backburner scripts/slurm_cluster.ts";
/** Jobs that may run at once: more than the cores of a small CI machine, so tests run side by side. */
const MIN_CPUS = 8;
const READY_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 10_000;

interface Daemon {
  readonly name: string;
  readonly exe: string;
  readonly pidFile: string;
}

const MUNGED: Daemon = {
  name: "munged",
  exe: "/usr/sbin/munged",
  pidFile: "/run/munge/munged.pid",
};
const SLURMCTLD: Daemon = {
  name: "slurmctld",
  exe: "/usr/sbin/slurmctld",
  pidFile: "/run/slurm/slurmctld.pid",
};
const SLURMD: Daemon = {
  name: "slurmd",
  exe: "/usr/sbin/slurmd",
  pidFile: "/run/slurm/slurmd.pid",
};
/** In start order; stopped in reverse. */
const DAEMONS = [MUNGED, SLURMCTLD, SLURMD] as const;

/** Why a cluster cannot come up here; its message is the one line `up` prints. */
export class ClusterUnavailable extends Error {}

interface Output {
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(command: string, args: string[], timeoutMs = 30_000): Promise<Output> {
  try {
    const output = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    const decoder = new TextDecoder();
    return {
      success: output.success,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { success: false, stdout: "", stderr: `${command}: not found` };
    }
    throw error;
  }
}

function firstLine(text: string): string {
  return text.trim().split("\n").filter((line) => line.trim()).at(-1)?.trim() ?? "";
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

async function installed(): Promise<boolean> {
  for (const daemon of DAEMONS) if (!(await exists(daemon.exe))) return false;
  return await exists("/usr/bin/sbatch");
}

async function install(): Promise<void> {
  if (await installed()) return;
  if (!isRoot()) {
    throw new ClusterUnavailable("Slurm is not installed and installing it needs root");
  }
  if ((await run("sh", ["-c", "command -v apt-get"])).stdout.trim() === "") {
    throw new ClusterUnavailable("Slurm is not installed and there is no apt-get to install it");
  }
  const update = await run("apt-get", ["update", "-qq"], 180_000);
  if (!update.success) {
    throw new ClusterUnavailable(
      `apt-get update failed (no Debian mirror reachable?): ${firstLine(update.stderr)}`,
    );
  }
  const packages = ["install", "-y", "-qq", "slurm-wlm", "munge"];
  const result = await run("apt-get", packages, 300_000);
  if (!result.success) {
    throw new ClusterUnavailable(
      `apt-get install slurm-wlm munge failed: ${firstLine(result.stderr)}`,
    );
  }
}

/** This machine as slurmd sees it: the node name and its memory in MB. */
async function hardware(): Promise<{ host: string; cpus: number; memoryMb: number }> {
  const host = (await run("hostname", ["-s"])).stdout.trim();
  const probe = await run("/usr/sbin/slurmd", ["-C"]);
  const memory = /RealMemory=(\d+)/.exec(probe.stdout);
  const cpus = /CPUs=(\d+)/.exec(probe.stdout);
  if (!host || !memory || !cpus) {
    throw new ClusterUnavailable(`slurmd -C gave no hardware figures: ${firstLine(probe.stderr)}`);
  }
  return { host, cpus: Number(cpus[1]), memoryMb: Number(memory[1]) };
}

// SchedulerParameters: with Slurm's defaults a job submitted to an idle node started about 3 s
// later (every submission after the first); with these, under 1 s, which keeps the tests short.
function slurmConf(host: string, cpus: number, memoryMb: number): string {
  return `${CONF_MARK}
ClusterName=backburner
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=${SLURMCTLD.pidFile}
SlurmdPidFile=${SLURMD.pidFile}
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/cgroup
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memoryMb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
`;
}

const CGROUP_CONF = `${CONF_MARK}
CgroupPlugin=autodetect
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
`;

/** Writes a file unless another hand wrote it (a real cluster's configuration stays). */
async function writeConf(path: string, text: string): Promise<void> {
  try {
    const current = await Deno.readTextFile(path);
    if (!current.startsWith(CONF_MARK)) return;
    if (current === text) return;
  } catch {
    // not there yet
  }
  await Deno.writeTextFile(path, text);
}

async function configure(): Promise<void> {
  for (const dir of ["/var/spool/slurmctld", "/var/spool/slurmd", "/var/log/slurm", "/run/slurm"]) {
    await Deno.mkdir(dir, { recursive: true });
  }
  await Deno.mkdir("/run/munge", { recursive: true });
  await run("chown", ["munge:munge", "/run/munge"]);
  if (!(await exists("/etc/munge/munge.key"))) {
    const key = crypto.getRandomValues(new Uint8Array(1024));
    await Deno.writeFile("/etc/munge/munge.key", key, { mode: 0o400 });
    await run("chown", ["munge:munge", "/etc/munge/munge.key"]);
  }
  const { host, cpus, memoryMb } = await hardware();
  await Deno.mkdir(CONF_DIR, { recursive: true });
  await writeConf(`${CONF_DIR}/slurm.conf`, slurmConf(host, Math.max(MIN_CPUS, cpus), memoryMb));
  await writeConf(`${CONF_DIR}/cgroup.conf`, CGROUP_CONF);
}

/** The daemon's pid from its pid file, when that process still runs. */
async function runningPid(daemon: Daemon): Promise<number | null> {
  let pid: number;
  try {
    pid = Number((await Deno.readTextFile(daemon.pidFile)).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    // /usr/sbin/slurmd is an alternatives link to slurmd-wlm; /proc names the real file.
    const exe = await Deno.readLink(`/proc/${pid}/exe`);
    const expected = await Deno.realPath(daemon.exe);
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return exe === expected && state !== "Z" ? pid : null;
  } catch {
    return null;
  }
}

async function startDaemon(daemon: Daemon): Promise<void> {
  if (await runningPid(daemon)) return;
  const result = daemon === MUNGED
    ? await run("runuser", ["-u", "munge", "--", daemon.exe])
    : await run(daemon.exe, []);
  if (!result.success) {
    throw new Error(`${daemon.name} did not start: ${firstLine(result.stderr) || "no message"}`);
  }
  const deadline = Date.now() + READY_DEADLINE_MS;
  while (!(await runningPid(daemon))) {
    if (Date.now() > deadline) throw new Error(`${daemon.name} started but wrote no pid file`);
    await delay(50);
  }
}

async function stopDaemon(daemon: Daemon): Promise<void> {
  const pid = await runningPid(daemon);
  if (!pid) return;
  Deno.kill(pid, "SIGTERM");
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (await runningPid(daemon)) {
    if (Date.now() > deadline) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
      await delay(200);
      return;
    }
    await delay(50);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The node's state as sinfo prints it ("idle", "mixed", …), or why there is none. */
export async function nodeState(): Promise<{ state: string | null; why: string }> {
  // scontrol ping answers at once; sinfo spends about 9 s retrying a controller that is down.
  const ping = await run("scontrol", ["ping"], 10_000);
  if (!/\bis UP\b/.test(ping.stdout)) {
    const down = ping.stdout.split("\n").find((line) => /is DOWN/.test(line))?.trim();
    return {
      state: null,
      why: down ?? (firstLine(ping.stderr) || "scontrol ping printed nothing"),
    };
  }
  const result = await run("sinfo", ["-h", "-N", "-o", "%T"], 10_000);
  const state = result.stdout.trim().split("\n")[0]?.trim() || null;
  if (result.success && state) return { state, why: `node ${state}` };
  return { state: null, why: firstLine(result.stderr) || "sinfo printed nothing" };
}

/** True when the node takes jobs. */
function usable(state: string | null): boolean {
  return state !== null &&
    /^(idle|mixed|allocated|completing)/.test(state.replace(/[*~#!%$@^-]$/, ""));
}

/** Brings up slurmctld alone (after stopController); waits until the node takes jobs again. */
export async function startController(): Promise<void> {
  await startDaemon(SLURMCTLD);
  await waitUsable();
}

/** Stops slurmctld alone, so a test sees Slurm down. */
export async function stopController(): Promise<void> {
  await stopDaemon(SLURMCTLD);
}

async function waitUsable(): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  for (;;) {
    const { state, why } = await nodeState();
    if (usable(state)) return;
    if (Date.now() > deadline) {
      throw new Error(`the Slurm node did not become idle within 30 s (last: ${why})`);
    }
    await delay(100);
  }
}

/** Installs when needed, configures, starts, waits until idle. Throws ClusterUnavailable. */
export async function up(): Promise<void> {
  if (Deno.build.os !== "linux") throw new ClusterUnavailable("Slurm runs on Linux only");
  if (usable((await nodeState()).state)) return;
  await install();
  if (!isRoot()) throw new ClusterUnavailable("starting the Slurm daemons needs root");
  await configure();
  for (const daemon of DAEMONS) await startDaemon(daemon);
  await waitUsable();
}

/** Cancels the jobs left, stops the daemons in reverse order; nothing of the cluster runs after. */
export async function down(): Promise<void> {
  if (await runningPid(SLURMCTLD)) {
    const jobs = await run("squeue", ["-h", "-o", "%i"], 10_000);
    const ids = jobs.stdout.split("\n").map((line) => line.trim()).filter(Boolean);
    if (ids.length > 0) {
      await run("scancel", ids, 10_000);
      const deadline = Date.now() + STOP_DEADLINE_MS;
      while (Date.now() < deadline) {
        const left = await run("squeue", ["-h", "-o", "%i"], 10_000);
        if (left.stdout.trim() === "") break;
        await delay(200);
      }
    }
  }
  for (const daemon of [...DAEMONS].reverse()) await stopDaemon(daemon);
}

async function main(args: string[]): Promise<number> {
  const action = args[0];
  if (action === "up") {
    const started = performance.now();
    try {
      await up();
    } catch (error) {
      if (error instanceof ClusterUnavailable) {
        console.log(`slurm cluster: unavailable: ${error.message}`);
        return 2;
      }
      console.log(`slurm cluster: failed to come up: ${(error as Error).message}`);
      return 1;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`slurm cluster: up (${(await nodeState()).why}) in ${seconds} s`);
    return 0;
  }
  if (action === "down") {
    const started = performance.now();
    await down();
    const left = [];
    for (const daemon of DAEMONS) if (await runningPid(daemon)) left.push(daemon.name);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (left.length > 0) {
      console.log(`slurm cluster: still running after down: ${left.join(", ")}`);
      return 1;
    }
    console.log(`slurm cluster: down in ${seconds} s`);
    return 0;
  }
  if (action === "status") {
    const { state, why } = await nodeState();
    console.log(`slurm cluster: ${usable(state) ? "up" : "not up"} (${why})`);
    return usable(state) ? 0 : 3;
  }
  console.error("Usage: slurm_cluster.ts up|down|status");
  return 64;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
