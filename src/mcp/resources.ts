/**
 * Tasks as resources: backburner://tasks/{task_id} (status JSON) and
 * backburner://tasks/{task_id}/output (the output tail, bounded), listed through templates,
 * readable, and subscribable.
 */
import type { Engine } from "../engine/engine.ts";
import { isTaskId, type Task } from "../task.ts";
import { queueWait, viewStatus } from "../views.ts";
import { RESOURCE_NOT_FOUND, rpcError } from "./errors.ts";
import {
  ListResourcesRequestSchema,
  McpError,
  type McpServer,
  ReadResourceRequestSchema,
  type ReadResourceResult,
  ResourceTemplate,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "./sdk.ts";
import { decodeCursor, encodeCursor } from "./tasks.ts";

const STATUS_URI = /^backburner:\/\/tasks\/([a-z0-9]+)$/;
const OUTPUT_URI = /^backburner:\/\/tasks\/([a-z0-9]+)\/output$/;
/** Tasks per resources/list page; each task is two resources. */
const LISTED_TASKS = 50;
/** Output growth is announced at most this often per subscribed task. */
const OUTPUT_NOTICE_MS = 1000;
/** A change of the task list is announced at most this often. */
const LIST_NOTICE_MS = 1000;

export function statusUri(id: string): string {
  return `backburner://tasks/${id}`;
}

export function outputUri(id: string): string {
  return `${statusUri(id)}/output`;
}

function taskIdOf(uri: string): string | null {
  const match = STATUS_URI.exec(uri) ?? OUTPUT_URI.exec(uri);
  return match && isTaskId(match[1]) ? match[1] : null;
}

/** The task a resource URI names, or -32002 with one sentence when there is no such resource. */
function requireTask(engine: Engine, uri: string, log: (message: string) => void): string {
  const id = taskIdOf(uri);
  const shown = uri.length > 200 ? `${uri.slice(0, 200)}…` : uri;
  if (id === null) {
    throw new McpError(
      RESOURCE_NOT_FOUND,
      `Resource "${shown}" not found: read backburner://tasks/{task_id} or backburner://tasks/{task_id}/output`,
      { uri: shown },
    );
  }
  try {
    engine.status(id);
  } catch (error) {
    throw rpcError(error, log, {
      codes: { unknown_task: RESOURCE_NOT_FOUND },
      data: { uri: shown },
    });
  }
  return id;
}

async function readStatus(engine: Engine, uri: string, id: string): Promise<ReadResourceResult> {
  const { task, outputBytes, output, input } = await engine.inspect(id);
  const view = viewStatus(task, outputBytes, output, Date.now(), queueWait(engine, task), input);
  return {
    contents: [{ uri, mimeType: "application/json", text: JSON.stringify(view, null, 2) }],
  };
}

async function readOutput(engine: Engine, uri: string, id: string): Promise<ReadResourceResult> {
  const { slice } = await engine.output(id);
  return { contents: [{ uri, mimeType: "text/plain", text: slice?.text ?? "" }] };
}

/** The two kinds of task resource: a task's status, and its output. */
const RESOURCE_KINDS = [
  {
    name: "task",
    template: "backburner://tasks/{task_id}",
    uri: statusUri,
    title: "Task status",
    description: "A task's status as JSON, the same as task_status returns",
    mimeType: "application/json",
    listedName: (name: string) => name,
    listedDescription: (task: Task) => `Status of task ${task.id} (${task.status})`,
    read: readStatus,
  },
  {
    name: "task-output",
    template: "backburner://tasks/{task_id}/output",
    uri: outputUri,
    title: "Task output",
    description: "The end of a task's output as clean text, bounded like task_result",
    mimeType: "text/plain",
    listedName: (name: string) => `${name} (output)`,
    listedDescription: (task: Task) => `The end of task ${task.id}'s output`,
    read: readOutput,
  },
] as const;

/** Registers the two templates and the subscribe handlers; returns a function that stops them. */
export function registerTaskResources(
  server: McpServer,
  engine: Engine,
  log: (message: string) => void,
): () => void {
  for (const kind of RESOURCE_KINDS) {
    server.registerResource(
      kind.name,
      // Listed by the resources/list handler below, which pages; the SDK's cannot.
      new ResourceTemplate(kind.template, { list: undefined }),
      { title: kind.title, description: kind.description, mimeType: kind.mimeType },
      (uri) => kind.read(engine, uri.href, requireTask(engine, uri.href, log)),
    );
  }
  server.server.removeRequestHandler("resources/list");
  server.server.setRequestHandler(ListResourcesRequestSchema, (request) => {
    const cursor = request.params?.cursor;
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    const { tasks } = engine.list({ limit: LISTED_TASKS + 1, before });
    const page = tasks.slice(0, LISTED_TASKS);
    return {
      resources: RESOURCE_KINDS.flatMap((kind) =>
        page.map((task) => ({
          uri: kind.uri(task.id),
          name: kind.listedName(task.label ?? task.command.slice(0, 80)),
          title: kind.title,
          description: kind.listedDescription(task),
          mimeType: kind.mimeType,
        }))
      ),
      ...(tasks.length > LISTED_TASKS && { nextCursor: encodeCursor(page[page.length - 1]) }),
    };
  });
  // The SDK's own resources/read answers -32602 for a URI no template matches and -32603 for one
  // that is not a URL; every URI that names no task is answered alike, -32002.
  server.server.removeRequestHandler("resources/read");
  server.server.setRequestHandler(ReadResourceRequestSchema, (request) => {
    const { uri } = request.params;
    const id = requireTask(engine, uri, log);
    return OUTPUT_URI.test(uri) ? readOutput(engine, uri, id) : readStatus(engine, uri, id);
  });

  const subscribed = new Set<string>();
  /** Per task: the status and output size last announced. */
  const seen = new Map<string, { status: string; bytes: number }>();
  // Others' changes and output growth of subscribed tasks, read once a second while any is
  // subscribed; nothing runs while none is.
  let subscribedTimer: ReturnType<typeof setInterval> | undefined;
  const checkSubscribed = () => {
    if (subscribed.size === 0) {
      clearInterval(subscribedTimer);
      subscribedTimer = undefined;
      return;
    }
    const ids = new Set([...subscribed].map(taskIdOf).filter((id) => id !== null));
    for (const id of ids) check(id);
  };
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    const id = requireTask(engine, request.params.uri, log);
    const { task, outputBytes } = engine.status(id);
    seen.set(id, { status: task.status, bytes: outputBytes });
    subscribed.add(request.params.uri);
    if (subscribedTimer === undefined) {
      subscribedTimer = setInterval(checkSubscribed, OUTPUT_NOTICE_MS);
      Deno.unrefTimer(subscribedTimer);
    }
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });

  const announce = (uri: string) => {
    if (subscribed.has(uri)) void server.server.sendResourceUpdated({ uri }).catch(() => {});
  };
  const check = (id: string) => {
    let status: string;
    let bytes: number;
    try {
      ({ task: { status }, outputBytes: bytes } = engine.status(id));
    } catch {
      return;
    }
    const last = seen.get(id) ?? { status, bytes: 0 };
    if (status !== last.status) announce(statusUri(id));
    if (bytes !== last.bytes) announce(outputUri(id));
    seen.set(id, { status, bytes });
  };
  // The list changes when a task is created or removed, by this server or another (the CLI, a
  // sweep). The engine says when it may have (its own starts and removals at once, other
  // connections' commits as its monitor notices them), and the newest task and the count tell
  // whether it did: no query on a timer while nothing happens. At most one check a second, which
  // also debounces a burst of starts.
  let listed: string | undefined;
  let listCheckedAt = 0;
  let listTimer: ReturnType<typeof setTimeout> | undefined;
  const checkList = () => {
    listTimer = undefined;
    listCheckedAt = Date.now();
    let now: string;
    try {
      const { tasks, total } = engine.list({ limit: 1 });
      now = `${tasks[0]?.id ?? ""}/${total}`;
    } catch {
      return;
    }
    const changed = listed !== undefined && now !== listed;
    listed = now;
    // Only to a client that has initialized: no notification may precede that.
    if (changed && server.server.getClientCapabilities() !== undefined) {
      void server.server.sendResourceListChanged().catch(() => {});
    }
  };
  const checkListSoon = () => {
    if (listTimer !== undefined) return;
    listTimer = setTimeout(checkList, Math.max(0, listCheckedAt + LIST_NOTICE_MS - Date.now()));
    Deno.unrefTimer(listTimer);
  };
  checkList();
  // Status changes this server records are announced at once.
  const unsubscribe = engine.onChange((id) => check(id));
  const unsubscribeStore = engine.onStoreChange(checkListSoon);
  return () => {
    clearInterval(subscribedTimer);
    clearTimeout(listTimer);
    unsubscribe();
    unsubscribeStore();
  };
}
