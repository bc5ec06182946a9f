/**
 * How soon the dashboard shows a status change: a `serve --http` server, an MCP client that
 * starts and cancels tasks, and the list open in headless Chromium, where a MutationObserver
 * stamps the moment each row appears or shows its new status. The latency is that stamp minus
 * the moment the store recorded the change (created_at for a start, ended_at for a cancel; the
 * page and the server share this machine's clock). Twice: changes the server's own engine makes
 * (an MCP client's; the engine tells the dashboard at once) and changes another process makes
 * (the command line's; seen by the 200 ms look at the store).
 *
 *   deno run --lock=deno.dev.lock -A bench/dashboard.ts [--rounds 20]
 */

import { parseArgs } from "node:util";
import { cleanup, MAIN, tempDir } from "../tests/helpers.ts";
import { connectLegacy, startHttpServer } from "../tests/http/harness.ts";
import { withBrowser } from "../tests/dashboard/browser.ts";
import { loginLink } from "../tests/dashboard/helpers.ts";
import { sleep, stats } from "./common.ts";

const { values } = parseArgs({ args: Deno.args, options: { rounds: { type: "string" } } });
const rounds = Number(values.rounds ?? 20);

const home = await tempDir("backburner-bench-dashboard-");
const server = await startHttpServer(home);
const client = await connectLegacy(server);
const appear: number[] = [];
const cancel: number[] = [];
const cliAppear: number[] = [];
const cliCancel: number[] = [];

/** `backburner ARGS` over the server's state directory, as another process; its stdout. */
async function cli(...args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { BACKBURNER_HOME: home, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(output.stdout).trim();
}
try {
  await withBrowser(async (browser) => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    await page.goto(await loginLink(server));
    await page.waitForSelector("#tasks");
    // Stamps the first moment each (task, status) is on the page.
    await page.evaluate(`
      globalThis.seen = {};
      new MutationObserver(() => {
        const now = Date.now();
        for (const row of document.querySelectorAll("li.row")) {
          const key = row.dataset.id + " " + row.dataset.status;
          if (!(key in seen)) seen[key] = now;
        }
      }).observe(document.getElementById("tasks"), { childList: true, subtree: true });
    `);
    await sleep(1000);
    const seenAt = async (key: string): Promise<number> => {
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const at = await page.evaluate(`globalThis.seen[${JSON.stringify(key)}] ?? null`);
        if (typeof at === "number") return at;
        await sleep(10);
      }
      throw new Error(`the page never showed ${key}`);
    };
    for (let round = 0; round < rounds; round++) {
      const started = await client.call("start_task", { command: "sleep 60" });
      const id = started.task_id as string;
      appear.push((await seenAt(`${id} working`)) - Date.parse(started.created_at as string));
      // Spread the changes over the 200 ms tick, as real ones are.
      await sleep(150 + Math.random() * 250);
      const ended = await client.call("cancel_task", { task_id: id });
      cancel.push((await seenAt(`${id} cancelled`)) - Date.parse(ended.ended_at as string));
      await sleep(100 + Math.random() * 200);
    }
    const recorded = async (id: string) =>
      JSON.parse(await cli("show", id, "--json")) as { created_at: string; ended_at: string };
    for (let round = 0; round < rounds; round++) {
      const id = await cli("run", "--", "sleep", "60");
      cliAppear.push((await seenAt(`${id} working`)) - Date.parse((await recorded(id)).created_at));
      await cli("cancel", id);
      cliCancel.push((await seenAt(`${id} cancelled`)) - Date.parse((await recorded(id)).ended_at));
    }
  });
} finally {
  await client.close();
  await server.stop();
  await cleanup(home);
}
const line = (name: string, samples: number[]) => {
  const s = stats(samples);
  return `${name}: median ${s.median} ms, p95 ${s.p95} ms, max ${s.max} ms (n=${s.n})`;
};
console.log("status change -> dashboard row (store record to DOM, headless Chromium, 200 ms tick)");
console.log(line("new task appears (created_at -> row)", appear));
console.log(line("cancel shows (ended_at -> row says cancelled)", cancel));
console.log(line("CLI: new task appears", cliAppear));
console.log(line("CLI: cancel shows", cliCancel));
