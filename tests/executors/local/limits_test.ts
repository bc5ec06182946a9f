/**
 * The timeout and the log cap of a task started by `backburner run` while no server runs: the
 * task's wrapper enforces both itself, and the next command that looks records the end.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { probeCgroup } from "../../../src/executors/local/cgroup.ts";
import {
  cleanup,
  MAIN,
  posixTest,
  serverPermissions,
  taskPids,
  tempDir,
  waitFor,
} from "../../helpers.ts";

async function cli(
  home: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(home), MAIN, ...args],
    env: { ...inherited, BACKBURNER_HOME: home, NO_COLOR: "1", ...env },
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Starts a task with `backburner run` and returns its id; no server is running. */
async function run(home: string, args: string[], env: Record<string, string> = {}) {
  const started = await cli(home, ["run", ...args], env);
  assert.equal(started.code, 0, started.stderr);
  return started.stdout.trim();
}

/** Waits, with no server and no command looking, until the wrapper has recorded the end. */
async function waitForExitRecord(home: string, id: string, timeoutMs = 20_000) {
  await waitFor(() => existsSync(join(home, "tasks", id, "exit")), {
    timeoutMs,
    what: `task ${id} to record its end`,
  });
}

async function show(home: string, id: string): Promise<Record<string, unknown>> {
  const shown = await cli(home, ["show", id, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return JSON.parse(shown.stdout);
}

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

const CGROUP = await probeCgroup();

posixTest(
  "backburner run with no server running still times out, and stops the whole tree",
  async () => {
    const home = await tempDir();
    // Without a cgroup, the wrapper finds the orphan that dropped the marker by its process group.
    const orphan = `${2000 + Math.floor(Math.random() * 8000)}.${Date.now() % 100000}`;
    try {
      const id = await run(
        home,
        ["--timeout", "2", "--", `(env -i sleep ${orphan} &); sleep 600`],
        {
          BACKBURNER_GRACE_SECONDS: "1",
          BACKBURNER_CGROUPS: "off",
        },
      );
      await waitFor(() => sleepers(orphan).length === 1, { what: "the orphan to start" });
      await waitForExitRecord(home, id);
      await waitFor(() => taskPids(id).length === 0 && sleepers(orphan).length === 0, {
        what: "the task's processes to be gone",
      });
      const status = await show(home, id);
      assert.equal(status.status, "timed_out");
      assert.equal(status.exit_code, 143);
      assert.match(
        String(status.status_message),
        /^Timed out after 2 s; all of its processes are gone \(/,
      );
      assert.ok(Number(status.duration_seconds) >= 2);
    } finally {
      for (const pid of sleepers(orphan)) Deno.kill(pid, "SIGKILL");
      await cleanup(home);
    }
  },
);

posixTest(
  "the wrapper's own stopper leaves both marks, and a SIGTERM trapped to exit 0 is its doing",
  async () => {
    const home = await tempDir();
    try {
      // The handler ignores TERM from then on, so its exit comes well after the first signal.
      const id = await run(home, [
        "--timeout",
        "1",
        "--",
        `trap 'trap "" TERM; sleep 0.3; exit 0' TERM; sleep 30 & wait`,
      ], { BACKBURNER_GRACE_SECONDS: "5" });
      await waitForExitRecord(home, id);
      const dir = join(home, "tasks", id);
      const first = Deno.lstatSync(join(dir, "signalled")).mtime!.getTime();
      const sent = Deno.lstatSync(join(dir, "signalled.after")).mtime!.getTime();
      assert.ok(first <= sent, `marked at ${first}, signalled by ${sent}`);
      const status = await show(home, id);
      assert.equal(status.status, "timed_out");
      assert.equal(status.exit_code, 0);
    } finally {
      await cleanup(home);
    }
  },
);

posixTest("backburner run with no server running still stops at the log cap", async () => {
  const home = await tempDir();
  const cap = 10_000_000;
  try {
    const id = await run(home, ["--", "yes"], { BACKBURNER_MAX_LOG_BYTES: String(cap) });
    await waitForExitRecord(home, id);
    await waitFor(() => taskPids(id).length === 0, { what: "the task's processes to be gone" });
    const size = Deno.statSync(join(home, "tasks", id, "output.log")).size;
    assert.ok(size >= cap && size <= cap + 64 * 1024, `the log has ${size} bytes`);
    const status = await show(home, id);
    assert.equal(status.status, "failed");
    assert.match(
      String(status.status_message),
      /^Stopped because its output passed the BACKBURNER_MAX_LOG_BYTES limit; the log so far is kept; all of its processes are gone \(/,
    );
    assert.equal(status.output_bytes, size);
  } finally {
    await cleanup(home);
  }
});

Deno.test({
  name: "backburner run with no server running: a timeout stops a setsid env -i daemon too",
  // Only a cgroup finds a daemon with no marker, group, session or parent of the task.
  ignore: !("base" in CGROUP),
  async fn() {
    const home = await tempDir();
    const daemon = `${2000 + Math.floor(Math.random() * 8000)}.${Date.now() % 100000}`;
    try {
      const id = await run(home, [
        "--timeout",
        "2",
        "--",
        `(setsid env -i sleep ${daemon} &); sleep 600`,
      ], { BACKBURNER_GRACE_SECONDS: "1" });
      await waitFor(() => sleepers(daemon).length === 1, { what: "the daemon to start" });
      await waitForExitRecord(home, id);
      await waitFor(() => sleepers(daemon).length === 0, { what: "the daemon to be stopped" });
      const status = await show(home, id);
      assert.equal(status.status, "timed_out");
      assert.match(String(status.status_message), /all of its processes are gone \(cgroup empty\)/);
    } finally {
      for (const pid of sleepers(daemon)) Deno.kill(pid, "SIGKILL");
      await cleanup(home);
    }
  },
});
