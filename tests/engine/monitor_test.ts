/**
 * The event-driven monitor: a server looks at the tasks it does not watch itself only when
 * something may have changed — an exit event, a write by another connection, a server that let go
 * of its lock — and on a slow safety sweep; never on every interval.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { eventsDir, exitEventPath, pendingExitEvents } from "../../src/engine/exit_events.ts";
import { Monitor } from "../../src/engine/monitor.ts";
import { holdServerLock, serverLiveness, serversDir } from "../../src/engine/server_lock.ts";
import { cleanup, posixTest, tempDir, waitFor } from "../helpers.ts";
import { EngineProcess, openEngine } from "./queue_helpers.ts";

interface Probe {
  monitor: Monitor;
  looks: () => number;
  /** Reads of data_version: one per check. */
  checks: () => number;
  /** Other connections' commits the monitor reported. */
  storeChanges: () => number;
  setVersion(version: number): void;
  setBusy(busy: boolean): void;
  servers: string[];
  own: Set<string>;
}

function probe(home: string, idleIntervalMs = 10): Probe {
  let looks = 0;
  let checks = 0;
  let storeChanges = 0;
  let version = 1;
  let busy = false;
  const servers: string[] = [];
  const own = new Set<string>();
  const monitor = new Monitor({
    home,
    intervalMs: 10,
    idleIntervalMs,
    sweepMs: 600_000,
    exitEvents: true,
    dataVersion: () => {
      checks++;
      return version;
    },
    storeChanged: () => storeChanges++,
    otherServers: () => servers,
    busy: () => busy,
    watchedHere: (id) => own.has(id),
    look: () => {
      looks++;
      return Promise.resolve();
    },
    log: () => {},
  });
  return {
    monitor,
    looks: () => looks,
    checks: () => checks,
    storeChanges: () => storeChanges,
    setVersion: (value) => version = value,
    setBusy: (value) => busy = value,
    servers,
    own,
  };
}

posixTest("the monitor looks only when something changed, not on every interval", async () => {
  const home = await tempDir("backburner-monitor-");
  const p = probe(home);
  try {
    p.monitor.start();
    // Many intervals with nothing new: no look.
    await waitFor(() => p.checks() >= 20, { what: "20 checks" });
    assert.equal(p.looks(), 0);

    // Another connection wrote to the store.
    p.setVersion(2);
    await waitFor(() => p.looks() === 1, { what: "a look after the store changed" });
    assert.equal(p.storeChanges(), 1);

    // A wrapper announced an exit.
    await Deno.writeTextFile(exitEventPath(home, "abcdefghjkmn"), "");
    await waitFor(() => p.looks() === 2, { what: "a look after an exit event" });

    // The exit of a task this server watches through its child needs no look.
    p.own.add("pqrstvwxyz23");
    await Deno.writeTextFile(exitEventPath(home, "pqrstvwxyz23"), "");
    const seen = p.checks();
    await waitFor(() => p.checks() >= seen + 10, { what: "10 more checks" });
    assert.equal(p.looks(), 2);

    // Another server died: its lock file stays, but nobody holds the lock any more.
    p.servers.push("dead-server");
    await Deno.mkdir(serversDir(home), { recursive: true });
    const held = await Deno.open(join(serversDir(home), "dead-server.lock"), {
      read: true,
      write: true,
      create: true,
    });
    await held.lock(true);
    const before = p.checks();
    await waitFor(() => p.checks() >= before + 10, { what: "checks while it lives" });
    assert.equal(p.looks(), 2);
    held.close();
    await waitFor(() => p.looks() >= 3, { what: "a look after the server died" });
    p.servers.length = 0;

    // Something nothing announces (Slurm jobs): a look every interval while it lasts.
    const looked = p.looks();
    p.setBusy(true);
    await waitFor(() => p.looks() >= looked + 5, { what: "looks while busy" });
    p.setBusy(false);
  } finally {
    p.monitor.close();
    await cleanup(home);
  }
});

posixTest(
  "while nothing happens the checks back off, and come back to every interval",
  async () => {
    const home = await tempDir("backburner-monitor-");
    const p = probe(home, 400);
    /** Checks in `ms`. */
    const checksIn = async (ms: number) => {
      const before = p.checks();
      await new Promise((resolve) => setTimeout(resolve, ms));
      return p.checks() - before;
    };
    try {
      p.monitor.start();
      // 10, 20, 40, … ms: past 400 ms of waits, at most one check in 400 ms (at most 2 with timers
      // late).
      await waitFor(() => p.checks() >= 7, { what: "the back-off to reach its cap" });
      assert.ok(await checksIn(800) <= 3, "checks at most every 400 ms");

      // A write elsewhere: a look, then checks every interval again.
      p.setVersion(2);
      await waitFor(() => p.looks() === 1, { what: "a look after the store changed" });
      assert.ok(await checksIn(150) >= 3, "checks every 10 ms right after a change");

      // Another server's lock needs a try every interval, however quiet.
      p.servers.push("live-server");
      await Deno.mkdir(serversDir(home), { recursive: true });
      const held = await Deno.open(join(serversDir(home), "live-server.lock"), {
        read: true,
        write: true,
        create: true,
      });
      try {
        await held.lock(true);
        p.setVersion(3);
        await waitFor(() => p.looks() === 2, { what: "a look after the store changed" });
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.ok(await checksIn(400) >= 10, "checks every 10 ms while another server runs");
      } finally {
        held.close();
      }
    } finally {
      p.monitor.close();
      await cleanup(home);
    }
  },
);

posixTest("the safety sweep looks even when no event came", async () => {
  const home = await tempDir("backburner-monitor-");
  let looks = 0;
  const monitor = new Monitor({
    home,
    intervalMs: 10,
    idleIntervalMs: 10,
    sweepMs: 100,
    exitEvents: true,
    dataVersion: () => 1,
    otherServers: () => [],
    busy: () => false,
    watchedHere: () => false,
    look: () => {
      looks++;
      return Promise.resolve();
    },
    log: () => {},
  });
  try {
    monitor.start();
    await waitFor(() => looks >= 2, { what: "two sweeps" });
  } finally {
    monitor.close();
    await cleanup(home);
  }
});

posixTest("a server's lock tells it alive while it runs and dead once killed -9", async () => {
  const home = await tempDir("backburner-monitor-");
  const server = await EngineProcess.start(home);
  try {
    const id = await server.call<string>("serverId");
    assert.equal(serverLiveness(home, id), "alive");
    assert.equal(serverLiveness(home, "never-registered"), "unknown");
    await server.kill();
    assert.equal(serverLiveness(home, id), "dead");
  } finally {
    await server.kill();
    await cleanup(home);
  }
});

posixTest(
  "a server shutting down removes its lock file; a lock in this process is held",
  async () => {
    const home = await tempDir("backburner-monitor-");
    try {
      const lock = holdServerLock(home, "me");
      assert.equal(serverLiveness(home, "me"), "alive");
      lock.release();
      assert.equal(serverLiveness(home, "me"), "unknown");
      const server = await EngineProcess.start(home);
      const id = await server.call<string>("serverId");
      await server.close();
      assert.equal(serverLiveness(home, id), "unknown");
    } finally {
      await cleanup(home);
    }
  },
);

posixTest(
  "with no sweep for minutes, a killed server's task is adopted by its lock and its end seen by its exit event",
  async () => {
    const home = await tempDir("backburner-monitor-");
    const logs: string[] = [];
    const first = await EngineProcess.start(home);
    let second: Awaited<ReturnType<typeof openEngine>> | undefined;
    try {
      second = await openEngine(home, { sweepIntervalMs: 600_000, log: (m) => logs.push(m) });
      const gate = join(home, "go");
      const task = await first.call("start", {
        command: `while [ ! -e "${gate}" ]; do sleep 0.02; done; echo done`,
      });
      await waitFor(async () => (await first.call("status", { id: task.id })).pid !== null, {
        what: "the task to run",
      });
      await first.kill();
      // Only the dead server's lock can tell the second one: the sweep is 10 minutes away, and
      // a kill writes nothing to the store.
      await waitFor(() => logs.some((m) => m.includes(`adopted task ${task.id}`)), {
        what: "the second server to adopt the task",
        timeoutMs: 5_000,
      });
      await Deno.writeTextFile(gate, "");
      // Not its child: only the exit event tells it.
      const ended = await waitFor(() => {
        const now = second!.store.getTask(task.id);
        return now?.status === "completed" ? now : null;
      }, { what: "the adopted task's end", timeoutMs: 5_000 });
      assert.equal(ended.exitCode, 0);
      await waitFor(() => pendingExitEvents(home).length === 0, {
        what: "the exit event to be removed once recorded",
      });
    } finally {
      await first.kill();
      await second?.close();
      await cleanup(home);
    }
  },
);

posixTest("an exit event is removed once the end is recorded, and none piles up", async () => {
  const home = await tempDir("backburner-monitor-");
  const local = await openEngine(home);
  try {
    const tasks: { id: string }[] = [];
    for (let i = 0; i < 5; i++) tasks.push(local.engine.start({ command: `exit ${i}` }));
    await waitFor(
      () => tasks.every((task) => local.store.getTask(task.id)?.status !== "working"),
      { what: "the tasks to end" },
    );
    await waitFor(() => pendingExitEvents(home).length === 0, {
      what: "their exit events to be removed",
    });
    assert.equal((await Deno.stat(eventsDir(home))).isDirectory, true);
  } finally {
    await local.close();
    await cleanup(home);
  }
});
