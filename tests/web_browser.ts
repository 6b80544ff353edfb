/**
 * Shared by the browser tests (tests/web_*_test.ts): Debian's chromium started headless through
 * puppeteer-core, WebGL on SwiftShader (the CPU), and `deno task serve`'s server started in this
 * process on a free port. Without chromium the tests are skipped with a printed reason, unless
 * the env var CI is set: then they run, and fail.
 */
import type { Browser, Page } from "puppeteer-core";
import { type RunningApp, startServer } from "../web/server/serve.ts";
import { findChromium, launchChromium, stopChromium } from "../web/server/chromium.ts";
import { runTask } from "./run_task.ts";

const CHROMIUM = findChromium();
/** True when the browser tests are skipped (no chromium, CI unset); prints why once. */
export const SKIP_BROWSER = !CHROMIUM && !Deno.env.get("CI");
if (SKIP_BROWSER) {
  console.log(
    "browser tests skipped: no chromium (apt-get install chromium, or set CHROMIUM_PATH); " +
      "with CI set they run and fail",
  );
}

/** A page's console errors and uncaught exceptions, collected while it runs. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${(e as Error).message}`));
  return errors;
}

/** Starts chromium headless; stop it with `stopBrowser`. */
export async function startBrowser(): Promise<Browser> {
  if (!CHROMIUM) throw new Error("CI is set but no chromium was found (apt-get install chromium)");
  return await launchChromium();
}

/** Closes chromium and kills it by pid if needed. */
export const stopBrowser = stopChromium;

/** The web app over `runs` on a free loopback port (live curves polled every 100 ms). */
export async function startApp(runs: string): Promise<RunningApp> {
  return await startServer({ runs, port: 0, pollMs: 100 });
}

/** Where the tests put page screenshots: $ARCSTREAM_SCREENSHOTS, else a temp dir (printed). */
export async function screenshotDir(): Promise<string> {
  const d = Deno.env.get("ARCSTREAM_SCREENSHOTS") ??
    await Deno.makeTempDir({ prefix: "arcstream-shots-" });
  await Deno.mkdir(d, { recursive: true });
  return d;
}

/** Runs a task (`deno run -A tasks/<file>`) and returns its stdout; throws with stderr on failure. */
export async function runTaskFile(file: string, args: string[]): Promise<string> {
  const r = await runTask(new URL(`../tasks/${file}`, import.meta.url).pathname, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${r.stderr}`);
  return new TextDecoder().decode(r.stdout);
}
