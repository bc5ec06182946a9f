/**
 * What a status read costs depending on how much output arrived since the previous one:
 * task_status of a working task after 1 KB arrived, against after 1 GiB arrived. task_status
 * reports progress, parsed from the output since the last look; the progress tracker reads at
 * most the last 64 KiB of that (src/logs/progress.ts), so both should cost the same.
 *
 * The task is a `sleep 600`; the bench grows its log between reads as its output would: 1 KB of
 * text lines appended, or the file extended by 1 GiB − 1 KB (a sparse extension: no disk is
 * written, the file reads as zeros there) followed by the same 1 KB of text. The server sees only
 * the file's size and content, as with a real task's output. The server's log cap is raised above
 * what the run writes. Besides the time, the server's rchar (bytes it read through read(2), from
 * /proc/PID/io) per read shows how much it read; it includes the request from the client (a few
 * hundred bytes).
 */
import { join } from "node:path";
import { type Stats, stats } from "./common.ts";
import type { GroupReport } from "./group.ts";
import type { Lab } from "./lab.ts";
import { formatValue } from "./report.ts";

const KB = 1024;
const GIB = 1024 ** 3;

export interface StatusCostResult {
  readonly small: Stats;
  readonly big: Stats;
  /** Bytes the server read per status read (rchar delta), after 1 KB and after 1 GiB. */
  readonly smallRead: Stats;
  readonly bigRead: Stats;
  readonly runs: number;
}

function rchar(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/io`);
  const match = /^rchar:\s+(\d+)$/m.exec(text);
  if (!match) throw new Error(`no rchar in /proc/${pid}/io`);
  return Number(match[1]);
}

/** 1 KB of progress-like lines, the last one a percentage. */
function textKB(round: number): Uint8Array {
  // Exactly 1 KB (ASCII), whatever the round's number of digits: the run counts every byte.
  const last = `progress ${round % 100}%\n`;
  let text = "";
  for (let i = 0;; i++) {
    const line = `[build] compiling module ${round}.${i}\n`;
    if (text.length + line.length + last.length > KB) break;
    text += line;
  }
  return new TextEncoder().encode((text + last).padStart(KB, " "));
}

export async function statusCost(lab: Lab, runs: number): Promise<StatusCostResult> {
  const home = await lab.dir();
  const server = await lab.boot(home, { BACKBURNER_MAX_LOG_BYTES: String(2 ** 50) });
  try {
    const started = await server.call("start_task", { command: "sleep 600" });
    const id = started.task_id as string;
    const path = join(home, "tasks", id, "output.log");
    let size = Deno.statSync(path).size;
    const grow = (bytes: number, round: number) => {
      const file = Deno.openSync(path, { append: true });
      try {
        if (bytes > KB) file.truncateSync(size + bytes - KB);
        const text = textKB(round);
        let written = 0;
        while (written < text.length) written += file.writeSync(text.subarray(written));
      } finally {
        file.close();
      }
      size += bytes;
    };
    const read = async (bytes: number, round: number) => {
      grow(bytes, round);
      const before = rchar(server.pid);
      const t = performance.now();
      const status = await server.call("task_status", { task_id: id });
      const ms = performance.now() - t;
      const readBytes = rchar(server.pid) - before;
      if (status.status !== "working" || status.output_bytes !== size) {
        throw new Error(`task_status: ${status.status}, ${status.output_bytes} bytes of ${size}`);
      }
      return { ms, readBytes };
    };
    const small: number[] = [];
    const big: number[] = [];
    const smallRead: number[] = [];
    const bigRead: number[] = [];
    for (let i = -3; i < runs; i++) {
      // Alternating which goes first, so that neither always follows the other.
      const order = i % 2 === 0 ? [KB, GIB] : [GIB, KB];
      for (const bytes of order) {
        const { ms, readBytes } = await read(bytes, i + 3);
        if (i < 0) continue;
        (bytes === KB ? small : big).push(ms);
        (bytes === KB ? smallRead : bigRead).push(readBytes);
      }
    }
    return {
      small: stats(small),
      big: stats(big),
      smallRead: stats(smallRead),
      bigRead: stats(bigRead),
      runs,
    };
  } finally {
    await lab.stop(server);
    await lab.remove(home);
  }
}

export function statusCostReport(result: StatusCostResult): GroupReport {
  const kib = (value: number) => `${(value / 1024).toFixed(1)} KiB`;
  return {
    rows: [{
      name: "`task_status` of a working task after 1 GiB of new output",
      short: "task_status after 1 GiB new output",
      unit: "ms",
      ours: result.big,
      reference: "the same after 1 KB of new output",
      refShort: "after 1 KB",
      ref: result.small,
    }],
    notes: [
      `**Status read after 1 KB vs 1 GiB of new output**: a \`sleep 600\` task whose log the ` +
      `bench grows before each task_status — 1 KB of text lines, or a sparse 1 GiB − 1 KB ` +
      `extension (no disk written; it reads as zeros) then the same 1 KB — ${result.runs} ` +
      `reads of each after 3 uncounted pairs, alternating which goes first; output_bytes is ` +
      `checked against the file's size. The server read (rchar of /proc/PID/io, the client's ` +
      `request included) median ${kib(result.smallRead.median)} per read after 1 KB and ${
        kib(result.bigRead.median)
      } after 1 GiB (max ${kib(result.bigRead.max)}): the progress tracker reads at most the ` +
      `last 64 KiB of what arrived.`,
    ],
    explanations: {
      ["task_status after 1 GiB new output"]: `It read ${
        kib(result.bigRead.median)
      } per read after 1 GiB against ${kib(result.smallRead.median)} after 1 KB (median ${
        formatValue(result.big.median, "ms")
      } vs ${formatValue(result.small.median, "ms")}): the difference is the 64 KiB window.`,
    },
    sections: [],
    files: {},
  };
}
