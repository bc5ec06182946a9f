/**
 * Nothing lost, nothing mislabelled: exit codes the server saw, failed starts that leave nothing
 * behind, stops that race a command's own end, long timeouts, what a shutdown may cancel, and a
 * state directory that is removed, emptied or not the user's own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  cleanup,
  errorText,
  isAlive,
  MAIN,
  posixTest,
  runToEnd,
  type ServerHandle,
  serverPermissions,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { openEngine } from "./queue_helpers.ts";
import type { Executor, TaskTarget } from "../../src/executors/executor.ts";
import { LocalExecutor } from "../../src/executors/local/local_executor.ts";
import {
  readCommandPid,
  readExitRecord,
  readSignalMark,
  signalMarkPath,
  signalSentMarkPath,
  taskPaths,
} from "../../src/engine/task_files.ts";

async function ended(server: ServerHandle, id: unknown, timeoutMs = 15_000) {
  return await waitFor(async () => {
    const status = await server.call("task_status", { task_id: id });
    return status.status === "working" ? null : status;
  }, { timeoutMs, what: `task ${id} to end` });
}

function taskFolders(home: string): string[] {
  try {
    return [...Deno.readDirSync(join(home, "tasks"))].map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** Live processes whose command line holds `text` (Linux: /proc). */
function processesWith(text: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || !isAlive(pid)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Runs the server (or a command) to its end with nothing on stdin: for starts that must fail. */
async function runMain(
  home: string,
  args: string[] = [],
): Promise<{ code: number; stderr: string }> {
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(home), MAIN, ...args],
    env: { ...inherited, BACKBURNER_HOME: home },
    clearEnv: true,
    cwd: "/",
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

posixTest(
  "a task whose exit record cannot be written ends with the code the server saw",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      // The task removes its own folder, exit record and all.
      const removed = await runToEnd(server, {
        command: 'rm -rf "$BACKBURNER_HOME/tasks/$BACKBURNER_TASK_ID"; exit 5',
      });
      assert.equal(removed.status, "failed");
      assert.equal(removed.exit_code, 5);
      // As on a full disk: the record's temp files cannot be created.
      const blocked = await runToEnd(server, {
        command:
          'cd "$BACKBURNER_HOME/tasks/$BACKBURNER_TASK_ID" && mkdir exit.tmp exit.new; exit 7',
      });
      assert.equal(blocked.status, "failed");
      assert.equal(blocked.exit_code, 7);
      const fine = await runToEnd(server, {
        command: 'cd "$BACKBURNER_HOME/tasks/$BACKBURNER_TASK_ID" && mkdir exit.tmp exit.new; true',
      });
      assert.equal(fine.status, "completed");
      assert.equal(fine.exit_code, 0);
      assert.doesNotMatch(server.stderr(), /interrupted/);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("a start the database refuses leaves no folder, no record and no process", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  const db = new DatabaseSync(join(home, "state.db"), { timeout: 10_000 });
  try {
    db.exec(`CREATE TRIGGER full BEFORE INSERT ON tasks
             BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END`);
    const refused = await server.raw("start_task", { command: "echo never" });
    assert.match(
      errorText(refused),
      /^Cannot start task: .*database or disk is full.*: free disk space/,
    );
    assert.deepEqual(taskFolders(home), []);
    db.exec("DROP TRIGGER full");

    // The record goes in, the process starts, and then recording its pid fails.
    db.exec(`CREATE TRIGGER full BEFORE UPDATE OF pid ON tasks
             BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END`);
    const late = await server.raw("start_task", { command: "sleep 1007" });
    assert.match(errorText(late), /database or disk is full/);
    db.exec("DROP TRIGGER full");
    assert.deepEqual(taskFolders(home), []);
    const count = db.prepare("SELECT count(*) AS n FROM tasks").get() as { n: number };
    assert.equal(count.n, 0);
    await waitFor(() => processesWith("sleep 1007").length === 0, {
      what: "the process of the failed start to be stopped",
    });

    // And the server goes on starting tasks.
    const after = await runToEnd(server, { command: "echo fine" });
    assert.equal(after.status, "completed");
  } finally {
    db.close();
    await server.close();
    await cleanup(home);
    for (const pid of processesWith("sleep 1007")) Deno.kill(pid, "SIGKILL");
  }
});

posixTest("a task folder with no record, left by a failed start, is removed at start", async () => {
  const home = await tempDir();
  try {
    await (await startServer(home)).close();
    const stale = join(home, "tasks", "aaaaaaaaaaaa");
    const fresh = join(home, "tasks", "bbbbbbbbbbbb");
    for (const dir of [stale, fresh]) {
      Deno.mkdirSync(dir, { recursive: true });
      Deno.writeTextFileSync(join(dir, "output.log"), "half a start");
    }
    const past = new Date(Date.now() - 5 * 60_000);
    Deno.utimeSync(stale, past, past);
    const server = await startServer(home);
    try {
      await waitFor(() => server.stderr().includes("removed the folder of task aaaaaaaaaaaa"));
      assert.deepEqual(taskFolders(home), ["bbbbbbbbbbbb"], "a folder a minute old may be a start");
    } finally {
      await server.close();
    }
  } finally {
    await cleanup(home);
  }
});

posixTest("a stop that races the command's own end reports the end that happened", async () => {
  const home = await tempDir();
  const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
  try {
    const outcomes: string[] = [];
    for (let run = 0; run < 30; run++) {
      const started = await server.call("start_task", {
        command: run % 2 ? "echo done" : "sleep 0.0$((RANDOM % 5)); echo done",
      });
      // Cancel at moments spread over the command's short life.
      await new Promise((resolve) => setTimeout(resolve, run % 10));
      const cancelled = await server.call("cancel_task", { task_id: started.task_id });
      const end = await ended(server, started.task_id);
      assert.equal(cancelled.status, end.status);
      const output = (await server.call("task_result", { task_id: started.task_id })).output;
      outcomes.push(`${end.status}:${end.exit_code}`);
      if (end.exit_code === 0) {
        assert.equal(end.status, "completed", `run ${run}: exit 0 reported ${end.status}`);
        assert.equal(output, "done\n");
      } else {
        assert.equal(end.status, "cancelled", `run ${run}: ${JSON.stringify(end)}`);
        assert.notEqual(end.exit_code, 0);
      }
    }
    for (let run = 0; run < 10; run++) {
      const end = await runToEnd(server, { command: "true", timeout_seconds: 1e-9 });
      outcomes.push(`${end.status}:${end.exit_code}`);
      if (end.exit_code === 0) assert.equal(end.status, "completed");
      else assert.equal(end.status, "timed_out");
    }
    console.log(`outcomes: ${JSON.stringify(countOf(outcomes))}`);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

/**
 * A local executor whose stops pause between their first-signal mark and their first signal
 * until `pause` resolves, as a stopper descheduled there on a loaded machine would.
 */
function pausingExecutor(pause: (target: TaskTarget) => Promise<void>): Executor {
  const local = new LocalExecutor();
  return {
    announcesExits: local.announcesExits,
    prepare: () => local.prepare(),
    sweep: () => local.sweep(),
    ownStartTime: () => local.ownStartTime(),
    spawn: (request) => local.spawn(request),
    snapshot: (targets) => local.snapshot(targets),
    stop: (target, options) =>
      local.stop(target, { ...options, beforeFirstSignal: () => pause(target) }),
  };
}

posixTest(
  "a stopper descheduled between its mark and its signal reports the command's own end",
  async () => {
    const home = await tempDir();
    // The stopper marks, then waits until the command has ended by itself and its record is
    // written, and longer than any slack, before it signals: the end came before any signal.
    const { engine, close } = await openEngine(home, {
      executor: pausingExecutor(async (target) => {
        const exit = taskPaths(home, target.taskId).exit;
        await waitFor(() => readExitRecord(exit), { timeoutMs: 10_000, what: "the command's end" });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }),
    });
    try {
      const task = engine.start({ command: "sleep 0.5; echo done" });
      await waitFor(() => readCommandPid(taskPaths(home, task.id).dir), { what: "the command" });
      const { task: end } = await engine.cancel(task.id);
      const record = readExitRecord(taskPaths(home, task.id).exit)!;
      const marked = readSignalMark(signalMarkPath(taskPaths(home, task.id).dir))!;
      assert.ok(record.at > marked + 50, `ended ${record.at - marked} ms after the first mark`);
      assert.equal(end.status, "completed", JSON.stringify(end));
      assert.equal(end.exitCode, 0);
    } finally {
      await close();
      await cleanup(home);
    }
  },
);

posixTest("a command that trapped the stop's SIGTERM and exited 0 later is cancelled", async () => {
  const home = await tempDir();
  const { engine, close } = await openEngine(home);
  try {
    // The handler ignores TERM from then on, so its sleep outlives the stop's later rounds and
    // the exit comes well past the slack of the first mark.
    const trapping = `trap 'trap "" TERM; sleep 0.3; exit 0' TERM; sleep 30 & wait`;
    const task = engine.start({ command: trapping });
    await waitFor(() => readCommandPid(taskPaths(home, task.id).dir), { what: "the command" });
    const { task: end } = await engine.cancel(task.id);
    assert.equal(end.status, "cancelled", JSON.stringify(end));
    assert.equal(end.exitCode, 0);
    const dir = taskPaths(home, task.id).dir;
    assert.ok(readSignalMark(signalSentMarkPath(dir))! >= readSignalMark(signalMarkPath(dir))!);
  } finally {
    await close();
    await cleanup(home);
  }
});

function countOf(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

posixTest("a timeout past 2^31 ms does not fire at once", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const started = await server.call("start_task", {
      command: "sleep 600",
      timeout_seconds: 2_200_000,
    });
    await waitFor(() => Date.now() > Date.parse(String(started.created_at)) + 1500);
    const status = await server.call("task_status", { task_id: started.task_id });
    assert.equal(status.status, "working");
    assert.equal(status.timeout_seconds, 2_200_000);
    await server.call("cancel_task", { task_id: started.task_id });
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("BACKBURNER_ON_EXIT=cancel cancels only the tasks that server started", async () => {
  const home = await tempDir();
  let first: ServerHandle | undefined;
  let second: ServerHandle | undefined;
  try {
    first = await startServer(home);
    const adopted = String((await first.call("start_task", { command: "sleep 600" })).task_id);
    const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...serverPermissions(home), MAIN, "run", "--", "sleep 600"],
      env: { ...inherited, BACKBURNER_HOME: home },
      clearEnv: true,
      cwd: home,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const personal = new TextDecoder().decode(run.stdout).trim();
    Deno.kill(first.pid, "SIGKILL");
    await waitFor(() => !isAlive(first!.pid), { what: "the first server to die" });
    await first.client.close().catch(() => {});

    second = await startServer(home, {
      env: { BACKBURNER_ON_EXIT: "cancel", BACKBURNER_GRACE_SECONDS: "1" },
    });
    const own = String((await second.call("start_task", { command: "sleep 600" })).task_id);
    await waitFor(() =>
      second!.stderr().includes(`adopted task ${adopted}`) &&
      second!.stderr().includes(`adopted task ${personal}`)
    );
    await second.close();
    second = undefined;
    assert.deepEqual(taskPids(own), [], "the server's own task was cancelled");
    assert.ok(taskPids(adopted).length > 0, "the adopted task was cancelled");
    assert.ok(taskPids(personal).length > 0, "the task started with backburner run was cancelled");

    second = await startServer(home);
    assert.equal((await second.call("task_status", { task_id: own })).status, "cancelled");
    assert.equal((await second.call("task_status", { task_id: adopted })).status, "working");
    assert.equal((await second.call("task_status", { task_id: personal })).status, "working");
  } finally {
    await second?.close();
    if (first && isAlive(first.pid)) await first.close();
    await cleanup(home);
  }
});

posixTest(
  "a task that deletes the state directory stops new starts with a clear error",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    let id = "";
    try {
      id = String(
        (await server.call("start_task", {
          command: 'rm -rf "$BACKBURNER_HOME"; echo gone; sleep 600',
        })).task_id,
      );
      await waitFor(() => server.stderr().includes("was removed while this server ran"), {
        what: "the server to notice on its own",
      });
      assert.match(
        server.stderr(),
        new RegExp(`ERROR: .*tasks this server runs \\(${id}\\) keep running`),
      );
      const refused = await server.raw("start_task", { command: "echo lost" });
      assert.match(
        errorText(refused),
        /^Cannot start task: the state database .* was removed .*: restart backburner$/,
      );
      // What it knows stays readable meanwhile.
      assert.equal((await server.call("task_status", { task_id: id })).status, "working");
    } finally {
      for (const pid of taskPids(id)) Deno.kill(pid, "SIGKILL");
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("an emptied database beside task folders is refused, not started afresh", async () => {
  const home = await tempDir();
  try {
    const server = await startServer(home);
    await runToEnd(server, { command: "echo kept" });
    await server.close();
    Deno.writeFileSync(join(home, "state.db"), new Uint8Array());
    for (const suffix of ["-wal", "-shm"]) {
      try {
        Deno.removeSync(join(home, `state.db${suffix}`));
      } catch {
        // a clean close leaves none
      }
    }
    for (const args of [[], ["ls"]]) {
      const { code, stderr } = await runMain(home, args);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /state\.db" is empty but ".*tasks" holds 1 task folders: .*Restore state\.db/,
      );
    }
    assert.equal(taskFolders(home).length, 1, "the task's folder is kept");
    Deno.removeSync(join(home, "state.db"));
    assert.match((await runMain(home)).stderr, /state\.db" is missing but/);
  } finally {
    await cleanup(home);
  }
});

posixTest("a state directory another user owns or may write is refused", async () => {
  const home = await tempDir();
  try {
    Deno.chmodSync(home, 0o777);
    let result = await runMain(home);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is writable by other users \(mode 0777\).*chmod 700/);
    assert.deepEqual([...Deno.readDirSync(home)], [], "nothing was written there");

    Deno.chmodSync(home, 0o700);
    Deno.chownSync(home, 65534, 65534);
    result = await runMain(home);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not yours: .* belongs to user id 65534 .*BACKBURNER_HOME/);
    result = await runMain(home, ["ls"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not yours/);
  } finally {
    await cleanup(home);
  }
});

posixTest("tasks run where the server was started, whatever INIT_CWD it inherited", async () => {
  const home = await tempDir();
  const place = await tempDir("backburner-place-");
  const elsewhere = await tempDir("backburner-elsewhere-");
  try {
    let server = await startServer(home, { cwd: place, env: { INIT_CWD: elsewhere } });
    try {
      await runToEnd(server, { command: "pwd > where" });
      assert.equal(Deno.readTextFileSync(join(place, "where")).trim(), place);
    } finally {
      await server.close();
    }
    // What `deno task start` does: it runs in the project folder and names the person's.
    server = await startServer(home, {
      cwd: place,
      env: { INIT_CWD: "/" },
      args: ["serve", "--cwd", elsewhere],
    });
    try {
      await runToEnd(server, { command: "pwd > where" });
      assert.equal(Deno.readTextFileSync(join(elsewhere, "where")).trim(), elsewhere);
    } finally {
      await server.close();
    }
  } finally {
    await cleanup(home);
    await Deno.remove(place, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});
