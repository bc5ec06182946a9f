/**
 * How long from an agent's send_input to the task reading the line, over a real MCP client on
 * stdio against main.ts (run: deno run -A --lock=deno.dev.lock bench/input_latency.ts [N]).
 *
 * The task is a small reader (python3, else node) that stamps each line with the wall clock the
 * moment its readline returns, and prints it. The client stamps the wall clock (sub-ms, anchored
 * on a Date.now() tick edge) just before it sends the tools/call, and again when the reply
 * arrives. "To the read" is the task's stamp minus the send stamp: the JSON-RPC hop, the
 * server's checks, the lock, the FIFO write and the reader's wake-up. "Reply" is the call's whole
 * round trip. Each send waits for the previous line to be read, so they do not queue.
 *
 * @module
 */

import { join } from "node:path";
import { cleanup, startServer, tempDir, waitFor } from "../tests/helpers.ts";
import { reanchorWallClock, stats, wallNow } from "./common.ts";

const SENDS = Number(Deno.args[0] ?? 50);

function reader(): { name: string; command: string } {
  try {
    const probe = new Deno.Command("python3", { args: ["-c", ""], stdout: "null", stderr: "null" })
      .outputSync();
    if (probe.success) {
      return {
        name: "python3",
        command: `python3 -u -c 'import sys, time
for line in iter(sys.stdin.readline, ""):
    print(line.strip(), time.time_ns() / 1e6, flush=True)'`,
      };
    }
  } catch {
    // no python3
  }
  return {
    name: "node",
    command:
      `node -e 'require("readline").createInterface({ input: process.stdin }).on("line", (l) =>
  console.log(l, performance.timeOrigin + performance.now()))'`,
  };
}

const home = await tempDir("backburner-bench-input-");
const server = await startServer(home);
try {
  const { name, command } = reader();
  const { task_id: id } = await server.call("start_task", { command, interactive: true });
  const log = join(home, "tasks", String(id), "output.log");
  const readAt = (n: number): number | null => {
    const line = Deno.readTextFileSync(log).split("\n").find((l) => l.startsWith(`line${n} `));
    return line ? Number(line.split(" ")[1]) : null;
  };
  // A first line, not timed: the reader is up and the FIFO opened.
  await server.call("send_input", { task_id: id, text: "line-1\n" });
  await waitFor(() => readAt(-1), { what: "the reader to start" });
  const toRead: number[] = [];
  const reply: number[] = [];
  for (let n = 0; n < SENDS; n++) {
    reanchorWallClock();
    const sent = wallNow();
    await server.call("send_input", { task_id: id, text: `line${n}\n` });
    reply.push(wallNow() - sent);
    const at = await waitFor(() => readAt(n), { intervalMs: 2, what: `line ${n} to be read` });
    toRead.push(at - sent);
  }
  await server.call("send_input", { task_id: id, close: true });
  const show = (label: string, samples: number[]) => {
    const s = stats(samples);
    console.log(
      `${label}: median ${s.median.toFixed(2)} ms, p95 ${s.p95.toFixed(2)} ms, min ${
        s.min.toFixed(2)
      } ms, max ${s.max.toFixed(2)} ms (n=${s.n})`,
    );
  };
  console.log(`send_input → task reads the line (${name} reader, ${SENDS} sends, stdio)`);
  show("to the read", toRead);
  show("reply", reply);
} finally {
  await server.close();
  await cleanup(home);
}
