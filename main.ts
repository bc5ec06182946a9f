/**
 * backburner's entry point: `backburner` and `backburner serve …` run the MCP server (stdio, or
 * HTTP with --http), `backburner dashboard` the dashboard alone; every other argument list is a
 * command of the command line. The only place that exits the process.
 *
 * @module
 */

import denoConfig from "./deno.json" with { type: "json" };
import { configFromEnvironment } from "./src/app.ts";
import { dashboardOptions } from "./src/cli/commands/dashboard.ts";
import { serveOptions } from "./src/cli/commands/serve.ts";
import type { Config } from "./src/config.ts";
import { isBackburnerError } from "./src/errors.ts";
import { serve, type ServeOptions } from "./src/serve.ts";

const VERSION = denoConfig.version;

function log(message: string): void {
  console.error(`backburner: ${message}`);
}

/** The options of `backburner serve`; null for help, and for arguments of the command line. */
function asServe(args: string[]): ServeOptions | null {
  if (args.length === 0) return {};
  if (args[0] === "dashboard") return dashboardOptions(args.slice(1));
  if (args[0] !== "serve") return null;
  return serveOptions(args.slice(1));
}

/** The exit code, or -1 while the server runs (it exits from its shutdown). */
async function main(args: string[]): Promise<number> {
  let options: ServeOptions | null;
  try {
    options = asServe(args);
  } catch (error) {
    log((error as Error).message);
    return isBackburnerError(error) ? 2 : 1;
  }
  if (options === null) {
    // Loaded only for the command line: a server never carries its commands.
    const { runCli } = await import("./src/cli/main.ts");
    return await runCli(args, { version: VERSION });
  }
  let config: Config;
  try {
    config = configFromEnvironment();
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  try {
    await serve(config, options, {
      version: VERSION,
      log,
      tokenFromEnvironment: Deno.env.get("BACKBURNER_TOKEN"),
    });
  } catch (error) {
    log(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  return -1;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (code >= 0) Deno.exit(code);
}
