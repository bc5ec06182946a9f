/**
 * Slurm tasks through the server's tools, against the real one-node cluster: the job runs
 * backburner's wrapper, so output and exit codes come back as for local tasks.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  cleanup,
  errorText,
  isAlive,
  type ServerHandle,
  SETSID,
  startServer,
  tempDir,
  waitFor,
} from "../../helpers.ts";
import { startController, stopController } from "../../../scripts/slurm_cluster.ts";
import { cancelAll, slurmTest } from "./cluster.ts";

const ENDED = new Set(["completed", "failed", "cancelled", "timed_out", "interrupted"]);

async function withServer(
  fn: (server: ServerHandle) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const home = await tempDir("backburner-slurm-engine-");
  const server = await startServer(home, { env });
  try {
    await fn(server);
  } finally {
    await server.close();
    await cleanup(home);
  }
}

async function waitEnd(
  server: ServerHandle,
  id: unknown,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  return await waitFor(async () => {
    const status = await server.call("task_status", { task_id: id });
    return ENDED.has(status.status as string) ? status : null;
  }, { timeoutMs, intervalMs: 100, what: `task ${id} to end` });
}

slurmTest(
  "a slurm task completes with its output and exit code; a non-zero exit is failed",
  async () => {
    await withServer(async (server) => {
      const ok = await server.call("start_task", {
        command: 'echo "hello from job $SLURM_JOB_ID"; echo to-stderr >&2',
        executor: "slurm",
        slurm: { cpus: 1 },
      });
      const bad = await server.call("start_task", {
        command: "echo oops; exit 3",
        executor: "slurm",
      });
      const done = await waitEnd(server, ok.task_id);
      assert.equal(done.status, "completed", JSON.stringify(done));
      assert.equal(done.exit_code, 0);
      const output = await server.call("task_result", { task_id: ok.task_id });
      assert.match(JSON.stringify(output), /hello from job \d+/);
      assert.match(JSON.stringify(output), /to-stderr/);
      const failed = await waitEnd(server, bad.task_id);
      assert.equal(failed.status, "failed", JSON.stringify(failed));
      assert.equal(failed.exit_code, 3);
    });
  },
);

/** Pids of live processes whose environment holds `marker` (zombies count as gone). */
function pidsWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (!Deno.readTextFileSync(`/proc/${entry.name}/environ`).includes(marker)) continue;
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
      if (state !== "Z" && state !== "X") pids.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function nodeCpus(): Promise<number> {
  const output = await new Deno.Command("sinfo", { args: ["-h", "-o", "%c"], stdout: "piped" })
    .output();
  return Number(new TextDecoder().decode(output.stdout).trim().split("\n")[0]);
}

async function statusOf(server: ServerHandle, id: unknown): Promise<Record<string, unknown>> {
  return await server.call("task_status", { task_id: id });
}

slurmTest(
  "a refused submission is one sentence at start_task, and nothing is recorded",
  async () => {
    await withServer(async (server) => {
      const refused = await server.raw("start_task", {
        command: "true",
        executor: "slurm",
        slurm: { partition: "nosuchpartition" },
      });
      assert.match(
        errorText(refused),
        /^Cannot start task: sbatch failed \(".*"\): fix the slurm settings/,
      );
      const bad = await server.raw("start_task", {
        command: "true",
        executor: "slurm",
        slurm: { time_limit: "soon" },
      });
      assert.match(errorText(bad), /^Invalid slurm.time_limit "soon": pass a duration/);
      const list = await server.call("list_tasks", {});
      assert.equal((list.tasks as unknown[]).length, 0);
    });
  },
);

slurmTest("a slurm task waits in Slurm's queue (queued, Slurm's reason), then works", async () => {
  await withServer(async (server) => {
    const blocker = await server.call("start_task", {
      command: "echo blocking; sleep 60",
      executor: "slurm",
      slurm: { cpus: await nodeCpus() },
    });
    assert.match(String(blocker.slurm_job_id), /^\d+$/);
    await waitFor(async () => (await statusOf(server, blocker.task_id)).status === "working", {
      what: "the blocker to work",
      intervalMs: 100,
    });
    const follower = await server.call("start_task", {
      command: "sleep 2; echo followed",
      executor: "slurm",
    });
    const waiting = await waitFor(async () => {
      const status = await statusOf(server, follower.task_id);
      return /Resources|Priority/.test(String(status.status_message)) ? status : null;
    }, { what: "the follower to wait for Slurm's resources", intervalMs: 100 });
    assert.equal(waiting.status, "queued");
    assert.match(String(waiting.status_message), /^Slurm job \d+: /);
    const cancelled = await server.call("cancel_task", { task_id: blocker.task_id });
    assert.equal(cancelled.status, "cancelled", JSON.stringify(cancelled));
    const working = await waitFor(async () => {
      const status = await statusOf(server, follower.task_id);
      return status.status !== "queued" ? status : null;
    }, { what: "the follower to leave Slurm's queue", intervalMs: 100 });
    assert.equal(working.status, "working", JSON.stringify(working));
    assert.ok(working.started_at !== null);
    const done = await waitEnd(server, follower.task_id);
    assert.equal(done.status, "completed");
    assert.match(
      JSON.stringify(await server.call("task_result", { task_id: follower.task_id })),
      /followed/,
    );
  });
});

slurmTest(
  "cancel of a slurm task returns once Slurm says its job is gone, with nothing left of its tree",
  async () => {
    await withServer(async (server) => {
      const marker = `bb-slurm-engine-${crypto.randomUUID()}`;
      const started = await server.call("start_task", {
        command:
          `sh -c 'trap "" TERM; sleep 300' & ${SETSID} sh -c 'trap "" TERM; sleep 300' & echo started; wait`,
        executor: "slurm",
        env: { BB_TEST_MARK: marker },
      });
      await waitFor(async () => {
        const status = await statusOf(server, started.task_id);
        return status.status === "working" && pidsWith(marker).length >= 3;
      }, { what: "the tree to run", intervalMs: 100 });
      const cancelled = await server.call("cancel_task", { task_id: started.task_id });
      assert.equal(cancelled.status, "cancelled", JSON.stringify(cancelled));
      assert.match(String(cancelled.status_message), /Slurm says job \d+ is gone/);
      assert.deepEqual(pidsWith(marker), []);
    });
  },
);

slurmTest(
  "a slurm task outlives a server killed with -9, and the next server adopts it",
  async () => {
    const home = await tempDir("backburner-slurm-engine-");
    let first: ServerHandle | undefined;
    let second: ServerHandle | undefined;
    let jobId: string | undefined;
    try {
      first = await startServer(home);
      const started = await first.call("start_task", {
        command: "echo before; sleep 3; echo after; exit 4",
        executor: "slurm",
      });
      jobId = String(started.slurm_job_id);
      await waitFor(async () => (await statusOf(first!, started.task_id)).status === "working", {
        what: "the job to run",
        intervalMs: 100,
      });
      Deno.kill(first.pid, "SIGKILL");
      await waitFor(() => !isAlive(first!.pid), { what: "the server to die" });
      await first.client.close().catch(() => {});
      first = undefined;
      second = await startServer(home);
      const done = await waitEnd(second, started.task_id);
      assert.equal(done.status, "failed");
      assert.equal(done.exit_code, 4);
      assert.match(
        JSON.stringify(await second.call("task_result", { task_id: started.task_id })),
        /before[\s\S]*after/,
      );
      assert.match(second.stderr(), /adopted Slurm task/);
    } finally {
      if (jobId) await cancelAll([jobId]);
      await first?.close().catch(() => {});
      await second?.close();
      await cleanup(home);
    }
  },
);

slurmTest(
  "a slurm task's timeout_seconds is enforced by backburner's wrapper on the node: timed_out",
  async () => {
    await withServer(async (server) => {
      const marker = `bb-slurm-engine-${crypto.randomUUID()}`;
      const started = await server.call("start_task", {
        command: "echo begun; sleep 120",
        executor: "slurm",
        timeout_seconds: 2,
        env: { BB_TEST_MARK: marker },
      });
      const done = await waitEnd(server, started.task_id);
      assert.equal(done.status, "timed_out", JSON.stringify(done));
      assert.match(String(done.status_message), /timeout of 2 s/);
      await waitFor(() => pidsWith(marker).length === 0, { what: "the tree to be gone" });
    });
  },
);

slurmTest(
  "backburner's queue limit applies before submission: the second task gets its job only once the first ended",
  async () => {
    await withServer(async (server) => {
      const first = await server.call("start_task", {
        command: "sleep 2; echo first",
        executor: "slurm",
        queue: "cluster",
      });
      const second = await server.call("start_task", {
        command: "echo second",
        executor: "slurm",
        queue: "cluster",
      });
      assert.match(String(first.slurm_job_id), /^\d+$/);
      assert.equal(second.status, "queued");
      assert.equal(second.slurm_job_id, null);
      assert.equal(second.position, 1);
      const firstDone = await waitEnd(server, first.task_id);
      const secondDone = await waitEnd(server, second.task_id);
      assert.equal(firstDone.status, "completed");
      assert.equal(secondDone.status, "completed");
      assert.match(String(secondDone.slurm_job_id), /^\d+$/);
      assert.ok(
        Date.parse(String(secondDone.started_at)) >= Date.parse(String(firstDone.ended_at)),
      );
    }, { BACKBURNER_QUEUES: "cluster=1" });
  },
);

slurmTest(
  "a slurm task that exits non-zero is retried as a new job, and the log marks the attempt",
  async () => {
    await withServer(async (server) => {
      const started = await server.call("start_task", {
        command: 'echo "run $SLURM_JOB_ID"; exit 2',
        executor: "slurm",
        retries: 1,
        retry_delay_seconds: 0,
      });
      const done = await waitEnd(server, started.task_id);
      assert.equal(done.status, "failed");
      assert.equal(done.exit_code, 2);
      assert.equal(done.attempt, 2);
      assert.notEqual(done.slurm_job_id, started.slurm_job_id);
      const output = JSON.stringify(await server.call("task_result", { task_id: started.task_id }));
      assert.match(output, /run \d+[\s\S]*attempt 1 of 2 failed \(exit 2\)[\s\S]*run \d+/);
    });
  },
);

slurmTest(
  "with slurmctld down, start_task says so in one sentence at once, and a pending task keeps its status until Slurm is back",
  async () => {
    await withServer(async (server) => {
      const blocker = await server.call("start_task", {
        command: "sleep 60",
        executor: "slurm",
        slurm: { cpus: await nodeCpus() },
      });
      const pending = await server.call("start_task", {
        command: "echo after-outage",
        executor: "slurm",
      });
      await waitFor(async () => (await statusOf(server, blocker.task_id)).status === "working", {
        what: "the blocker to work",
        intervalMs: 100,
      });
      await stopController();
      try {
        const began = performance.now();
        const refused = await server.raw("start_task", { command: "true", executor: "slurm" });
        assert.match(
          errorText(refused),
          /^Cannot start task: scontrol ping says Slurm is not answering \(".*"\): start slurmctld/,
        );
        assert.ok(performance.now() - began < 5_000, "the refusal comes at once");
        assert.equal((await server.call("list_tasks", {})).total, 2);
        // Nothing is decided while Slurm does not answer: once a look found it down, the tasks
        // keep their statuses.
        await waitFor(() => /Slurm is not answering/.test(server.stderr()), {
          what: "a look to find Slurm down",
        });
        assert.equal((await statusOf(server, pending.task_id)).status, "queued");
        assert.equal((await statusOf(server, blocker.task_id)).status, "working");
        assert.match(server.stderr(), /Slurm is not answering/);
      } finally {
        await startController();
      }
      await server.call("cancel_task", { task_id: blocker.task_id });
      const done = await waitEnd(server, pending.task_id);
      assert.equal(done.status, "completed");
    });
  },
);

slurmTest(
  "BACKBURNER_EXECUTOR=slurm makes slurm the default; executor local still runs here",
  async () => {
    await withServer(async (server) => {
      const remote = await server.call("start_task", { command: "echo remote" });
      const here = await server.call("start_task", { command: "echo here", executor: "local" });
      assert.equal(remote.executor, "slurm");
      assert.match(String(remote.slurm_job_id), /^\d+$/);
      assert.equal(here.executor, "local");
      assert.equal(here.slurm_job_id, null);
      assert.equal((await waitEnd(server, remote.task_id)).status, "completed");
      assert.equal((await waitEnd(server, here.task_id)).status, "completed");
      // run_command waits for its task: a slurm job too.
      const ran = await server.raw("run_command", { command: "echo via-run" });
      assert.ok(!ran.isError, JSON.stringify(ran));
      assert.match(JSON.stringify(ran), /via-run/);
    }, { BACKBURNER_EXECUTOR: "slurm" });
  },
);

slurmTest(
  "a job cancelled from outside (scancel) ends its task cancelled, in Slurm's words",
  async () => {
    await withServer(async (server) => {
      const started = await server.call("start_task", { command: "sleep 60", executor: "slurm" });
      await waitFor(async () => (await statusOf(server, started.task_id)).status === "working", {
        what: "the job to run",
        intervalMs: 100,
      });
      await new Deno.Command("scancel", { args: [String(started.slurm_job_id)] }).output();
      const done = await waitEnd(server, started.task_id);
      assert.equal(done.status, "cancelled", JSON.stringify(done));
      assert.match(String(done.status_message), /CANCELLED/);
    });
  },
);

slurmTest(
  "a server shutting down with BACKBURNER_ON_EXIT=cancel cancels its slurm jobs, pending ones too",
  async () => {
    const home = await tempDir("backburner-slurm-engine-");
    const jobs: string[] = [];
    try {
      const server = await startServer(home, { env: { BACKBURNER_ON_EXIT: "cancel" } });
      const blocker = await server.call("start_task", {
        command: "sleep 60",
        executor: "slurm",
        slurm: { cpus: await nodeCpus() },
      });
      const pending = await server.call("start_task", { command: "sleep 60", executor: "slurm" });
      jobs.push(String(blocker.slurm_job_id), String(pending.slurm_job_id));
      await waitFor(async () => (await statusOf(server, blocker.task_id)).status === "working", {
        what: "the blocker to work",
        intervalMs: 100,
      });
      await server.close();
      const output = await new Deno.Command("squeue", {
        args: ["-h", "-j", jobs.join(","), "-o", "%T"],
        stdout: "piped",
        stderr: "null",
      }).output();
      assert.doesNotMatch(new TextDecoder().decode(output.stdout), /PENDING|RUNNING|COMPLETING/);
      const again = await startServer(home);
      try {
        for (const task of [blocker, pending]) {
          assert.equal((await statusOf(again, task.task_id)).status, "cancelled");
        }
      } finally {
        await again.close();
      }
    } finally {
      await cancelAll(jobs);
      await cleanup(home);
    }
  },
);

slurmTest(
  "a slurm task gets its stdin and env; restart_task runs it again as a new slurm job",
  async () => {
    await withServer(async (server) => {
      const started = await server.call("start_task", {
        command: 'read -r line; echo "got $line and $GREETING in $BACKBURNER_TASK_ID"',
        executor: "slurm",
        stdin: "the input\n",
        env: { GREETING: 'it\'s "quoted" $HOME' },
        slurm: { memory: "100M" },
      });
      const done = await waitEnd(server, started.task_id);
      assert.equal(done.status, "completed", JSON.stringify(done));
      const expected = `got the input and it's "quoted" $HOME in ${started.task_id}`;
      const output = await server.call("task_result", { task_id: started.task_id });
      assert.ok(JSON.stringify(output).includes(JSON.stringify(expected).slice(1, -1)));
      const again = await server.call("restart_task", { task_id: started.task_id });
      assert.equal(again.executor, "slurm");
      assert.notEqual(again.slurm_job_id, started.slurm_job_id);
      assert.equal((await waitEnd(server, again.task_id)).status, "completed");
      const rerun = await server.call("task_result", { task_id: again.task_id });
      assert.ok(JSON.stringify(rerun).includes(`got the input and it's`));
    });
  },
);

/**
 * A server whose sbatch is a script that notes its pid, then (`after` true) submits for real and
 * hangs, or (`after` false) hangs before submitting: kill -9 of that server lands between sbatch
 * and the job's record, or before the submission.
 */
async function diesAroundSbatch(after: boolean): Promise<void> {
  const home = await tempDir("backburner-slurm-engine-");
  const bin = `${home}-bin`;
  await Deno.mkdir(bin);
  const sbatch = new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "command -v sbatch"], stdout: "piped" }).output())
      .stdout,
  ).trim();
  const pidFile = `${bin}/pid`;
  await Deno.writeTextFile(
    `${bin}/sbatch`,
    after
      ? `#!/bin/sh\n${sbatch} "$@" && echo $$ >${pidFile} && exec sleep 300\n`
      : `#!/bin/sh\necho $$ >${pidFile}\nexec sleep 300\n`,
    { mode: 0o755 },
  );
  let first: ServerHandle | undefined;
  let second: ServerHandle | undefined;
  try {
    first = await startServer(home, { env: { PATH: `${bin}:${Deno.env.get("PATH")}` } });
    // The job waits for a gate, so the next server looks for it while it runs, whatever the load.
    const gate = `${bin}/gate`;
    const call = first.call("start_task", {
      command: `while [ ! -e '${gate}' ]; do sleep 0.1; done; echo ran once`,
      executor: "slurm",
    }).catch(() => null);
    const pid = Number(
      await waitFor(() => {
        try {
          return Deno.readTextFileSync(pidFile).trim() || null;
        } catch {
          return null;
        }
      }, { what: "the sbatch script to run", intervalMs: 50 }),
    );
    const listed = await first.call("list_tasks", {});
    const id = (listed.tasks as { task_id: string }[])[0].task_id;
    Deno.kill(first.pid, "SIGKILL");
    await waitFor(() => !isAlive(first!.pid), { what: "the server to die" });
    Deno.kill(pid, "SIGKILL");
    await first.client.close().catch(() => {});
    await call;
    first = undefined;
    second = await startServer(home);
    const found = after
      ? /found its Slurm job \d+ by name/
      : /went back to its queue: its server died/;
    await waitFor(() => found.test(second!.stderr()), {
      what: `the next server's "${found.source}"`,
    });
    await Deno.writeTextFile(gate, "");
    const done = await waitEnd(second, id);
    assert.equal(done.status, "completed", JSON.stringify(done));
    const output = JSON.stringify(await second.call("task_result", { task_id: id }));
    assert.equal(output.split("ran once").length - 1, 1, output);
  } finally {
    await first?.close().catch(() => {});
    await second?.close();
    await cleanup(home);
    await Deno.remove(bin, { recursive: true }).catch(() => {});
  }
}

slurmTest(
  "a server killed between sbatch and the job's record: the next finds the job by name",
  async () => {
    await diesAroundSbatch(true);
  },
);

slurmTest("a server killed before its sbatch ran: the next submits the task, once", async () => {
  await diesAroundSbatch(false);
});

/** Moves a running job's end to 2 s from now, as an operator's scontrol does; retried until taken. */
async function endJobSoon(jobId: string): Promise<void> {
  // slurmctld refuses an end time before its own clock, and scontrol reads "now" a moment earlier.
  await waitFor(async () => {
    const update = await new Deno.Command("scontrol", {
      args: ["update", `JobId=${jobId}`, "EndTime=now+2"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (update.success) return true;
    throw new Error(new TextDecoder().decode(update.stderr).trim());
  }, { timeoutMs: 20_000, intervalMs: 500, what: `scontrol to move job ${jobId}'s end` });
}

slurmTest(
  "a slurm task that reaches Slurm's time limit ends timed_out, in Slurm's words, with nothing left",
  async () => {
    await withServer(async (server) => {
      const marker = `bb-slurm-engine-${crypto.randomUUID()}`;
      const started = await server.call("start_task", {
        command: "echo begun; sleep 300",
        executor: "slurm",
        slurm: { time_limit: "1" },
        env: { BB_TEST_MARK: marker },
      });
      const jobId = String(started.slurm_job_id);
      await waitFor(async () => (await statusOf(server, started.task_id)).status === "working", {
        what: "the job to run",
        intervalMs: 100,
      });
      // Slurm checks time limits about every 30 s: moving the end to now lets the next check end it.
      await endJobSoon(jobId);
      const done = await waitEnd(server, started.task_id, 90_000);
      assert.equal(done.status, "timed_out", JSON.stringify(done));
      assert.match(String(done.status_message), new RegExp(`job ${jobId}.*TIMEOUT`));
      await waitFor(() => pidsWith(marker).length === 0, { what: "the job's tree to be gone" });
    });
  },
);

slurmTest(
  "a job Slurm no longer knows, with no exit record, ends its task interrupted when a server adopts it",
  async () => {
    const home = await tempDir("backburner-slurm-engine-");
    let first: ServerHandle | undefined;
    let second: ServerHandle | undefined;
    const jobs: string[] = [];
    try {
      first = await startServer(home);
      // A blocker takes every CPU, so the task's job waits in Slurm's queue and never runs.
      const blocker = await first.call("start_task", {
        command: "sleep 120",
        executor: "slurm",
        slurm: { cpus: await nodeCpus() },
      });
      jobs.push(String(blocker.slurm_job_id));
      await waitFor(async () => (await statusOf(first!, blocker.task_id)).status === "working", {
        what: "the blocker to work",
        intervalMs: 100,
      });
      const pending = await first.call("start_task", { command: "echo never", executor: "slurm" });
      const jobId = String(pending.slurm_job_id);
      jobs.push(jobId);
      Deno.kill(first.pid, "SIGKILL");
      await waitFor(() => !isAlive(first!.pid), { what: "the server to die" });
      await first.client.close().catch(() => {});
      first = undefined;
      // While no server watches, the job goes, and Slurm forgets it (as after MinJobAge, or a
      // controller that lost its state): the store keeps an id Slurm does not know.
      await cancelAll(jobs);
      const db = new DatabaseSync(join(home, "state.db"), { timeout: 10_000 });
      try {
        db.prepare("UPDATE tasks SET slurm_job_id = '999999999' WHERE id = ?").run(
          String(pending.task_id),
        );
      } finally {
        db.close();
      }
      second = await startServer(home);
      const done = await waitEnd(second, pending.task_id);
      assert.equal(done.status, "interrupted", JSON.stringify(done));
      assert.match(
        String(done.status_message),
        /Slurm job 999999999 vanished from Slurm without an exit record/,
      );
    } finally {
      await cancelAll(jobs);
      await first?.close().catch(() => {});
      await second?.close();
      await cleanup(home);
    }
  },
);
