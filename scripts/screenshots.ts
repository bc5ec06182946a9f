/**
 * The dashboard's screenshots in docs/ (README shows one): a server over a temporary state
 * directory with a few typical tasks (training with progress, a build, a failed lint, a deploy
 * waiting for input, a silent dev server, a queued job), photographed in headless Chromium at
 * 1440 and 390 px, light and dark, list and task page.
 *
 *   deno run --lock=deno.dev.lock -A scripts/screenshots.ts
 */

import { join } from "node:path";
import { killTasksOf, MAIN, ROOT, waitFor } from "../tests/helpers.ts";
import { startHttpServer } from "../tests/http/harness.ts";
import { type Page, withBrowser } from "../tests/dashboard/browser.ts";

const home = await Deno.makeTempDir({ prefix: "backburner-shots-" });
const env = { BACKBURNER_HOME: home, NO_COLOR: "1" };

async function cli(...args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env,
    cwd: home,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim();
}

const server = await startHttpServer(home);
try {
  await cli("queue", "gpu", "--limit", "1");
  await cli("run", "--label", "build", "--", "sh", "-c", "echo compiling 42 files; echo done");
  await cli(
    "run",
    "--label",
    "lint",
    "--",
    "sh",
    "-c",
    "echo checking; echo 'src/app.ts:12: error: missing return type' >&2; exit 2",
  );
  await cli("run", "--label", "dev server", "--", "sh", "-c", "echo listening on :5173; sleep 600");
  await cli(
    "run",
    "--label",
    "deploy",
    "--",
    "sh",
    "-c",
    "echo uploading; printf 'Overwrite production? [y/N] '; sleep 600",
  );
  const train = await cli(
    "run",
    "--label",
    "train model",
    "--queue",
    "gpu",
    "--env",
    "WANDB_API_KEY=secret",
    "--env",
    "CUDA_VISIBLE_DEVICES=0",
    "--",
    "sh",
    "-c",
    'for i in $(seq 1 600); do echo "epoch $i/600 loss=0.$((900 - i))"; sleep 0.5; done',
  );
  await cli("run", "--label", "evaluate", "--queue", "gpu", "--", "sh", "-c", "echo eval");
  // Let the training move and the dev server fall silent.
  await new Promise((resolve) => setTimeout(resolve, 9000));

  const link = () => {
    const match = [...server.stderr().matchAll(/dashboard: open (\S+)/g)].at(-1);
    if (!match) throw new Error("no login link");
    return match[1];
  };
  await withBrowser(async (browser) => {
    const page: Page = await browser.newPage();
    await page.goto(link());
    await page.waitForSelector(".row");
    const shoot = async (name: string, width: number, dark: boolean, path = "/") => {
      await page.emulateMediaFeatures([
        { name: "prefers-color-scheme", value: dark ? "dark" : "light" },
      ]);
      await page.setViewport({ width, height: width < 500 ? 844 : 900, deviceScaleFactor: 1 });
      await page.goto(new URL(path, server.url).href);
      await page.waitForSelector(path === "/" ? ".row" : "#output");
      await waitFor(async () => (await page.$(".progress .text")) !== null || undefined, {
        what: "a progress bar",
      });
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await page.screenshot({ path: join(ROOT, "docs", name) });
      console.log(`docs/${name}`);
    };
    await shoot("dashboard-1440.png", 1440, false);
    await shoot("dashboard-390.png", 390, false);
    await shoot("dashboard-1440-dark.png", 1440, true);
    await shoot("dashboard-task-1440.png", 1440, false, `/tasks/${train}`);
    await shoot("dashboard-task-390.png", 390, false, `/tasks/${train}`);
  });
} finally {
  await server.stop();
  killTasksOf(home);
  await Deno.remove(home, { recursive: true }).catch(() => {});
}
