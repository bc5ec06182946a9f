/**
 * The protocol revision a connection negotiated, learnt from its initialize exchange, and what
 * that revision lets the server say: tasks (the `tasks` capability, notifications/tasks/status)
 * exist only in revision 2025-11-25, so a client that negotiated an older one never sees them.
 *
 * @module
 */
import type { JSONRPCMessage, RequestId } from "./sdk.ts";

/** The initialize-era revisions that have tasks. */
const TASK_REVISIONS: ReadonlySet<string> = new Set(["2025-11-25"]);

/** One connection's negotiated revision; undefined until the server answered initialize. */
export class NegotiatedVersion {
  #initializeId: RequestId | undefined;
  #version: string | undefined;

  get version(): string | undefined {
    return this.#version;
  }

  get hasTasks(): boolean {
    return this.#version !== undefined && TASK_REVISIONS.has(this.#version);
  }

  /** Notes a message from the client. */
  received(message: JSONRPCMessage): void {
    if ("method" in message && message.method === "initialize" && "id" in message) {
      this.#initializeId = message.id;
    }
  }

  /** A message to the client as this revision has it, or null when it has no such message. */
  sending(message: JSONRPCMessage): JSONRPCMessage | null {
    if ("method" in message) {
      return message.method === "notifications/tasks/status" && !this.hasTasks ? null : message;
    }
    if (!("result" in message) || message.id !== this.#initializeId) return message;
    this.#initializeId = undefined;
    const result = message.result as { protocolVersion?: unknown; capabilities?: object };
    if (typeof result.protocolVersion !== "string") return message;
    this.#version = result.protocolVersion;
    if (this.hasTasks || !result.capabilities || !("tasks" in result.capabilities)) return message;
    const { tasks: _, ...capabilities } = result.capabilities;
    return { ...message, result: { ...result, capabilities } };
  }
}
