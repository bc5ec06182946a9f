import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { probeCgroup } from "../../src/executors/local/cgroup.ts";
import {
  cleanup,
  errorText,
  isAlive,
  posixTest,
  processGroup,
  runToEnd,
  SETSID,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../helpers.ts";

/**
 * A tree: the task's shell, a grandchild that ignores SIGTERM, and one that ignores SIGTERM and
 * left the task's session via setsid (orphaned once the shell dies, so only its marker finds it).
 */
function stubbornTree(dir: string): string {
  return [
    `sh -c 'trap "" TERM; echo stubborn-ready > ${dir}/stubborn; while :; do sleep 0.1; done' &`,
    `${SETSID} sh -c 'trap "" TERM; echo escaped-ready > ${dir}/escaped; while :; do sleep 0.1; done' &`,
    "sleep 600",
  ].join("\n");
}

posixTest(
  "cancel_task kills a grandchild that ignores SIGTERM and one that called setsid",
  async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
    try {
      const started = await server.call("start_task", { command: stubbornTree(home) });
      const id = started.task_id as string;
      await waitFor(() =>
        Deno.statSync(join(home, "escaped")) && Deno.statSync(join(home, "stubborn"))
      );
      const before = await waitFor(() => {
        const pids = taskPids(id);
        return pids.length >= 5 ? pids : null;
      }, { what: "the whole tree to start" });
      // The setsid'd process is in another process group (and session) than the task's leader.
      const groups = new Set(before.map(processGroup));
      assert.ok(groups.size >= 2, `expected a process outside the task's group: ${[...groups]}`);

      const cancelled = await server.call("cancel_task", { task_id: id });
      assert.equal(cancelled.status, "cancelled");
      assert.equal(cancelled.already_ended, false);
      assert.equal(cancelled.signal, "SIGKILL");
      assert.match(
        String(cancelled.status_message),
        /SIGKILL was needed after the 1 s grace period/,
      );
      // The status said cancelled only once nothing was left.
      assert.deepEqual(before.filter(isAlive), []);
      assert.deepEqual(taskPids(id), []);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("cancel_task of a task that exits on SIGTERM needs no SIGKILL", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const started = await server.call("start_task", { command: "echo running; sleep 600" });
    const id = started.task_id as string;
    await waitFor(async () =>
      (await server.call("task_result", { task_id: id })).output === "running\n"
    );
    const t0 = Date.now();
    const cancelled = await server.call("cancel_task", { task_id: id });
    assert.ok(Date.now() - t0 < 4000, "a cooperative task should not wait for the grace period");
    assert.equal(cancelled.status, "cancelled");
    assert.equal(cancelled.exit_code, 143);
    assert.equal(cancelled.signal, "SIGTERM");
    assert.deepEqual(taskPids(id), []);
    const status = await server.call("task_status", { task_id: id });
    assert.equal(status.status, "cancelled");
    assert.ok(status.ended_at);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("cancel_task of an ended task changes nothing and says so", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const done = await runToEnd(server, { command: "exit 4" });
    const again = await server.call("cancel_task", { task_id: done.task_id });
    assert.equal(again.status, "failed");
    assert.equal(again.exit_code, 4);
    assert.equal(again.already_ended, true);
    assert.equal(again.leftover_processes_stopped, 0);
    const unknown = await server.raw("cancel_task", { task_id: "zzzzzzzzzzzz" });
    assert.equal(
      errorText(unknown),
      'Unknown task_id "zzzzzzzzzzzz": call list_tasks to see the task ids',
    );
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("a timeout kills the whole tree and ends the task as timed_out", async () => {
  const home = await tempDir();
  const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
  try {
    const ended = await runToEnd(server, {
      command: stubbornTree(home),
      timeout_seconds: 1,
    }, 20_000);
    assert.equal(ended.status, "timed_out");
    assert.match(String(ended.status_message), /Timed out after 1 s/);
    assert.deepEqual(taskPids(ended.task_id as string), []);
    assert.ok(Number(ended.duration_seconds) >= 1);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("two cancels at once both answer with the final status", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const started = await server.call("start_task", { command: "sleep 600" });
    await waitFor(() => taskPids(started.task_id as string).length > 0);
    const [a, b] = await Promise.all([
      server.call("cancel_task", { task_id: started.task_id }),
      server.call("cancel_task", { task_id: started.task_id }),
    ]);
    assert.equal(a.status, "cancelled");
    assert.equal(b.status, "cancelled");
    assert.deepEqual(taskPids(started.task_id as string), []);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "cancel_task of an ended task stops the background processes it left running",
  async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
    try {
      const done = await runToEnd(server, { command: "(sleep 600; echo late) & echo early" });
      assert.equal(done.status, "completed");
      const id = String(done.task_id);
      assert.ok(taskPids(id).length > 0, "the background process should still run");
      const cancelled = await server.call("cancel_task", { task_id: id });
      assert.equal(cancelled.status, "completed");
      assert.equal(cancelled.already_ended, true);
      assert.ok(Number(cancelled.leftover_processes_stopped) >= 1);
      assert.deepEqual(taskPids(id), []);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

/** A number no other test's `sleep` uses, so that `ps` finds exactly this test's processes. */
function uniqueSeconds(): string {
  return `${1000 + Math.floor(Math.random() * 8000)}.${Math.floor(Math.random() * 1e6)}`;
}

/** Live processes (zombies count as gone) running exactly `sleep <seconds>`. */
function sleepers(seconds: string): number[] {
  const output = new Deno.Command("ps", {
    args: ["-A", "-o", "pid=,stat=,args="],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(output.stdout).split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, stat, ...args]) =>
      stat && !stat.startsWith("Z") && args.join(" ") === `sleep ${seconds}`
    )
    .map(([pid]) => Number(pid));
}

/** Kills what a failed test left behind. */
function killSleepers(...seconds: string[]): void {
  for (const pid of seconds.flatMap(sleepers)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

const CGROUP = await probeCgroup();
const NO_CGROUP = !("base" in CGROUP);
if ("reason" in CGROUP) {
  console.error(`cancel_test: the cgroup tests are skipped: ${CGROUP.reason}`);
}

/**
 * Orphans that dropped the marker: one left in the task's process group (`env -i`), one that
 * unset the marker, and one in a process group of its own (job control) but still in the task's
 * session. Their parents exit at once, so only the group and the session find them.
 */
function markerlessOrphans(group: string, unset: string, session: string): string {
  return [
    `(env -i sleep ${group} &)`,
    `(unset ${"BACKBURNER_TASK_ID"}; sleep ${unset} &)`,
    `(set -m; env -i sleep ${session} & :)`,
    "sleep 1000",
  ].join("; ");
}

for (const stop of ["cancel", "timeout"] as const) {
  posixTest(
    `a ${stop} stops orphans that dropped the marker, in the group and the session`,
    async () => {
      const home = await tempDir();
      const seconds = [uniqueSeconds(), uniqueSeconds(), uniqueSeconds()] as const;
      // Without a cgroup, so that the group and the session are what finds them.
      const server = await startServer(home, {
        env: { BACKBURNER_GRACE_SECONDS: "1", BACKBURNER_CGROUPS: "off" },
      });
      try {
        const started = await server.call("start_task", {
          command: markerlessOrphans(...seconds),
          ...(stop === "timeout" ? { timeout_seconds: 3 } : {}),
        });
        const orphans = await waitFor(() => {
          const pids = seconds.flatMap(sleepers);
          return pids.length === 3 ? pids : null;
        }, { what: "the three orphans to start" });
        for (const pid of orphans) assert.ok(isAlive(pid));
        // The job-control one left the task's group.
        assert.ok(new Set(orphans.map(processGroup)).size >= 2);
        // The fallback is said once, on stderr.
        if (Deno.build.os === "linux") {
          assert.match(
            server.stderr(),
            /tasks run without a cgroup of their own \(BACKBURNER_CGROUPS is off\)/,
          );
        }
        const ended = stop === "cancel"
          ? await server.call("cancel_task", { task_id: started.task_id })
          : await waitFor(async () => {
            const status = await server.call("task_status", { task_id: started.task_id });
            return status.status !== "working" ? status : null;
          }, { what: "the timeout" });
        assert.equal(ended.status, stop === "cancel" ? "cancelled" : "timed_out");
        assert.deepEqual(orphans.filter(isAlive), []);
        assert.deepEqual(seconds.flatMap(sleepers), []);
        const method = Deno.build.os === "linux"
          ? "no process with its marker, group, session or parent left"
          : "no process with its marker, group or parent left";
        assert.match(
          String(ended.status_message),
          new RegExp(
            `^(Cancelled on request|Timed out after 3 s); all of its processes are gone \\(${method}\\)`,
          ),
        );
      } finally {
        killSleepers(...seconds);
        await server.close();
        await cleanup(home);
      }
    },
  );

  Deno.test({
    name: `a ${stop} stops a setsid env -i daemon through the task's cgroup`,
    // Skipped where tasks get no cgroup: macOS, Windows, Linux without a writable cgroup v2.
    ignore: NO_CGROUP,
    async fn() {
      const home = await tempDir();
      const daemon = uniqueSeconds();
      const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
      try {
        // The daemon's parent exits at once: no marker, no group, no session, no parent.
        const started = await server.call("start_task", {
          command: `(setsid env -i sleep ${daemon} &); sleep 1000`,
          ...(stop === "timeout" ? { timeout_seconds: 3 } : {}),
        });
        const [pid] = await waitFor(() => {
          const pids = sleepers(daemon);
          return pids.length === 1 ? pids : null;
        }, { what: "the daemon to start" });
        assert.notEqual(processGroup(pid), started.pid);
        const cgroupFile = join(home, "tasks", String(started.task_id), "cgroup");
        const cgroup = Deno.readTextFileSync(cgroupFile).trim();
        assert.ok(
          Deno.readTextFileSync(join(cgroup, "cgroup.procs")).split("\n").includes(String(pid)),
        );
        const ended = stop === "cancel"
          ? await server.call("cancel_task", { task_id: started.task_id })
          : await waitFor(async () => {
            const status = await server.call("task_status", { task_id: started.task_id });
            return status.status !== "working" ? status : null;
          }, { what: "the timeout" });
        assert.equal(ended.status, stop === "cancel" ? "cancelled" : "timed_out");
        assert.equal(isAlive(pid), false);
        assert.deepEqual(sleepers(daemon), []);
        assert.match(
          String(ended.status_message),
          /all of its processes are gone \(cgroup empty\)/,
        );
        // The wrapper removed the cgroup once it was empty.
        await waitFor(() => !existsSync(cgroup), { what: "the task's cgroup to be removed" });
      } finally {
        killSleepers(daemon);
        await server.close();
        await cleanup(home);
      }
    },
  });
}

Deno.test({
  name: "a server removes the empty task cgroups that wrappers left behind",
  ignore: NO_CGROUP,
  async fn() {
    const base = "base" in CGROUP ? CGROUP.base : "";
    // As a wrapper killed before it could remove its cgroup leaves it.
    const stale = join(base, "zzzzzzzzzzzz");
    Deno.mkdirSync(stale, { recursive: true });
    const home = await tempDir();
    const server = await startServer(home);
    try {
      await waitFor(() => !existsSync(stale), { what: "the stale cgroup to be removed" });
    } finally {
      await server.close();
      await cleanup(home);
      try {
        Deno.removeSync(stale);
      } catch {
        // removed, as it should be
      }
    }
  },
});
