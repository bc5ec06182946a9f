/**
 * The dashboard in a real browser (headless Chromium from Debian, driven by puppeteer-core): a
 * task an MCP client starts appears on the open page without a reload, its progress bar moves,
 * its output follows, grep finds a line, the cancel button (after its confirmation) stops it and
 * its processes are gone; and a page of another origin cannot make the browser cancel a task.
 * Skipped, with a printed notice, only where Chromium cannot be installed.
 */

import assert from "node:assert/strict";
import { cleanup, POSIX, taskPids, tempDir, waitFor } from "../helpers.ts";
import { connectLegacy, type HttpServer, startHttpServer } from "../http/harness.ts";
import { chromiumPath, type Page, withBrowser } from "./browser.ts";
import { getJson, login, loginLink } from "./helpers.ts";

const chromium = POSIX ? chromiumPath() : null;
const skipped = chromium === null ? " (SKIPPED: no Chromium)" : "";

// CI installed Chromium: the browser tests must run, not skip.
Deno.test({
  name: "Chromium is there when CI installed it",
  ignore: Deno.env.get("BACKBURNER_CHROMIUM_REQUIRED") !== "1",
  fn: () => assert.notEqual(chromium, null, "Chromium was installed but is not found"),
});

function browserTest(name: string, fn: () => Promise<void>): void {
  // puppeteer keeps its WebSocket and timers past a test's end; the browser itself is closed.
  Deno.test({
    name: name + skipped,
    ignore: chromium === null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

async function withServer(body: (server: HttpServer) => Promise<void>): Promise<void> {
  const home = await tempDir();
  const server = await startHttpServer(home);
  try {
    await body(server);
  } finally {
    await server.stop();
    await cleanup(home);
  }
}

/** Text of the first element matching `selector`, or null. */
function textOf(page: Page, selector: string): Promise<string | null> {
  return page.$eval(selector, (node) => node.textContent).catch(() => null);
}

browserTest(
  "a task an MCP client starts appears live; progress moves, output follows, grep finds, cancel stops it",
  () =>
    withServer(async (server) => {
      const client = await connectLegacy(server);
      try {
        await withBrowser(async (browser) => {
          const page = await browser.newPage();
          await page.setViewport({ width: 1440, height: 900 });
          await page.goto(await loginLink(server));
          await page.waitForSelector("#tasks");
          await waitFor(async () => (await textOf(page, "#live")) === "live", {
            what: "the list's stream to open",
          });
          // Set on this document: still there later means the page was never reloaded.
          await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));

          const started = await client.call("start_task", {
            label: "browser-progress",
            command:
              'sleep 300 & i=0; while true; do i=$((i+1)); echo "step $i/400"; sleep 0.2; done',
          });
          const id = started.task_id as string;
          const row = `li.row[data-id="${id}"]`;
          await page.waitForSelector(row, { timeout: 15_000 });
          assert.equal(await textOf(page, `${row} .status`), "working");

          // The progress bar moves: its value grows on the same page.
          const progressOf = async () => {
            const value = await page.$eval(
              `${row} [role=progressbar]`,
              (node) => node.getAttribute("aria-valuenow"),
            ).catch(() => null);
            return value === null ? null : Number(value);
          };
          const first = await waitFor(progressOf, { what: "a progress bar" });
          await waitFor(async () => ((await progressOf()) ?? 0) > first, {
            what: "the progress bar to move",
          });
          assert.match((await textOf(page, `${row} .progress .text`))!, /\d+\/400/);

          // The keyboard reaches the task's link.
          await page.focus("#f-queue");
          let reached = false;
          for (let i = 0; i < 10 && !reached; i++) {
            await page.keyboard.press("Tab");
            reached = await page.evaluate(
              `document.activeElement?.matches(${JSON.stringify(`${row} a.title`)}) ?? false`,
            ) as boolean;
          }
          assert.ok(reached, "Tab reaches the task's link");
          await page.keyboard.press("Enter");

          // The task page: its output follows as it grows.
          await page.waitForSelector("#output");
          const lastStep = async () => {
            const text = (await textOf(page, "#output")) ?? "";
            const steps = [...text.matchAll(/step (\d+)\/400/g)];
            return steps.length ? Number(steps.at(-1)![1]) : 0;
          };
          const before = await waitFor(lastStep, { what: "output on the task page" });
          await waitFor(async () => (await lastStep()) >= before + 3, {
            what: "the output to follow",
          });
          assert.equal(await page.evaluate(() => "notReloaded" in globalThis), true);

          // Grep with context finds the line.
          await page.type("#grep", "step 2/");
          await page.keyboard.press("Enter");
          await page.waitForSelector("#matches .hit");
          assert.equal(await textOf(page, "#matches .hit"), "step 2/400");
          assert.match((await textOf(page, "#matches"))!, /1 match/);
          assert.match((await textOf(page, "#matches pre"))!, /step 1\/400[\s\S]*step 3\/400/);

          // Cancel asks first; dismissed, nothing happens.
          const pids = taskPids(id);
          assert.ok(pids.length >= 2, `the task and its background sleep: ${pids}`);
          await page.click("#cancel");
          await page.waitForSelector("dialog[open]");
          await page.click("dialog[open] button:not([data-confirm])");
          await waitFor(async () => (await page.$("dialog")) === null, {
            what: "the dialog to close",
          });
          const session = await login(server, { withToken: true });
          const still = await getJson(session, `/api/tasks/${id}`);
          assert.equal((still.body.task as { status: string }).status, "working");
          // Confirmed, it stops the task and every process it started.
          await page.click("#cancel");
          await page.waitForSelector("dialog[open] [data-confirm=yes]");
          await page.click("dialog[open] [data-confirm=yes]");
          await page.waitForSelector('h1 .status[data-status="cancelled"]', { timeout: 15_000 });
          await waitFor(() => taskPids(id).length === 0, { what: "the task's processes to go" });
          assert.equal(await page.$("#cancel"), null, "no cancel button on an ended task");
        });
      } finally {
        await client.close();
      }
    }),
);

browserTest(
  "a page of another origin cannot make the logged-in browser cancel or restart a task",
  () =>
    withServer(async (server) => {
      const client = await connectLegacy(server);
      // Another site on the same machine (same site for cookies: only the port differs).
      const target = new URL(server.url).origin;
      const evil = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () =>
        new Response(
          `<!doctype html><body><form id=f method=post action="${target}/api/tasks/ID/cancel"></form>
<script>
fetch("${target}/api/tasks/ID/restart", { method: "POST", mode: "no-cors", credentials: "include" })
  .finally(() => { document.title = "sent"; document.getElementById("f").submit(); });
</script></body>`.replaceAll("ID", started.task_id as string),
          { headers: { "content-type": "text/html" } },
        ));
      const started = await client.call("start_task", { command: "sleep 120", label: "victim" });
      try {
        await withBrowser(async (browser) => {
          const page = await browser.newPage();
          await page.goto(await loginLink(server));
          await page.waitForSelector("#tasks");
          const attack = await browser.newPage();
          await attack.goto(`http://127.0.0.1:${evil.addr.port}/`);
          // The form's navigation lands on the dashboard's refusal.
          await waitFor(() => {
            const url = attack.url();
            return url.startsWith(target) || undefined;
          }, { what: "the attack to be sent" });
          await attack.waitForFunction('document.body?.textContent?.includes("Forbidden")');
          // From the page's own origin but without the CSRF token: refused too.
          const status = await page.evaluate(async (id) =>
            (await fetch(`/api/tasks/${id}/cancel`, { method: "POST" })).status, started.task_id);
          assert.equal(status, 403);
        });
        const session = await login(server, { withToken: true });
        const list = await getJson(session, "/api/tasks");
        const rows = list.body.rows as { id: string; status: string }[];
        assert.deepEqual(rows.map((row) => [row.id, row.status]), [[started.task_id, "working"]]);
      } finally {
        await evil.shutdown();
        await client.call("cancel_task", { task_id: started.task_id }).catch(() => {});
        await client.close();
      }
    }),
);
