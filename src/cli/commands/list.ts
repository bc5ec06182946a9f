/** Every command of the command line, in the order the overview lists them. */

import type { Command } from "../command.ts";
import { cancel } from "./cancel.ts";
import { dashboard } from "./dashboard.ts";
import { logs } from "./logs.ts";
import { ls } from "./ls.ts";
import { prune } from "./prune.ts";
import { queue } from "./queue.ts";
import { restart } from "./restart.ts";
import { run } from "./run.ts";
import { send } from "./send.ts";
import { serve } from "./serve.ts";
import { show } from "./show.ts";
import { token } from "./token.ts";
import { wait } from "./wait.ts";

export const COMMANDS: readonly Command[] = [
  serve,
  ls,
  show,
  logs,
  run,
  restart,
  cancel,
  send,
  wait,
  queue,
  prune,
  dashboard,
  token,
];
