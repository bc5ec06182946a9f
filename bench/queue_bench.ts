/**
 * A queued task's start after a slot frees, for the report: servers (main.ts over stdio) on one
 * state directory under BACKBURNER_QUEUES="lat=1"; a `sleep 0.3` holds the queue's only slot and a
 * `true` waits queued behind it. The wait is from the slot task's end (its ended_at, the exit
 * record's time) to the next task's start (its started_at, stamped when the server spawns it),
 * both read from the database. Three cases:
 *
 * - same server: both through one server, which sees the end through its child's exit;
 * - across servers: the slot's task through server B, the queued one through server A;
 * - adopted: the slot's task through a server that is then killed -9, the queued one through A,
 *   which learns of the end only through the exit event (and of the death through its lock).
 *
 * The reference is a shell running the next command at once (`sleep 0.3; date; date`): the gap
 * between the two `date +%s%N`, i.e. one command's end to the next one's start with nothing in
 * between but a fork and an exec. (bench/queue_latency.ts measures the same three cases on bare
 * engines, without MCP.)
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { ServerHandle } from "../tests/helpers.ts";
import { runText, sleep, type Stats, stats } from "./common.ts";
import type { GroupReport } from "./group.ts";
import type { Lab } from "./lab.ts";
import type { Row } from "./report.ts";

const ENV = { BACKBURNER_QUEUES: "lat=1" };

export interface QueueBenchResult {
  readonly same: Stats;
  readonly across: Stats;
  readonly adopted: Stats;
  readonly shell: Stats;
}

function times(home: string, id: string): { started_at: number | null; ended_at: number | null } {
  const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5000 });
  try {
    return db.prepare("SELECT started_at, ended_at FROM tasks WHERE id = ?").get(id) as {
      started_at: number | null;
      ended_at: number | null;
    };
  } finally {
    db.close();
  }
}

async function until<T>(what: string, read: () => T | null): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = read();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`queue bench: timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** One round: the slot's task through `holder`, the next through `queuer`; the wait in ms. */
async function round(
  home: string,
  holder: ServerHandle,
  queuer: ServerHandle,
  after?: () => Promise<void>,
): Promise<number> {
  const slot = await holder.call("start_task", { command: "sleep 0.3", queue: "lat" });
  const next = await queuer.call("start_task", { command: "true", queue: "lat" });
  if (next.status !== "queued") throw new Error(`the next task was ${next.status}, not queued`);
  await after?.();
  const ended = await until("the slot to free", () => times(home, slot.task_id as string).ended_at);
  const started = await until(
    "the next task to start",
    () => times(home, next.task_id as string).started_at,
  );
  await until("the next task to end", () => times(home, next.task_id as string).ended_at);
  return started - ended;
}

async function shellGap(): Promise<number> {
  const text = await runText("sh", ["-c", "sleep 0.3; date +%s%N; date +%s%N"]);
  const [a, b] = (text ?? "").trim().split("\n").map((line) => BigInt(line));
  if (a === undefined || b === undefined) throw new Error("the shell reference failed");
  return Number(b - a) / 1e6;
}

export async function queueBench(lab: Lab, rounds: number): Promise<QueueBenchResult> {
  const home = await lab.dir();
  const servers: ServerHandle[] = [];
  try {
    const a = await lab.boot(home, ENV);
    servers.push(a);
    const b = await lab.boot(home, ENV);
    servers.push(b);
    const same: number[] = [];
    const across: number[] = [];
    const adopted: number[] = [];
    const shell: number[] = [];
    for (let i = 0; i < rounds; i++) {
      same.push(await round(home, a, a));
      across.push(await round(home, b, a));
      shell.push(await shellGap());
    }
    for (let i = 0; i < rounds; i++) {
      const doomed = await lab.boot(home, ENV);
      adopted.push(
        await round(home, doomed, a, async () => {
          Deno.kill(doomed.pid, "SIGKILL");
          await lab.stop(doomed); // the transport has seen it die: nothing left to close
        }),
      );
    }
    return {
      same: stats(same),
      across: stats(across),
      adopted: stats(adopted),
      shell: stats(shell),
    };
  } finally {
    for (const server of servers) await lab.stop(server);
    await lab.remove(home);
  }
}

export function queueReport(result: QueueBenchResult): GroupReport {
  const row = (name: string, short: string, ours: Stats): Row => ({
    name: `Queued task's start after its slot frees: ${name}`,
    short: `Queue slot → next start, ${short}`,
    unit: "ms",
    ours,
    reference: "a shell's next command (`a; b`)",
    refShort: "sh: a; b",
    ref: result.shell,
  });
  return {
    rows: [
      row("same server", "same server", result.same),
      row("across servers", "across servers", result.across),
      row("slot's task adopted from a server killed -9", "adopted", result.adopted),
    ],
    notes: [
      `**Queued task's start after its slot frees**: servers on one state directory under ` +
      `BACKBURNER_QUEUES="lat=1"; a \`sleep 0.3\` holds the only slot, a \`true\` is queued ` +
      `behind it (checked queued). The wait is its started_at (stamped at spawn) minus the ` +
      `slot task's ended_at (its exit record's time, from the kernel's coarse clock, so up to ` +
      `one tick early), both from the database in whole ms. Same server: both through one; ` +
      `across: the slot's task through a second server; adopted: through a third that is ` +
      `killed -9 right after, so the queuing server learns of the end only from the exit event. ` +
      `${result.same.n} rounds each. Reference: \`sh -c 'sleep 0.3; date +%s%N; date +%s%N'\`, ` +
      `the gap between the two dates (one command's end to the next one's start).`,
    ],
    explanations: {
      ["Queue slot → next start, same server"]:
        `A shell starts its next command with a fork and an exec; the server records the end, ` +
        `claims the queued task in SQLite (a transaction, so two servers never take one slot), ` +
        `and spawns its wrapper shell.`,
      ["Queue slot → next start, across servers"]:
        `As on one server, plus the exit event reaching the other server (inotify) and its look ` +
        `at the store.`,
      ["Queue slot → next start, adopted"]:
        `As across servers; the slot's owner is dead, so the queuing server also records the ` +
        `slot task's end itself before it dispatches.`,
    },
    sections: [],
    files: {},
  };
}
