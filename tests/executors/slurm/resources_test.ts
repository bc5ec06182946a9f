import { strict as assert } from "node:assert";
import { parseSlurmTime, validateSlurmSettings } from "../../../src/executors/slurm/mod.ts";

Deno.test("slurm settings validate into sbatch's units", () => {
  assert.deepEqual(
    validateSlurmSettings({
      partition: "gpu",
      cpus: 4,
      memory: "8g",
      gpus: "a100:2",
      time_limit: "1-12:00:00",
      account: "proj_1",
    }),
    {
      partition: "gpu",
      cpus: 4,
      memory: "8G",
      gpus: "a100:2",
      timeLimitSeconds: 129_600,
      account: "proj_1",
    },
  );
  assert.deepEqual(validateSlurmSettings(undefined), {
    partition: null,
    cpus: null,
    memory: null,
    gpus: null,
    timeLimitSeconds: null,
    account: null,
  });
  assert.equal(validateSlurmSettings({ memory: 512 }).memory, "512M");
  assert.equal(validateSlurmSettings({ gpus: 1 }).gpus, "1");
});

Deno.test("a bad slurm setting is one sentence naming the field and what to pass", () => {
  const cases: [unknown, string][] = [
    [{ cpus: 0 }, "Invalid slurm.cpus 0: pass a whole number of CPUs, 1 or more, such as 4"],
    [{ cpus: 1.5 }, "Invalid slurm.cpus 1.5: pass a whole number of CPUs, 1 or more, such as 4"],
    [
      { memory: "lots" },
      'Invalid slurm.memory "lots": pass megabytes as a number, or a size such as "512M" or "8G"',
    ],
    [
      { gpus: "two" },
      'Invalid slurm.gpus "two": pass a count of GPUs such as 1, or a type and count such as "a100:2"',
    ],
    [
      { time_limit: "1h" },
      'Invalid slurm.time_limit "1h": pass a duration in a Slurm time format, such as "30" (minutes), "2:00:00" or "1-12:00:00"',
    ],
    [
      { partition: "a b" },
      'Invalid slurm.partition "a b": pass the name of a Slurm partition (letters, digits, _ . -)',
    ],
    [
      { account: "--x" },
      'Invalid slurm.account "--x": pass the name of a Slurm account (letters, digits, _ . -)',
    ],
    [
      { nodes: 2 },
      'Unknown slurm setting "nodes": pass only partition, cpus, memory, gpus, time_limit or account',
    ],
    [[1], 'Invalid slurm settings [1]: pass an object such as {"cpus": 4, "memory": "8G"}'],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => validateSlurmSettings(input), { name: "RangeError", message });
  }
});

Deno.test("Slurm's time formats read as seconds", () => {
  assert.equal(parseSlurmTime("30"), 1_800);
  assert.equal(parseSlurmTime("30:15"), 1_815);
  assert.equal(parseSlurmTime("2:00:00"), 7_200);
  assert.equal(parseSlurmTime("1-2"), 93_600);
  assert.equal(parseSlurmTime("1-02:30"), 95_400);
  assert.equal(parseSlurmTime("1-00:00:01"), 86_401);
  assert.equal(parseSlurmTime("00:01:00"), 60);
  assert.equal(parseSlurmTime("soon"), null);
});
