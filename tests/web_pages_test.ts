/**
 * The web app in a real browser (Debian's chromium, headless, via puppeteer-core; see
 * tests/web_browser.ts): every page loads without a console error; the runs page redraws when a
 * log.jsonl grows; the report lists the false accepts / rejects that the saved embeddings and the
 * report's threshold give; the try-it page embeds two fixture photos as `eval-lfw
 * --save-embeddings` does (same aligner and network, run by TF.js in the page) and decides the
 * same; bad inputs get a message. PNG photos: lossless, so the browser decodes the same pixels as
 * eval-lfw (a JPEG's pixels depend on the decoder's IDCT and chroma upsampling).
 */
import { assert, assertAlmostEquals, assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";
import type { ElementHandle, Page } from "puppeteer-core";
import { readNpy } from "../pipeline/formats/npy.ts";
import { readPairs } from "../pipeline/formats/pairs_reader.ts";
import {
  runTaskFile,
  screenshotDir,
  SKIP_BROWSER,
  startApp,
  startBrowser,
  stopBrowser,
  watchErrors,
} from "./web_browser.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const HELDOUT_PAIRS = join(ROOT, "fixtures/lfw_faces/heldout/pairs.txt");
const WEB = join(ROOT, "fixtures/web");
const PHOTOS = [
  "Abel_Pacheco_0001",
  "Abel_Pacheco_0004",
  "Akhmed_Zakayev_0001",
  "Akhmed_Zakayev_0003",
];
const logLine = (step: number) =>
  JSON.stringify({
    time: new Date().toISOString(),
    epoch: 0,
    step,
    totalLoss: 10 / step,
    inferenceLoss: 8 / step,
    weightDecayLoss: 2,
    accuracy: step / 100,
    lr: 0.1,
    imagesPerSec: 10,
  }) + "\n";

/** Runs folder: a tiny trained run with two eval-lfw reports, a live run, a broken export. */
async function prepare(top: string) {
  const runs = join(top, "runs"), tiny = join(runs, "tiny");
  await runTaskFile("train.ts", [
    "--preset=tiny",
    "--steps=2",
    `--out=${tiny}`,
    `--eval-pairs=${HELDOUT_PAIRS}`,
  ]);
  // eval-lfw reads <Name>/<Name>_NNNN.jpg; the bytes are the PNGs (it sniffs the format).
  for (const key of PHOTOS) {
    const person = key.replace(/_\d{4}$/, "");
    await Deno.mkdir(join(top, "lfw", person), { recursive: true });
    await Deno.copyFile(join(WEB, `${key}.png`), join(top, "lfw", person, `${key}.jpg`));
  }
  await runTaskFile("eval_lfw.ts", [
    `--data=${join(top, "lfw")}`,
    `--pairs=${join(ROOT, "fixtures/eval/lfw_mini_pairs.txt")}`,
    `--model=${join(tiny, "export/model.json")}`,
    `--out=${join(tiny, "eval_photos")}`,
    `--save-embeddings=${join(top, "photos.npy")}`,
    "--quiet",
  ]);
  // 200 held-out pairs of aligned faces: a 2-step model gets some wrong.
  await runTaskFile("eval_lfw.ts", [
    `--data=${join(ROOT, "fixtures/lfw_faces/heldout")}`,
    "--aligned",
    `--pairs=${HELDOUT_PAIRS}`,
    `--model=${join(tiny, "export/model.json")}`,
    `--out=${join(tiny, "eval_heldout")}`,
    `--save-embeddings=${join(top, "heldout.npy")}`,
    "--quiet",
  ]);
  const runJson = await Deno.readTextFile(join(tiny, "run.json"));
  await Deno.mkdir(join(runs, "live"));
  await Deno.writeTextFile(join(runs, "live", "run.json"), runJson);
  await Deno.writeTextFile(join(runs, "live", "log.jsonl"), logLine(1) + logLine(2) + logLine(3));
  const lock = { pid: Deno.pid, host: Deno.hostname(), started: new Date().toISOString() };
  await Deno.writeTextFile(join(runs, "live", "lock"), JSON.stringify(lock));
  await Deno.mkdir(join(runs, "broken", "export"), { recursive: true });
  await Deno.writeTextFile(join(runs, "broken", "run.json"), runJson);
  await Deno.writeTextFile(join(runs, "broken", "export", "model.json"), '{"not": "a model"}');
  return { runs, tiny };
}

/** Rows of an .npy as unit vectors. */
async function unitRows(path: string): Promise<Float32Array[]> {
  const a = await readNpy(path);
  const [n, d] = a.shape;
  const data = a.data as Float32Array;
  return Array.from({ length: n }, (_, i) => {
    const r = data.slice(i * d, (i + 1) * d);
    const norm = Math.hypot(...r);
    return r.map((v) => v / norm);
  });
}
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** What the try-it page exposes (web/pages/try_it.ts `state`). */
interface TryItState {
  busy: number;
  backend: string;
  same: boolean | null;
  ms: { a: number; b: number };
  results: { a: { embedding: Float32Array }; b: { embedding: Float32Array } };
}

async function pairIndices(page: Page): Promise<number[]> {
  return await page.$$eval(
    "#pairs .pair",
    (els) => els.map((e) => Number(e.getAttribute("data-index"))),
  );
}

async function checkRunsPage(page: Page, url: string, runs: string, shots: string) {
  await page.goto(`${url}?run=live`, { waitUntil: "load" });
  await page.waitForSelector('#curves[data-entries="3"] svg', { timeout: 20_000 });
  const states = await page.$$eval(
    "tr.run",
    (trs) =>
      trs.map((tr) => `${tr.getAttribute("data-run")}:${tr.querySelector(".state")!.textContent}`),
  );
  assertEquals(states.sort(), ["broken:failed", "live:training", "tiny:finished"]);
  const before = await page.$eval("#curves", (e) => e.innerHTML);
  const t0 = Date.now();
  await Deno.writeTextFile(join(runs, "live", "log.jsonl"), logLine(4) + logLine(5), {
    append: true,
  });
  await page.waitForSelector('#curves[data-entries="5"]', { timeout: 10_000 });
  console.log(JSON.stringify({ runsPageFollowDelayMs: Date.now() - t0, pollMs: 100 }));
  assert(
    (await page.$eval("#curves", (e) => e.innerHTML)) !== before,
    "the curves were not redrawn",
  );
  await page.goto(`${url}?run=tiny`, { waitUntil: "load" });
  await page.waitForSelector("#curves svg");
  // Checkpoints are offered as download links only.
  const links = await page.$$eval("#checkpoints a", (as) => as.map((a) => a.getAttribute("href")));
  assertEquals(links, ["/files/tiny/checkpoints/ckpt-00000002.arcs?download=1"]);
  await page.screenshot({ path: join(shots, "runs.png") });
}

async function checkReport(page: Page, url: string, top: string, tiny: string, shots: string) {
  // Expected from the saved embeddings and the report's threshold: accepted when 2 - 2 cos < t.
  const rows = await unitRows(join(top, "heldout.npy"));
  const report = JSON.parse(await Deno.readTextFile(join(tiny, "eval_heldout/report.json")));
  const t = report.result.bestThreshold;
  const { pairs } = await readPairs(HELDOUT_PAIRS);
  const cos = pairs.map((_, i) => dot(rows[2 * i], rows[2 * i + 1]));
  const idx = cos.map((_, i) => i);
  const fa = idx.filter((i) => !pairs[i].issame && 2 - 2 * cos[i] < t)
    .sort((a, b) => cos[b] - cos[a]);
  const fr = idx.filter((i) => pairs[i].issame && !(2 - 2 * cos[i] < t))
    .sort((a, b) => cos[a] - cos[b]);
  assert(fa.length > 0 && fr.length > 0, `a 2-step model should err both ways: ${fa} / ${fr}`);
  await page.goto(`${url}report?dir=tiny%2Feval_heldout`, { waitUntil: "load" });
  await page.waitForSelector("#page:not(:empty)");
  assertEquals(await pairIndices(page), fa.slice(0, 10));
  await page.click("input[value=falseRejects]");
  assertEquals(await pairIndices(page), fr.slice(0, 10));
  const shown = await page.$$eval("#pairs .cos", (els) => els.map((e) => Number(e.textContent)));
  shown.forEach((c, k) => assertAlmostEquals(c, cos[fr[k]], 1e-4));
  if (fr.length > 10) {
    await page.click("#next");
    assertEquals(await pairIndices(page), fr.slice(10, 20));
    await page.click("#prev");
  }
  // Both aligned faces of every pair shown are pictures (112x112).
  await page.waitForNetworkIdle();
  const sizes = await page.$$eval(
    "#pairs img",
    (els) => els.map((e) => (e as unknown as { naturalWidth: number }).naturalWidth),
  );
  assertEquals(sizes, Array(2 * Math.min(10, fr.length)).fill(112));
  await page.screenshot({ path: join(shots, "report.png"), fullPage: true });
}

/** Uploads `file` as photo `side`, waits until the page is idle; returns its message. */
async function upload(page: Page, side: "a" | "b", file: string): Promise<string> {
  // (puppeteer's input-element type needs the DOM lib, which this Deno program does not load)
  // deno-lint-ignore no-explicit-any
  const input = (await page.$(`#file-${side}`)) as ElementHandle<any>;
  await input.uploadFile(file);
  await page.waitForFunction(
    `arcstreamTryIt.busy === 0 && document.querySelector("#photo-${side} .message").textContent !== ""`,
    { timeout: 30_000 },
  );
  return await page.$eval(`#photo-${side} .message`, (e) => e.textContent!);
}

async function checkTryIt(page: Page, url: string, top: string, tiny: string, shots: string) {
  await page.goto(`${url}try?run=tiny`, { waitUntil: "load" });
  await page.waitForFunction("globalThis.arcstreamTryIt?.ready", { timeout: 60_000 });
  assertMatch(await page.$eval("#model-message", (e) => e.textContent!), /^Model: tiny/);
  await upload(page, "a", join(WEB, "Abel_Pacheco_0001.png"));
  await upload(page, "b", join(WEB, "Abel_Pacheco_0004.png"));
  const got = await page.evaluate(() => {
    const s = (globalThis as unknown as { arcstreamTryIt: TryItState }).arcstreamTryIt;
    return {
      a: Array.from(s.results.a.embedding),
      b: Array.from(s.results.b.embedding),
      same: s.same,
      backend: s.backend,
      ms: s.ms,
    };
  }) as { a: number[]; b: number[]; same: boolean; backend: string; ms: { a: number; b: number } };
  console.log(JSON.stringify({ tryItBackend: got.backend, detectAlignEmbedMs: got.ms }));
  // lfw_mini_pairs.txt's pair 0 is Abel_Pacheco 1 and 4: rows 0 and 1 of the .npy.
  const rows = await unitRows(join(top, "photos.npy"));
  assert(dot(got.a, rows[0]) >= 0.9999, `photo a: cosine ${dot(got.a, rows[0])} to eval-lfw's`);
  assert(dot(got.b, rows[1]) >= 0.9999, `photo b: cosine ${dot(got.b, rows[1])} to eval-lfw's`);
  // The run's threshold: its eval-lfw reports' (the last by name; before the held-out check's).
  const report = JSON.parse(await Deno.readTextFile(join(tiny, "eval_photos/report.json")));
  assertMatch(
    await page.$eval("#result", (e) => e.textContent!),
    /tiny\/eval_photos\/report\.json/,
  );
  assertEquals(got.same, 2 - 2 * dot(rows[0], rows[1]) < report.result.bestThreshold);
  await page.screenshot({ path: join(shots, "try_it.png"), fullPage: true });
  // Bad input: never a blank page or a stuck spinner.
  const result = () => page.$eval("#result", (e) => e.textContent);
  assertMatch(await upload(page, "a", join(WEB, "no_face.png")), /No face found/);
  assertEquals(await result(), "");
  assertMatch(await upload(page, "a", join(WEB, "not_an_image.png")), /not an image/);
  assertEquals(await result(), "");
  assertMatch(
    await upload(page, "a", join(ROOT, "fixtures/mtcnn/faces.jpg")),
    /^\d+ faces found: using the largest/,
  );
  assertMatch((await result())!, /cosine/);
  // A webcam frame (chromium's fake camera: a test pattern without a face) goes the same way.
  await page.click("#cam-b");
  await page.waitForFunction(
    `arcstreamTryIt.busy === 0 && /No face found/.test(document.querySelector("#photo-b .message").textContent)`,
    { timeout: 30_000 },
  );
  await page.select("#run", "broken");
  await page.waitForFunction(
    `/no usable export/.test(document.querySelector("#model-message").textContent)`,
  );
  assertEquals(await page.$eval("#status", (e) => e.textContent), "ready");
}

Deno.test({
  name:
    "the web app's pages in headless chromium: live runs, worst pairs, try-it equal to eval-lfw",
  ignore: SKIP_BROWSER,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const top = await Deno.makeTempDir({ prefix: "arcstream-web-test-" });
    let browser, app;
    try {
      const { runs, tiny } = await prepare(top);
      app = await startApp(runs);
      browser = await startBrowser();
      const page = await browser.newPage();
      await page.setViewport({ width: 1000, height: 800 });
      const errors = watchErrors(page);
      const shots = await screenshotDir();
      await checkRunsPage(page, app.url, runs, shots);
      await checkReport(page, app.url, top, tiny, shots);
      await checkTryIt(page, app.url, top, tiny, shots);
      assertEquals(errors, []);
      console.log(`screenshots: ${shots}`);
    } finally {
      await stopBrowser(browser);
      await app?.close();
      await Deno.remove(top, { recursive: true });
    }
  },
});
