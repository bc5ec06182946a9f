import { strict as assert } from "node:assert";
import { shellQuote } from "../../../src/executors/slurm/job_script.ts";

Deno.test("a word for sh survives single quotes", async () => {
  const word = `it's "quoted" $HOME \\`;
  const output = await new Deno.Command("sh", {
    args: ["-c", `printf %s ${shellQuote(word)}`],
    stdout: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(output.stdout), word);
});
