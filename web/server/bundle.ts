/**
 * The pages' scripts, bundled for the browser from web/pages/*.ts with `deno bundle --platform
 * browser` (esbuild underneath): the try-it page's bundle holds the project's own MTCNN aligner
 * and embedder (pipeline/, model/) and TF.js. Built into a temp folder at server start, never
 * committed; `deno task serve` removes it on exit.
 */
import { join } from "node:path";

/** The page scripts: web/pages/<name>.ts -> <outDir>/<name>.js. */
export const PAGE_SCRIPTS = ["runs", "report", "try_it"] as const;

export const PAGES_DIR = new URL("../pages/", import.meta.url);

/** Bundles the page scripts into `outDir`; throws with deno bundle's message on failure. */
export async function bundlePages(outDir: string): Promise<void> {
  const entries = PAGE_SCRIPTS.map((n) => new URL(`${n}.ts`, PAGES_DIR).pathname);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--outdir", outDir, ...entries],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const msg = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
    throw new Error(`Cannot bundle the web pages: ${msg}`);
  }
  for (const n of PAGE_SCRIPTS) {
    try {
      await Deno.stat(join(outDir, `${n}.js`));
    } catch {
      throw new Error(`Cannot bundle the web pages: ${n}.js was not written to "${outDir}"`);
    }
  }
}
