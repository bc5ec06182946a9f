/**
 * An interactive task's prompt as the Tasks extension's input_required (SEP-2663 with SEP-2322's
 * input requests): while the task waits at a prompt it has not been answered, tasks/get shows it
 * input_required with one elicitation that quotes the prompt line; tasks/update's answer to that
 * elicitation is written to the task's stdin as one line, and the task is working again.
 *
 * The key of the request names the prompt by where it ends in the log (`stdin@<bytes>`): a new
 * prompt has a new key, and an answer to a prompt already answered or gone is ignored, as the
 * extension asks of responses to keys no longer requested.
 *
 * @module
 */

import type { Engine } from "../../engine/engine.ts";
import { BackburnerError } from "../../errors.ts";
import type { Task } from "../../task.ts";

const KEY_PREFIX = "stdin@";
const FIELD = "answer";

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The prompt a working interactive task waits at, with its key; null when it waits for none. */
export async function pendingPrompt(
  engine: Engine,
  task: Task,
): Promise<{ key: string; prompt: string } | null> {
  if (task.status !== "working") return null;
  const { outputBytes, output, input } = await engine.inspect(task.id);
  if (!input.open || !output.waitingForInput) return null;
  return {
    key: `${KEY_PREFIX}${outputBytes}`,
    prompt: sinceAnswer(output.prompt ?? "", outputBytes, input.sentAtBytes),
  };
}

/**
 * The part of a prompt line printed after the last answer: input is not echoed, so a second
 * question on the same line follows the first ("Name: Proceed? [y/N]"). Byte counts are of the
 * raw log and the line is cleaned text, so only a cut that falls inside it is made.
 */
function sinceAnswer(prompt: string, outputBytes: number, sentAtBytes: number | null): string {
  if (sentAtBytes === null) return prompt;
  const bytes = new TextEncoder().encode(prompt);
  const fresh = outputBytes - sentAtBytes;
  if (fresh <= 0 || fresh >= bytes.length) return prompt;
  return new TextDecoder().decode(bytes.subarray(bytes.length - fresh)).trim() || prompt;
}

/** tasks/get's fields for a task waiting at a prompt: input_required and its one request. */
export function inputRequired(pending: { key: string; prompt: string }): Json {
  return {
    status: "input_required",
    statusMessage: `Waiting for input at the prompt ${
      JSON.stringify(pending.prompt)
    }: answer with tasks/update {taskId, inputResponses}`,
    inputRequests: {
      [pending.key]: {
        method: "elicitation/create",
        params: {
          mode: "form",
          message: `The task asks: ${pending.prompt}`,
          requestedSchema: {
            type: "object",
            properties: {
              [FIELD]: {
                type: "string",
                title: "Answer",
                description: "Sent to the task's stdin as one line",
              },
            },
            required: [FIELD],
          },
        },
      },
    },
  };
}

/**
 * tasks/update: the answer to the pending prompt goes to the task's stdin, followed by a newline.
 * A decline or cancel sends nothing (the task keeps waiting; tasks/cancel ends it). Returns
 * whether something was written. A malformed answer, or one that cannot be written, throws a
 * BackburnerError.
 */
export async function answerPrompt(
  engine: Engine,
  task: Task,
  inputResponses: unknown,
): Promise<boolean> {
  if (inputResponses === undefined) return false;
  if (!isRecord(inputResponses)) {
    throw new BackburnerError(
      "invalid_argument",
      "inputResponses must be an object mapping each inputRequests key to the client's result",
    );
  }
  const pending = await pendingPrompt(engine, task);
  if (pending === null) return false;
  const response = inputResponses[pending.key];
  if (response === undefined) return false;
  if (!isRecord(response) || !["accept", "decline", "cancel"].includes(String(response.action))) {
    throw new BackburnerError(
      "invalid_argument",
      `inputResponses["${pending.key}"] must be an elicitation result: {"action": "accept", "content": {"${FIELD}": "…"}}, or action "decline" or "cancel"`,
    );
  }
  if (response.action !== "accept") return false;
  const answer = isRecord(response.content) ? response.content[FIELD] : undefined;
  if (typeof answer !== "string" && typeof answer !== "number" && typeof answer !== "boolean") {
    throw new BackburnerError(
      "invalid_argument",
      `inputResponses["${pending.key}"].content.${FIELD} must be the answer, as a string`,
    );
  }
  // One line, as the request promises: a line break inside would answer the prompts after this
  // one too, which the client never saw (a "name" of "Ann\ny" also says yes to the next question).
  if (typeof answer === "string" && /[\r\n]/.test(answer)) {
    throw new BackburnerError(
      "invalid_argument",
      `inputResponses["${pending.key}"].content.${FIELD} holds a line break, but it answers one prompt with one line: send the line without it (send_input writes several lines)`,
    );
  }
  const promptAt = Number(pending.key.slice(KEY_PREFIX.length));
  await engine.sendInput(task.id, { text: `${answer}\n`, answersPromptAt: promptAt });
  return true;
}
