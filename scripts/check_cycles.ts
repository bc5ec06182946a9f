/**
 * Fails when the repository's own modules import each other in a cycle.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env scripts/check_cycles.ts
 *
 * The module graph comes from `deno info --json` over every entry point (main.ts and each file in
 * src/, tests/, bench/ and scripts/), so it sees what Deno sees: static, dynamic and type-only
 * imports alike. Each cycle is printed as its files, then one path around it; the exit code is 1
 * when there is any cycle, 0 otherwise.
 *
 * @module
 */

import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FOLDERS = ["src", "tests", "bench", "scripts"];

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

function entryPoints(): string[] {
  const files = [join(ROOT, "main.ts")];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory && !entry.name.startsWith(".")) walk(path);
      else if (entry.isFile && /\.(ts|js)$/.test(entry.name)) files.push(path);
    }
  };
  for (const folder of FOLDERS) walk(join(ROOT, folder));
  return files;
}

/** The import graph of the repository's own files, from one `deno info` over all entry points. */
async function importGraph(entries: string[]): Promise<Map<string, Set<string>>> {
  // deno info takes one root, so a temporary module imports every entry point.
  const dir = await Deno.makeTempDir({ prefix: "backburner-cycles-" });
  try {
    const root = join(dir, "all.ts");
    await Deno.writeTextFile(
      root,
      entries.map((file) => `import ${JSON.stringify(pathToFileURL(file).href)};\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "info",
        "--json",
        "--config",
        join(ROOT, "deno.json"),
        "--lock",
        join(ROOT, "deno.dev.lock"),
        root,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) throw new Error("deno info failed");
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
    const own = (specifier: string | undefined) =>
      specifier?.startsWith("file://") && !specifier.startsWith(pathToFileURL(dir).href) &&
        /\.(ts|js)$/.test(specifier)
        ? relative(ROOT, fileURLToPath(specifier))
        : undefined;
    const graph = new Map<string, Set<string>>();
    for (const module of info.modules) {
      const from = own(module.specifier);
      if (from === undefined) continue;
      const targets = graph.get(from) ?? new Set<string>();
      graph.set(from, targets);
      for (const dependency of module.dependencies ?? []) {
        for (const to of [own(dependency.code?.specifier), own(dependency.type?.specifier)]) {
          if (to !== undefined) targets.add(to);
        }
      }
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Tarjan's strongly connected components: each one with two or more files (or a self-import) is a cycle. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

/** One way around a cycle, starting and ending at its first file: `a.ts -> b.ts -> a.ts`. */
function pathAround(graph: Map<string, Set<string>>, component: string[]): string[] {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at: string | undefined = node; at !== undefined; at = previous.get(at)) {
          path.unshift(at);
        }
        return path;
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

if (import.meta.main) {
  const graph = await importGraph(entryPoints());
  const found = cycles(graph);
  for (const component of found) {
    console.log(`import cycle among ${component.length} files: ${component.join(", ")}`);
    console.log(`  ${pathAround(graph, component).join(" -> ")}`);
  }
  if (found.length > 0) {
    console.log(`${found.length} import cycle${found.length === 1 ? "" : "s"} found`);
    Deno.exit(1);
  }
  console.log(`no import cycle among ${graph.size} files`);
}
