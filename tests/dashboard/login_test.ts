/**
 * Login links in time: a printed link works for a while (10 minutes by default), and a spent or
 * expired one opened again makes the server print a new link, without a restart.
 */

import assert from "node:assert/strict";
import { openApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { createDashboard } from "../../src/dashboard/dashboard.ts";
import { serveHttp } from "../../src/http/server.ts";
import { sameToken } from "../../src/http/token.ts";
import { cleanup, posixTest, tempDir, waitFor } from "../helpers.ts";
import { startHttpServer } from "../http/harness.ts";
import { loginLink } from "./helpers.ts";

posixTest(
  "a spent login link opened again prints a new link on stderr, which logs in; a made-up one prints none",
  async () => {
    const home = await tempDir();
    const server = await startHttpServer(home, { command: "dashboard" });
    try {
      const link = await loginLink(server);
      assert.match(server.stderr(), /a one-time login link; it works for 10 minutes/);
      const first = await fetch(link, { redirect: "manual" });
      await first.body?.cancel();
      assert.equal(first.status, 303);
      const again = await fetch(link, { redirect: "manual" });
      assert.equal(again.status, 401);
      assert.match(await again.text(), /used already\. The server has printed a new one/);
      const fresh = await waitFor(async () => {
        const newest = await loginLink(server);
        return newest !== link && newest;
      }, { what: "a new login link on stderr" });
      const second = await fetch(fresh as string, { redirect: "manual" });
      await second.body?.cancel();
      assert.equal(second.status, 303);
      // A code the server never printed gets no new link.
      const printed = server.stderr().match(/dashboard: open /g)!.length;
      const forged = new URL(link);
      forged.searchParams.set("code", "A".repeat(43));
      const guess = await fetch(forged, { redirect: "manual" });
      assert.equal(guess.status, 401);
      assert.match(await guess.text(), /not this server/);
      assert.equal(server.stderr().match(/dashboard: open /g)!.length, printed);
    } finally {
      await server.stop();
      await cleanup(home);
    }
  },
);

// Ten minutes is too long for a test of a subprocess: this one serves the same dashboard
// in-process, over a real engine and socket, with the link's life shortened.
posixTest(
  "an expired login link is refused with a page that says so, and a new link works",
  async () => {
    const home = await tempDir();
    const config = loadConfig({ BACKBURNER_HOME: home }, undefined);
    const app = await openApp(config, { defaultCwd: home, log: () => {}, watch: false });
    const lines: string[] = [];
    const log = (line: string) => void lines.push(line);
    const token = "a-token-for-this-test-only";
    const dashboard = createDashboard({
      engine: app.engine,
      store: app.store,
      token,
      sameToken,
      log,
      loginLinkMs: 300,
    });
    const face = serveHttp({
      engine: app.engine,
      version: "test",
      log,
      listen: { hostname: "127.0.0.1", port: 0 },
      token,
      maxBodyBytes: 1024 * 1024,
      dashboard,
    });
    const newest = () => [...lines.join("\n").matchAll(/dashboard: open (\S+)/g)].at(-1)?.[1];
    try {
      dashboard.announceLogin(face.origin);
      const link = newest()!;
      await new Promise((resolve) => setTimeout(resolve, 400));
      const late = await fetch(link, { redirect: "manual" });
      assert.equal(late.status, 401);
      assert.equal(late.headers.get("set-cookie"), null);
      const page = await late.text();
      assert.match(page, /This login link has expired/);
      assert.match(page, /printed a new one/);
      assert.match(page, /backburner token/);
      const fresh = newest()!;
      assert.notEqual(fresh, link);
      const inTime = await fetch(fresh, { redirect: "manual" });
      await inTime.body?.cancel();
      assert.equal(inTime.status, 303);
      assert.match(inTime.headers.get("set-cookie") ?? "", /^backburner_\d+=/);
    } finally {
      await face.close();
      await app.close({ cancelRunning: true });
      await cleanup(home);
    }
  },
);
