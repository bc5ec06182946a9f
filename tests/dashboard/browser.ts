/**
 * Headless Chromium for the dashboard's browser tests, the screenshots and the latency bench:
 * Debian's chromium driven by puppeteer-core. Where Chromium is missing, it is installed with
 * apt-get when this user can (root, apt-get present); where that fails, the browser tests are
 * skipped with a notice printed once, never silently.
 */

// A test-only dependency, pinned here rather than in deno.json's imports (deno.dev.lock pins it;
// deno.lock, which pins what main.ts reaches, never sees it).
// deno-lint-ignore no-import-prefix
import puppeteer, { type Browser } from "npm:puppeteer-core@25.16.0";

export type { Browser, Page } from "npm:puppeteer-core@25.16.0";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

function found(): string | null {
  const fromEnvironment = Deno.env.get("BACKBURNER_CHROMIUM");
  for (const path of fromEnvironment ? [fromEnvironment, ...CANDIDATES] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here
    }
  }
  return null;
}

function tryInstall(): void {
  try {
    if (Deno.uid() !== 0) return;
    const run = (args: string[]) =>
      new Deno.Command("apt-get", {
        args,
        env: { DEBIAN_FRONTEND: "noninteractive" },
        stdout: "null",
        stderr: "null",
      }).outputSync().success;
    console.error("dashboard browser tests: Chromium is missing; installing it with apt-get…");
    if (!run(["install", "-y", "-q", "chromium"])) {
      run(["update", "-q"]);
      run(["install", "-y", "-q", "chromium"]);
    }
  } catch {
    // no apt-get, or not allowed: the notice below says so
  }
}

let chromium: string | null | undefined;

/** Chromium's path, installing it once if it can; null (with a printed notice) when none. */
export function chromiumPath(): string | null {
  if (chromium !== undefined) return chromium;
  // BACKBURNER_CHROMIUM=none: as on a machine without it (to see the skip and its notice).
  const none = Deno.env.get("BACKBURNER_CHROMIUM") === "none";
  chromium = none ? null : found();
  if (chromium === null && !none) {
    tryInstall();
    chromium = found();
  }
  if (chromium === null) {
    console.error(
      "NOTICE: SKIPPING the dashboard's browser tests: Chromium is not installed and could not be installed (apt-get install chromium, or set BACKBURNER_CHROMIUM to a Chrome or Chromium binary)",
    );
  }
  return chromium;
}

/** Runs `body` with a fresh headless browser, and closes it (killing it if it will not close). */
export async function withBrowser<T>(body: (browser: Browser) => Promise<T>): Promise<T> {
  const path = chromiumPath();
  if (path === null) throw new Error("Chromium is not installed");
  const profile = await Deno.makeTempDir({ prefix: "backburner-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: path,
    headless: true,
    userDataDir: profile,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  const pid = browser.process()?.pid;
  try {
    return await body(browser);
  } finally {
    try {
      await Promise.race([
        browser.close(),
        new Promise((_, reject) => setTimeout(() => reject(new Error("close timed out")), 10_000)),
      ]);
    } catch {
      if (pid !== undefined) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}
