/**
 * `deno task bench pipeline [--data DIR] [--limit N] [--batch-size 128] [--workers 2]`
 * Images/s for list -> shuffle -> decode(+resize 112) -> wraparound batch -> tensors, plus a
 * per-stage breakdown and (with --compare) the decoder variants measured for the default choice.
 * The headline ratio compares arcstream and OpenCV doing the same work: the same decode scale
 * (IMREAD_REDUCED_COLOR_k for `--dct-scale auto`, the default), the same accurate IDCT, the same
 * INTER_AREA resize and normalization (bit-identical pixels: tests/decode_opencv_test.ts), end to
 * end (wall clock, all of arcstream's workers vs OpenCV's one thread) and per core (CPU time per
 * image). `--dct-scale off` is compared with OpenCV's full decode the same way; comparisons of
 * different work stay, labelled as such.
 */
import { parseFlags, runTask } from "../tasks/cli.ts";
import { DEFAULT_DECODE_WORKERS } from "../pipeline/decode/decode_pool.ts";
import { ARCFACE_SIZE } from "../pipeline/align/similarity.ts";
import type { ListRecord } from "../pipeline/records.ts";
import { cpuClock, decodeRate, decoderVariants } from "./pipeline_decode.ts";

const HELP = `Usage: deno task bench pipeline [options]   (prints one JSON object)
  --data DIR          image-folder tree (default ../shared/data/lfw/lfw-deepfunneled)
  --limit N           images through the end-to-end run (default 4096)
  --batch-size B      batch size (default 128)
  --workers N         decode workers (default 2)
  --concurrency N     images in flight (default 16)
  --prefetch N        batches decoded ahead (default 2)
  --compare N         also time decoder variants on N images (default 0: skip)
  --no-peer           skip the OpenCV peer (bench/pipeline_peer.py, one thread, same
                      images, run after arcstream when a Python with cv2 and numpy is found)`;

/** The side every image is resized to: the ArcFace crop. */
const SIZE = ARCFACE_SIZE;

interface EndToEnd {
  images: number;
  seconds: number;
  firstBatchS: number;
  steadyImages: number;
  cpuPerImage: number;
}

/** Shuffle + wraparound batch + decode + float conversion + tensors, disposed at once. */
async function endToEnd(
  records: ListRecord[],
  o: { batchSize: number; workers: number; prefetch: number; dctScale: "auto" | "off" },
): Promise<EndToEnd> {
  const { trainBatches } = await import("../pipeline/batch/train_batches.ts");
  const cpuMs = await cpuClock();
  const steps = Math.max(1, Math.floor(records.length / o.batchSize));
  // `concurrency` bounds the decode-only measurement; the chain bounds work by `prefetch` batches.
  const src = trainBatches(records, {
    batchSize: o.batchSize,
    seed: 7,
    workers: o.workers,
    prefetch: o.prefetch,
    dctScale: o.dctScale,
    steps,
  });
  let images = 0;
  const t = performance.now();
  let firstBatchS = 0;
  let firstImages = 0;
  let cpu0 = 0;
  for await (const b of src) {
    if (images === 0) {
      // Steady state starts after the first batch (worker start-up and module loading).
      firstBatchS = (performance.now() - t) / 1000;
      firstImages = b.keys.length;
      cpu0 = cpuMs();
    }
    images += b.keys.length;
    b.images.dispose();
    b.labels.dispose();
  }
  const seconds = (performance.now() - t) / 1000;
  const steadyImages = images - firstImages;
  const cpuPerImage = (cpuMs() - cpu0) / Math.max(1, steadyImages);
  return { images, seconds, firstBatchS, steadyImages, cpuPerImage };
}

/**
 * Main-thread cost per batch, mean ms of 5: a batch buffer filled with B images and made a tensor
 * (the wasm backend copies it into its heap), with the buffer reused as the pipeline does and,
 * for comparison, freshly allocated each time (what page faults on new memory cost).
 */
async function batchToTensorMs(batchSize: number): Promise<{ reused: number; fresh: number }> {
  const tf = await import("@tensorflow/tfjs");
  const px = SIZE * SIZE * 3;
  const one = new Float32Array(px).fill(0.25);
  const time = (buffer: () => Float32Array) => {
    const t = performance.now();
    for (let i = 0; i < 5; i++) {
      const data = buffer();
      for (let b = 0; b < batchSize; b++) data.set(one, b * px);
      tf.tensor4d(data, [batchSize, SIZE, SIZE, 3]).dispose();
    }
    return (performance.now() - t) / 5;
  };
  const fresh = time(() => new Float32Array(batchSize * px));
  const kept = new Float32Array(batchSize * px);
  kept.fill(0); // touch every page once, as a reused buffer has been
  return { reused: time(() => kept), fresh };
}

/** Stages 1-2 timed: the folder listed, shuffled (seed 7), the first `limit` records kept. */
async function listAndShuffle(data: string, limit: number) {
  const { readImageFolder } = await import("../pipeline/list/list_reader.ts");
  const { epochPermutation } = await import("../pipeline/shuffle/prng.ts");
  let t = performance.now();
  const { records: all } = await readImageFolder(data);
  const listS = (performance.now() - t) / 1000;
  t = performance.now();
  const perm = epochPermutation(all.length, 7, 0);
  const shuffleS = (performance.now() - t) / 1000;
  const records = [...perm.subarray(0, Math.min(limit, all.length))].map((i) => all[i]);
  return { all, records, listS, shuffleS };
}

/** The peer: OpenCV on one thread doing the same job on the same images, measured now. */
async function runPeer(skip: boolean, data: string, limit: number, batchSize: number) {
  const { findPeerPython, runPeerScript } = await import("./peer.ts");
  const found = skip
    ? { python: null, reason: "skipped (--no-peer)" }
    : await findPeerPython(["cv2", "numpy"]);
  const result = found.python === null ? { error: found.reason } : await runPeerScript(
    found.python,
    "pipeline_peer.py",
    ["--data", data, "--limit", String(limit), "--batch-size", String(batchSize)],
  );
  return result.error === undefined && found.python !== null
    ? { ok: true as const, python: found.python, result }
    : { ok: false as const, reason: String(result.error) };
}

/** The set-up a figure was measured with. */
async function benchConfig(
  values:
    & { data: string; limit: number; "batch-size": number; workers: number }
    & Record<
      "concurrency" | "prefetch",
      number
    >,
  backend: string,
) {
  const { openTurboFfi } = await import("../pipeline/decode/turbo_ffi.ts");
  const { limit, "batch-size": batchSize, workers, concurrency, prefetch } = values;
  return {
    data: values.data,
    limit,
    batch_size: batchSize,
    workers,
    concurrency,
    prefetch,
    image_size: SIZE,
    jpeg_decoder: openTurboFfi()
      ? "libjpeg-turbo TurboJPEG (FFI), accurate ISLOW IDCT; sharp for the rest"
      : "sharp (libvips; no FFI libturbojpeg here)",
    resize: {
      // What training does (networkInput, the rule eval-lfw shares).
      end_to_end:
        "--dct-scale auto: decode at the DCT scale covering 112 (= IMREAD_REDUCED_COLOR_k)," +
        " INTER_AREA to 112, normalize; end_to_end_dct_off: whole decode, INTER_AREA, normalize",
      // What `deno task decode --resize 112` does.
      decode_resize_only: "TurboJPEG DCT-domain 1/2-1/8 scaling, then area average to 112",
    },
    backend,
    cores: navigator.hardwareConcurrency,
    load_average: Deno.loadavg().map((v) => +v.toFixed(2)),
  };
}

/** The peer ratios: the same work on both sides first, then labelled comparisons of other work. */
function sameWorkRatios(
  rate: number,
  e: EndToEnd,
  rateOff: number,
  off: EndToEnd,
  p: Record<string, unknown> | null,
) {
  const ratio = (a: number, b: unknown) => (p ? +(a / Number(b)).toFixed(3) : null);
  return {
    // The headline: the same work on both sides (same decode scale, IDCT, resize, normalize).
    // end_to_end: arcstream's images/s (all its decode workers) / OpenCV's (one thread);
    // per_core: OpenCV's CPU ms per image / arcstream's (> 1: arcstream does more per core).
    ratio_to_opencv_same_work: {
      work: "IMREAD_REDUCED_COLOR_k + INTER_AREA + normalize (--dct-scale auto, the default)",
      end_to_end: ratio(rate, p?.images_per_s),
      per_core: ratio(Number(p?.cpu_ms_per_image), e.cpuPerImage),
    },
    ratio_to_opencv_same_work_dct_off: {
      work: "IMREAD_COLOR + INTER_AREA + normalize (--dct-scale off)",
      end_to_end: ratio(rateOff, p?.full_decode_images_per_s),
      per_core: ratio(Number(p?.full_decode_cpu_ms_per_image), off.cpuPerImage),
    },
    // Not the same work, kept for comparison with earlier figures.
    other_comparisons: {
      "arcstream_auto_over_opencv_full_decode (different work: OpenCV decodes 4x the pixels)":
        ratio(rate, p?.full_decode_images_per_s),
      "arcstream_auto_end_to_end_over_opencv_decode_resize_only (OpenCV makes no float batch)":
        ratio(rate, p?.reduced_decode_resize_only_images_per_s),
    },
  };
}

export async function main(args: string[]): Promise<void> {
  const { flags: values } = parseFlags(args, {
    data: { type: "string", default: "../shared/data/lfw/lfw-deepfunneled" },
    limit: { type: "int", min: 1, default: 4096 },
    "batch-size": { type: "int", min: 1, default: 128 },
    workers: { type: "int", min: 0, default: DEFAULT_DECODE_WORKERS },
    concurrency: { type: "int", min: 1, default: 16 },
    prefetch: { type: "int", min: 1, default: 2 },
    compare: { type: "int", min: 0, default: 0 },
    "no-peer": { type: "boolean" },
  }, { help: HELP });
  const { limit, "batch-size": batchSize, workers, concurrency, prefetch, compare } = values;
  const { initBackend } = await import("../model/backend/backend.ts");
  const backend = await initBackend({});
  const { all, records, listS, shuffleS } = await listAndShuffle(values.data, limit);

  const decodeOnly = await decodeRate(records, records.length, workers, concurrency, "auto");
  const run = { batchSize, workers, prefetch };
  const e = await endToEnd(records, { ...run, dctScale: "auto" });
  const off = await endToEnd(records, { ...run, dctScale: "off" });
  const toTensorMs = await batchToTensorMs(batchSize);
  const variants = compare > 0 ? await decoderVariants(records, compare) : undefined;
  const peer = await runPeer(values["no-peer"] === true, values.data, limit, batchSize);
  const p = peer.ok ? peer.result : null;
  // Steady state: batches after the first; the first batch's start-up is in stages.
  const steady = (x: EndToEnd) =>
    Math.round(x.steadyImages / Math.max(1e-9, x.seconds - x.firstBatchS));
  const rate = steady(e);
  const rateOff = steady(off);
  console.log(JSON.stringify(
    {
      bench: "pipeline",
      ...sameWorkRatios(rate, e, rateOff, off, p),
      peer: peer.ok ? { python: peer.python, ...peer.result } : { error: peer.reason },
      images_per_s_dct_off: rateOff,
      cpu_ms_per_image_dct_off: +off.cpuPerImage.toFixed(3),
      images_per_s: rate,
      images_per_s_with_startup: Math.round(e.images / e.seconds),
      images: e.images,
      seconds: +e.seconds.toFixed(3),
      cpu_ms_per_image: +e.cpuPerImage.toFixed(3),
      // What the same CPU work per image would give with all cores free (the machine is shared).
      idle_cores_projection_images_per_s: Math.round(
        (1000 * navigator.hardwareConcurrency) / e.cpuPerImage,
      ),
      stages: {
        list_s: +listS.toFixed(3),
        list_records: all.length,
        shuffle_s: +shuffleS.toFixed(4),
        decode_resize_only_images_per_s: decodeOnly[0],
        decode_resize_only_cpu_ms_per_image: decodeOnly[1],
        first_batch_s: +e.firstBatchS.toFixed(3),
        // Main thread, per batch: fill + tensor, buffer reused (as the pipeline does) / fresh.
        batch_to_tensor_ms: +toTensorMs.reused.toFixed(1),
        batch_to_tensor_fresh_buffer_ms: +toTensorMs.fresh.toFixed(1),
      },
      decoder_variants_images_per_s_and_cpu_ms: variants,
      config: await benchConfig(values, backend.name),
    },
    null,
    1,
  ));
}

if (import.meta.main) await runTask("bench pipeline", () => main(Deno.args));
