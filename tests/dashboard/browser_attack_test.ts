/**
 * Injection through what a task carries, in a real browser (headless Chromium): a label, a
 * command, output lines (HTML, a terminal's escape sequences, a fake progress line) and an env
 * value written as markup must show as text on the list and on the task's page, never become
 * elements or run. Skipped, with a printed notice, where Chromium is missing.
 */

import assert from "node:assert/strict";
import { cleanup, POSIX, tempDir, waitFor } from "../helpers.ts";
import { connectLegacy, startHttpServer } from "../http/harness.ts";
import { chromiumPath, type Page, withBrowser } from "./browser.ts";
import { loginLink } from "./helpers.ts";

const chromium = POSIX ? chromiumPath() : null;

const MARKUP = `<img src=x onerror="window.pwned='label'"><script>window.pwned='script'</script>`;

/** Elements a successful injection would have made, and whether any script of it ran. */
async function injected(page: Page): Promise<{ elements: number; pwned: unknown }> {
  // A string, evaluated in the page (this file is not type-checked with the DOM's types).
  return await page.evaluate(`({
    elements: document.querySelectorAll('img[src="x"], main script, svg[onload], b.injected, iframe').length,
    pwned: globalThis.pwned ?? null,
  })`) as { elements: number; pwned: unknown };
}

Deno.test({
  name: "markup in a label, a command and output shows as text and never runs" +
    (chromium === null ? " (SKIPPED: no Chromium)" : ""),
  ignore: chromium === null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const home = await tempDir();
    const server = await startHttpServer(home);
    const client = await connectLegacy(server);
    try {
      const started = await client.call("start_task", {
        label: MARKUP,
        env: { SAFE_NAME: "<b class=injected>value</b>" },
        command: [
          `echo '<script>window.pwned="output"</script><b class=injected>bold</b>'`,
          // A terminal's title, colours and a line redrawn with \r, then a progress line.
          String.raw`printf '\033]0;<img src=x onerror=window.pwned=1>\007\033[31mred\033[0m\n'`,
          String
            .raw`printf 'progress <iframe src=/> 1/4\r<img src=x onerror="window.pwned=2"> 2/4\n'`,
          "sleep 60",
        ].join("; "),
      });
      const id = started.task_id as string;
      await withBrowser(async (browser) => {
        const page = await browser.newPage();
        await page.goto(await loginLink(server));
        const row = `li.row[data-id="${id}"]`;
        await page.waitForSelector(row, { timeout: 15_000 });
        const title = await page.$eval(`${row} a.title`, (node) => node.textContent);
        assert.ok(title?.includes("<img src=x"), `the label shows as text: ${title}`);
        assert.deepEqual(await injected(page), { elements: 0, pwned: null });

        await page.goto(new URL(`/tasks/${id}`, server.url).href);
        await page.waitForSelector("#output");
        const output = await waitFor(async () => {
          const text = await page.$eval("#output", (node) => node.textContent ?? "");
          return text.includes("2/4") ? text : null;
        }, { what: "the output on the task page" });
        assert.ok(output.includes('<script>window.pwned="output"</script>'), output);
        // Clean of escape sequences: no ESC, no BEL, and the \r redraw kept its last state.
        for (const control of ["\u001b", "\u0007", "\r"]) {
          assert.ok(!output.includes(control), `output holds ${JSON.stringify(control)}`);
        }
        const body = await page.$eval("main", (node) => node.textContent ?? "");
        assert.ok(body.includes("echo '<script>"), "the command shows as text");
        assert.ok(body.includes("SAFE_NAME") && !body.includes("value</b>"), "env names only");
        assert.deepEqual(await injected(page), { elements: 0, pwned: null });
      });
      await client.call("cancel_task", { task_id: id });
    } finally {
      await client.close();
      await server.stop();
      await cleanup(home);
    }
  },
});
