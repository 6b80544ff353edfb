/**
 * Runs a command (the test suite) and fails when it left anything new in the working tree:
 * `git status --porcelain --ignored` after the command must list nothing that it did not list
 * before, and no file or folder may have appeared (git does not list an empty folder, such as a
 * run folder made and left empty), apart from node_modules/ (the npm packages a first run
 * installs) and .git/. Tests write only under temp folders (`Deno.makeTempDir`); this is the
 * check that they do.
 *
 *   deno run -A scripts/clean_tree_after.ts deno test -A tests/
 *
 * Outside a git checkout only new files and folders are checked.
 */
import { join } from "node:path";

/** Every path under `dir` (files and folders), but .git and node_modules. */
async function paths(dir: string, out = new Set<string>()): Promise<Set<string>> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name === ".git" || e.name === "node_modules") continue;
    const p = join(dir, e.name);
    out.add(e.isDirectory ? p + "/" : p);
    if (e.isDirectory) await paths(p, out);
  }
  return out;
}

async function treeStatus(): Promise<Set<string> | null> {
  try {
    const r = await new Deno.Command("git", {
      args: ["status", "--porcelain", "--ignored", "--untracked-files=all"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!r.success) return null;
    const lines = new TextDecoder().decode(r.stdout).split("\n").filter((l) => l !== "");
    return new Set(lines.filter((l) => !/^.. (.*\/)?node_modules\//.test(l)));
  } catch {
    return null; // no git
  }
}

async function main(args: string[]): Promise<number> {
  if (args.length === 0) {
    console.error("Usage: deno run -A scripts/clean_tree_after.ts COMMAND [ARGS...]");
    return 2;
  }
  const before = await treeStatus();
  const pathsBefore = await paths(".");
  const run = await new Deno.Command(args[0], { args: args.slice(1) }).spawn().status;
  if (!run.success) return run.code || 1;
  const added = [...await paths(".")].filter((p) => !pathsBefore.has(p)).map((p) => `new ${p}`);
  if (before !== null) {
    const after = await treeStatus();
    added.push(...[...after!].filter((l) => !before.has(l)));
  }
  if (added.length > 0) {
    console.error(
      `clean_tree_after: the command left ${added.length} new entries in the working tree ` +
        `(tests must write only under temp folders):\n` + added.map((l) => `  ${l}`).join("\n"),
    );
    return 1;
  }
  return 0;
}

Deno.exit(await main(Deno.args));
