/**
 * Attacks on tasks/update (src/mcp/modern/task_input.ts) by a careless or hostile 2026-07-28
 * client over HTTP: an answer is "sent to the task's stdin as one line", so an answer holding a
 * line break must not answer the prompts after it too; bogus keys and shapes change nothing, and
 * the same answer sent twice at once is written once.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, tempDir, waitFor } from "../../helpers.ts";
import { startHttpServer } from "../../http/harness.ts";
import { connectModern, meta, type ModernClient } from "../../http/modern_client.ts";

type Json = Record<string, unknown>;

const QUESTIONS = [
  "printf 'Enter your name: '",
  "read -r name",
  "printf 'Delete everything? [y/N] '",
  "read -r answer",
  'echo "name=$name answer=$answer"',
].join("; ");

async function get(modern: ModernClient, id: string): Promise<Json> {
  return (await modern.rawRequest("tasks/get", { taskId: id, _meta: meta(true) })).result as Json;
}

async function prompt(modern: ModernClient, id: string): Promise<string> {
  return await waitFor(async () => {
    const view = await get(modern, id);
    const requests = view.inputRequests as Json | undefined;
    return view.status === "input_required" && requests ? Object.keys(requests)[0] : null;
  }, { what: `task ${id} to be input_required` });
}

function update(modern: ModernClient, id: string, responses: unknown): Promise<Json> {
  return modern.rawRequest("tasks/update", {
    taskId: id,
    inputResponses: responses,
    _meta: meta(true),
  });
}

posixTest(
  "tasks/update: an answer with a line break answers one prompt only; bogus keys change nothing; twice at once writes once",
  async () => {
    const home = await tempDir();
    const server = await startHttpServer(home);
    const modern = await connectModern(server);
    try {
      const started = await modern.rawRequest("tools/call", {
        name: "start_task",
        arguments: { command: QUESTIONS, interactive: true },
        _meta: meta(true),
      });
      const id = String(
        ((started.result as Json).structuredContent as Json).task_id,
      );
      const key = await prompt(modern, id);
      // Bogus keys and shapes: nothing is written, the task still asks.
      const bogus = await update(modern, id, { "stdin@1": { action: "accept" } });
      assert.equal((bogus.result as Json).resultType, "complete");
      // (A response that is not an object never reaches the server: the SDK drops it.)
      await update(modern, id, { [key]: "yes" });
      assert.equal(
        (await update(modern, id, { [key]: { action: "accept", content: { answer: {} } } }))
          .error !== undefined,
        true,
      );
      assert.equal(await prompt(modern, id), key);

      // A name with a line break in it would also answer the next, dangerous, question.
      const sneaky = await update(modern, id, {
        [key]: { action: "accept", content: { answer: "Ann\ny" } },
      });
      assert.ok(
        sneaky.error !== undefined,
        `a two-line answer was taken: ${JSON.stringify(sneaky)}`,
      );
      assert.match(String((sneaky.error as Json).message), /line break/);
      assert.equal(await prompt(modern, id), key);

      // The same answer twice at once (a client's retry racing its first try): written once.
      const answer = { [key]: { action: "accept", content: { answer: "Ann" } } };
      await Promise.all([update(modern, id, answer), update(modern, id, answer)]);
      const next = await waitFor(async () => {
        const found = await prompt(modern, id);
        return found !== key ? found : null;
      }, { what: "the second prompt" });
      await update(modern, id, { [next]: { action: "accept", content: { answer: "n" } } });
      await waitFor(async () => (await get(modern, id)).status === "completed", {
        what: `task ${id} to complete`,
      });
      const log = Deno.readTextFileSync(join(home, "tasks", id, "output.log"));
      assert.match(log, /name=Ann answer=n\n$/);
    } finally {
      await modern.close();
      await server.stop();
      await cleanup(home);
    }
  },
);
