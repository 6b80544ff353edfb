/**
 * The layout rule, checked on the source: every relative import (static `import`/`export ... from`
 * and dynamic `import("...")`) of every .ts file under pipeline/, model/, tasks/, bench/, scripts/,
 * tests/ and web/. And the runtime rule: the core runs in Deno and in a browser; only the adapter
 * files listed in `DENO_ADAPTERS` may use `Deno.*`, and nothing the web pages bundle (their module
 * graph, as `deno info` resolves it) does.
 */
import { assertEquals } from "@std/assert";
import { dirname, join, relative } from "node:path";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");
const FOLDERS = ["pipeline", "model", "tasks", "bench", "scripts", "tests", "web"];

/**
 * Relative import specifiers of a source text: top-level (unindented, as `deno fmt` writes them)
 * `import`/`export ... from "./x"` and `import "./x"`, and `import("./x")` anywhere. Code inside
 * template strings (tests that write scripts) is indented, so it is not counted.
 */
export function relativeImports(src: string): string[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  const res = [
    /^(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/gm,
    /^import\s*["'](\.{1,2}\/[^"']+)["']/gm,
    /\bimport\s*\(\s*["'](\.{1,2}\/[^"']+)["']/g,
  ];
  for (const re of res) for (const m of code.matchAll(re)) out.push(m[1]);
  return out;
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory && e.name !== "weights") yield* tsFiles(p);
    else if (e.isFile && e.name.endsWith(".ts")) yield p;
  }
}

/** Repo-relative path -> repo-relative paths it imports. */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const folder of FOLDERS) {
    for await (const file of tsFiles(join(ROOT, folder))) {
      const src = await Deno.readTextFile(file);
      graph.set(
        relative(ROOT, file),
        relativeImports(src).map((s) => relative(ROOT, join(dirname(file), s))),
      );
    }
  }
  return graph;
}

/** Every cycle found by a depth-first search, each as the path that closes it. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string) => {
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === "open") cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

const graph = await importGraph();

Deno.test("pipeline/ never imports model/ or tasks/", () => {
  const bad = [...graph].flatMap(([file, deps]) =>
    file.startsWith("pipeline/")
      ? deps.filter((d) => d.startsWith("model/") || d.startsWith("tasks/")).map((d) =>
        `${file} -> ${d}`
      )
      : []
  );
  assertEquals(bad, []);
});

Deno.test("model/ never imports tasks/", () => {
  const bad = [...graph].flatMap(([file, deps]) =>
    file.startsWith("model/")
      ? deps.filter((d) => d.startsWith("tasks/")).map((d) => `${file} -> ${d}`)
      : []
  );
  assertEquals(bad, []);
});

Deno.test("pipeline/, model/, tasks/ and web/ never import bench/ or scripts/", () => {
  const bad = [...graph].flatMap(([file, deps]) =>
    /^(pipeline|model|tasks|web)\//.test(file)
      ? deps.filter((d) => /^(bench|scripts)\//.test(d)).map((d) => `${file} -> ${d}`)
      : []
  );
  assertEquals(bad, []);
});

Deno.test("the command line stays in tasks/: no Deno.stdin, Deno.args or flag names below it", async () => {
  const bad: string[] = [];
  for (const file of graph.keys()) {
    if (!/^(pipeline|model)\//.test(file)) continue;
    const code = (await Deno.readTextFile(join(ROOT, file)))
      .replace(/\/\*[\s\S]*?\*\//g, "") // comments and examples may show a shell pipe
      .replace(/\/\/.*$/gm, "");
    for (const m of code.matchAll(/Deno\.(stdin|args)\b|["'`]--[a-z][a-z-]+/g)) {
      bad.push(`${file}: ${m[0]}`);
    }
  }
  assertEquals(bad, []);
});

Deno.test("every relative import names an existing file", () => {
  const missing = [...graph].flatMap(([file, deps]) =>
    deps.filter((d) => {
      try {
        return !Deno.statSync(join(ROOT, d)).isFile;
      } catch {
        return true;
      }
    }).map((d) => `${file} -> ${d}`)
  );
  assertEquals(missing, []);
});

Deno.test("no import cycles (static or dynamic imports)", () => {
  assertEquals(findCycles(graph).map((c) => c.join(" -> ")), []);
});

Deno.test("findCycles() finds a cycle and relativeImports() reads static, re-export and dynamic imports", () => {
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assertEquals(findCycles(g), [["a", "b", "c", "a"]]);
  assertEquals(findCycles(new Map([["a", ["b"]], ["b", []]])), []);
  const src = [
    'import { x } from "./x.ts";',
    'export {\n  y,\n} from "../y.ts";',
    '// import "./no.ts";',
    '  const script = `import { w } from "./written.ts";`;',
    'import "./side.ts";',
    // (split so that this file's own source does not hold a dynamic import of ./z.ts)
    "const z = await imp" + 'ort("./z.ts");',
    'import * as tf from "@tensorflow/tfjs";',
  ].join("\n");
  assertEquals(relativeImports(src), ["./x.ts", "../y.ts", "./side.ts", "./z.ts"]);
});

Deno.test("mod.ts files only re-export", async () => {
  const bad: string[] = [];
  for (const file of graph.keys()) {
    if (!file.endsWith("/mod.ts")) continue;
    const code = (await Deno.readTextFile(join(ROOT, file)))
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    // Statements: `export { ... } from "...";`, `export type { ... } from "...";`,
    // `export * from "...";` (each may span lines). Anything left over is code.
    const rest = code.replace(
      /export\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s+from\s+["'][^"']+["'];?/g,
      "",
    );
    if (rest.trim() !== "") bad.push(`${file}: ${rest.trim().split("\n")[0]}`);
  }
  assertEquals(bad, []);
});

Deno.test("pipeline/ and model/ never import web/", () => {
  const bad = [...graph].flatMap(([file, deps]) =>
    /^(pipeline|model)\//.test(file)
      ? deps.filter((d) => d.startsWith("web/")).map((d) => `${file} -> ${d}`)
      : []
  );
  assertEquals(bad, []);
});

/**
 * The files of pipeline/ and model/ that may use `Deno.*` (files, FFI, workers with permissions,
 * stdin, the process): adapters around the runtime-neutral core. A new one must be added here on
 * purpose, and must not be reachable from the web pages (next test).
 */
export const DENO_ADAPTERS = [
  "model/backend/backend.ts",
  "model/backend/backend_probe.ts",
  "model/backend/wasm_thread_choice.ts",
  "model/backend/wasm_threads.ts",
  "model/eval/embedding_cache.ts",
  "model/eval/report.ts",
  "model/io/model_io.ts",
  "model/io/tensorboard_writer.ts",
  "model/io/torch_checkpoint.ts",
  "model/train/checkpoint.ts",
  "model/train/run_folder.ts",
  "model/train/train_data.ts",
  "model/train/train_log.ts",
  "model/train/train_plot.ts",
  "model/train/val_targets.ts",
  "pipeline/atomic_write.ts",
  "pipeline/decode/decode_image.ts",
  "pipeline/decode/turbo_ffi.ts",
  "pipeline/folder_lock.ts",
  "pipeline/formats/insightface_bin.ts",
  "pipeline/formats/npy.ts",
  "pipeline/formats/pairs_reader.ts",
  "pipeline/formats/tar_scan.ts",
  "pipeline/list/folder_walk.ts",
  "pipeline/list/list_reader.ts",
  "pipeline/list/record_io.ts",
  "pipeline/list/record_io_labels.ts",
  "pipeline/list/record_io_reader.ts",
  "pipeline/path_exists.ts",
];

/** Code without comments, so a comment that mentions `Deno.` does not count. */
const code = (src: string) => src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
const usesDeno = (src: string) => /\bDeno\./.test(code(src));

Deno.test("only the listed adapter files of pipeline/ and model/ use Deno.*", async () => {
  const bad: string[] = [];
  for (const file of graph.keys()) {
    if (!/^(pipeline|model)\//.test(file) || DENO_ADAPTERS.includes(file)) continue;
    if (usesDeno(await Deno.readTextFile(join(ROOT, file)))) bad.push(file);
  }
  assertEquals(bad, []);
});

/** The web pages' script entries (what web/server/bundle.ts bundles for the browser). */
const PAGE_ENTRIES = ["web/pages/runs.ts", "web/pages/report.ts", "web/pages/try_it.ts"];

Deno.test("the browser bundle's module graph uses no Deno.* and no node: built-in", async () => {
  const infos = [];
  for (const entry of PAGE_ENTRIES) {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(o.success, true, new TextDecoder().decode(o.stderr));
    infos.push(JSON.parse(new TextDecoder().decode(o.stdout)));
  }
  const local = new Set<string>(), builtins = new Set<string>();
  for (const info of infos) {
    for (const m of info.modules as { specifier: string }[]) {
      if (m.specifier.startsWith("file:")) local.add(relative(ROOT, new URL(m.specifier).pathname));
      if (m.specifier.startsWith("node:")) builtins.add(m.specifier);
    }
  }
  // The try-it page really holds the aligner and the embedder (no second copy elsewhere).
  for (const f of ["pipeline/align/mtcnn/detect.ts", "model/eval/embed_stream.ts"]) {
    assertEquals(local.has(f), true, `${f} is not in the try-it bundle`);
  }
  const bad = [];
  for (const f of local) if (usesDeno(await Deno.readTextFile(join(ROOT, f)))) bad.push(f);
  assertEquals({ deno: bad, node: [...builtins] }, { deno: [], node: [] });
});
