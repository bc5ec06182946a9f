/**
 * How long after a task's real exit a client can see that it ended.
 *
 * What "the task's real exit" means. The server learns how a task ended only from its exit
 * record, tasks/<id>/exit, which the task's wrapper shell writes (temp file + rename) right after
 * the command exits and right before the wrapper itself exits. So the record's mtime is the
 * earliest moment any server could know the task has ended, stamped by the kernel for the task's
 * own process tree, independently of the server under test. (A `date > MARKER` at the end of the
 * command would stamp a moment before the command even exits and charge the wrapper's own
 * milliseconds to the server; the reported ended_at is not independent, the engine copies it from
 * the same mtime.) The mtime is read with ns precision (`stat -c %.9Y`). Linux stamps mtimes from
 * its coarse clock, which advances once per timer tick (4 ms at HZ=250), so a real write happened
 * up to one tick after its mtime and every latency here is overstated by half a tick on average;
 * the tick is detected from the mtimes and reported, not corrected for.
 *
 * "First observed" is when the reply saying the task ended arrives at the client, on a wall clock
 * with sub-ms resolution (performance.now() anchored to a Date.now() tick edge before each run).
 *
 * Polling (own and adopted): the client polls task_status back to back with a ~2 ms pause, so
 * the observation is late by up to one poll round trip plus 2 ms.
 *
 * Adopted tasks are not the new server's children: it learns of their exit from the exit event
 * (the wrapper touches <home>/events/<id> once its exit record is in place; every server watches
 * that folder through Deno.watchFs), and failing that from its safety sweep (every 5 s). The
 * monitor's cheap checks still run on a 500 ms interval, so, in case anything of the path still
 * hung on a timer, each run's sleep gets a jitter spread evenly (stratified, shuffled) over one
 * such interval: an exit seen only at the next tick would show as latencies spread up to 500 ms,
 * an event-driven one as a few ms whatever the phase.
 *
 * Blocking (beside the peer): backburner's wait_for_task against desktop-commander's
 * start_process, which blocks until its process exits. Neither has an exit record the other can
 * be timed by, so both run `sleep 0.3 && touch MARK` and are timed from MARK's mtime: that charges
 * each server the time its shell takes to exit after touch, and backburner also its wrapper's
 * exit record (fork + write + rename) — both real costs of its design.
 */

import { join } from "node:path";
import type { ServerHandle } from "../tests/helpers.ts";
import {
  type McpProcess,
  mtimeMs,
  reanchorWallClock,
  sleep,
  type Stats,
  stats,
  stratified,
  wallNow,
} from "./common.ts";
import type { Lab } from "./lab.ts";

export const OWN_RUNS = 30;
export const OWN_SLEEP_S = 0.3;
export const ADOPT_RUNS = 20;
export const ADOPT_SLEEP_S = 2;
export const BLOCKING_RUNS = 20;
const POLL_PAUSE_MS = 2;
/**
 * The engine's default interval of the monitor's cheap checks (EngineOptions.monitorIntervalMs;
 * main.ts sets none): the span the adopted runs' exits are spread over.
 */
export const ENGINE_MONITOR_MS = 500;

interface Observation {
  /** Wall-clock ms when the first non-working task_status reply arrived. */
  readonly seenAt: number;
  readonly status: Record<string, unknown>;
  readonly polls: number;
  /** Sum of the round trips of those polls, ms. */
  readonly pollMs: number;
}

/** Polls task_status back to back (POLL_PAUSE_MS apart) until the task leaves "working". */
async function pollUntilEnded(
  server: ServerHandle,
  taskId: string,
  timeoutMs: number,
): Promise<Observation> {
  reanchorWallClock();
  const deadline = performance.now() + timeoutMs;
  let polls = 0;
  let pollMs = 0;
  for (;;) {
    const sent = performance.now();
    const status = await server.call("task_status", { task_id: taskId });
    const seenAt = wallNow();
    pollMs += performance.now() - sent;
    polls++;
    if (status.status !== "working") return { seenAt, status, polls, pollMs };
    if (performance.now() > deadline) {
      throw new Error(`task ${taskId} still working after ${timeoutMs} ms`);
    }
    await sleep(POLL_PAUSE_MS);
  }
}

/** Checks the final status; returns |ended_at − mtime| in ms (ended_at has whole ms). */
function checkEnded(status: Record<string, unknown>, taskId: string, exitAt: number): number {
  if (status.status !== "completed") {
    throw new Error(`task ${taskId} ended as ${status.status}, not completed`);
  }
  return Math.abs(Date.parse(status.ended_at as string) - Math.floor(exitAt));
}

export interface ExitLatency {
  readonly latency: Stats;
  readonly pollRtt: number;
  /** Largest |ended_at − exit record mtime| seen, ms. */
  readonly endedAtSkew: number;
  /** The exit records' mtimes, for finding the clock tick. */
  readonly mtimes: number[];
}

export async function ownExit(lab: Lab): Promise<ExitLatency> {
  const home = await lab.dir();
  try {
    const server = await lab.boot(home);
    try {
      const samples: number[] = [];
      const mtimes: number[] = [];
      let polls = 0;
      let pollMs = 0;
      let skew = 0;
      for (let i = 0; i < OWN_RUNS; i++) {
        const started = await server.call("start_task", { command: `sleep ${OWN_SLEEP_S}` });
        const id = started.task_id as string;
        // Idle through most of the sleep, then poll tightly across the exit.
        await sleep(OWN_SLEEP_S * 1000 - 60);
        const seen = await pollUntilEnded(server, id, 10_000);
        const exitAt = await mtimeMs(join(home, "tasks", id, "exit"));
        skew = Math.max(skew, checkEnded(seen.status, id, exitAt));
        samples.push(seen.seenAt - exitAt);
        mtimes.push(exitAt);
        polls += seen.polls;
        pollMs += seen.pollMs;
      }
      return { latency: stats(samples), pollRtt: pollMs / polls, endedAtSkew: skew, mtimes };
    } finally {
      await lab.stop(server);
    }
  } finally {
    await lab.remove(home);
  }
}

export interface AdoptLatency extends ExitLatency {
  /** Runs whose task exited before server B answered initialize (adoption not exercised live). */
  readonly lateBoots: number;
  /** Runs where B's stderr did not mention adopting the task. */
  readonly unconfirmedAdoptions: number;
  /** Spare time between B being ready and the task's exit, ms. */
  readonly margin: Stats;
}

export async function adoptedExit(lab: Lab, runs = ADOPT_RUNS): Promise<AdoptLatency> {
  const samples: number[] = [];
  const margins: number[] = [];
  const mtimes: number[] = [];
  let polls = 0;
  let pollMs = 0;
  let skew = 0;
  let lateBoots = 0;
  let unconfirmed = 0;
  for (const jitter of stratified(runs, ENGINE_MONITOR_MS)) {
    const home = await lab.dir();
    try {
      const a = await lab.boot(home);
      const seconds = (ADOPT_SLEEP_S + jitter / 1000).toFixed(3);
      const started = await a.call("start_task", { command: `sleep ${seconds}` });
      const id = started.task_id as string;
      Deno.kill(a.pid, "SIGKILL");
      await lab.stop(a); // the transport has seen the process die: nothing is left to close
      const b = await lab.boot(home);
      const readyAt = Date.now();
      try {
        const seen = await pollUntilEnded(b, id, ADOPT_SLEEP_S * 1000 + 10_000);
        const exitAt = await mtimeMs(join(home, "tasks", id, "exit"));
        skew = Math.max(skew, checkEnded(seen.status, id, exitAt));
        if (readyAt >= exitAt) lateBoots++;
        if (!b.stderr().includes(`adopted task ${id}`)) unconfirmed++;
        margins.push(exitAt - readyAt);
        samples.push(seen.seenAt - exitAt);
        mtimes.push(exitAt);
        polls += seen.polls;
        pollMs += seen.pollMs;
      } finally {
        await lab.stop(b);
      }
    } finally {
      await lab.remove(home);
    }
  }
  return {
    latency: stats(samples),
    pollRtt: pollMs / polls,
    endedAtSkew: skew,
    mtimes,
    lateBoots,
    unconfirmedAdoptions: unconfirmed,
    margin: stats(margins),
  };
}

export interface BlockingLatency {
  readonly ours: Stats;
  /**
   * Of `ours`: MARK → backburner's exit record (the wrapper's part: shell exit, fork, rename).
   * Both mtimes tick with the kernel's coarse clock, so single values are 0 or a whole tick; with
   * the exits at random phases of that tick, the mean is still right.
   */
  readonly wrapper: Stats;
  /** Of `ours`: exit record → the reply (the server's and the transport's part). */
  readonly server: Stats;
  readonly peer: Stats | null;
  readonly mtimes: number[];
}

/**
 * Exit to the reply of a call that blocks until the end: backburner's wait_for_task, and the
 * peer's start_process (which returns once its process has exited). Each runs in a block of its
 * own: the peer keeps working after it replies (it logs every call to files in its HOME), and
 * interleaved runs would bill that to whichever server came next.
 */
export async function blockingExit(
  lab: Lab,
  startPeer: (() => Promise<McpProcess>) | null,
): Promise<BlockingLatency> {
  const home = await lab.dir();
  const scratch = await lab.dir("backburner-bench-marks-");
  const ours: number[] = [];
  const wrapper: number[] = [];
  const serverPart: number[] = [];
  const theirs: number[] = [];
  const mtimes: number[] = [];
  try {
    const server = await lab.boot(home);
    try {
      for (let i = 0; i < BLOCKING_RUNS; i++) {
        const mark = join(scratch, `ours-${i}`);
        const command = `sleep ${OWN_SLEEP_S} && touch ${mark}`;
        reanchorWallClock();
        const started = await server.call("start_task", { command });
        const id = started.task_id as string;
        const waited = await server.call("wait_for_task", { task_ids: [id], timeout_seconds: 10 });
        const seenAt = wallNow();
        if (waited.reason !== "ended") throw new Error(`wait_for_task: ${waited.reason}`);
        const markAt = await mtimeMs(mark);
        const exitAt = await mtimeMs(join(home, "tasks", id, "exit"));
        ours.push(seenAt - markAt);
        wrapper.push(exitAt - markAt);
        serverPart.push(seenAt - exitAt);
        mtimes.push(markAt, exitAt);
      }
    } finally {
      await lab.stop(server);
    }
    if (startPeer) {
      const peer = await startPeer();
      try {
        for (let i = 0; i < BLOCKING_RUNS; i++) {
          const mark = join(scratch, `peer-${i}`);
          reanchorWallClock();
          const text = await peer.call("start_process", {
            command: `sleep ${OWN_SLEEP_S} && touch ${mark}`,
            timeout_ms: 10_000,
          });
          const seenAt = wallNow();
          if (!/Process started/.test(text)) throw new Error(`start_process: ${text}`);
          const markAt = await mtimeMs(mark);
          theirs.push(seenAt - markAt);
          mtimes.push(markAt);
        }
      } finally {
        await lab.stopPeer(peer);
      }
    }
  } finally {
    await lab.remove(home);
    await lab.remove(scratch);
  }
  return {
    ours: stats(ours),
    wrapper: stats(wrapper),
    server: stats(serverPart),
    peer: startPeer ? stats(theirs) : null,
    mtimes,
  };
}
