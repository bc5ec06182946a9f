import { z } from "zod";
import { MAX_INPUT_BYTES } from "../../engine/input.ts";
import { SendInputViewSchema, viewOf } from "../../views.ts";
import { guarded, taskIdInput, type ToolRegistration } from "./tool.ts";

export const registerSendInput: ToolRegistration = (server, context) => {
  server.registerTool("send_input", {
    title: "Send input to a task",
    description:
      'Answer a running task started with interactive: true: write text to its standard input (a prompt\'s answer such as "y\\n", a line for a REPL), or end its input with close: true. Use it when task_status shows waiting_for_input with input_open, or to drive a program that reads lines. The text is written exactly as given: end it with "\\n" to send a line. It works for a task any server started, also after a server restart. The text is data for the command, not a command backburner checks: a shell or interpreter that reads its stdin runs what you send.',
    inputSchema: {
      task_id: taskIdInput,
      text: z.string().optional().describe(
        `What to write, at most ${MAX_INPUT_BYTES} bytes, e.g. "y\\n"; a newline only if you include one`,
      ),
      close: z.boolean().optional().describe(
        "After the text (if any), close the task's input so the command reads end-of-file. Nothing can be sent after that. Default false",
      ),
    },
    outputSchema: SendInputViewSchema.shape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  }, ({ task_id, text, close }) =>
    guarded(context, async () => {
      const { engine } = context;
      const { task, bytesWritten, closed } = await engine.sendInput(task_id, { text, close });
      return {
        ...viewOf(engine, task),
        bytes_written: bytesWritten,
        input_closed: closed,
        note: `Wrote ${bytesWritten} byte${
          bytesWritten === 1 ? "" : "s"
        } to task ${task.id}'s stdin${
          closed ? " and closed its input" : ""
        }; read what it printed with task_result or wait_for_task (pattern)`,
      };
    }));
};
