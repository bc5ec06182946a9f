/** Every tool the server offers, registered in this order by server.ts. */

import { registerCancelTask } from "./cancel_task.ts";
import { registerListTasks } from "./list_tasks.ts";
import { registerRestartTask } from "./restart_task.ts";
import { registerRunCommand } from "./run_command.ts";
import { registerSendInput } from "./send_input.ts";
import { registerStartTask } from "./start_task.ts";
import { registerTaskResult } from "./task_result.ts";
import { registerTaskStatus } from "./task_status.ts";
import type { ToolRegistration } from "./tool.ts";
import { registerWaitForTask } from "./wait_for_task.ts";

export const TOOLS: readonly ToolRegistration[] = [
  registerStartTask,
  registerTaskStatus,
  registerTaskResult,
  registerCancelTask,
  registerRestartTask,
  registerListTasks,
  registerWaitForTask,
  registerRunCommand,
  registerSendInput,
];
