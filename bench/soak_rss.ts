/**
 * RSS after the soak, beside idle: a fresh server's idle RSS (as in rss_growth.ts), then the soak
 * (bench/soak.ts, 300 s by default, its own report left alone) in a subprocess, whose server 0 —
 * never killed, alive the whole run — is sampled every second; the figure is the median of its
 * last 10 samples. The soak's own verdict (N passed, M failed) goes with it.
 *
 * Five minutes is too long for every bench run: `deno task bench --only soak-rss` runs it alone
 * and records the result in docs/benchmarks-soak.json, which the full report then includes (with
 * its date); `deno task bench --soak` runs it inside the full run instead.
 */
import { join } from "node:path";
import { ROOT } from "../tests/helpers.ts";
import { type Stats, stats } from "./common.ts";
import type { GroupReport } from "./group.ts";
import type { Lab } from "./lab.ts";
import { formatValue } from "./report.ts";
import { rssSamples } from "./rss_growth.ts";

export const SOAK_JSON = "benchmarks-soak.json";

export interface SoakRssResult {
  readonly date: string;
  readonly seconds: number;
  readonly idle: Stats;
  /** Server 0's RSS: after its warm-up, at the end (medians of 10 samples), and its max. */
  readonly firstMiB: number;
  readonly lastMiB: number;
  readonly maxMiB: number;
  readonly passed: number;
  readonly failed: number;
  readonly failures: string[];
}

export async function soakRss(lab: Lab, seconds: number): Promise<SoakRssResult> {
  const home = await lab.dir();
  let idle: Stats;
  const server = await lab.boot(home);
  try {
    idle = await rssSamples(server.pid);
  } finally {
    await lab.stop(server);
    await lab.remove(home);
  }
  const scratch = await lab.dir("backburner-bench-soak-");
  const json = join(scratch, "memory.json");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--lock=deno.dev.lock",
      "-A",
      join(ROOT, "bench", "soak.ts"),
      "--seconds",
      String(seconds),
      "--no-report",
      "--memory-json",
      json,
    ],
    cwd: ROOT,
    env: lab.env,
    stdin: "null",
    // Its report lines go to our stderr: our stdout is the table.
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const forwarded = child.stdout.pipeTo(Deno.stderr.writable, { preventClose: true });
  try {
    await child.status;
    await forwarded;
    const text = Deno.readTextFileSync(json);
    const soak = JSON.parse(text) as {
      survivor: { firstMiB: number; lastMiB: number; maxMiB: number } | null;
      passed: number;
      failed: number;
      failures: string[];
    };
    if (!soak.survivor) throw new Error(`the soak recorded no memory for server 0: ${text}`);
    return {
      date: new Date().toISOString(),
      seconds,
      idle,
      firstMiB: soak.survivor.firstMiB,
      lastMiB: soak.survivor.lastMiB,
      maxMiB: soak.survivor.maxMiB,
      passed: soak.passed,
      failed: soak.failed,
      failures: soak.failures,
    };
  } finally {
    // The soak tears itself down on SIGTERM (its servers carry its own run marker).
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.status;
    await forwarded.catch(() => {});
    await lab.remove(scratch);
  }
}

/** The last recorded result (docs/benchmarks-soak.json), or null. */
export function loadSoakRss(dir: string): SoakRssResult | null {
  try {
    return JSON.parse(Deno.readTextFileSync(join(dir, SOAK_JSON))) as SoakRssResult;
  } catch {
    return null;
  }
}

export function saveSoakRss(dir: string, result: SoakRssResult): string {
  const path = join(dir, SOAK_JSON);
  Deno.writeTextFileSync(path, JSON.stringify(result, null, 2) + "\n");
  return path;
}

export function soakRssReport(result: SoakRssResult | null, recorded: boolean): GroupReport {
  const mib = (value: number) => formatValue(value, "MiB");
  if (!result) {
    const missing = "not measured: `deno task bench --only soak-rss` (300 s) records it";
    return {
      rows: [{
        name: "Server memory (RSS) after the 300 s soak",
        short: "RSS after the soak",
        unit: "MiB",
        ours: { n: 0, median: NaN, p95: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN },
        reference: "a fresh server idle",
        ref: null,
        missing,
        chart: false,
      }],
      notes: [`**RSS after the soak**: ${missing}.`],
      explanations: {},
      sections: [],
      files: {},
    };
  }
  // One figure each: the median of the last 10 samples, as one "sample".
  const last = stats([result.lastMiB]);
  return {
    rows: [{
      name: `Server memory (RSS) after the ${result.seconds} s soak`,
      short: "RSS after the soak",
      unit: "MiB",
      ours: { ...last, p95: result.maxMiB, max: result.maxMiB },
      reference: "a fresh server idle",
      refShort: "idle",
      ref: result.idle,
    }],
    notes: [
      `**RSS after the soak**: ${
        recorded ? `recorded ${result.date} by \`deno task bench --only soak-rss\`` : "this run"
      }: bench/soak.ts for ${result.seconds} s (2 servers, 3 workers each, one killed and ` +
      `restarted again and again); server 0 lives the whole run and is sampled every second: ` +
      `${mib(result.firstMiB)} after its warm-up (30 s, or a third of a shorter life), ${
        mib(result.lastMiB)
      } at the end (the ` +
      `median of its last 10 samples; the p95 column shows its maximum, ${mib(result.maxMiB)}). ` +
      `The reference is a fresh server's idle RSS (10 samples, 2 s after start). The soak's ` +
      `verdict: ${result.passed} passed, ${result.failed} failed${
        result.failures.length ? ` (${result.failures.join("; ")})` : ""
      }.`,
    ],
    explanations: {
      ["RSS after the soak"]:
        `From ${mib(result.idle.median)} idle to ${
          mib(result.firstMiB)
        } after the warm-up under load and ${mib(result.lastMiB)} at the end: V8 grows its heap ` +
        `under load and gives little back (bench/soak.ts --heap-probe shows the live heap).`,
    },
    sections: [],
    files: {},
  };
}
