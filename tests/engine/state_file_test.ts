import { strict as assert } from "node:assert";
import { join } from "node:path";
import { BackburnerError } from "../../src/errors.ts";
import { StateFile } from "../../src/engine/state_file.ts";

Deno.test("a state database removed under the server is noticed once, and starts are refused", () => {
  const home = Deno.makeTempDirSync();
  try {
    const path = join(home, "state.db");
    Deno.writeTextFileSync(path, "");
    const logged: string[] = [];
    const state = new StateFile({
      path,
      home,
      running: () => ["abcdefghijkm"],
      log: (message) => logged.push(message),
    });
    assert.equal(state.lost(), null);
    state.require();
    Deno.removeSync(path);
    assert.match(state.lost() ?? "", /was removed while this server ran/);
    assert.throws(() => state.require(), (error) => {
      assert.ok(error instanceof BackburnerError);
      assert.equal(error.code, "state_lost");
      assert.match(error.message, /^Cannot start task: .*: restart backburner$/);
      return true;
    });
    assert.equal(logged.length, 1);
    assert.match(logged[0], /^ERROR: .*The 1 tasks this server runs \(abcdefghijkm\)/);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("a state database replaced under the server is noticed", () => {
  const home = Deno.makeTempDirSync();
  try {
    const path = join(home, "state.db");
    Deno.writeTextFileSync(path, "");
    const state = new StateFile({ path, home, running: () => [], log: () => {} });
    Deno.writeTextFileSync(join(home, "other.db"), "");
    Deno.renameSync(join(home, "other.db"), path);
    assert.match(state.lost() ?? "", /was replaced while this server ran/);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});
