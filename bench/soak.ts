/**
 * Soak test: several backburner servers on one state directory, concurrent clients doing random
 * operations for a fixed time, and a SIGKILL of one server at random moments followed by its
 * restart. Afterwards it checks that nothing was lost, nothing is stuck, nothing leaked, every
 * exit code is right and the database is sound; prints `soak: N passed, M failed`, exits non-zero
 * on any failed check, and writes docs/RELIABILITY.md.
 *
 *   deno run --no-prompt -A bench/soak.ts [--seconds 300] [--servers 2] [--workers 3]
 *                                          [--seed N] [--report PATH | --no-report]
 *                                          [--stderr-dir DIR] [--heap-probe]
 *                                          [--memory-json PATH]
 *
 * --stderr-dir writes each server instance's stderr to DIR/server-<n>.log (for diagnosing a
 * failure). --heap-probe runs the servers through bench/heap_probe.ts (main.ts's serve(), plus a
 * forced full GC and a log line of the live heap every 10 s) and adds a check on the live heap:
 * RSS alone cannot tell a leak from garbage V8 has not collected yet. --memory-json writes server
 * 0's memory line and the checks' tally as JSON to PATH (bench/soak_rss.ts reads it for the
 * benchmark's "RSS after the soak" row).
 *
 * Shape. Over stdio one MCP client is one server process, so "several clients per server" is
 * modelled as several concurrent workers sharing each server's one client connection: their
 * requests are in flight at the same time on that connection (JSON-RPC ids), which is what
 * exercises the server's own concurrency (a cancel racing a completion in one engine), while the
 * servers (separate processes, one per agent session in real use) share the state directory and
 * race each other through SQLite and the task files. Workers also act on tasks other servers
 * started. Server 0 is never killed, so its memory can be followed for the whole run; the last
 * server is the victim of the kills.
 *
 * Tasks are `echo; sleep <random ≤ 1.5 s>; echo soak-end <code>; exit <code>` in variants: plain,
 * nested shell, `setsid -w` (a process that leaves the process group), SIGTERM ignored (a cancel
 * needs SIGKILL after the grace period, 1 s here), chatty (200 lines), and 10 % with a
 * timeout_seconds that some of them pass, 5 % with one past setTimeout's 2^31 ms range. And the
 * attacks of issue 9: "orphan" tasks leave background sleeps that dropped every marker
 * (`env -i`, `unset BACKBURNER_TASK_ID`), which a cancel or timeout must kill too; "flood" tasks
 * write 50 MB against a 2 MB BACKBURNER_MAX_LOG_BYTES; "redos" tasks print lines on which
 * agents' catastrophic patterns (`(a+)+$`…) are tried through wait_for_task and task_result grep,
 * while every other call must keep being answered; and a third server under
 * BACKBURNER_ALLOW='^echo( |$)' is sent commands and env entries that hide code in data
 * (`${x@P}`, `$((a))`, `${!a}`, BASH_ENV, PS4…), none of which may run.
 *
 * Queues (issue 13): the servers run under BACKBURNER_QUEUES="soak-a=2,soak-b=1"; "queue"
 * operations start tasks in those queues (and the default one), some with retries, chains of
 * two or three with `after` (some with a failing first step), starts with an idempotency key sent
 * to two servers at once (and again later), and cancels of recent queue tasks, many still queued.
 * Every such task's command appends its id to a runs file once per run. A sampler reads the
 * working count of each limited queue from the database every few ms; afterwards the checks are
 * that no limit was ever exceeded, no task ran more often than its attempts (a task that never
 * started never ran), dependencies were respected, and one key gave one task.
 *
 * Bounded and self-cleaning (CI-safe): a watchdog ends the run at seconds + 150 s whatever
 * happens; every process carries BACKBURNER_BENCH_RUN=<run id> (tasks inherit it from their
 * server) and is killed by that marker at the end, also on failure and on SIGINT/SIGTERM; the
 * temporary state directory is removed. The last check is that nothing of the run is left.
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { ROOT, type ServerHandle, ToolError } from "../tests/helpers.ts";
import { exists, formatFile, machine, pidsWithEnv, rssMiB, sleep, stats } from "./common.ts";
import { Lab } from "./lab.ts";

const cli = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "300" },
    servers: { type: "string", default: "2" },
    workers: { type: "string", default: "3" },
    seed: { type: "string" },
    report: { type: "string", default: join(ROOT, "docs", "RELIABILITY.md") },
    "no-report": { type: "boolean", default: false },
    "stderr-dir": { type: "string" },
    "heap-probe": { type: "boolean", default: false },
    "memory-json": { type: "string" },
  },
});

function intOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`soak: --${name} "${value}" must be a whole number from ${min} to ${max}`);
    Deno.exit(2);
  }
  return n;
}

const SECONDS = intOption("seconds", cli.values.seconds!, 5, 86_400);
const SERVERS = intOption("servers", cli.values.servers!, 1, 8);
const WORKERS = intOption("workers", cli.values.workers!, 1, 16);
const SEED = cli.values.seed === undefined
  ? Math.floor(Math.random() * 2 ** 31)
  : intOption("seed", cli.values.seed, 0, 2 ** 31);
const REPORT = cli.values["no-report"] ? null : cli.values.report!;
const STDERR_DIR = cli.values["stderr-dir"];
const HEAP_PROBE = cli.values["heap-probe"] ?? false;
const MEMORY_JSON = cli.values["memory-json"];

const GRACE_SECONDS = 1;
const MAX_SLEEP_S = 1.5;
const SETTLE_MS = 30_000;
const KILL_GAP_MS: [number, number] = [3000, 10_000];
const RESTART_DELAY_MS: [number, number] = [100, 1000];
/** RSS samples before this age of a server (or a third of its life) are its warm-up. */
const RSS_WARMUP_MS = 30_000;
/** Samples (one a second) whose median is the baseline, and the end. */
const RSS_WINDOW = 10;
/**
 * RSS passes when the end is within this of the baseline (MiB, or fraction). Generous on
 * purpose: V8 grows its heap lazily under load and returns little of it, so RSS rises for minutes
 * with no leak at all (see --heap-probe); what this catches is a runaway.
 */
const RSS_SLACK_MIB = 64;
const RSS_SLACK_FRACTION = 0.5;
/** With --heap-probe: the live heap after a full GC may grow this much (MiB, or fraction). */
const HEAP_SLACK_MIB = 8;
const HEAP_SLACK_FRACTION = 0.3;
const WATCHDOG_MS = (SECONDS + 150) * 1000;
/** Every server runs with this log cap; "flood" tasks write far past it. */
const LOG_CAP_BYTES = 2_000_000;
/** How far past the cap a stopped flood's log may reach. */
const LOG_CAP_MARGIN = 256 * 1024;
/** A timeout inside the accepted range that no soak task reaches (setTimeout overflows past 2^31 ms). */
const HUGE_TIMEOUT_S = 2_200_000;
/** Patterns that backtrack catastrophically in a backtracking regex engine. */
const CATASTROPHIC_PATTERNS = [
  "(a+)+$",
  "(a|a)*$",
  "(a|aa)+$",
  "(a*)*b",
  "^(a+)+\\1$",
  "a*a*a*a*a*a*a*c",
  "(.*a){25}",
];
/** No agent's call may take longer than this, whatever its pattern (a freeze shows here). */
const CALL_STALL_MS = 20_000;

/** The limited queues every server runs with. */
const QUEUE_LIMITS: Record<string, number> = { "soak-a": 2, "soak-b": 1 };
const QUEUES_ENV = Object.entries(QUEUE_LIMITS).map(([name, n]) => `${name}=${n}`).join(",");
/** File times are a kernel tick coarse: a dependency's end may read this much after a start. */
const FILE_TIME_SLACK_MS = 25;

const lab = new Lab();
const log = (message: string) => console.error(`soak: ${message}`);

// ---------------------------------------------------------------------------------------------
// Random numbers: seeded (mulberry32), so one seed gives the same stream of choices. The
// interleaving of concurrent workers still differs from run to run.

let rngState = SEED >>> 0;
function random(): number {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (lo: number, hi: number) => lo + random() * (hi - lo);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

// ---------------------------------------------------------------------------------------------
// State of the run.

interface Instance {
  readonly n: number;
  readonly slot: number;
  readonly server: ServerHandle;
  readonly pid: number;
  readonly bornAt: number;
  /** Set just before the SIGKILL: any call failing from then on failed because of it. */
  killedAt: number | null;
  closed: boolean;
  readonly rss: { at: number; mib: number }[];
}

type Variant =
  | "plain"
  | "nested"
  | "setsid"
  | "stubborn"
  | "chatty"
  | "orphan"
  | "flood"
  | "redos";

interface KnownTask {
  readonly id: string;
  readonly code: number;
  readonly variant: Variant;
  readonly timeoutSeconds: number | null;
  /** Argument of the marker-less background sleeps an "orphan" task leaves (null otherwise). */
  readonly orphanTag: string | null;
  readonly startedAt: number;
  readonly via: number;
  cancelRequested: boolean;
  /** The first terminal status a client saw, and when its reply arrived; every later sighting
   * must agree. */
  firstEnd: { status: string; exitCode: number | null; seenAt: number } | null;
}

const OPS = [
  "start",
  "status",
  "result",
  "cancel",
  "wait",
  "list",
  "regex",
  "attack",
  "queue",
] as const;
type Op = typeof OPS[number];
const OP_WEIGHTS: Record<Op, number> = {
  queue: 8,
  start: 25,
  status: 20,
  result: 15,
  cancel: 10,
  wait: 10,
  list: 20,
  regex: 4,
  attack: 6,
};

interface OpCount {
  ok: number;
  /** Round trips of the answered calls, ms. */
  readonly ms: number[];
  /** Failed because their server was killed while they were in flight. */
  lostToKill: number;
  unexpected: number;
}

const startedRun = Date.now();
let home = "";
let running = true;
/** True while the run settles: the queue sampler goes on until the queues have drained. */
let settling = false;
const instances: Instance[] = [];
const current: (Instance | null)[] = [];
let instanceCounter = 0;
const known = new Map<string, KnownTask>();
const knownOrder: string[] = [];
const opCounts = Object.fromEntries(
  OPS.map((op): [Op, OpCount] => [op, { ok: 0, ms: [], lostToKill: 0, unexpected: 0 }]),
) as Record<Op, OpCount>;
const unexpectedErrors: string[] = [];
const violations = new Map<string, string[]>();
let lostStarts = 0;
let kills = 0;
let restarts = 0;
let restartFailures = 0;
const leftoverSuspects = new Map<string, { id: string; pid: number; at: number }>();
/** A server under BACKBURNER_ALLOW='^echo( |$)' on its own state directory, for the attacks. */
let policyServer: ServerHandle | null = null;
let attackDir = "";
let attacksRefused = 0;
let attackCounter = 0;
const attackFiles: string[] = [];
const regexOutcomes = { answered: 0, refused: 0, slowestMs: 0 };

/** A task a "queue" operation started: its command appends its id to runsFile once per run. */
interface QueueTask {
  readonly id: string;
  readonly queue: string;
  readonly code: number;
  readonly after: readonly string[];
  readonly key: string | null;
  cancelRequested: boolean;
}
const queueTasks = new Map<string, QueueTask>();
const queueOrder: string[] = [];
/** Idempotency keys used so far, with the task the first reply gave. */
const keyTasks = new Map<string, string>();
let keyCounter = 0;
let runsFile = "";
/** The most tasks seen working at once in each limited queue, and how many samples were read. */
const queuePeaks = new Map<string, number>(Object.keys(QUEUE_LIMITS).map((q) => [q, 0]));
let queueSamples = 0;
const queueCounts = { single: 0, chains: 0, keyed: 0, keyedPairs: 0, cancels: 0 };

function violation(check: string, detail: string): void {
  const list = violations.get(check) ?? [];
  list.push(detail);
  violations.set(check, list);
  if (list.length <= 3) log(`VIOLATION ${check}: ${detail}`);
}

// ---------------------------------------------------------------------------------------------
// Servers.

async function bootSlot(slot: number): Promise<Instance> {
  const server = await lab.boot(
    home,
    {
      BACKBURNER_GRACE_SECONDS: String(GRACE_SECONDS),
      BACKBURNER_MAX_LOG_BYTES: String(LOG_CAP_BYTES),
      BACKBURNER_QUEUES: QUEUES_ENV,
      ...(HEAP_PROBE ? { DENO_V8_FLAGS: "--expose-gc" } : {}),
    },
    HEAP_PROBE ? join(ROOT, "bench", "heap_probe.ts") : undefined,
  );
  const instance: Instance = {
    n: ++instanceCounter,
    slot,
    server,
    pid: server.pid,
    bornAt: Date.now(),
    killedAt: null,
    closed: false,
    rss: [],
  };
  instances.push(instance);
  current[slot] = instance;
  return instance;
}

async function killLoop(): Promise<void> {
  if (SERVERS < 2) return;
  const victim = SERVERS - 1;
  while (running) {
    const gap = between(...KILL_GAP_MS);
    const until = Date.now() + gap;
    while (running && Date.now() < until) await sleep(50);
    if (!running) break;
    const instance = current[victim];
    if (!instance) continue;
    current[victim] = null;
    instance.killedAt = Date.now();
    try {
      Deno.kill(instance.pid, "SIGKILL");
    } catch {
      // gone already
    }
    kills++;
    lab.forget(instance.server);
    await sleep(between(...RESTART_DELAY_MS));
    for (let attempt = 0; attempt < 5 && current[victim] === null; attempt++) {
      try {
        await bootSlot(victim);
        restarts++;
      } catch (error) {
        restartFailures++;
        log(`restart of server ${victim} failed: ${String(error)}`);
        await sleep(500);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Operations.

function makeTask(): {
  command: string;
  code: number;
  variant: Variant;
  timeout: number | null;
  orphanTag: string | null;
} {
  const code = pick([0, 0, 0, 1, 2, 3, 42, 127, 255]);
  const seconds = between(0.05, MAX_SLEEP_S).toFixed(2);
  const variant = pick<Variant>([
    "plain",
    "plain",
    "nested",
    "setsid",
    "stubborn",
    "chatty",
    "orphan",
    "flood",
    "redos",
  ]);
  const end = `echo soak-end ${code}; exit ${code}`;
  // Orphans that drop every marker (env -i, unset) sleep a unique, short time: the argument
  // finds them, and they end by themselves within 4 s if a completed task leaves them behind.
  const orphanTag = variant === "orphan"
    ? `3.${String(Math.floor(random() * 1e9)).padStart(9, "0")}`
    : null;
  const command = {
    plain: `echo soak-begin; sleep ${seconds}; ${end}`,
    nested: `echo soak-begin; bash -c 'sleep ${seconds}'; ${end}`,
    setsid: `echo soak-begin; setsid -w sleep ${seconds}; ${end}`,
    stubborn: `trap '' TERM; echo soak-begin; sleep ${seconds}; ${end}`,
    chatty: `for i in $(seq 1 200); do echo "soak line $i"; done; sleep ${seconds}; ${end}`,
    orphan: `echo soak-begin; (env -i sleep ${orphanTag} &); ` +
      `(unset BACKBURNER_TASK_ID; sleep ${orphanTag} &); sleep ${seconds}; ${end}`,
    flood: `echo soak-begin; head -c 50000000 /dev/zero | tr '\\0' x; echo; ${end}`,
    redos: `echo soak-begin; for i in 1 2 3; do echo ${"a".repeat(40)}!; done; ` +
      `sleep ${seconds}; ${end}`,
  }[variant];
  const roll = random();
  const timeout = roll < 0.1
    ? Number(between(0.3, 1.2).toFixed(2))
    : roll < 0.15
    ? HUGE_TIMEOUT_S
    : null;
  return { command, code, variant, timeout, orphanTag };
}

/** A process's command line, for reports. */
function processName(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim().slice(0, 80);
  } catch {
    return "gone";
  }
}

/** Live processes whose command line holds `argument` (the orphans of one task). */
function pidsWithArgument(argument: string): number[] {
  const pids: number[] = [];
  for (const dirent of Deno.readDirSync("/proc")) {
    const pid = Number(dirent.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      const state = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.[0];
      if (args.includes(argument) && state !== "Z") pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * A task stopped by backburner (cancelled, timed out, or stopped at the log cap) must have no
 * process left, including the orphans that dropped the task's marker.
 */
function checkStoppedTree(task: KnownTask, status: string): void {
  if (task.orphanTag === null || !["cancelled", "timed_out"].includes(status)) return;
  const alive = pidsWithArgument(task.orphanTag);
  if (alive.length > 0) {
    violation(
      "a stop leaves no orphan",
      `${task.id} ${status} but its marker-less orphans ${alive.join(",")} are alive`,
    );
  }
}

/** A known task id: most often one of the 20 newest (likely still running), else any. */
function pickId(): string | null {
  if (knownOrder.length === 0) return null;
  if (random() < 0.6) {
    return knownOrder[Math.max(0, knownOrder.length - 1 - Math.floor(random() * 20))];
  }
  return pick(knownOrder);
}

/**
 * Checks one sighting of a task against what was seen before. `sentAt` is when its request was
 * sent: replies from different servers can arrive out of order, so a "working" only contradicts
 * an end whose reply had arrived before this request was even sent.
 */
function observeAt(view: Record<string, unknown>, sentAt: number): void {
  const task = known.get(view.task_id as string);
  if (!task) return;
  const status = view.status as string;
  const exitCode = view.exit_code as number | null;
  // A task is queued for the moment between its record and its claim, even in the default queue.
  if (status === "working" || status === "queued") {
    if (task.firstEnd && sentAt > task.firstEnd.seenAt) {
      violation(
        "status is final",
        `${task.id} was ${task.firstEnd.status}, then working in a reply to a request sent ` +
          `${sentAt - task.firstEnd.seenAt} ms later`,
      );
    }
    return;
  }
  if (!task.firstEnd) {
    task.firstEnd = { status, exitCode, seenAt: Date.now() };
    checkStoppedTree(task, status);
  } else if (task.firstEnd.status !== status || task.firstEnd.exitCode !== exitCode) {
    violation(
      "status is final",
      `${task.id} was ${task.firstEnd.status}/${task.firstEnd.exitCode}, later ${status}/${exitCode}`,
    );
  }
}

async function doOp(op: Op, server: ServerHandle): Promise<void> {
  const sentAt = Date.now();
  const observe = (view: Record<string, unknown>) => observeAt(view, sentAt);
  switch (op) {
    case "start": {
      const spec = makeTask();
      let started: Record<string, unknown>;
      try {
        started = await server.call("start_task", {
          command: spec.command,
          ...(spec.timeout === null ? {} : { timeout_seconds: spec.timeout }),
        });
      } catch (error) {
        if (!(error instanceof ToolError)) lostStarts++;
        throw error;
      }
      const id = started.task_id as string;
      if (started.status !== "working") violation("start_task", `${id} started ${started.status}`);
      known.set(id, {
        id,
        code: spec.code,
        variant: spec.variant,
        timeoutSeconds: spec.timeout,
        orphanTag: spec.orphanTag,
        startedAt: Date.now(),
        via: current.findIndex((i) => i?.server === server),
        cancelRequested: false,
        firstEnd: null,
      });
      knownOrder.push(id);
      return;
    }
    case "status": {
      const id = pickId();
      if (id) observe(await server.call("task_status", { task_id: id }));
      return;
    }
    case "result": {
      const id = pickId();
      if (!id) return;
      const result = await server.call("task_result", {
        task_id: id,
        tail_lines: 1 + Math.floor(random() * 5),
      });
      observe(result);
      const task = known.get(id)!;
      if (
        task.variant !== "flood" &&
        (result.status === "completed" || result.status === "failed") &&
        !(result.output as string).includes(`soak-end ${task.code}`)
      ) {
        violation("output complete", `${id} ended ${result.status} without its last line`);
      }
      return;
    }
    case "cancel": {
      // Prefer a task started in the last two seconds: most likely still running.
      const recent = knownOrder.slice(-30).filter((id) =>
        Date.now() - known.get(id)!.startedAt < 2000
      );
      const id = recent.length ? pick(recent) : pickId();
      if (!id) return;
      known.get(id)!.cancelRequested = true;
      const result = await server.call("cancel_task", { task_id: id });
      observe(result);
      if (result.status === "working" || result.status === "queued") {
        violation("cancel ends the task", `${id} still ${result.status}`);
      }
      if (result.status === "cancelled" && result.already_ended === false) {
        const alive = pidsWithEnv(new Set([`BACKBURNER_TASK_ID=${id}`]));
        if (alive.size > 0) {
          violation(
            "cancel returns once the tree is gone",
            `${id}: pids ${[...alive.keys()].join(",")} alive after cancel_task returned`,
          );
        }
      }
      return;
    }
    case "wait": {
      const ids = [...new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, pickId))]
        .filter((id): id is string => id !== null);
      if (ids.length === 0) return;
      const mode = random() < 0.5 ? "any" : "all";
      const waited = await server.call("wait_for_task", {
        task_ids: ids,
        mode,
        timeout_seconds: Number(between(0.2, 2).toFixed(1)),
      });
      const tasks = waited.tasks as Record<string, unknown>[];
      tasks.forEach(observe);
      const ended = tasks.filter((t) => t.status !== "working" && t.status !== "queued").length;
      const done = mode === "any" ? ended > 0 : ended === tasks.length;
      if ((waited.reason === "ended") !== done) {
        violation(
          "wait_for_task is consistent",
          `mode ${mode}, reason ${waited.reason}, ${ended}/${tasks.length} ended`,
        );
      }
      return;
    }
    case "regex": {
      // An agent's catastrophic pattern, on output made to trigger it: the call must come back
      // (a result, or a clear refusal) and every other call keeps being answered meanwhile.
      const ids = knownOrder.filter((id) => known.get(id)!.variant === "redos").slice(-20);
      if (ids.length === 0) return;
      const id = pick(ids);
      const pattern = pick(CATASTROPHIC_PATTERNS);
      const t0 = Date.now();
      try {
        if (random() < 0.5) {
          observe(
            await server.call("wait_for_task", {
              task_ids: [id],
              until_pattern: pattern,
              timeout_seconds: 1,
            }).then((waited) => (waited.tasks as Record<string, unknown>[])[0]),
          );
        } else {
          observe(await server.call("task_result", { task_id: id, grep: pattern }));
        }
        regexOutcomes.answered++;
      } catch (error) {
        if (!(error instanceof ToolError)) throw error;
        regexOutcomes.refused++;
      }
      regexOutcomes.slowestMs = Math.max(regexOutcomes.slowestMs, Date.now() - t0);
      return;
    }
    case "attack": {
      if (!policyServer) return;
      const n = ++attackCounter;
      const target = join(attackDir, `pwned-${n}`);
      attackFiles.push(target);
      const attack = pick(policyAttacks(target));
      try {
        await policyServer.call("start_task", attack);
        violation("policy holds", `allowed: ${JSON.stringify(attack)}`);
      } catch (error) {
        if (!(error instanceof ToolError)) throw error;
        attacksRefused++;
      }
      return;
    }
    case "queue":
      await queueOp(server);
      return;
    case "list": {
      const limit = 1 + Math.floor(random() * 50);
      const status = pick([
        undefined,
        undefined,
        "working",
        "completed",
        "failed",
        "cancelled",
        "queued",
      ]);
      const listed = await server.call("list_tasks", { limit, ...(status ? { status } : {}) });
      const tasks = listed.tasks as Record<string, unknown>[];
      tasks.forEach(observe);
      const created = tasks.map((t) => Date.parse(t.created_at as string));
      const sorted = created.every((c, i) => i === 0 || created[i - 1] >= c);
      const filtered = status === undefined || tasks.every((t) => t.status === status);
      if (listed.count !== tasks.length || tasks.length > limit || !sorted || !filtered) {
        violation(
          "list_tasks is consistent",
          `limit ${limit} status ${status}: count ${listed.count}, ${tasks.length} tasks, ` +
            `sorted ${sorted}, filtered ${filtered}`,
        );
      }
      if ((listed.total as number) < tasks.length) {
        violation(
          "list_tasks total covers its page",
          `limit ${limit} status ${status}: ${tasks.length} tasks listed, total ${listed.total}`,
        );
      }
      return;
    }
  }
}

/** A queue task's command: notes the run, works a little, exits with `code`. */
function queueCommand(code: number, seconds: string): string {
  return `echo "$BACKBURNER_TASK_ID" >> '${runsFile}'; echo soak-queue; sleep ${seconds}; exit ${code}`;
}

function trackQueueTask(
  started: Record<string, unknown>,
  spec: { queue: string; code: number; after?: readonly string[]; key?: string | null },
): string {
  const id = started.task_id as string;
  if (!queueTasks.has(id)) {
    queueTasks.set(id, {
      id,
      queue: spec.queue,
      code: spec.code,
      after: spec.after ?? [],
      key: spec.key ?? null,
      cancelRequested: false,
    });
    queueOrder.push(id);
  }
  return id;
}

/**
 * Queues, dependencies and idempotency keys: one task in a limited queue (some with retries), a
 * chain, a keyed start sent to two servers at once, or a cancel of a recent queue task.
 */
async function queueOp(server: ServerHandle): Promise<void> {
  const roll = random();
  const queue = pick([...Object.keys(QUEUE_LIMITS), "default"]);
  const seconds = () => between(0.05, 0.6).toFixed(2);
  if (roll < 0.4) {
    const code = pick([0, 0, 0, 1, 3]);
    const retries = random() < 0.3 ? 1 + Math.floor(random() * 2) : 0;
    const started = await server.call("start_task", {
      command: queueCommand(code, seconds()),
      queue,
      ...(retries ? { retries, retry_delay_seconds: 0.1 } : {}),
    });
    trackQueueTask(started, { queue, code });
    queueCounts.single++;
    return;
  }
  if (roll < 0.65) {
    const steps = 2 + Math.floor(random() * 2);
    const after: string[] = [];
    for (let i = 0; i < steps; i++) {
      const code = i === 0 && random() < 0.25 ? 2 : 0;
      const started = await server.call("start_task", {
        command: queueCommand(code, seconds()),
        queue: random() < 0.5 ? queue : "default",
        ...(after.length ? { after: [after[after.length - 1]] } : {}),
      });
      after.push(trackQueueTask(started, { queue, code, after: after.slice(-1) }));
    }
    queueCounts.chains++;
    return;
  }
  if (roll < 0.85) {
    // A new key, or one used before (its task is returned again within the window).
    const reuse = keyTasks.size > 0 && random() < 0.4;
    const key = reuse ? pick([...keyTasks.keys()]) : `soak-key-${++keyCounter}`;
    const n = Number(key.slice("soak-key-".length));
    const code = n % 5 === 0 ? 1 : 0;
    const args = {
      command: queueCommand(code, (0.1 + (n % 5) / 10).toFixed(2)),
      queue: n % 2 ? "soak-a" : "soak-b",
      idempotency_key: key,
    };
    const others = current.filter((i): i is Instance => i !== null && i.server !== server);
    const other = others.length ? pick(others) : null;
    const replies = await Promise.allSettled([
      server.call("start_task", args),
      (other?.server ?? server).call("start_task", args),
    ]);
    // The other server may be killed while its call is in flight: that call's loss is expected.
    if (other !== null && other.killedAt !== null && replies[1].status === "rejected") {
      replies.pop();
    }
    const ids = new Set<string>();
    for (const reply of replies) {
      if (reply.status === "fulfilled") {
        ids.add(trackQueueTask(reply.value, { queue: args.queue, code, key }));
      } else if (reply.reason instanceof ToolError) {
        violation("one key, one task", `${key}: ${reply.reason.message}`);
      }
    }
    const first = keyTasks.get(key);
    if (first !== undefined) ids.add(first);
    else if (ids.size > 0) keyTasks.set(key, [...ids][0]);
    if (ids.size > 1) {
      violation("one key, one task", `${key} gave tasks ${[...ids].join(", ")}`);
    }
    queueCounts.keyed++;
    if (replies.every((reply) => reply.status === "fulfilled")) queueCounts.keyedPairs++;
    // A reply lost to a kill leaves its error to the worker's accounting.
    const lost = replies.find((reply) => reply.status === "rejected");
    if (lost && !(lost.reason instanceof ToolError)) throw lost.reason;
    return;
  }
  const recent = queueOrder.slice(-15);
  if (recent.length === 0) return;
  const id = pick(recent);
  queueTasks.get(id)!.cancelRequested = true;
  const result = await server.call("cancel_task", { task_id: id });
  if (result.status === "working" || result.status === "queued") {
    violation("cancel ends the task", `${id} still ${result.status}`);
  }
  queueCounts.cancels++;
}

/** Samples the working count of each limited queue from the database, every few ms. */
async function queueSampler(): Promise<void> {
  const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5000 });
  const count = db.prepare(
    "SELECT queue, count(*) AS n FROM tasks WHERE status = 'working' AND queue IN (" +
      Object.keys(QUEUE_LIMITS).map(() => "?").join(", ") + ") GROUP BY queue",
  );
  try {
    while (running || settling) {
      try {
        for (
          const row of count.all(...Object.keys(QUEUE_LIMITS)) as { queue: string; n: number }[]
        ) {
          queuePeaks.set(row.queue, Math.max(queuePeaks.get(row.queue) ?? 0, row.n));
        }
        queueSamples++;
      } catch (error) {
        log(`queue sample failed: ${String(error)}`);
      }
      await sleep(5);
    }
  } finally {
    db.close();
  }
}

/**
 * Commands that make bash evaluate text hidden in data (under BACKBURNER_ALLOW='^echo( |$)'
 * every one must be refused): each would create `target` if it ran.
 */
function policyAttacks(target: string): Record<string, unknown>[] {
  const sub = `$(touch ${target})`;
  const script = join(attackDir, "bash_env.sh");
  return [
    { command: `echo \${x:='${sub}'} \${x@P}` },
    { command: `echo \${a:='z[${sub}]'} $((a))` },
    { command: `echo \${a:='z[${sub}]'} $[a]` },
    { command: `echo \${a:='z[${sub}]'} \${!a}` },
    { command: `echo \${a:='z[${sub}]'} \${b:a}` },
    { command: `echo \${a:='z[${sub}]'} \${b:0:a}` },
    { command: `echo \${a:='z[${sub}]'} \${b[a]}` },
    { command: `echo \${a:='z[${sub}]'} $(( a + 1 ))` },
    { command: "echo hi", env: { BASH_ENV: script } },
    { command: "echo hi", env: { ENV: script } },
    { command: "echo hi", env: { SHELLOPTS: "xtrace", PS4: sub } },
  ];
}

function chooseOp(): Op {
  const total = OPS.reduce((sum, op) => sum + OP_WEIGHTS[op], 0);
  let x = random() * total;
  for (const op of OPS) {
    x -= OP_WEIGHTS[op];
    if (x < 0) return op;
  }
  return "status";
}

async function worker(slot: number): Promise<void> {
  while (running) {
    const instance = current[slot];
    if (!instance) {
      await sleep(20);
      continue;
    }
    const op = chooseOp();
    try {
      const t0 = performance.now();
      await doOp(op, instance.server);
      opCounts[op].ms.push(performance.now() - t0);
      opCounts[op].ok++;
    } catch (error) {
      if (instance.killedAt !== null) {
        opCounts[op].lostToKill++;
      } else {
        opCounts[op].unexpected++;
        const message = error instanceof Error ? error.message : String(error);
        unexpectedErrors.push(`${op} on server ${instance.n}: ${message.slice(0, 300)}`);
        if (unexpectedErrors.length <= 5) log(`unexpected error: ${op}: ${message}`);
      }
    }
    await sleep(between(10, 120));
  }
}

// ---------------------------------------------------------------------------------------------
// Watching during the run.

/** Ended tasks per the store (id → status), read without disturbing the servers. */
function endedTasks(): Map<string, string> {
  const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5000 });
  try {
    const rows = db.prepare("SELECT id, status FROM tasks WHERE status != 'working'").all() as {
      id: string;
      status: string;
    }[];
    return new Map(rows.map((row) => [row.id, row.status]));
  } finally {
    db.close();
  }
}

/**
 * An "orphan" task that ended by itself legitimately leaves its background sleeps (and its log's
 * copier, which their stdout keeps open) for up to 4 s. Before the teardown counts what is left of
 * the run, wait for those to end by themselves (deadline 6 s), so that count is only leaks.
 */
async function awaitOrphanSleeps(): Promise<void> {
  const ended = endedTasks();
  const tasks = [...known.values()].filter((task) =>
    task.orphanTag !== null && ["completed", "failed"].includes(ended.get(task.id) ?? "")
  );
  const markers = new Set(tasks.map((task) => `BACKBURNER_TASK_ID=${task.id}`));
  const lingering = () =>
    pidsWithEnv(markers).size +
    tasks.reduce((sum, task) => sum + pidsWithArgument(task.orphanTag!).length, 0);
  const deadline = Date.now() + 6000;
  while (lingering() > 0 && Date.now() < deadline) await sleep(100);
}

/**
 * Processes of tasks the store says have ended. One found alive is a suspect; still alive (same
 * pid) at the next scan, at least 1.5 s later, it is a leak. (An exit record is written just
 * before its wrapper exits, so a server may report the end a moment before the last process is
 * gone.)
 */
function scanLeftovers(final: boolean): void {
  const ended = endedTasks();
  const markers = new Set([...ended.keys()].map((id) => `BACKBURNER_TASK_ID=${id}`));
  const alive = pidsWithEnv(markers);
  const now = Date.now();
  const seen = new Set<string>();
  for (const [pid, marker] of alive) {
    const id = marker.slice(marker.indexOf("=") + 1);
    // An "orphan" task that ended by itself leaves its background sleeps running (as any task's
    // background processes outlive its end), and with them its log's copier, for up to 4 s.
    const status = ended.get(id);
    if (known.get(id)?.variant === "orphan" && (status === "completed" || status === "failed")) {
      continue;
    }
    const key = `${id}:${pid}`;
    seen.add(key);
    const suspect = leftoverSuspects.get(key);
    if (suspect && now - suspect.at >= 1500) {
      violation(
        "no process outlives its task's end",
        `task ${id} (${known.get(id)?.variant} ${ended.get(id)}): pid ${pid} ` +
          `(${processName(pid)}) alive ${now - suspect.at} ms after its end`,
      );
      leftoverSuspects.delete(key);
    } else if (!suspect) {
      leftoverSuspects.set(key, { id, pid, at: now });
    }
  }
  for (const key of [...leftoverSuspects.keys()]) if (!seen.has(key)) leftoverSuspects.delete(key);
  if (final) {
    for (const suspect of leftoverSuspects.values()) {
      violation(
        "no process outlives its task's end",
        `task ${suspect.id}: pid ${suspect.pid} alive at the final scan`,
      );
    }
  }
}

async function sampler(): Promise<void> {
  let lastScan = 0;
  while (running) {
    const now = Date.now();
    for (const instance of current) {
      if (!instance) continue;
      const mib = rssMiB(instance.pid);
      if (mib !== null) instance.rss.push({ at: now, mib });
    }
    if (now - lastScan >= 2000) {
      lastScan = now;
      try {
        scanLeftovers(false);
      } catch (error) {
        log(`leftover scan failed: ${String(error)}`);
      }
    }
    await sleep(1000);
  }
}

// ---------------------------------------------------------------------------------------------
// The run and its checks.

interface Check {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

interface TaskRow {
  id: string;
  status: string;
  exit_code: number | null;
  stop_reason: string | null;
  owner: string | null;
  attempt: number;
  started_at: number | null;
  ended_at: number | null;
  status_message: string | null;
  after_ids: string | null;
}

interface MemoryLine {
  readonly instance: number;
  readonly slot: number;
  readonly lifetimeS: number;
  readonly firstMiB: number;
  readonly lastMiB: number;
  readonly maxMiB: number;
  readonly ending: string;
  /** Every tenth sample (one per 10 s). */
  readonly series: number[];
}

async function run() {
  home = await lab.dir("backburner-soak-");
  log(
    `${SECONDS} s, ${SERVERS} servers × ${WORKERS} workers, seed ${SEED}, state ${home}`,
  );
  for (let slot = 0; slot < SERVERS; slot++) await bootSlot(slot);
  attackDir = await lab.dir("backburner-soak-policy-");
  Deno.writeTextFileSync(join(attackDir, "bash_env.sh"), `touch ${join(attackDir, "pwned-env")}\n`);
  attackFiles.push(join(attackDir, "pwned-env"));
  Deno.mkdirSync(join(attackDir, "state"));
  policyServer = await lab.boot(join(attackDir, "state"), {
    BACKBURNER_ALLOW: "^echo( |$)",
  });
  // Literal arithmetic stays allowed under the same rule.
  const literal = await policyServer.call("start_task", { command: "echo $((1+2))" });
  if (literal.status !== "working") violation("policy holds", "echo $((1+2)) was not started");
  runsFile = join(await lab.dir("backburner-soak-runs-"), "runs");
  const queueSampling = queueSampler();
  const loops = [
    killLoop(),
    sampler(),
    ...Array.from({ length: SERVERS * WORKERS }, (_, i) => worker(i % SERVERS)),
  ];
  await sleep(SECONDS * 1000);
  running = false;
  await Promise.all(loops);
  const runEnded = Date.now();
  log(`run over: ${known.size} tasks started, ${kills} kills; settling…`);

  // Settle: every server alive again; wait until no task is working or queued (or SETTLE_MS).
  settling = true;
  let working = Infinity;
  const settleStart = Date.now();
  while (Date.now() - settleStart < SETTLE_MS) {
    const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5000 });
    working = (db.prepare(
      "SELECT count(*) AS n FROM tasks WHERE status IN ('working', 'queued')",
    ).get() as {
      n: number;
    }).n;
    db.close();
    if (working === 0) break;
    await sleep(200);
  }
  const settleMs = Date.now() - settleStart;
  settling = false;
  await queueSampling;
  // Let PID 1 reap the last orphans, then two scans 1.5 s apart for processes of ended tasks.
  scanLeftovers(false);
  await sleep(2000);
  scanLeftovers(true);

  // Working tasks left: each must at least have a live process.
  const stuck: string[] = [];
  const stillWorking: string[] = [];
  {
    const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5000 });
    const rows = db.prepare("SELECT id, status FROM tasks WHERE status IN ('working', 'queued')")
      .all() as { id: string; status: string }[];
    db.close();
    for (const { id, status } of rows) {
      stillWorking.push(id);
      if (status === "queued") stuck.push(`${id} (still queued)`);
      else if (pidsWithEnv(new Set([`BACKBURNER_TASK_ID=${id}`])).size === 0) stuck.push(id);
    }
  }

  // Close the servers the way a client does (stdin closes); each must exit by itself.
  let badCloses = 0;
  const adoptions = instances.reduce(
    (sum, i) => sum + (i.server.stderr().match(/adopted task /g) ?? []).length,
    0,
  );
  const serverErrors = instances.flatMap((i) =>
    i.server.stderr().split("\n").filter((line) =>
      /unexpected error|failed|database is locked/i.test(line)
    )
  );
  for (const instance of current) {
    if (!instance) continue;
    instance.closed = true;
    try {
      await instance.server.close();
    } catch {
      badCloses++;
    }
    lab.forget(instance.server);
  }

  await awaitOrphanSleeps();

  if (STDERR_DIR) {
    Deno.mkdirSync(STDERR_DIR, { recursive: true });
    for (const i of instances) {
      Deno.writeTextFileSync(join(STDERR_DIR, `server-${i.n}.log`), i.server.stderr());
    }
  }

  // The store, read directly.
  const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5000 });
  const integrity = (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string })
    .integrity_check;
  const rows = db.prepare(
    `SELECT id, status, exit_code, stop_reason, owner, attempt, started_at, ended_at,
       status_message, after_ids FROM tasks`,
  ).all() as unknown as TaskRow[];
  db.close();
  const byId = new Map(rows.map((row) => [row.id, row]));

  const missing = [...known.keys()].filter((id) => !byId.has(id));
  const wrongCodes: string[] = [];
  const wrongStatus: string[] = [];
  const badOutput: string[] = [];
  const disagreements: string[] = [];
  const capBreaches: string[] = [];
  let floodsChecked = 0;
  const statusCounts: Record<string, number> = {};
  const variantCounts: Record<string, Record<string, number>> = {};
  for (const task of known.values()) {
    const row = byId.get(task.id);
    if (!row) continue;
    statusCounts[row.status] = (statusCounts[row.status] ?? 0) + 1;
    (variantCounts[task.variant] ??= {})[row.status] =
      (variantCounts[task.variant]?.[row.status] ?? 0) + 1;
    const logPath = join(home, "tasks", task.id, "output.log");
    if (task.variant === "flood") {
      // Written 50 MB against a 2 MB cap: stopped at the cap, unless a cancel or timeout came first.
      let size = 0;
      try {
        size = Deno.statSync(logPath).size;
      } catch {
        // removed: size 0 passes the cap check; the status check below still applies
      }
      floodsChecked++;
      if (size > LOG_CAP_BYTES + LOG_CAP_MARGIN) {
        capBreaches.push(`${task.id}: ${row.status}, log ${size} bytes`);
      }
      if (row.stop_reason !== "log_limit" && !["cancelled", "timed_out"].includes(row.status)) {
        capBreaches.push(
          `${task.id}: ended ${row.status} (stop ${row.stop_reason}), not at the cap`,
        );
      }
      continue;
    }
    // A task that ignores SIGTERM runs on to its end while it is being stopped: that is a stop.
    // Any other task a stop's signal reached exits 143 or 137, so its own code and complete log
    // mean it had ended before the stop.
    if (
      task.variant !== "stubborn" &&
      (row.status === "cancelled" || row.status === "timed_out") && row.exit_code === task.code
    ) {
      let text = "";
      try {
        text = Deno.readTextFileSync(logPath);
      } catch {
        // removed: nothing to compare
      }
      if (text.endsWith(`soak-end ${task.code}\n`)) {
        wrongStatus.push(
          `${task.id} (${task.variant}): ${row.status} although it ran to its own end ` +
            `(exit ${row.exit_code})`,
        );
      }
    }
    if (row.status === "timed_out" && task.timeoutSeconds === HUGE_TIMEOUT_S) {
      wrongStatus.push(`${task.id}: timed out although its timeout was ${HUGE_TIMEOUT_S} s`);
    }
    if (row.status === "completed" || row.status === "failed") {
      if (row.exit_code !== task.code || (row.status === "completed") !== (task.code === 0)) {
        wrongCodes.push(`${task.id}: ${row.status} ${row.exit_code}, made to exit ${task.code}`);
      }
      let text = "";
      try {
        text = Deno.readTextFileSync(logPath);
      } catch {
        // reported below
      }
      if (!text.endsWith(`soak-end ${task.code}\n`)) {
        badOutput.push(`${task.id}: log ends ${JSON.stringify(text.slice(-30))}`);
      }
    }
    if (row.status === "interrupted") wrongStatus.push(`${task.id}: interrupted`);
    if (row.status === "cancelled" && !task.cancelRequested) {
      wrongStatus.push(`${task.id}: cancelled without a cancel`);
    }
    if (row.status === "timed_out" && task.timeoutSeconds === null) {
      wrongStatus.push(`${task.id}: timed out without a timeout`);
    }
    if (
      task.firstEnd &&
      (task.firstEnd.status !== row.status || task.firstEnd.exitCode !== row.exit_code)
    ) {
      disagreements.push(
        `${task.id}: seen ${task.firstEnd.status}/${task.firstEnd.exitCode}, stored ` +
          `${row.status}/${row.exit_code}`,
      );
    }
  }
  const unknownRows = rows.filter((row) => !known.has(row.id) && !queueTasks.has(row.id));
  const queueResult = checkQueueTasks(byId);
  const unknownWorking = unknownRows.filter((row) =>
    row.status === "working" || row.status === "queued"
  );
  const unknownStatuses: Record<string, number> = {};
  for (const row of unknownRows) {
    unknownStatuses[row.status] = (unknownStatuses[row.status] ?? 0) + 1;
  }

  // Memory: server 0 lives the whole run; the victim's instances as long as they lived. The
  // baseline is the median of the samples just after the warm-up (V8 grows its heap for a while
  // after start), the end the median of the last samples: single samples jump with each GC.
  const memory: MemoryLine[] = instances.filter((i) => i.rss.length >= 2).map((i) => {
    const lifetime = i.rss[i.rss.length - 1].at - i.bornAt;
    const warmup = Math.min(RSS_WARMUP_MS, lifetime / 3);
    const early = i.rss.filter((s) => s.at - i.bornAt >= warmup).slice(0, RSS_WINDOW);
    const late = i.rss.slice(-RSS_WINDOW);
    const median = (samples: { mib: number }[]) => {
      const sorted = samples.map((s) => s.mib).sort((a, b) => a - b);
      return sorted[Math.floor((sorted.length - 1) / 2)];
    };
    return {
      instance: i.n,
      slot: i.slot,
      lifetimeS: lifetime / 1000,
      firstMiB: median(early.length ? early : i.rss.slice(0, 1)),
      lastMiB: median(late),
      maxMiB: Math.max(...i.rss.map((s) => s.mib)),
      ending: i.killedAt !== null ? "SIGKILL" : "closed",
      series: i.rss.filter((_, k) => k % 10 === 0).map((s) => s.mib),
    };
  });
  const survivor = memory.find((m) => m.slot === 0)!;
  const heap = HEAP_PROBE ? liveHeap(instances.find((i) => i.slot === 0)!) : null;
  const memoryOk = (m: MemoryLine) =>
    m.lastMiB - m.firstMiB <= Math.max(RSS_SLACK_MIB, m.firstMiB * RSS_SLACK_FRACTION);

  const checks: Check[] = [];
  const add = (name: string, passed: boolean, detail: string) =>
    checks.push({ name, passed, detail });
  const sample = (items: string[]) => items.slice(0, 3).join("; ");
  add(
    "No task lost",
    missing.length === 0,
    `${known.size} tasks started by clients, ${known.size - missing.length} in the store` +
      (missing.length ? `; missing: ${sample(missing)}` : ""),
  );
  add(
    "No task left working without a live process",
    stuck.length === 0,
    `${stillWorking.length} working after ${(settleMs / 1000).toFixed(1)} s of settling, ` +
      `${stuck.length} of them without a live process` + (stuck.length ? `: ${sample(stuck)}` : ""),
  );
  const leaks = violations.get("no process outlives its task's end") ?? [];
  add(
    "No process outlives its task's end",
    leaks.length === 0,
    leaks.length
      ? `${leaks.length} leak(s): ${sample(leaks)}`
      : "every /proc scan (every 2 s, and after settling) found no process of an ended task " +
        "still alive 1.5 s later",
  );
  const cancelLeaks = violations.get("cancel returns once the tree is gone") ?? [];
  add(
    "cancel_task returns only once the tree is gone",
    cancelLeaks.length === 0,
    cancelLeaks.length
      ? sample(cancelLeaks)
      : `checked by a /proc scan right after each of the cancels that stopped a running task`,
  );
  const codesChecked = (statusCounts.completed ?? 0) + (statusCounts.failed ?? 0);
  add(
    "Exit codes as the commands were made to return",
    wrongCodes.length === 0,
    `${codesChecked} tasks ended on their own; ${wrongCodes.length} wrong` +
      (wrongCodes.length ? `: ${sample(wrongCodes)}` : ""),
  );
  add(
    "Logs complete for tasks that ended on their own",
    badOutput.length === 0 && !violations.has("output complete"),
    `${codesChecked} logs end with their soak-end line; ${badOutput.length} do not` +
      (badOutput.length ? `: ${sample(badOutput)}` : "") +
      (violations.has("output complete") ? `; ${sample(violations.get("output complete")!)}` : ""),
  );
  add(
    "Statuses as asked (no interrupted; cancelled/timed_out only when asked)",
    wrongStatus.length === 0,
    wrongStatus.length ? sample(wrongStatus) : "every final status is explained",
  );
  const finalViolations = violations.get("status is final") ?? [];
  add(
    "A reported end never changes",
    finalViolations.length === 0 && disagreements.length === 0,
    finalViolations.length || disagreements.length
      ? sample([...finalViolations, ...disagreements])
      : "every sighting of an ended task, from any server, agrees with the store",
  );
  const consistency = [
    ...(violations.get("wait_for_task is consistent") ?? []),
    ...(violations.get("list_tasks is consistent") ?? []),
    ...(violations.get("start_task") ?? []),
    ...(violations.get("cancel ends the task") ?? []),
  ];
  add(
    "Replies consistent (start, cancel, wait_for_task, list_tasks)",
    consistency.length === 0,
    consistency.length ? sample(consistency) : "no inconsistent reply",
  );
  const totals = violations.get("list_tasks total covers its page") ?? [];
  add(
    "list_tasks total ≥ the tasks it lists",
    totals.length === 0,
    totals.length
      ? `${totals.length} replies listed more tasks than their total: ${sample(totals)}`
      : `every list_tasks reply (${opCounts.list.ok}) had total ≥ count`,
  );
  const unexpected = OPS.reduce((sum, op) => sum + opCounts[op].unexpected, 0);
  add(
    "No unexpected tool errors",
    unexpected === 0,
    unexpected ? sample(unexpectedErrors) : "only calls in flight on a killed server failed",
  );
  add(
    "Tasks whose start reply was lost to a kill did not stay working",
    unknownWorking.length === 0,
    `${unknownRows.length} such task(s) (${lostStarts} start call(s) lost): ${
      JSON.stringify(unknownStatuses)
    }`,
  );
  const orphans = violations.get("a stop leaves no orphan") ?? [];
  add(
    "A stop leaves no orphan, not even one that dropped the task's marker",
    orphans.length === 0,
    orphans.length
      ? sample(orphans)
      : `checked when each stopped "orphan" task was first seen ended ` +
        `(${variantCounts.orphan?.cancelled ?? 0} cancelled, ` +
        `${variantCounts.orphan?.timed_out ?? 0} timed out)`,
  );
  add(
    "The log cap holds whatever the write speed",
    capBreaches.length === 0,
    capBreaches.length
      ? sample(capBreaches)
      : `${floodsChecked} tasks wrote 50 MB against a ${LOG_CAP_BYTES}-byte cap; every log ` +
        `stayed within ${LOG_CAP_MARGIN} bytes of it`,
  );
  const breached = attackFiles.filter(exists);
  const allowed = violations.get("policy holds") ?? [];
  add(
    "The policy holds against evaluation hidden in data",
    breached.length === 0 && allowed.length === 0,
    breached.length || allowed.length
      ? sample([...allowed, ...breached.map((f) => `${f} was created`)])
      : `${attacksRefused} attacks refused, none ran; literal arithmetic allowed`,
  );
  const stalls = OPS.flatMap((op) =>
    opCounts[op].ms.some((ms) => ms > CALL_STALL_MS)
      ? [`${op}: slowest ${Math.max(...opCounts[op].ms).toFixed(0)} ms`]
      : []
  );
  add(
    "No call stalls the server (catastrophic regexes included)",
    stalls.length === 0,
    stalls.length ? sample(stalls) : `every answered call took under ${CALL_STALL_MS / 1000} s; ` +
      `${regexOutcomes.answered} catastrophic patterns answered, ${regexOutcomes.refused} ` +
      `refused, slowest ${regexOutcomes.slowestMs} ms`,
  );
  const overLimit = Object.entries(QUEUE_LIMITS).filter(([queue, limit]) =>
    (queuePeaks.get(queue) ?? 0) > limit
  );
  add(
    "No queue limit ever exceeded",
    overLimit.length === 0 && queueSamples > 0,
    Object.entries(QUEUE_LIMITS).map(([queue, limit]) =>
      `${queue}: at most ${queuePeaks.get(queue)} working (limit ${limit})`
    ).join(", ") + ` in ${queueSamples} samples of the database`,
  );
  add(
    "No queued task ran twice (runs ≤ attempts; never-started tasks never ran)",
    queueResult.twice.length === 0,
    queueResult.twice.length
      ? sample(queueResult.twice)
      : `${queueTasks.size} queue tasks, ${queueResult.runs} runs counted: ` +
        JSON.stringify(queueResult.statuses),
  );
  add(
    "Dependencies respected (after all completed, or failed without running)",
    queueResult.deps.length === 0,
    queueResult.deps.length
      ? sample(queueResult.deps)
      : `${queueResult.dependents} dependents checked (${queueCounts.chains} chains)`,
  );
  const keyViolations = violations.get("one key, one task") ?? [];
  add(
    "One idempotency key, one task (concurrent starts on two servers, and later)",
    keyViolations.length === 0,
    keyViolations.length
      ? sample(keyViolations)
      : `${queueCounts.keyed} keyed starts (${queueCounts.keyedPairs} pairs answered), ` +
        `${keyTasks.size} keys`,
  );
  add(
    "Queue tasks end as made to (exit codes; no interrupted)",
    queueResult.wrong.length === 0,
    queueResult.wrong.length ? sample(queueResult.wrong) : "every queue task's end is explained",
  );
  add("PRAGMA integrity_check", integrity === "ok", integrity);
  add(
    "Every kill followed by a restart",
    restarts === kills && restartFailures === 0,
    `${kills} SIGKILLs, ${restarts} restarts, ${restartFailures} failed restarts; ` +
      `${adoptions} adoptions logged`,
  );
  add(
    "Servers exit when their client closes",
    badCloses === 0,
    `${badCloses} of ${current.filter(Boolean).length} did not exit by themselves`,
  );
  add(
    "Server memory stable (RSS after warm-up vs at the end)",
    survivor !== undefined && memoryOk(survivor),
    survivor
      ? `server 0 (never killed, ${survivor.lifetimeS.toFixed(0)} s): ${
        survivor.firstMiB.toFixed(1)
      } → ${survivor.lastMiB.toFixed(1)} MiB (max ${survivor.maxMiB.toFixed(1)}); allowed ` +
        `+${RSS_SLACK_MIB} MiB or +${RSS_SLACK_FRACTION * 100} %`
      : "no samples",
  );

  if (heap) {
    const growth = heap.last - heap.first;
    add(
      "Live heap after full GC stable (--heap-probe)",
      heap.samples.length >= 2 &&
        growth <= Math.max(HEAP_SLACK_MIB, heap.first * HEAP_SLACK_FRACTION),
      heap.samples.length >= 2
        ? `server 0: ${heap.first.toFixed(1)} → ${heap.last.toFixed(1)} MiB used after a forced ` +
          `GC (${((growth * 1024 * 1024) / Math.max(1, known.size)).toFixed(0)} bytes per task ` +
          `started); allowed +${HEAP_SLACK_MIB} MiB or +${HEAP_SLACK_FRACTION * 100} %`
        : "fewer than two probe lines: did DENO_V8_FLAGS=--expose-gc reach the server?",
    );
  }

  return {
    heap,
    checks,
    runMs: runEnded - startedRun,
    settleMs,
    statusCounts,
    variantCounts,
    memory,
    adoptions,
    serverErrors,
    integrity,
  };
}

/** The checks of the queue tasks against the store and the runs file. */
function checkQueueTasks(byId: Map<string, TaskRow>) {
  const runs = new Map<string, number>();
  let text = "";
  try {
    text = Deno.readTextFileSync(runsFile);
  } catch {
    // no queue task ran
  }
  let total = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    runs.set(line, (runs.get(line) ?? 0) + 1);
    total++;
  }
  const twice: string[] = [];
  const deps: string[] = [];
  const wrong: string[] = [];
  const statuses: Record<string, number> = {};
  let dependents = 0;
  for (const task of queueTasks.values()) {
    const row = byId.get(task.id);
    if (!row) {
      wrong.push(`${task.id}: missing from the store`);
      continue;
    }
    statuses[row.status] = (statuses[row.status] ?? 0) + 1;
    const ran = runs.get(task.id) ?? 0;
    // A task whose server died between its spawn and the spawn's record has no start time, but
    // its log: only a task without one never started.
    const neverStarted = row.started_at === null && row.attempt === 1 &&
      !exists(join(home, "tasks", task.id, "output.log"));
    const endedByItself = (row.status === "completed" || row.status === "failed") &&
      row.exit_code !== null;
    if (ran > row.attempt) twice.push(`${task.id}: ran ${ran} times in ${row.attempt} attempts`);
    else if (endedByItself && ran !== row.attempt) {
      twice.push(`${task.id}: ${row.status} after ${row.attempt} attempts but ran ${ran} times`);
    } else if (neverStarted && ran > 0) {
      twice.push(`${task.id}: ${row.status}, never started but ran ${ran}`);
    }
    if (endedByItself && row.exit_code !== task.code) {
      wrong.push(`${task.id}: ${row.status} ${row.exit_code}, made to exit ${task.code}`);
    }
    if (row.status === "interrupted") wrong.push(`${task.id}: interrupted`);
    if (row.status === "cancelled" && !task.cancelRequested) {
      wrong.push(`${task.id}: cancelled without a cancel`);
    }
    if (row.status === "timed_out") wrong.push(`${task.id}: timed out without a timeout`);
    if (row.status === "failed" && row.exit_code === null && task.after.length === 0) {
      wrong.push(`${task.id}: failed without an exit code (${row.status_message})`);
    }
    const after = row.after_ids ? JSON.parse(row.after_ids) as string[] : [];
    if (after.length === 0) continue;
    dependents++;
    for (const dep of after) {
      const depRow = byId.get(dep);
      if (!depRow) {
        deps.push(`${task.id}: dependency ${dep} missing`);
        continue;
      }
      if (depRow.status === "completed") {
        if (row.started_at !== null && row.started_at + FILE_TIME_SLACK_MS < depRow.ended_at!) {
          deps.push(
            `${task.id} started ${depRow.ended_at! - row.started_at} ms before ${dep} ended`,
          );
        }
      } else if (ran > 0 || row.started_at !== null) {
        deps.push(`${task.id} ran although ${dep} ended ${depRow.status}`);
      } else if (row.status !== "cancelled" && row.status !== "failed") {
        deps.push(`${task.id} ended ${row.status} although ${dep} ended ${depRow.status}`);
      }
    }
  }
  return { runs: total, twice, deps, wrong, statuses, dependents };
}

interface HeapSeries {
  readonly samples: { used: number; rss: number }[];
  /** Live heap (MiB) at the first probe after the warm-up, and at the last probe. */
  readonly first: number;
  readonly last: number;
}

/** The live heap a server logged through bench/heap_probe.ts. */
function liveHeap(instance: Instance): HeapSeries {
  const samples = [
    ...instance.server.stderr().matchAll(
      /backburner-heap: used=([\d.]+) total=[\d.]+ external=[\d.]+ rss=([\d.]+)/g,
    ),
  ].map((m) => ({ used: Number(m[1]), rss: Number(m[2]) }));
  // One probe every 10 s: skip the probes of the warm-up.
  const skip = Math.min(Math.floor(RSS_WARMUP_MS / 10_000), Math.floor(samples.length / 3));
  return {
    samples,
    first: samples[skip]?.used ?? NaN,
    last: samples[samples.length - 1]?.used ?? NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// Report.

/** The killed server's instances in one row: how many, how long they lived, their RSS. */
function victimSummary(memory: readonly MemoryLine[]): (string | number)[][] {
  if (SERVERS < 2) return [];
  const lives = memory.filter((m) => m.slot === SERVERS - 1);
  if (lives.length === 0) return [];
  const range = (values: number[], digits: number, unit: string) =>
    `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)} ${unit}`;
  return [[
    `${lives.length} instances`,
    SERVERS - 1,
    range(lives.map((m) => m.lifetimeS), 0, "s"),
    range(lives.map((m) => m.firstMiB), 0, "MiB"),
    range(lives.map((m) => m.lastMiB), 0, "MiB"),
    `${Math.max(...lives.map((m) => m.maxMiB)).toFixed(1)} MiB`,
    `SIGKILL (${lives.filter((m) => m.ending === "SIGKILL").length}), closed at the end (${
      lives.filter((m) => m.ending === "closed").length
    })`,
  ]];
}

async function writeReport(
  result: Awaited<ReturnType<typeof run>>,
  checks: Check[],
  totalS: number,
): Promise<void> {
  if (!REPORT) return;
  const host = await machine();
  const passed = checks.filter((c) => c.passed).length;
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  const ops = OPS.map((op) => {
    const { ok, ms, lostToKill, unexpected } = opCounts[op];
    const times = ms.length ? stats(ms) : null;
    const fmt = (v: number | undefined) => v === undefined ? "–" : `${v.toFixed(1)} ms`;
    return line([
      op,
      ok,
      fmt(times?.median),
      fmt(times?.p95),
      fmt(times?.max),
      lostToKill,
      unexpected,
    ]);
  });
  const statuses = Object.keys(result.statusCounts).sort();
  const variants = Object.keys(result.variantCounts).sort();
  const markdown = [
    "# Reliability",
    "",
    "What the soak test (`deno task soak`, bench/soak.ts) does to backburner and what it " +
    "checks afterwards. The figures below are from the run described here.",
    "",
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${host.cores} cores, ${host.cpu}; ${host.os}; Deno ${host.deno}`,
    `- Run: ${SECONDS} s of operations, ${SERVERS} servers on one state directory × ${WORKERS} ` +
    `concurrent workers each, seed ${SEED}; ${totalS.toFixed(0)} s in all with settling and ` +
    `checks`,
    `- Command: \`deno run --no-prompt -A bench/soak.ts --seconds ${SECONDS} --servers ${SERVERS} ` +
    `--workers ${WORKERS} --seed ${SEED}${HEAP_PROBE ? " --heap-probe" : ""}\``,
    "",
    `## Result: ${passed} passed, ${checks.length - passed} failed`,
    "",
    line(["check", "result", "figures"]),
    line(["---", "---", "---"]),
    ...checks.map((c) => line([c.name, c.passed ? "pass" : "**FAIL**", c.detail])),
    "",
    "## What it does",
    "",
    `- **Servers and clients.** Over stdio one MCP client is one server process, so "several ` +
    `clients per server" is modelled as ${WORKERS} concurrent workers sharing each server's one ` +
    `client connection: their requests are in flight together (JSON-RPC ids), which is what ` +
    `exercises one engine's own races (a cancel against a completion), while the ${SERVERS} ` +
    `server processes — one per agent session in real use — share the state directory and race ` +
    `each other through SQLite and the task files. Workers act on tasks any server started.`,
    `- **Operations**, chosen at random (weights ${
      OPS.map((op) => `${op} ${OP_WEIGHTS[op]}`).join(", ")
    }) with 10–120 ms between them: start_task of \`echo; sleep ≤ ${MAX_SLEEP_S} s; exit CODE\` ` +
    `in variants (plain, nested shell, \`setsid -w\`, SIGTERM ignored, 200 lines of output; ` +
    `10 % with a timeout_seconds of 0.3–1.2 s), task_status, task_result (tail), cancel_task ` +
    `(mostly of tasks started in the last 2 s), wait_for_task (1–3 tasks, any/all, ≤ 2 s), ` +
    `list_tasks (random limit and status filter). Every reply is checked as it arrives. ` +
    `Attacks among them: "orphan" tasks leave background sleeps without the task's marker ` +
    `(\`env -i\`, \`unset\`), "flood" tasks write 50 MB against a ${LOG_CAP_BYTES}-byte log cap, ` +
    `"redos" tasks print lines on which catastrophic patterns are tried through wait_for_task and ` +
    `task_result grep, 5 % of timeouts are ${HUGE_TIMEOUT_S} s (past setTimeout's range), and a ` +
    `third server under BACKBURNER_ALLOW='^echo( |$)' is sent commands and env entries that ` +
    `hide code in data.`,
    `- **Kills.** Server ${SERVERS - 1} is killed with SIGKILL every ${KILL_GAP_MS[0] / 1000}–${
      KILL_GAP_MS[1] / 1000
    } s and restarted ${RESTART_DELAY_MS[0]}–${RESTART_DELAY_MS[1]} ms later on the same state ` +
    `directory; its tasks keep running and are adopted. Server 0 is never killed, so its memory ` +
    `can be followed for the whole run. BACKBURNER_GRACE_SECONDS=${GRACE_SECONDS}.`,
    `- **Afterwards**: up to ${SETTLE_MS / 1000} s for every task to end (took ${
      (result.settleMs / 1000).toFixed(1)
    } s), then the checks above; the servers are closed as a client closes them, and ` +
    `the store is read directly. Processes of ended tasks are looked for in /proc ` +
    `(BACKBURNER_TASK_ID=<id> in their environment) every 2 s during the run and after it; one ` +
    `found alive counts as a leak only if still alive 1.5 s later (a server may read an exit ` +
    `record a moment before its wrapper shell has exited).`,
    "",
    "## Operations",
    "",
    "Round trips of the answered calls, as the workers saw them (wait_for_task waits up to 2 s " +
    "by design; cancel_task waits for the whole tree, up to the 1 s grace period and a SIGKILL " +
    "for the variant that ignores SIGTERM).",
    "",
    line([
      "operation",
      "answered",
      "median",
      "p95",
      "max",
      "lost to a kill (in flight)",
      "unexpected errors",
    ]),
    line(["---", "---:", "---:", "---:", "---:", "---:", "---:"]),
    ...ops,
    "",
    "## Tasks by variant and final status",
    "",
    line(["variant", ...statuses, "all"]),
    line(["---", ...statuses.map(() => "---:"), "---:"]),
    ...variants.map((v) => {
      const counts = result.variantCounts[v];
      return line([
        v,
        ...statuses.map((s) => counts[s] ?? 0),
        Object.values(counts).reduce((a, b) => a + b, 0),
      ]);
    }),
    line([
      "**all**",
      ...statuses.map((s) => result.statusCounts[s]),
      Object.values(result.statusCounts).reduce((a, b) => a + b, 0),
    ]),
    "",
    "## Server memory (VmRSS, sampled every second)",
    "",
    line(["instance", "server", "lived", "after warm-up", "last", "max", "ended by"]),
    line(["---:", "---:", "---:", "---:", "---:", "---:", "---"]),
    ...result.memory.filter((m) => m.slot !== SERVERS - 1 || SERVERS === 1).map((m) =>
      line([
        m.instance,
        m.slot,
        `${m.lifetimeS.toFixed(0)} s`,
        `${m.firstMiB.toFixed(1)} MiB`,
        `${m.lastMiB.toFixed(1)} MiB`,
        `${m.maxMiB.toFixed(1)} MiB`,
        m.ending,
      ])
    ),
    ...victimSummary(result.memory).map(line),
    "",
    `"After warm-up" is the median of the ${RSS_WINDOW} samples after the first ` +
    `${RSS_WARMUP_MS / 1000} s (or the first third of a shorter life); "last" the median of the ` +
    `last ${RSS_WINDOW}. Server 0 every 10 s: ${
      result.memory.find((m) => m.slot === 0)?.series.map((v) => v.toFixed(0)).join(", ")
    } MiB.`,
    "",
    "RSS is not the live heap: V8 grows its heap lazily under load and gives little back, so " +
    "RSS rises for minutes without any leak; the RSS check only catches a runaway. " +
    (result.heap
      ? `This run used --heap-probe (every server forced a full GC every 10 s, which also ` +
        `keeps its RSS lower than in normal use): server 0's live heap after each GC, every ` +
        `10 s: ${result.heap.samples.map((s) => s.used.toFixed(1)).join(", ")} MiB.`
      : "To see the live heap, run with `--heap-probe`: every server then forces a full GC " +
        "every 10 s and logs the heap in use after it, and a check on it is added."),
    "",
    "## Server diagnostics",
    "",
    `${result.adoptions} "adopted task" lines on the servers' stderr. Lines mentioning a failure:` +
    (result.serverErrors.length === 0
      ? " none."
      : `\n\n${result.serverErrors.slice(0, 10).map((l) => `    ${l.slice(0, 200)}`).join("\n")}`),
    "",
    "## Running it",
    "",
    "- `deno task soak` — the long run that wrote this page.",
    "- In CI: `deno run --no-prompt -A bench/soak.ts --seconds 45 --no-report` — about a " +
    "minute; bounded by a watchdog, kills every process of the run by its marker and removes its " +
    "state directory even on failure; the last line is `soak: N passed, M failed`.",
    "",
  ].join("\n");
  Deno.writeTextFileSync(REPORT, markdown);
  if (REPORT.startsWith(ROOT)) await formatFile(ROOT, REPORT);
  log(`wrote ${REPORT}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${WATCHDOG_MS / 1000} s; tearing down`);
    running = false;
    void lab.teardown().finally(() => {
      console.log("soak: 0 passed, 1 failed");
      Deno.exit(2);
    });
  }, WATCHDOG_MS);
  const onSignal = () => {
    running = false;
    void lab.teardown().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let checks: Check[] = [];
  let result: Awaited<ReturnType<typeof run>> | undefined;
  try {
    result = await run();
    checks = result.checks;
  } catch (error) {
    running = false;
    log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
    checks.push({ name: "Soak ran to the end", passed: false, detail: String(error) });
  } finally {
    running = false;
    const teardown = await lab.teardown();
    const dirGone = home === "" || !exists(home);
    checks.push({
      name: "Nothing of the run left running",
      passed: teardown.killed === 0 && dirGone,
      detail: `${teardown.killed} process(es) of the run still alive after the servers closed ` +
        `(killed${teardown.killed ? `: ${teardown.leftovers.slice(0, 5).join("; ")}` : ""}); ` +
        `state directory ${dirGone ? "removed" : "left behind"}`,
    });
    clearTimeout(watchdog);
  }
  const totalS = (Date.now() - startedRun) / 1000;
  for (const check of checks) {
    console.log(`${check.passed ? "ok  " : "FAIL"} ${check.name}: ${check.detail}`);
  }
  if (result) await writeReport(result, checks, totalS);
  const passed = checks.filter((c) => c.passed).length;
  if (MEMORY_JSON) {
    Deno.writeTextFileSync(
      MEMORY_JSON,
      JSON.stringify({
        seconds: SECONDS,
        servers: SERVERS,
        workers: WORKERS,
        seed: SEED,
        survivor: result?.memory.find((m) => m.slot === 0) ?? null,
        passed,
        failed: checks.length - passed,
        failures: checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`),
      }),
    );
  }
  console.log(`soak: ${passed} passed, ${checks.length - passed} failed`);
  return checks.length === passed ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
