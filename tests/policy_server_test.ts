import assert from "node:assert/strict";
import {
  cleanup,
  errorText,
  posixTest,
  runToEnd,
  startServer,
  tempDir,
  waitFor,
} from "./helpers.ts";

posixTest("the policy refuses a command hidden after an allowed one, naming the rule", async () => {
  const home = await tempDir();
  const server = await startServer(home, {
    env: { BACKBURNER_ALLOW: "^echo( |$),^true$", BACKBURNER_DENY: "^echo secret" },
  });
  try {
    const hidden = await server.raw("start_task", { command: "echo ok; rm -rf ~" });
    assert.equal(
      errorText(hidden),
      'Command refused by policy: "rm -rf ~" matches no BACKBURNER_ALLOW rule (^echo( |$), ^true$)',
    );
    const denied = await server.raw("start_task", { command: "true && echo secret stuff" });
    assert.equal(
      errorText(denied),
      'Command refused by policy: "echo secret stuff" matches BACKBURNER_DENY rule "^echo secret"',
    );
    const allowed = await runToEnd(server, { command: "echo fine && true" });
    assert.equal(allowed.status, "completed");
    // A refused command never became a task.
    const list = await server.call("list_tasks", {});
    assert.equal(list.count, 1);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "an invalid policy regex is reported at start and refuses every command until fixed",
  async () => {
    const home = await tempDir();
    const broken = await startServer(home, { env: { BACKBURNER_DENY: "^rm,(" } });
    try {
      await waitFor(() => broken.stderr().includes('BACKBURNER_DENY rule "("'), {
        what: "the invalid rule to be reported on stderr",
      });
      const refused = await broken.raw("start_task", { command: "echo harmless" });
      assert.match(
        errorText(refused),
        /^BACKBURNER_DENY rule "\(" is not a valid regular expression .*: fix the rule and restart backburner$/,
      );
    } finally {
      await broken.close();
    }
    const fixed = await startServer(home, { env: { BACKBURNER_DENY: "^rm" } });
    try {
      assert.equal((await runToEnd(fixed, { command: "echo harmless" })).status, "completed");
    } finally {
      await fixed.close();
      await cleanup(home);
    }
  },
);
