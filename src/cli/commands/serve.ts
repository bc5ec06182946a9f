import { noPositionals, parse, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";

export const serve: Command = {
  name: "serve",
  summary: "run the MCP server on stdio (what an MCP client starts; the default)",
  help: `Usage: backburner [serve [--cwd DIR]]

Run the MCP server on stdio: what an MCP client starts. It keeps running until stdin closes or it
gets SIGTERM, SIGINT or SIGHUP.

Options:
  --cwd DIR   where tasks started without a cwd run (default: the directory the server was
              started in; deno task start passes the one it was run from)

Settings come from the environment; see the README for each:
  BACKBURNER_HOME, BACKBURNER_GRACE_SECONDS, BACKBURNER_MAX_OUTPUT_CHARS,
  BACKBURNER_MAX_LOG_BYTES, BACKBURNER_RETENTION_DAYS, BACKBURNER_ON_EXIT,
  BACKBURNER_ALLOW, BACKBURNER_DENY, BACKBURNER_QUEUES

Example (Claude Code):
  claude mcp add backburner -- deno run --no-prompt \\
    --allow-read=$HOME/.backburner --allow-write=$HOME/.backburner --allow-run --allow-env \\
    /path/to/backburner/main.ts`,
  run(args, terminal) {
    // main.ts serves for `backburner` and `backburner serve`; only a call with options lands here.
    const { values, positionals } = parse("serve", args, {});
    if (values.help) return Promise.resolve(help(terminal, this));
    noPositionals("serve", positionals);
    throw new UsageError("serve takes only --cwd DIR: see backburner serve --help");
  },
};
