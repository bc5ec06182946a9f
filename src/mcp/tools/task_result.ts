import { z } from "zod";
import { TaskResultSchema, viewResult } from "../../views.ts";
import { guarded, taskIdInput, toolPattern, type ToolRegistration } from "./tool.ts";

export const registerTaskResult: ToolRegistration = (server, context) => {
  server.registerTool("task_result", {
    title: "Task output",
    description:
      "Read a task's status, exit code and output (stdout and stderr interleaved); works while it runs. Default: the end of the output, as clean text. tail_lines / head_lines for the last / first N lines; offset (+ max_bytes) to read from a byte offset and follow a running task with next_offset, reading only what is new; grep for the matching lines with line numbers. Every reply is capped and its note says what was left out and how to get it.",
    inputSchema: {
      task_id: taskIdInput,
      tail_lines: z.number().int().min(1).max(1_000_000).optional().describe("The last N lines"),
      head_lines: z.number().int().min(1).max(1_000_000).optional().describe("The first N lines"),
      offset: z.number().int().min(0).optional().describe(
        "Read from this byte offset; pass the previous reply's next_offset to get only new output",
      ),
      max_bytes: z.number().int().min(1).optional().describe(
        "With offset: read at most this many bytes",
      ),
      grep: z.string().optional().describe(
        'A regular expression: return the matching lines with line numbers, e.g. "FAIL|Error". Matched in linear time: with unbounded repetition (*, +, {n,}), backreferences and lookaheads are refused',
      ),
      context: z.number().int().min(0).max(20).optional().describe(
        "With grep: lines around each match, 0 to 20",
      ),
      max_matches: z.number().int().min(1).max(1000).optional().describe(
        "With grep: most matches returned, 1 to 1000",
      ),
      raw: z.boolean().optional().describe(
        "true: bytes as written. Default: clean text (ANSI escapes removed, \\r redraws collapsed, very long lines cut)",
      ),
    },
    outputSchema: TaskResultSchema.shape,
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, (args) =>
    guarded(context, async () => {
      const output = await context.engine.output(args.task_id, {
        tailLines: args.tail_lines,
        headLines: args.head_lines,
        offset: args.offset,
        maxBytes: args.max_bytes,
        grep: args.grep === undefined ? undefined : toolPattern(args.grep),
        context: args.context,
        maxMatches: args.max_matches,
        raw: args.raw,
      });
      return viewResult(output);
    }));
};
