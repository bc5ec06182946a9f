import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  errorText,
  posixTest,
  runToEnd,
  startServer,
  tempDir,
  waitFor,
} from "../helpers.ts";

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

posixTest(
  "under an allow rule, text hidden in a variable is never evaluated as a command",
  async () => {
    const home = await tempDir();
    const marker = join(home, "pwned");
    const server = await startServer(home, { env: { BACKBURNER_ALLOW: "^echo( |$)" } });
    try {
      // The two examples: single quotes hide $(…) from the parser, and prompt
      // expansion or arithmetic on the variable runs it later.
      const attacks = [
        `echo \${x:='$(touch ${marker})'} \${x@P}`,
        `echo \${a:='z[$(touch ${marker})]'} $((a))`,
        `echo "\${x:-'$(touch ${marker})'}"`,
        `echo >&'$(touch ${marker})'`,
        `echo \${PATH:1:$(touch ${marker})}`,
      ];
      for (const command of attacks) {
        const refused = await server.raw("start_task", { command });
        assert.match(errorText(refused), /^Command refused by policy: /, command);
      }
      const literal = await runToEnd(server, { command: "echo $((1+2)) $(( 3 * (4+5) ))" });
      assert.equal(literal.status, "completed");
      const output = await server.call("task_result", { task_id: literal.task_id });
      assert.match(String(output.output), /^3 27\n?$/);
      assert.equal(existsSync(marker), false, "a refused command ran");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "under an allow rule, env and the server's own environment cannot make bash run code",
  async () => {
    const home = await tempDir();
    const marker = join(home, "pwned");
    const script = join(home, "bash_env.sh");
    Deno.writeTextFileSync(script, `touch ${marker}\n`);
    const server = await startServer(home, {
      env: {
        BACKBURNER_ALLOW: "^echo( |$),^\\w+=",
        // Inherited by the server: each would run code in every task's shell.
        BASH_ENV: script,
        SHELLOPTS: "xtrace",
        PS4: `$(touch ${marker})`,
        "BASH_FUNC_echo%%": `() { touch ${marker}; }`,
      },
    });
    try {
      for (const env of [{ BASH_ENV: script }, { PS4: "$(id)" }, { SHELLOPTS: "xtrace" }]) {
        const refused = await server.raw("start_task", { command: "echo hi", env });
        assert.match(
          errorText(refused),
          /^Command refused by policy: env sets \w+, whose value bash runs as code .*: leave it out \(from the env parameter\)$/,
        );
      }
      const path = await server.raw("start_task", { command: "echo hi", env: { PATH: home } });
      assert.match(errorText(path), /env sets PATH, which changes which program a command name/);
      const task = await runToEnd(server, { command: "echo hi" });
      assert.equal(task.status, "completed");
      const output = await server.call("task_result", { task_id: task.task_id });
      assert.equal(String(output.output).trim(), "hi");
      assert.equal(existsSync(marker), false, "inherited shell code ran in the task");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
