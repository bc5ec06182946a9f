import { strict as assert } from "node:assert";
import {
  sbatchArgs,
  timeLimitMinutes,
  validateSlurmSettings,
} from "../../../src/executors/slurm/mod.ts";

Deno.test("sbatch's arguments carry every setting, the job's files and --wrap last", () => {
  assert.deepEqual(
    sbatchArgs({
      name: "bb-t1",
      cwd: "/shared/work",
      script: "exec sh wrapper.sh",
      output: "/shared/state/t1/slurm.out",
      resources: validateSlurmSettings({
        partition: "gpu",
        account: "lab",
        cpus: 2,
        memory: "4G",
        gpus: 1,
        time_limit: "10",
      }),
      timeoutSeconds: null,
    }),
    [
      "--parsable",
      "--job-name=bb-t1",
      "--chdir=/shared/work",
      "--output=/shared/state/t1/slurm.out",
      "--error=/shared/state/t1/slurm.out",
      "--input=/dev/null",
      "--no-requeue",
      "--partition=gpu",
      "--account=lab",
      "--cpus-per-task=2",
      "--mem=4G",
      "--gpus=1",
      "--time=10",
      "--wrap=exec sh wrapper.sh",
    ],
  );
});

Deno.test("a task's timeout and its time_limit give the job the smaller limit, in whole minutes", () => {
  const none = validateSlurmSettings({});
  assert.equal(timeLimitMinutes(none, null), null);
  assert.equal(timeLimitMinutes(none, 1), 1);
  assert.equal(timeLimitMinutes(none, 60), 1);
  assert.equal(timeLimitMinutes(none, 61), 2);
  const tenMinutes = validateSlurmSettings({ time_limit: "10" });
  assert.equal(timeLimitMinutes(tenMinutes, null), 10);
  assert.equal(timeLimitMinutes(tenMinutes, 3_600), 10);
  assert.equal(timeLimitMinutes(tenMinutes, 120), 2);
});
