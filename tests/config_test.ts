import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";

Deno.test("BACKBURNER_EXECUTOR picks the default executor; local when unset", () => {
  assert.equal(loadConfig({ BACKBURNER_HOME: "/x" }, undefined).defaultExecutor, "local");
  assert.equal(
    loadConfig({ BACKBURNER_HOME: "/x", BACKBURNER_EXECUTOR: " Slurm " }, undefined)
      .defaultExecutor,
    "slurm",
  );
  assert.throws(
    () => loadConfig({ BACKBURNER_HOME: "/x", BACKBURNER_EXECUTOR: "k8s" }, undefined),
    {
      name: "RangeError",
      message:
        'Invalid BACKBURNER_EXECUTOR "k8s": set it to "local" or "slurm", or unset it for local',
    },
  );
});
