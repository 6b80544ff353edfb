/**
 * Every cross-reference in README.md and docs/**\/*.md resolves: relative links name a file or
 * folder of the repository, `#anchors` name a heading of the page they point to (slugs made by
 * github-slugger, the algorithm GitHub uses for heading ids), and backticked repository paths such
 * as `pipeline/batch/train_batches.ts` exist. Pages under docs/history/ describe the code as it
 * was, so only their links are checked, not the paths they mention.
 */
import { assertEquals } from "@std/assert";
import GithubSlugger from "github-slugger";
import { dirname, join, relative } from "node:path";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");
/** Top-level folders whose paths the docs mention in backticks. */
const REPO_FOLDERS = [
  "pipeline",
  "model",
  "tasks",
  "tests",
  "bench",
  "scripts",
  "fixtures",
  "docs",
];

/** The page's text outside fenced code blocks and inline code spans (replaced by spaces). */
export function proseOf(md: string): string {
  return md
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (m) => m.replace(/[^\n]/g, " "))
    .replace(/(`+)[^`\n][\s\S]*?\1/g, (m) => " ".repeat(m.length));
}

/** Targets of inline links and images, `[text](target)` and `[text](target "title")`. */
export function linkTargets(md: string): string[] {
  const out: string[] = [];
  for (const m of proseOf(md).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    out.push(m[1]);
  }
  for (const m of proseOf(md).matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) {
    out.push(m[1]); // reference definitions
  }
  return out;
}

/** The heading ids GitHub gives a page (ATX headings outside code, duplicates numbered). */
export function headingAnchors(md: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const noCode = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const m of noCode.matchAll(/^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    // GitHub slugs the rendered text: link targets, emphasis markers and backticks are not in it.
    const text = m[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*]|\b_|_\b/g, "");
    anchors.add(slugger.slug(text));
  }
  return anchors;
}

/** Repository paths written in backticks: `folder/...` under a known top-level folder. */
export function backtickedPaths(md: string): string[] {
  const out: string[] = [];
  const noFences = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const m of noFences.matchAll(/`([^`\s]+)`/g)) {
    const p = m[1].replace(/[:,.]$/, "");
    // Only plain paths: no placeholders (<run>), globs (*), options or arguments.
    if (!/^[A-Za-z0-9_.\-/]+$/.test(p) || !p.includes("/")) continue;
    if (REPO_FOLDERS.includes(p.split("/")[0])) out.push(p);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function markdownPages(): Promise<string[]> {
  const pages = [join(ROOT, "README.md")];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".md")) pages.push(p);
    }
  };
  await walk(join(ROOT, "docs"));
  return pages.sort();
}

/** Every broken cross-reference of the README and docs, as "page: what". */
export async function brokenReferences(): Promise<string[]> {
  const broken: string[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = async (page: string) => {
    if (!anchorsOf.has(page)) anchorsOf.set(page, headingAnchors(await Deno.readTextFile(page)));
    return anchorsOf.get(page)!;
  };
  for (const page of await markdownPages()) {
    const md = await Deno.readTextFile(page);
    const name = relative(ROOT, page);
    for (const target of linkTargets(md)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
      const [file, anchor] = target.split("#", 2);
      const to = file === "" ? page : join(dirname(page), decodeURIComponent(file));
      if (!to.startsWith(ROOT) || !(await exists(to))) {
        broken.push(`${name}: link to missing "${target}"`);
      } else if (anchor !== undefined && to.endsWith(".md") && !(await anchors(to)).has(anchor)) {
        broken.push(`${name}: no heading "#${anchor}" in ${relative(ROOT, to)}`);
      }
    }
    if (name.startsWith("docs/history/")) continue;
    for (const p of backtickedPaths(md)) {
      if (!(await exists(join(ROOT, p)))) broken.push(`${name}: \`${p}\` does not exist`);
    }
  }
  return broken;
}

Deno.test("heading anchors follow GitHub's slugs", () => {
  const md = "# Benchmarks (`deno task bench <name>`)\n## Set-up: two commands\n" +
    "```sh\n# not a heading\n```\n## Figures\n## Figures\n### **Quiet** run, 2026-12-01\n";
  assertEquals(
    [...headingAnchors(md)],
    [
      "benchmarks-deno-task-bench-name",
      "set-up-two-commands",
      "figures",
      "figures-1",
      "quiet-run-2026-12-01",
    ],
  );
});

Deno.test("links, references and paths are found outside code only", () => {
  const md = 'See [a](docs/a.md#x), ![p](b.svg "t") and `pipeline/mod.ts`, not `[c](d.md)`.\n' +
    "```ts\n[e](f.md) `model/x.ts`\n```\n[ref]: docs/r.md\n`runs/<run>/x` `tasks/<task>/` `--out`";
  assertEquals(linkTargets(md), ["docs/a.md#x", "b.svg", "docs/r.md"]);
  assertEquals(backtickedPaths(md), ["pipeline/mod.ts"]);
});

Deno.test("every link, anchor and path in README.md and docs/ resolves", async () => {
  assertEquals(await brokenReferences(), []);
});
