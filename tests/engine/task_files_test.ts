import assert from "node:assert/strict";
import { join } from "node:path";
import { readExitRecord, readTaskCgroup, readWrapperStop } from "../../src/engine/task_files.ts";
import { tempDir } from "../helpers.ts";

Deno.test("exit records: old ones (a code) and new ones (a code and the wrapper's reason)", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "exit");
    const read = (text: string) => {
      Deno.writeTextFileSync(path, text);
      const record = readExitRecord(path);
      return record && { code: record.code, reason: record.reason };
    };
    assert.deepEqual(read("5\n"), { code: 5, reason: null });
    assert.deepEqual(read("143 timeout\n"), { code: 143, reason: "timeout" });
    assert.deepEqual(read("141 log_limit\n"), { code: 141, reason: "log_limit" });
    assert.deepEqual(read("0 something-else\n"), { code: 0, reason: null });
    assert.equal(read("garbage\n"), null);
    assert.equal(readExitRecord(join(dir, "none")), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the wrapper's claim says the reason and whether SIGKILL was needed", async () => {
  const dir = await tempDir();
  try {
    assert.equal(readWrapperStop(dir), null);
    Deno.writeTextFileSync(join(dir, "stop"), "timeout\n");
    assert.deepEqual(readWrapperStop(dir), { reason: "timeout", forced: false });
    Deno.writeTextFileSync(join(dir, "stop"), "log_limit forced\n");
    assert.deepEqual(readWrapperStop(dir), { reason: "log_limit", forced: true });
    Deno.writeTextFileSync(join(dir, "stop"), "cancel\n");
    assert.equal(readWrapperStop(dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a task cannot point its stop at someone else's cgroup", async () => {
  const dir = await tempDir();
  try {
    const id = "k3x9m2p7q4wz";
    const write = (text: string) => {
      Deno.writeTextFileSync(join(dir, "cgroup"), text);
      return readTaskCgroup(dir, id);
    };
    assert.equal(readTaskCgroup(dir, id), null);
    const own = `/sys/fs/cgroup/user.slice/backburner-tasks/${id}`;
    assert.equal(write(`${own}\n`), own);
    assert.equal(write("/sys/fs/cgroup/user.slice\n"), null);
    assert.equal(write("/sys/fs/cgroup/backburner-tasks/p7q4wzk3x9m2\n"), null);
    assert.equal(write(`/sys/fs/cgroup/x/../../backburner-tasks/${id}\n`), null);
    assert.equal(write(`relative/backburner-tasks/${id}\n`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
