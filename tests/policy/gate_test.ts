import { strict as assert } from "node:assert";
import { openPolicyGate } from "../../src/policy/gate.ts";
import { parsePolicy } from "../../src/policy/rules.ts";

Deno.test("a gate without rules allows every command and env, and keeps the (empty) rules", async () => {
  const gate = await openPolicyGate(parsePolicy(undefined, " , "));
  assert.deepEqual(gate.checkCommand("rm -rf ~; $(curl x)"), { allowed: true });
  assert.deepEqual(gate.checkEnv({ BASH_ENV: "/tmp/x" }), { allowed: true });
  assert.deepEqual([gate.allow, gate.deny, gate.error], [[], [], undefined]);
});

Deno.test("a gate with rules checks commands and env as the policy does", async () => {
  const gate = await openPolicyGate(parsePolicy("^echo", "^rm"));
  assert.equal(gate.checkCommand("echo hi").allowed, true);
  assert.equal(gate.checkCommand("echo hi; rm -rf ~").allowed, false);
  assert.equal(gate.checkCommand("ls").allowed, false);
  assert.equal(gate.checkEnv({ BASH_ENV: "/tmp/x" }).allowed, false);
  assert.equal(gate.allow.length, 1);
});

Deno.test("a gate over an invalid rule refuses everything, saying why", async () => {
  const gate = await openPolicyGate(parsePolicy(undefined, "("));
  const decision = gate.checkCommand("echo hi");
  assert.equal(decision.allowed, false);
  assert.match(decision.allowed ? "" : decision.reason, /not a valid regular expression/);
  assert.equal(gate.checkEnv({}).allowed, false);
});
