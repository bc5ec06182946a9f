import { strict as assert } from "node:assert";
import { denoCommandRunner, SlurmError, submitJob } from "../../../src/executors/slurm/mod.ts";
import { validateSlurmSettings } from "../../../src/executors/slurm/mod.ts";
import { POSIX } from "../../helpers.ts";

Deno.test({
  name: "a missing sbatch is one sentence saying what to install",
  ignore: !POSIX,
  fn: async () => {
    const run = denoCommandRunner({ env: { PATH: "/nonexistent" } });
    const error = await submitJob(run, {
      name: "bb-x",
      cwd: "/tmp",
      script: "true",
      output: "/dev/null",
      resources: validateSlurmSettings({}),
      timeoutSeconds: null,
    }).then(() => null, (error) => error);
    assert.ok(error instanceof SlurmError, `${error}`);
    assert.equal(error.kind, "missing");
    assert.equal(
      error.message,
      "Cannot run sbatch: it is not installed here; install the Slurm client commands (Debian: slurm-client) or use the local executor",
    );
  },
});

Deno.test({
  name: "a Slurm command past its deadline is killed and reported as not answering",
  ignore: !POSIX,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "backburner-slurm-" });
    try {
      // A stand-in "scontrol" that hangs, found first on PATH.
      await Deno.writeTextFile(`${dir}/scontrol`, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
      const run = denoCommandRunner({ env: { PATH: `${dir}:${Deno.env.get("PATH")}` } });
      const started = performance.now();
      const error = await run("scontrol", ["ping"], { timeoutMs: 300 }).then(() => null, (e) => e);
      assert.ok(performance.now() - started < 5_000);
      assert.ok(error instanceof SlurmError, `${error}`);
      assert.equal(error.kind, "unreachable");
      assert.equal(
        error.message,
        "scontrol did not answer within 0.3 s: check that slurmctld is running (scontrol ping) and try again",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
