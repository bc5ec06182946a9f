import { configFromEnvironment } from "../../app.ts";
import { loadToken } from "../../http/token.ts";
import { noPositionals, parse, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";

export const token: Command = {
  name: "token",
  summary: "print the token HTTP clients must send (creating it if needed)",
  help: `Usage: backburner token

Print the bearer token a server started with --http requires: BACKBURNER_TOKEN when it is set,
otherwise the one kept (mode 0600) in the state directory, generated on first use. Clients send
it as the header Authorization: Bearer TOKEN. To change it, remove the file it names in the
server's log (or set BACKBURNER_TOKEN) and restart the server.

Example:
  claude mcp add --transport http backburner http://127.0.0.1:8787/mcp \\
    --header "Authorization: Bearer $(backburner token)"`,
  run(args, terminal) {
    const { values, positionals } = parse("token", args, {});
    if (values.help) return Promise.resolve(help(terminal, this));
    noPositionals("token", positionals);
    let home: string;
    try {
      home = configFromEnvironment().home;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    terminal.print(loadToken(home, Deno.env.get("BACKBURNER_TOKEN")).value);
    return Promise.resolve(0);
  },
};
