/**
 * Builds the single backburner executable for each release target (or those named as arguments),
 * with the server's permission flags and --no-prompt embedded, into dist/.
 *
 *   deno task compile                              all five targets
 *   deno task compile x86_64-unknown-linux-gnu     one of them
 *
 * deno compile downloads the runtime of each target from dl.deno.land, so this runs in the hosted
 * release workflow, not on machines without that access.
 */

const TARGETS: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "backburner-linux-x64",
  "aarch64-unknown-linux-gnu": "backburner-linux-arm64",
  "x86_64-apple-darwin": "backburner-macos-x64",
  "aarch64-apple-darwin": "backburner-macos-arm64",
  "x86_64-pc-windows-msvc": "backburner-windows-x64.exe",
};

// The state directory is only known on the user's machine (BACKBURNER_HOME or ~/.backburner), so
// the binary may read and write files. Its network is loopback only, for `serve --http` there (a
// remote client comes through an SSH tunnel; binding another address needs deno run with
// --allow-net); it needs no FFI or system information.
const PERMISSIONS = [
  // A 1 MiB young generation instead of V8's 16 MiB: an idle server keeps ~10 MiB less resident,
  // for more frequent (and shorter) minor collections under load. docs/BENCHMARKS.md measures it.
  "--v8-flags=--max-semi-space-size=1",
  "--no-prompt",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
  "--allow-net=127.0.0.1,[::1],localhost",
];

const wanted = Deno.args.length > 0 ? Deno.args : Object.keys(TARGETS);
for (const target of wanted) {
  const name = TARGETS[target];
  if (!name) {
    console.error(
      `compile: unknown target "${target}": use one of ${Object.keys(TARGETS).join(", ")}`,
    );
    Deno.exit(2);
  }
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["compile", ...PERMISSIONS, "--target", target, "--output", `dist/${name}`, "main.ts"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) Deno.exit(1);
}
