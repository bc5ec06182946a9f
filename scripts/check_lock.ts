/**
 * Fails when deno.lock pins an npm package the server does not import.
 *
 *   deno run --allow-read --allow-run scripts/check_lock.ts
 *
 * Deno downloads every npm package in the lock file it uses before running anything (`deno run`,
 * `deno task`, even a task that only echoes), so the server's lock file, deno.lock, holds only
 * what main.ts reaches; the test client and the bench's packages are pinned in deno.dev.lock,
 * which the test, check, bench and soak tasks name. A test run by hand without
 * `--lock=deno.dev.lock` writes its packages into deno.lock, and this check names them.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Info {
  modules: { kind?: string; npmPackage?: string }[];
  npmPackages: Record<string, { dependencies?: string[] }>;
}

/** The npm packages main.ts reaches, as the lock file names them (`name@version_peer@version`). */
async function serverPackages(): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    // --frozen-lockfile: a package main.ts needs but deno.lock lacks is an error too.
    args: ["info", "--json", "--frozen-lockfile", join(ROOT, "main.ts")],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error("deno info main.ts failed: is deno.lock out of date?");
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as Info;
  const reached = new Set<string>();
  const pending = info.modules.flatMap((module) => module.npmPackage ?? []);
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    pending.push(...(info.npmPackages[id]?.dependencies ?? []));
  }
  return reached;
}

if (import.meta.main) {
  const lock = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.lock"))) as {
    npm?: Record<string, unknown>;
  };
  const reached = await serverPackages();
  const extra = Object.keys(lock.npm ?? {}).filter((id) => !reached.has(id)).sort();
  if (extra.length > 0) {
    console.log(`deno.lock pins ${extra.length} npm packages main.ts does not import:`);
    for (const id of extra) console.log(`  ${id}`);
    console.log(
      "Tests and benches pin theirs in deno.dev.lock: restore deno.lock and run them with " +
        "--lock=deno.dev.lock (the deno tasks do)",
    );
    Deno.exit(1);
  }
  console.log(`deno.lock pins only the ${reached.size} npm packages main.ts imports`);
}
