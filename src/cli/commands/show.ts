import type { Task } from "../../task.ts";
import type { StatusView } from "../../views.ts";
import { oneId, parse } from "../args.ts";
import { type Command, help } from "../command.ts";
import {
  type Cell,
  durationOf,
  formatAgo,
  formatBytes,
  formatDuration,
  jsonText,
  localTime,
  oneLine,
  paintStatus,
  progressText,
  renderFields,
} from "../format.ts";
import { inspect, requireTask, withEngine } from "../session.ts";

export const show: Command = {
  name: "show",
  summary: "everything about one task",
  help: `Usage: backburner show ID [--json]

Show everything task_status knows about a task: status and how it ended (or why it is queued),
queue, dependencies, attempts, where it runs (local, or its Slurm job and what the job asked for),
command, directory, times, run time, timeout, process group, output size, the progress its output
shows, and whether it seems to wait for input.

Options:
  --json   the object the task_status tool returns

Examples:
  backburner show k3x9m2p7q4wz
  backburner show k3x9m2p7q4wz --json | jq .exit_code`,
  async run(args, terminal) {
    const { values, positionals } = parse("show", args, { json: { type: "boolean" } });
    if (values.help) return help(terminal, this);
    const id = oneId("show", positionals);
    return await withEngine({}, async (engine) => {
      requireTask(engine, id);
      await engine.tick();
      const { task, view } = await inspect(engine, id);
      if (values.json) {
        terminal.print(jsonText(view));
        return 0;
      }
      for (const line of showLines(task, view, terminal.color)) terminal.print(line);
      return 0;
    });
  },
};

function showLines(task: Task, view: StatusView, color: boolean): string[] {
  const now = Date.now();
  const fields: [string, string | Cell][] = [["ID", task.id]];
  if (task.label !== null) fields.push(["Label", task.label]);
  fields.push(
    ["Status", {
      // A queued task's message starts "Queued: ", which the status already says.
      text: `${task.status}: ${view.status_message.replace(/^Queued: /, "")}`,
      paint: (line) =>
        paintStatus(task.status, task.status, color) + line.slice(task.status.length),
    }],
    ["Command", task.command],
    ["Directory", task.cwd],
  );
  fields.push([
    "Queue",
    view.position === null ? task.queue : `${task.queue} (#${view.position} in line)`,
  ]);
  fields.push(["Executor", executorLine(task)]);
  if (view.after.length > 0) fields.push(["After", view.after.join(", ")]);
  if (view.waiting_on.length > 0) fields.push(["Waiting on", view.waiting_on.join(", ")]);
  if (view.attempts > 1) fields.push(["Attempt", `${view.attempt} of ${view.attempts}`]);
  if (view.next_attempt_at !== null) {
    fields.push(["Next attempt", localTime(Date.parse(view.next_attempt_at))]);
  }
  if (view.restart_of !== null) fields.push(["Restart of", view.restart_of]);
  if (view.idempotency_key !== null) fields.push(["Key", view.idempotency_key]);
  if (task.exitCode !== null) fields.push(["Exit code", String(task.exitCode)]);
  if (task.signal !== null) fields.push(["Signal", task.signal]);
  fields.push(["Created", `${localTime(task.createdAt)} (${formatAgo(task.createdAt, now)})`]);
  if (task.startedAt !== null) fields.push(["Started", localTime(task.startedAt)]);
  if (task.endedAt !== null) fields.push(["Ended", localTime(task.endedAt)]);
  const seconds = durationOf(task, now);
  if (seconds !== null) {
    fields.push([
      "Duration",
      formatDuration(seconds) + (task.status === "working" ? " so far" : ""),
    ]);
  }
  fields.push(["Timeout", task.timeoutSeconds === null ? "none" : `${task.timeoutSeconds} s`]);
  if (task.pid !== null) fields.push(["Process group", String(task.pid)]);
  const silence = view.seconds_since_output === null
    ? ""
    : `, last written ${formatDuration(view.seconds_since_output)} ago`;
  fields.push(["Output", `${formatBytes(view.output_bytes)}${silence}`]);
  const progress = view.progress;
  if (progress) {
    const amount = progressText(view.progress);
    const message = progress.message ? ` ${oneLine(progress.message)}` : "";
    fields.push(["Progress", `${amount}${message}`]);
  }
  if (view.waiting_for_input) {
    fields.push([
      "Waiting",
      view.input_open
        ? `the last line looks like a prompt: answer it with backburner send ${view.task_id} TEXT`
        : "the last line looks like a prompt, and stdin is closed: cancel it and run it non-interactively",
    ]);
  } else if (view.input_open) {
    fields.push(["Input", `open: write to it with backburner send ${view.task_id} TEXT`]);
  }
  return renderFields(fields);
}

/** "local", or "slurm, job 381 (partition debug, 2 CPUs, memory 4G, time limit 1:00:00)". */
function executorLine(task: Task): string {
  if (task.executor !== "slurm") return task.executor;
  const job = task.slurmJobId === null ? "no job yet" : `job ${task.slurmJobId}`;
  const asked: string[] = [];
  const slurm = task.slurm;
  if (slurm?.partition) asked.push(`partition ${slurm.partition}`);
  if (slurm?.cpus) asked.push(slurm.cpus === 1 ? "1 CPU" : `${slurm.cpus} CPUs`);
  if (slurm?.memory) asked.push(`memory ${slurm.memory}`);
  if (slurm?.gpus) asked.push(`GPUs ${slurm.gpus}`);
  if (slurm?.timeLimitSeconds) asked.push(`time limit ${formatDuration(slurm.timeLimitSeconds)}`);
  if (slurm?.account) asked.push(`account ${slurm.account}`);
  return `slurm, ${job}` + (asked.length > 0 ? ` (${asked.join(", ")})` : "");
}
