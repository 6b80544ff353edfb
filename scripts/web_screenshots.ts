/**
 * The README's screenshots of `deno task serve` (docs/img/web_*.png): the three pages of a run
 * trained by `deno task train`, with its held-out pairs evaluated into the run folder first:
 *   deno task eval-lfw --data fixtures/lfw_faces/heldout --aligned \
 *     --pairs fixtures/lfw_faces/heldout/pairs.txt --model runs/<run>/export/model.json \
 *     --out runs/<run>/eval_heldout
 *   deno run -A scripts/web_screenshots.ts [runs/<run>]
 * Needs chromium. PNGs are palette-quantized by sharp to stay small.
 */
import { basename, dirname, join } from "node:path";
import { startServer } from "../web/server/serve.ts";
import { launchChromium, stopChromium } from "../web/server/chromium.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const runDir = Deno.args[0] ?? (() => {
  const names = [...Deno.readDirSync("runs")].map((e) => e.name).sort();
  return join("runs", names[names.length - 1]);
})();
const run = basename(runDir);
const sharp = (await import("sharp")).default;
const app = await startServer({ runs: dirname(runDir), port: 0 });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 760 });
  const shot = async (name: string) => {
    const png = await page.screenshot();
    const small = await sharp(png).resize({ width: 800 }).png({ palette: true, quality: 90 })
      .toBuffer();
    await Deno.writeFile(join(ROOT, "docs/img", name), new Uint8Array(small));
  };
  await page.goto(`${app.url}?run=${run}`, { waitUntil: "networkidle2" });
  await page.waitForSelector("#curves svg");
  await shot("web_runs.png");
  await page.goto(`${app.url}report?dir=${run}%2Feval_heldout`, { waitUntil: "networkidle0" });
  await page.click("input[value=falseRejects]");
  await page.waitForNetworkIdle();
  await page.evaluate(`document.querySelector("h2:nth-of-type(3)").scrollIntoView()`);
  await shot("web_report.png");
  await page.goto(`${app.url}try?run=${run}`);
  await page.waitForFunction("globalThis.arcstreamTryIt?.ready");
  for (const [side, photo] of [["a", "Abel_Pacheco_0001"], ["b", "Abel_Pacheco_0004"]]) {
    // deno-lint-ignore no-explicit-any
    const input = await page.$(`#file-${side}`) as any;
    await input.uploadFile(join(ROOT, "fixtures/web", `${photo}.png`));
    await page.waitForFunction(`arcstreamTryIt.busy === 0 && arcstreamTryIt.results.${side}`);
  }
  await shot("web_try_it.png");
} finally {
  await stopChromium(browser);
  await app.close();
}
