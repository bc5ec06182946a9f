/**
 * Behind a TLS-terminating proxy the browser names the proxy's https:// origin, not the
 * http://Host the server sees: `--allow-origin` lets that origin change state, and nothing a
 * client can send (X-Forwarded-*) does.
 */

import assert from "node:assert/strict";
import { cleanup, posixTest, tempDir } from "../helpers.ts";
import { startHttpServer } from "../http/harness.ts";
import { login, originOf, post } from "./helpers.ts";

const PROXY = "https://dash.example.test";

for (const command of ["dashboard", "serve"] as const) {
  posixTest(
    `${command} --allow-origin: Cancel and Restart from the proxy's https page pass the Origin check; other origins do not`,
    async () => {
      const home = await tempDir();
      const server = await startHttpServer(home, {
        command,
        args: ["--allow-origin", `${PROXY}/`],
      });
      try {
        const session = await login(server);
        // Past the Origin and CSRF checks, an unknown task is 404 (a refusal would be 403).
        const cancel = await post(session, "/api/tasks/nosuchtask/cancel", { origin: PROXY });
        assert.equal(cancel.status, 404, JSON.stringify(cancel.body));
        const restart = await post(session, "/api/tasks/nosuchtask/restart", { origin: PROXY });
        assert.equal(restart.status, 404, JSON.stringify(restart.body));
        // The login form too.
        const form = await fetch(new URL("/login", server.url), {
          method: "POST",
          redirect: "manual",
          headers: { origin: PROXY, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: server.token! }).toString(),
        });
        await form.body?.cancel();
        assert.equal(form.status, 303);
        // Exactly that origin: not another port or scheme, not one claimed in X-Forwarded-*.
        for (const origin of [`${PROXY}:8443`, "http://dash.example.test", "https://evil.test"]) {
          const refused = await post(session, "/api/tasks/nosuchtask/cancel", { origin });
          assert.equal(refused.status, 403, origin);
        }
        const forwarded = await post(session, "/api/tasks/nosuchtask/cancel", {
          origin: "https://evil.test",
          "x-forwarded-proto": "https",
          "x-forwarded-host": "evil.test",
        });
        assert.equal(forwarded.status, 403);
        // The server's own origin still works.
        const own = await post(session, "/api/tasks/nosuchtask/cancel", {
          origin: originOf(server),
        });
        assert.equal(own.status, 404);
      } finally {
        await server.stop();
        await cleanup(home);
      }
    },
  );
}
