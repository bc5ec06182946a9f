/** main.ts on raw pipes for protocol tests: JSON-RPC lines in, every parsed line out, in order. */
import { MAIN, serverPermissions, waitFor } from "../helpers.ts";

export type RawMessage = Record<string, unknown> & {
  id?: unknown;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
};

export class RawClient {
  readonly messages: RawMessage[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  #nextId = 1;

  constructor(home: string) {
    const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...serverPermissions(home), MAIN],
      env: { ...inherited, BACKBURNER_HOME: home, NO_COLOR: "1" },
      cwd: home,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    const stdout = this.#child.stdout;
    this.#reading = (async () => {
      let pending = "";
      for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let newline;
        while ((newline = pending.indexOf("\n")) !== -1) {
          this.messages.push(JSON.parse(pending.slice(0, newline)));
          pending = pending.slice(newline + 1);
        }
      }
    })();
  }

  async send(message: Record<string, unknown>): Promise<void> {
    const line = JSON.stringify({ jsonrpc: "2.0", ...message });
    await this.#writer.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Sends a request and waits for its answer. */
  async request(method: string, params?: unknown): Promise<RawMessage> {
    const id = this.#nextId++;
    await this.send({ id, method, params });
    return await waitFor(() => this.messages.find((m) => m.id === id && !("method" in m)), {
      what: `the answer to ${method}`,
    });
  }

  /** Calls a tool; the answer, result or error. */
  async call(name: string, args: unknown, extra: Record<string, unknown> = {}) {
    return await this.request("tools/call", { name, arguments: args, ...extra });
  }

  /** initialize with this protocol version, then notifications/initialized; the result. */
  async initialize(protocolVersion = "2025-11-25"): Promise<Record<string, unknown>> {
    const answer = await this.request("initialize", {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: "raw", version: "1" },
    });
    if (!answer.result) throw new Error(`initialize failed: ${JSON.stringify(answer)}`);
    await this.send({ method: "notifications/initialized" });
    return answer.result;
  }

  notifications(method: string): RawMessage[] {
    return this.messages.filter((m) => m.method === method && !("id" in m));
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const deadline = setTimeout(() => this.#child.kill("SIGKILL"), 15_000);
    await this.#child.status;
    clearTimeout(deadline);
    await this.#reading.catch(() => {});
  }
}
