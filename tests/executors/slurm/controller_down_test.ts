import { strict as assert } from "node:assert";
import { startController, stopController } from "../../../scripts/slurm_cluster.ts";
import {
  pingController,
  readJob,
  SlurmError,
  submitJob,
  validateSlurmSettings,
} from "../../../src/executors/slurm/mod.ts";
import { tempDir } from "../../helpers.ts";
import { markedRunner, slurmTest } from "./cluster.ts";

slurmTest(
  "with slurmctld down, a submission fails in one sentence and queues nothing",
  async () => {
    const dir = await tempDir("backburner-slurm-");
    const { run } = markedRunner();
    const name = `bb-down-${crypto.randomUUID().slice(0, 8)}`;
    await stopController();
    try {
      const started = performance.now();
      const error = await submitJob(run, {
        name,
        cwd: dir,
        script: "true",
        output: "/dev/null",
        resources: validateSlurmSettings({}),
        timeoutSeconds: null,
      }).then(() => null, (error) => error);
      const seconds = (performance.now() - started) / 1000;
      assert.ok(error instanceof SlurmError, `${error}`);
      assert.equal(error.kind, "unreachable");
      assert.equal(error.command, "sbatch");
      assert.match(
        error.message,
        /^sbatch could not reach Slurm \("[^"\n]*Unable to contact slurm controller[^"\n]*"\): check that slurmctld is running \(scontrol ping\) and try again$/,
      );
      assert.ok(seconds < 30, `sbatch took ${seconds.toFixed(1)} s to give up`);
      // scontrol ping says so at once, where sbatch spent about 9 s retrying.
      const pingStarted = performance.now();
      const ping = await pingController(run).then(() => null, (error) => error);
      assert.ok(ping instanceof SlurmError, `${ping}`);
      assert.equal(ping.kind, "unreachable");
      assert.match(
        ping.message,
        /^scontrol ping says Slurm is not answering \("Slurmctld\(primary\) at \S+ is DOWN"\): start slurmctld or ask the cluster's administrators, then try again$/,
      );
      assert.ok(performance.now() - pingStarted < 5_000, "scontrol ping answers at once");
      // A state read retries for about 18 s; past its deadline it fails as not answering.
      const reading = await readJob(run, "1", { timeoutMs: 3_000 }).then(() => null, (e) => e);
      assert.ok(reading instanceof SlurmError, `${reading}`);
      assert.equal(reading.kind, "unreachable");
      assert.equal(
        reading.message,
        "scontrol did not answer within 3 s: check that slurmctld is running (scontrol ping) and try again",
      );
    } finally {
      await startController();
      await Deno.remove(dir, { recursive: true });
    }
    await pingController(run);
    const listed = await new Deno.Command("squeue", {
      args: ["-h", "-t", "all", "-n", name, "-o", "%i"],
      stdout: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(listed.stdout).trim(),
      "",
      "no job of the failed submission",
    );
  },
);
