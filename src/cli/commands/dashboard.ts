import { parseListenAddress } from "../../http/address.ts";
import type { ServeOptions } from "../../serve.ts";
import { noPositionals, parse, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";

const OPTIONS = {
  http: { type: "string" },
  "allow-host": { type: "string", multiple: true },
  "allow-origin": { type: "string", multiple: true },
} as const;

/** Where `backburner dashboard` listens unless told: loopback, a port the system picks. */
const DEFAULT_LISTEN = "127.0.0.1:0";

/**
 * The options of `backburner dashboard` (`args` after "dashboard") as a dashboard-only server, or
 * null when help was asked for. Throws a UsageError saying what is wrong.
 */
export function dashboardOptions(args: string[]): ServeOptions | null {
  const { values, positionals } = parse("dashboard", args, OPTIONS);
  if (values.help) return null;
  noPositionals("dashboard", positionals);
  let http;
  try {
    http = parseListenAddress(values.http ?? DEFAULT_LISTEN);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    http,
    dashboardOnly: true,
    ...(values["allow-host"] ? { allowHosts: values["allow-host"] } : {}),
    ...(values["allow-origin"] ? { allowOrigins: values["allow-origin"] } : {}),
  };
}

export const dashboard: Command = {
  name: "dashboard",
  summary: "serve the live web dashboard of the state directory and print its login link",
  help: `Usage: backburner dashboard [--http [HOST:]PORT] [--allow-host NAME] [--allow-origin URL]

Serve the dashboard — a live web page of every task in the state directory, whichever server,
agent or command started it — without the MCP endpoint, until SIGTERM, SIGINT or SIGHUP. It
prints a one-time login link on stderr: open it in a browser within 10 minutes (it trades itself
for a session cookie). Opening a spent or expired link prints a new one. The login page also
takes the token that backburner token prints.
backburner serve --http serves the same dashboard at / next to /mcp.

Options:
  --http [HOST:]PORT   where to listen (default ${DEFAULT_LISTEN}: loopback, a free port)
  --allow-host NAME    a name the browser uses to reach it besides the address (repeatable)
  --allow-origin URL   an origin the page is also served from, e.g. https://dash.example.com
                       behind a TLS-terminating proxy (repeatable); Cancel and Restart from
                       an origin not allowed get 403

Examples:
  backburner dashboard
  backburner dashboard --http 127.0.0.1:8788
  ssh -L 8788:127.0.0.1:8788 server 'backburner dashboard --http 127.0.0.1:8788'`,
  run(args, terminal) {
    // main.ts serves `backburner dashboard …`; only help lands here.
    if (dashboardOptions(args) === null) return Promise.resolve(help(terminal, this));
    throw new UsageError(
      "dashboard runs only as backburner dashboard: see backburner dashboard --help",
    );
  },
};
