import { type Task, TASK_STATUSES, type TaskStatus } from "../../task.ts";
import { noPositionals, parse, UsageError, wholeNumber } from "../args.ts";
import { type Command, help } from "../command.ts";
import {
  type Cell,
  dim,
  durationOf,
  formatAgo,
  formatDuration,
  jsonText,
  listedStatus,
  oneLine,
  paintStatus,
  progressText,
  renderTable,
  shorten,
} from "../format.ts";
import type { StatusView } from "../../views.ts";
import { inspect, withEngine } from "../session.ts";

const MAX_LABEL_COLUMN = 24;
const MAX_QUEUE_COLUMN = 16;
const LABEL_COLUMN = 2;
const QUEUE_COLUMN = 3;

export const ls: Command = {
  name: "ls",
  summary: "list recent tasks, newest first",
  help: `Usage: backburner ls [--status S] [--label L] [--limit N] [--json]

List recent tasks, newest first: id, status, label, queue, where it runs (local, or slurm and its
Slurm job id), progress, start, run time and command.
For a queued task, PROGRESS says why it waits: its place in a full queue (#2), the tasks it runs
after (after 2 tasks), or a retry's delay (retry in 4 s).

Options:
  --status S   only tasks with this status: ${TASK_STATUSES.join(", ")}
  --label L    only tasks started with this label
  --limit N    at most N tasks, 1 to 1000 (default 20)
  --json       a JSON array of the objects the task_status tool returns

Examples:
  backburner ls
  backburner ls --status working
  backburner ls --status queued
  backburner ls --label nightly --limit 5 --json`,
  async run(args, terminal) {
    const { values, positionals } = parse("ls", args, {
      status: { type: "string" },
      label: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) return help(terminal, this);
    noPositionals("ls", positionals);
    const status = values.status;
    if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(
        `--status "${status}" is not a status: pass one of ${TASK_STATUSES.join(", ")}`,
      );
    }
    const limit = wholeNumber("limit", values.limit, { min: 1, max: 1000 }) ?? 20;
    return await withEngine({}, async (engine) => {
      await engine.tick();
      const { tasks, total } = engine.list({
        limit,
        status: status as TaskStatus | undefined,
        label: values.label,
      });
      const shown = [];
      for (const task of tasks) shown.push(await inspect(engine, task.id));
      if (values.json) {
        terminal.print(jsonText(shown.map(({ view }) => view)));
        return 0;
      }
      if (shown.length === 0) {
        terminal.print(status || values.label ? "No tasks match." : "No tasks yet.");
        return 0;
      }
      const now = Date.now();
      const rows: Cell[][] = shown.map(({ task, view }) => {
        const seconds = durationOf(task, now);
        return [
          { text: task.id },
          {
            text: listedStatus(task),
            paint: (padded) => paintStatus(task.status, padded, terminal.color),
          },
          { text: shorten(oneLine(task.label ?? "-"), MAX_LABEL_COLUMN) },
          { text: shorten(task.queue, MAX_QUEUE_COLUMN) },
          { text: executorText(task) },
          {
            text: task.status === "working"
              ? progressText(view.progress)
              : task.status === "queued"
              ? waitText(view, now)
              : "",
          },
          { text: formatAgo(task.startedAt ?? task.createdAt, now) },
          { text: seconds === null ? "-" : formatDuration(seconds) },
          { text: oneLine(task.command) },
        ];
      });
      const header = [
        "ID",
        "STATUS",
        "LABEL",
        "QUEUE",
        "EXECUTOR",
        "PROGRESS",
        "STARTED",
        "DURATION",
        "COMMAND",
      ];
      for (
        const line of renderTable(header, rows, {
          width: terminal.columns,
          // In 80 columns, a long label gives way first; then the command, down to 10 characters.
          shrinkable: [LABEL_COLUMN, QUEUE_COLUMN],
          leastFlexWidth: 10,
        })
      ) {
        terminal.print(line);
      }
      if (total > shown.length && terminal.interactive) {
        terminal.print(
          dim(`${shown.length} of ${total} tasks; --limit ${total} shows more`, terminal.color),
        );
      }
      return 0;
    });
  },
};

/** Where a task runs: "local", "slurm 381" once Slurm took its job, "slurm" before. */
function executorText(task: Task): string {
  return task.slurmJobId === null ? task.executor : `${task.executor} ${task.slurmJobId}`;
}

/** Why a queued task waits, in a few characters: "#2", "after 2 tasks", "retry in 4 s". */
function waitText(view: StatusView, now: number): string {
  if (view.waiting_on.length > 0) {
    return view.waiting_on.length === 1 ? "after 1 task" : `after ${view.waiting_on.length} tasks`;
  }
  if (view.next_attempt_at !== null) {
    const seconds = Math.max(0, Math.ceil((Date.parse(view.next_attempt_at) - now) / 1000));
    return `retry in ${seconds} s`;
  }
  return view.position === null ? "" : `#${view.position}`;
}
