import { parseListenAddress } from "../../http/address.ts";
import type { ServeOptions } from "../../serve.ts";
import { noPositionals, parse, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";

const OPTIONS = {
  cwd: { type: "string" },
  http: { type: "string" },
  "no-token": { type: "boolean" },
  "allow-host": { type: "string", multiple: true },
  "allow-origin": { type: "string", multiple: true },
  "conformance-fixtures": { type: "boolean" },
} as const;

/**
 * The options of `backburner serve` (`args` after "serve"), or null when help was asked for.
 * Throws a UsageError saying what is wrong.
 */
export function serveOptions(args: string[]): ServeOptions | null {
  const { values, positionals } = parse("serve", args, OPTIONS);
  if (values.help) return null;
  noPositionals("serve", positionals);
  if (values.cwd === "") {
    throw new UsageError("--cwd needs a directory: see backburner serve --help");
  }
  const http = values.http === undefined ? undefined : listenAddress(values.http);
  const httpOnly = ["no-token", "allow-host", "allow-origin", "conformance-fixtures"] as const;
  for (const name of httpOnly) {
    if (values[name] !== undefined && http === undefined) {
      throw new UsageError(`--${name} applies to HTTP only: add --http [HOST:]PORT`);
    }
  }
  return {
    ...(values.cwd === undefined ? {} : { cwd: values.cwd }),
    ...(http === undefined ? {} : { http }),
    ...(values["no-token"] ? { noToken: true } : {}),
    ...(values["allow-host"] ? { allowHosts: values["allow-host"] } : {}),
    ...(values["allow-origin"] ? { allowOrigins: values["allow-origin"] } : {}),
    ...(values["conformance-fixtures"] ? { fixtures: true } : {}),
  };
}

function listenAddress(text: string) {
  try {
    return parseListenAddress(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export const serve: Command = {
  name: "serve",
  summary: "run the MCP server on stdio (the default), or over HTTP with --http",
  help: `Usage: backburner [serve [--cwd DIR] [--http [HOST:]PORT [OPTIONS]]]

Run the MCP server. On stdio (the default) it is what an MCP client starts, and it keeps running
until stdin closes or it gets SIGTERM, SIGINT or SIGHUP. With --http it is one long-lived server
that several clients share, at http://HOST:PORT/mcp (Streamable HTTP, both protocol eras), until
SIGTERM, SIGINT or SIGHUP. Either way the tasks live in the state directory, shared with the
command line and every other server on it.

Options:
  --cwd DIR            where tasks started without a cwd run (default: the directory the server
                       was started in; deno task start passes the one it was run from)
  --http [HOST:]PORT   serve over HTTP (default host 127.0.0.1; 8787 is the usual port; 0 picks
                       a free one). Every request must carry Authorization: Bearer TOKEN, where
                       TOKEN is BACKBURNER_TOKEN or the one backburner token prints
  --allow-host NAME    a name clients use to reach the server besides the address it listens
                       on (repeatable; needed for 0.0.0.0). Other Host headers get 403
  --allow-origin URL   a web origin allowed to call it (repeatable). Requests from browsers of
                       other origins get 403
  --no-token           no token (loopback addresses only, loudly logged): for tests only

Settings come from the environment; see the README for each:
  BACKBURNER_HOME, BACKBURNER_GRACE_SECONDS, BACKBURNER_MAX_OUTPUT_CHARS,
  BACKBURNER_MAX_LOG_BYTES, BACKBURNER_RETENTION_DAYS, BACKBURNER_ON_EXIT,
  BACKBURNER_ALLOW, BACKBURNER_DENY, BACKBURNER_QUEUES, BACKBURNER_MAX_MESSAGE_BYTES,
  BACKBURNER_TOKEN

Examples (Claude Code):
  claude mcp add backburner -- deno run --no-prompt \\
    --allow-read=$HOME/.backburner --allow-write=$HOME/.backburner --allow-run --allow-env \\
    /path/to/backburner/main.ts
  backburner serve --http 127.0.0.1:8787
  claude mcp add --transport http backburner http://127.0.0.1:8787/mcp \\
    --header "Authorization: Bearer $(backburner token)"`,
  run(args, terminal) {
    // main.ts serves for `backburner` and `backburner serve …`; only help and mistakes land here.
    if (serveOptions(args) === null) return Promise.resolve(help(terminal, this));
    throw new UsageError("serve runs only as backburner serve: see backburner serve --help");
  },
};
