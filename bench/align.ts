/**
 * `deno task bench align`: MTCNN detection + ArcFace alignment speed on one core (no workers) on
 * LFW's 250x250 images. Images are decoded first (decode is not timed: it is the decoder's bench),
 * the detector is warmed up on a few images, then each image is detected and its subject aligned.
 * Prints one JSON object: images/s, faces/s and the ms/image of each stage (wall time), plus the
 * process CPU time per image, which other load on a shared machine does not inflate.
 */
import { cpuUsage } from "node:process";
import { parseFlags, runTask } from "../tasks/cli.ts";
import type { MtcnnDetector, RgbImage } from "../pipeline/align/mtcnn/mod.ts";
import { pickFace } from "../pipeline/align/mtcnn/pick.ts";
import { alignFace, ARCFACE_SIZE } from "../pipeline/align/similarity.ts";

const HELP = `Usage: deno task bench align [options]

  --data DIR        image-folder tree (default ../shared/data/lfw/lfw-deepfunneled)
  --limit N         images to time, every (count/N)-th of the sorted list (default 200)
  --warmup N        untimed images first (default 5)
  --backend B       auto | wasm | cpu | webgpu | tensorflow (default auto)
  --channel-order O rgb | bgr (default rgb)
  --min-face-size N (default 20)
`;

/** `n` images spread evenly over the sorted listing of `data`, decoded (ms/image not timed). */
async function loadImages(data: string, n: number) {
  const { readImageTree } = await import("../pipeline/list/list_reader.ts");
  const { decodeImage } = await import("../pipeline/decode/decode_image.ts");
  const all = await readImageTree(data);
  if (all.length === 0) throw new Error(`No images under "${data}"`);
  const step = Math.max(1, Math.floor(all.length / n));
  const chosen = all.filter((_, i) => i % step === 0).slice(0, n);
  const images = [];
  const td = performance.now();
  for (const r of chosen) images.push(await decodeImage(r.path!));
  return { images, decodeMs: (performance.now() - td) / images.length };
}

/** Detects + picks + aligns each image; the first `warmup` are not timed. */
function timeDetection(det: MtcnnDetector, images: RgbImage[], warmup: number) {
  const sum = { pyramid: 0, pnet: 0, rnet: 0, onet: 0, align: 0 };
  let faces = 0, noFace = 0, timed = 0;
  let t0 = 0;
  let cpu0 = cpuUsage();
  for (let i = 0; i < images.length; i++) {
    if (i === Math.min(warmup, images.length - 1)) t0 = performance.now(), cpu0 = cpuUsage();
    const img = images[i];
    const found = det.detect(img);
    const ta = performance.now();
    const k = pickFace(found, img.width, img.height, "center");
    if (k >= 0) alignFace(img, found[k].landmarks, ARCFACE_SIZE);
    const alignMs = performance.now() - ta;
    if (i < Math.min(warmup, images.length - 1)) continue;
    timed++;
    if (k >= 0) faces++;
    else noFace++;
    for (const s of ["pyramid", "pnet", "rnet", "onet"] as const) sum[s] += det.times[s];
    sum.align += alignMs;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(cpu0);
  return { sum, faces, noFace, timed, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export async function main(args: string[]): Promise<void> {
  const { flags: v } = parseFlags(args, {
    data: { type: "string", default: "../shared/data/lfw/lfw-deepfunneled" },
    limit: { type: "int", min: 1, default: 200 },
    warmup: { type: "int", min: 0, default: 5 },
    backend: {
      type: "string",
      choices: ["auto", "wasm", "cpu", "webgpu", "tensorflow"],
      default: "auto",
    },
    "channel-order": { type: "string", choices: ["rgb", "bgr"], default: "rgb" },
    "min-face-size": { type: "number", above: 0, default: 20 },
  }, { help: HELP });
  const { limit, warmup } = v;
  const tf = await import("@tensorflow/tfjs");
  const { initBackend } = await import("../model/backend/backend.ts");
  const { MtcnnDetector } = await import("../pipeline/align/mtcnn/mod.ts");

  // One core: the single-threaded wasm build (no XNNPACK threads, no decode workers).
  const backend = await initBackend({ backend: v.backend as "auto", wasmThreads: 1 });
  const { images, decodeMs } = await loadImages(v.data, limit + warmup);

  const det = await MtcnnDetector.create({
    channelOrder: v["channel-order"] as "rgb",
    minFaceSize: Number(v["min-face-size"]),
  });
  const tensorsBefore = tf.memory().numTensors;
  const { sum, faces, noFace, timed, seconds, cpuSeconds } = timeDetection(det, images, warmup);
  const leaked = tf.memory().numTensors - tensorsBefore;
  det.dispose();
  const per = (x: number) => Math.round((x / timed) * 100) / 100;
  console.log(JSON.stringify({
    bench: "align",
    backend: `${backend.name} (${backend.detail})`,
    data: v.data,
    images: timed,
    size: `${images[0].width}x${images[0].height}`,
    imagesPerSecond: Math.round((timed / seconds) * 10) / 10,
    facesPerSecond: Math.round((faces / seconds) * 10) / 10,
    noFace,
    // CPU time of this process (user + system): robust to other load on a shared machine.
    cpuMsPerImage: Math.round((cpuSeconds / timed) * 1e5) / 100,
    imagesPerCpuSecond: Math.round((timed / cpuSeconds) * 10) / 10,
    msPerImage: {
      total: per(seconds * 1000),
      pyramid: per(sum.pyramid),
      pnet: per(sum.pnet),
      rnet: per(sum.rnet),
      onet: per(sum.onet),
      align: per(sum.align),
    },
    decodeMsPerImage_notTimed: Math.round(decodeMs * 100) / 100,
    leakedTensors: leaked,
  }));
}

if (import.meta.main) await runTask("bench align", () => main(Deno.args));
