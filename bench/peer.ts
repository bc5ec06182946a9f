/**
 * The peer the benchmark compares against: desktop-commander, an MCP server (Node) with process
 * tools (start_process, read_process_output, …) and file tools (read_file). It is installed from
 * npm into bench/.peer/ (not committed) on the first run and reused afterwards. Without node, npm
 * or the registry the benchmark still runs and marks the peer's rows "peer unavailable".
 */

import { join } from "node:path";
import { exists, type McpProcess, runText, startMcpProcess } from "./common.ts";

export const PEER_PACKAGE = "@wonderwhy-er/desktop-commander";
export const PEER_VERSION = "0.2.52";
export const PEER_NAME = `desktop-commander ${PEER_VERSION}`;
const INSTALL_TIMEOUT_MS = 300_000;

export type PeerInstall =
  | { readonly ok: true; readonly entry: string; readonly installedNow: boolean }
  | { readonly ok: false; readonly reason: string };

/** Installs the peer into `dir` unless that exact version is there already. */
export async function installPeer(dir: string, log: (m: string) => void): Promise<PeerInstall> {
  const packageDir = join(dir, "node_modules", ...PEER_PACKAGE.split("/"));
  const entry = join(packageDir, "dist", "index.js");
  if (await runText("node", ["--version"]) === null) {
    return { ok: false, reason: "node is not installed" };
  }
  const installed = () => {
    try {
      const manifest = JSON.parse(Deno.readTextFileSync(join(packageDir, "package.json")));
      return manifest.version === PEER_VERSION && exists(entry);
    } catch {
      return false;
    }
  };
  if (installed()) return { ok: true, entry, installedNow: false };
  log(`installing ${PEER_PACKAGE}@${PEER_VERSION} into ${dir} (once; up to 5 min)…`);
  Deno.mkdirSync(dir, { recursive: true });
  // A package.json of its own keeps npm from looking for a project further up the tree.
  const manifest = join(dir, "package.json");
  if (!exists(manifest)) {
    Deno.writeTextFileSync(
      manifest,
      JSON.stringify({ name: "backburner-bench-peer", private: true }, null, 2) + "\n",
    );
  }
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("npm", {
      args: [
        "install",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        `${PEER_PACKAGE}@${PEER_VERSION}`,
      ],
      cwd: dir,
      // Its puppeteer dependency would download a browser; nothing here needs it.
      env: { PUPPETEER_SKIP_DOWNLOAD: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(INSTALL_TIMEOUT_MS),
    }).output();
  } catch (error) {
    return { ok: false, reason: `npm install failed to run (${String(error)})` };
  }
  if (!output.success || !installed()) {
    const text = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3).join(" ");
    return { ok: false, reason: `npm install failed: ${text || `exit ${output.code}`}` };
  }
  return { ok: true, entry, installedNow: true };
}

/**
 * Starts the peer over stdio with its own HOME (it writes its config there) and telemetry off
 * (it would try to reach its analytics endpoint, unreachable here, on every tool call).
 */
export async function startPeer(
  entry: string,
  home: string,
  env: Record<string, string>,
): Promise<McpProcess> {
  return await startMcpProcess({
    command: "node",
    args: [entry],
    env: {
      ...Deno.env.toObject(),
      HOME: home,
      DESKTOP_COMMANDER_DISABLE_TELEMETRY: "1",
      ...env,
    },
    cwd: home,
  });
}

/** The pid start_process reports: "Process started with PID 1234 (shell: /bin/bash)". */
export function peerPid(text: string): number {
  const match = /PID (\d+)/.exec(text);
  if (!match) throw new Error(`start_process gave no pid: ${text.slice(0, 200)}`);
  return Number(match[1]);
}
