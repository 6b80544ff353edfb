/**
 * The try-it page: two photos (or webcam frames) -> arcstream's MTCNN (boxes and 5 landmarks
 * drawn) -> the 112x112 ArcFace alignment -> a run's exported model -> cosine and same/different
 * at the run's threshold; all in this browser with TF.js (face_pair.ts holds the pipeline part).
 * `globalThis.arcstreamTryIt` exposes the last results for the browser tests.
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { RgbImage } from "../../pipeline/records.ts";
import type { Embedder } from "../../model/eval/embed_stream.ts";
import {
  cosine,
  embedLargestFace,
  type FaceResult,
  loadExport,
  MtcnnDetector,
  NoFaceError,
  samePerson,
} from "./face_pair.ts";
import { $, apiJson, showMessage } from "./page_util.ts";

interface RunRow {
  name: string;
  hasExport: boolean;
  threshold: { distance: number; from: string } | null;
}

/** What the tests read. */
const state = {
  backend: "",
  ready: false,
  busy: 0,
  results: { a: null as FaceResult | null, b: null as FaceResult | null },
  ms: { a: 0, b: 0 },
  cosine: null as number | null,
  same: null as boolean | null,
};
(globalThis as unknown as { arcstreamTryIt: typeof state }).arcstreamTryIt = state;

let detector: MtcnnDetector | null = null;
let embedder: Embedder | null = null;
let run: RunRow | null = null;
const images: { a: RgbImage | null; b: RgbImage | null } = { a: null, b: null };

/** True when WebGL is drawn by the CPU (SwiftShader, llvmpipe): wasm is faster there. */
function softwareWebgl(): boolean {
  const gl = document.createElement("canvas").getContext("webgl2");
  if (!gl) return true;
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  return /swiftshader|llvmpipe|software/i.test(name);
}

/** `?backend=` when given, else webgl on a GPU, else wasm (its binaries come from /js/wasm/). */
async function initBackend(): Promise<string> {
  setWasmPaths("/js/wasm/");
  const wanted = new URLSearchParams(location.search).get("backend");
  const order = wanted ? [wanted] : softwareWebgl() ? ["wasm", "cpu"] : ["webgl", "wasm", "cpu"];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // next one
    }
  }
  throw new Error(`No TF.js backend of ${order.join(", ")} works in this browser`);
}

/** RGB pixels of an image file, decoded by the browser without colour conversion. */
async function decodeFile(file: Blob): Promise<{ rgb: RgbImage; bitmap: ImageBitmap }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch {
    throw new Error(
      `This file is not an image the browser can decode (${file.type || "unknown type"})`,
    );
  }
  const c = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = c.getContext("2d")!;
  g.drawImage(bitmap, 0, 0);
  const rgba = g.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const pixels = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    pixels[j] = rgba[i], pixels[j + 1] = rgba[i + 1], pixels[j + 2] = rgba[i + 2];
  }
  return { rgb: { pixels, width: bitmap.width, height: bitmap.height }, bitmap };
}

function drawPhoto(box: HTMLElement, bitmap: ImageBitmap | null, r: FaceResult | null): void {
  const view = $<HTMLCanvasElement>("canvas.view", box);
  if (bitmap) {
    view.width = bitmap.width, view.height = bitmap.height;
    view.getContext("2d")!.drawImage(bitmap, 0, 0);
  }
  const g = view.getContext("2d")!;
  for (const [i, f] of (r?.faces ?? []).entries()) {
    g.strokeStyle = i === r!.chosen ? "#00e000" : "#ffb000";
    g.lineWidth = Math.max(2, view.width / 200);
    g.strokeRect(...f.box);
    g.fillStyle = "#ff2020";
    for (const [x, y] of f.landmarks) g.fillRect(x - 2, y - 2, 5, 5);
  }
  const face = $<HTMLCanvasElement>("canvas.face", box);
  const fg = face.getContext("2d")!;
  fg.clearRect(0, 0, face.width, face.height);
  if (!r) return;
  const rgba = new Uint8ClampedArray(112 * 112 * 4);
  for (let i = 0, j = 0; j < r.aligned.pixels.length; i += 4, j += 3) {
    rgba[i] = r.aligned.pixels[j], rgba[i + 1] = r.aligned.pixels[j + 1];
    rgba[i + 2] = r.aligned.pixels[j + 2], rgba[i + 3] = 255;
  }
  fg.putImageData(new ImageData(rgba, 112, 112), 0, 0);
}

async function analyse(side: "a" | "b"): Promise<void> {
  const box = $(`#photo-${side}`), msg = $(".message", box);
  state.results[side] = null;
  const image = images[side];
  if (!image || !detector || !embedder) return;
  const t0 = performance.now();
  try {
    const r = await embedLargestFace(image, detector, embedder);
    state.ms[side] = performance.now() - t0;
    state.results[side] = r;
    drawPhoto(box, null, r);
    showMessage(
      msg,
      r.faces.length > 1 ? "note" : "ok",
      r.faces.length > 1
        ? `${r.faces.length} faces found: using the largest (green box)`
        : `1 face found (${state.ms[side].toFixed(0)} ms)`,
    );
  } catch (e) {
    drawPhoto(box, null, null);
    showMessage(
      msg,
      "error",
      e instanceof NoFaceError ? e.message : `Cannot use this photo: ${(e as Error).message}`,
    );
  }
}

function verdict(): void {
  const { a, b } = state.results;
  const out = $("#result");
  state.cosine = state.same = null;
  if (!a || !b) return void (out.textContent = "");
  state.cosine = cosine(a.embedding, b.embedding);
  if (!run?.threshold) {
    out.textContent = `cosine ${state.cosine.toFixed(4)} (this run has no threshold yet: ` +
      "it had no held-out evaluation; run eval-lfw with --out inside its folder)";
    return;
  }
  state.same = samePerson(state.cosine, run.threshold.distance);
  const tc = 1 - run.threshold.distance / 2;
  out.textContent = `${state.same ? "Same person" : "Different people"}: cosine ${
    state.cosine.toFixed(4)
  } ${state.same ? ">" : "<="} threshold ${tc.toFixed(4)} (${run.threshold.from})`;
}

async function work(task: () => Promise<void>): Promise<void> {
  state.busy++;
  $("#status").textContent = "working...";
  try {
    await task();
  } catch (e) {
    showMessage("#model-message", "error", (e as Error).message);
  } finally {
    state.busy--;
    $("#status").textContent = state.busy ? "working..." : "ready";
  }
}

async function setImage(side: "a" | "b", blob: Blob): Promise<void> {
  const box = $(`#photo-${side}`);
  images[side] = null;
  state.results[side] = null;
  try {
    const { rgb, bitmap } = await decodeFile(blob);
    images[side] = rgb;
    drawPhoto(box, bitmap, null);
  } catch (e) {
    drawPhoto(box, null, null);
    showMessage($(".message", box), "error", (e as Error).message);
  }
  await analyse(side);
  verdict();
}

async function webcamFrame(): Promise<Blob> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true });
  try {
    const video = document.createElement("video");
    video.srcObject = stream;
    video.muted = true;
    await video.play();
    const c = new OffscreenCanvas(video.videoWidth, video.videoHeight);
    c.getContext("2d")!.drawImage(video, 0, 0);
    return await c.convertToBlob({ type: "image/png" });
  } finally {
    for (const t of stream.getTracks()) t.stop();
  }
}

async function chooseRun(runs: RunRow[], name: string): Promise<void> {
  embedder?.dispose();
  embedder = null;
  run = runs.find((r) => r.name === name) ?? null;
  showMessage("#model-message", "", "");
  if (!run) return;
  const url = `/files/${encodeURIComponent(run.name)}/export/model.json`;
  try {
    embedder = await loadExport(url);
  } catch (e) {
    showMessage(
      "#model-message",
      "error",
      `Run "${run.name}" has no usable export: ${(e as Error).message}`,
    );
    return;
  }
  showMessage(
    "#model-message",
    "ok",
    `Model: ${run.name}/export/model.json, input ${embedder.inputSize}px, ${
      run.threshold ? `threshold from ${run.threshold.from}` : "no threshold yet"
    }`,
  );
  await analyse("a");
  await analyse("b");
  verdict();
}

async function main(): Promise<void> {
  state.backend = await initBackend();
  $("#backend").textContent = `TF.js backend: ${state.backend}`;
  detector = await MtcnnDetector.create();
  const runs = (await apiJson<RunRow[]>("/api/runs")).filter((r) => r.hasExport);
  const select = $<HTMLSelectElement>("#run");
  select.replaceChildren(...runs.map((r) => new Option(r.name, r.name)));
  if (runs.length === 0) {
    showMessage(
      "#model-message",
      "error",
      "No run has an export yet: deno task train writes runs/<run>/export/model.json.",
    );
  }
  const wanted = new URLSearchParams(location.search).get("run");
  if (wanted && runs.some((r) => r.name === wanted)) select.value = wanted;
  select.onchange = () => work(() => chooseRun(runs, select.value));
  if (runs.length) await chooseRun(runs, select.value);
  for (const side of ["a", "b"] as const) {
    const input = $<HTMLInputElement>(`#file-${side}`);
    input.onchange = () => input.files?.[0] && work(() => setImage(side, input.files![0]));
    $(`#cam-${side}`).onclick = () => work(async () => await setImage(side, await webcamFrame()));
  }
}

await work(main);
state.ready = true;
