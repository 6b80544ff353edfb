/**
 * `deno task bench web [--runs DIR] [--run NAME] [--photo FILE] [--repeats N]`: the web app's two
 * goals, in headless chromium (web/server/chromium.ts):
 * - try-it: MTCNN detect + align + embed of one photo after the model is loaded, ms per photo in
 *   the page (TF.js wasm backend), next to the same code (web/pages/face_pair.ts) in Deno on
 *   arcstream's wasm backend in the same run;
 * - the runs page following a growing log.jsonl: ms from an appended line to the redrawn curves
 *   (server polls every 250 ms), on a copy of the run in a temp folder (the runs folder is only read).
 */
import { join } from "node:path";
import { parseFlags, runTask, UsageError } from "../tasks/cli.ts";

const HELP = `Usage: deno task bench web [options]   (prints one JSON object; needs chromium)
  --runs DIR      runs folder (default runs)
  --run NAME      run whose export is used (default: the newest with export/model.json)
  --photo FILE    a photo (default fixtures/web/Abel_Pacheco_0001.png, 250x250)
  --repeats N     photos timed on each side after one warm-up (default 5)`;

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function pickRun(runs: string, name?: string): Promise<string> {
  if (name) return name;
  const names: string[] = [];
  for await (const e of Deno.readDir(runs)) {
    try {
      await Deno.stat(join(runs, e.name, "export", "model.json"));
      names.push(e.name);
    } catch {
      // no export
    }
  }
  if (!names.length) throw new UsageError(`No run with export/model.json in "${runs}"`);
  return names.sort().pop()!;
}

/** The same detect + align + embed in Deno, wasm backend: ms per photo after a warm-up. */
async function denoPeer(modelJson: string, photo: string, repeats: number) {
  const { initBackend } = await import("../model/backend/backend.ts");
  const { decodeImage } = await import("../pipeline/decode/decode_image.ts");
  const { loadEmbedder } = await import("../model/eval/load_embedder.ts");
  const { embedLargestFace, MtcnnDetector } = await import("../web/pages/face_pair.ts");
  const backend = await initBackend({ backend: "wasm" });
  const det = await MtcnnDetector.create(), emb = await loadEmbedder(modelJson);
  const im = await decodeImage(photo);
  const ms: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t = performance.now();
    await embedLargestFace(im, det, emb);
    ms.push(performance.now() - t);
  }
  det.dispose(), emb.dispose();
  return {
    backend: `${backend.name} (${backend.detail})`,
    firstMs: ms[0],
    medianMs: median(ms.slice(1)),
  };
}

export async function main(args: string[]): Promise<void> {
  const { flags } = parseFlags(args, {
    runs: { type: "string", default: "runs" },
    run: { type: "string" },
    photo: { type: "string", default: "fixtures/web/Abel_Pacheco_0001.png" },
    repeats: { type: "int", min: 1, default: 5 },
  }, { help: HELP });
  const run = await pickRun(flags.runs, flags.run);
  const { startServer } = await import("../web/server/serve.ts");
  const { launchChromium, stopChromium } = await import("../web/server/chromium.ts");
  const tmp = await Deno.makeTempDir({ prefix: "arcstream-bench-web-" });
  let browser, app, live;
  try {
    app = await startServer({ runs: flags.runs, port: 0 });
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`${app.url}try?run=${encodeURIComponent(run)}`);
    await page.waitForFunction("globalThis.arcstreamTryIt?.ready", { timeout: 120_000 });
    const pageMs: number[] = [];
    for (let i = 0; i <= flags.repeats; i++) {
      const side = i % 2 ? "b" : "a";
      const input = await page.$(`#file-${side}`);
      // A cleared input fires "change" again for the same file.
      await page.evaluate(
        `arcstreamTryIt.ms = {a: 0, b: 0}; document.querySelector("#file-${side}").value = ""`,
      );
      // deno-lint-ignore no-explicit-any
      await (input as any).uploadFile(flags.photo);
      await page.waitForFunction(`arcstreamTryIt.busy === 0 && arcstreamTryIt.ms.${side} > 0`);
      pageMs.push(await page.evaluate(`arcstreamTryIt.ms.${side}`) as number);
    }
    const backend = await page.evaluate("arcstreamTryIt.backend") as string;
    // The runs page following a log that grows by one line a second (a copy of the run).
    await Deno.mkdir(join(tmp, "live"));
    await Deno.copyFile(join(flags.runs, run, "run.json"), join(tmp, "live", "run.json"));
    const lines = (await Deno.readTextFile(join(flags.runs, run, "log.jsonl"))).trim().split("\n");
    await Deno.writeTextFile(join(tmp, "live", "log.jsonl"), lines[0] + "\n");
    live = await startServer({ runs: tmp, port: 0 });
    await page.goto(`${live.url}?run=live`);
    await page.waitForSelector('#curves[data-entries="1"]');
    const delays: number[] = [];
    for (let k = 1; k < Math.min(lines.length, 11); k++) {
      await new Promise((r) => setTimeout(r, 1000));
      const t = Date.now();
      await Deno.writeTextFile(join(tmp, "live", "log.jsonl"), lines[k] + "\n", { append: true });
      await page.waitForSelector(`#curves[data-entries="${k + 1}"]`, { timeout: 10_000 });
      delays.push(Date.now() - t);
    }
    const peer = await denoPeer(
      join(flags.runs, run, "export", "model.json"),
      flags.photo,
      flags.repeats,
    );
    const browserMedian = median(pageMs.slice(1));
    console.log(JSON.stringify(
      {
        bench: "web",
        run,
        photo: flags.photo,
        loadavg: Deno.loadavg(),
        tryIt: {
          chromium: { backend, firstMs: pageMs[0], medianMs: browserMedian, ms: pageMs.slice(1) },
          deno: peer,
          browserOverDeno: browserMedian / peer.medianMs,
        },
        runsPageFollow: { pollMs: 250, medianMs: median(delays), maxMs: Math.max(...delays) },
      },
      null,
      1,
    ));
  } finally {
    await stopChromium(browser);
    await app?.close();
    await live?.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await runTask("bench web", () => main(Deno.args));
