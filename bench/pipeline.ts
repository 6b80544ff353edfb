/**
 * `deno task bench pipeline [--data DIR] [--limit N] [--batch-size 128] [--workers 2]`
 * Images/s for list -> shuffle -> decode(+resize 112) -> wraparound batch -> tensors, plus a
 * per-stage breakdown and (with --compare) the decoder variants measured for the default choice.
 */
import { parseFlags, runTask } from "../tasks/cli.ts";
import { DEFAULT_DECODE_WORKERS } from "../pipeline/decode/decode_pool.ts";
import { ARCFACE_SIZE } from "../pipeline/align/similarity.ts";
import type { ListRecord } from "../pipeline/records.ts";

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

/** CPU ms used so far by all threads of this process, decode workers included. */
async function cpuClock(): Promise<() => number> {
  const { default: process } = await import("node:process");
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
}

/** Decode(+resize) alone, through the worker pool, `c` in flight: [images/s, CPU ms per image]. */
async function decodeRate(
  records: ListRecord[],
  n: number,
  w: number,
  c: number,
  decoder: "auto" | "sharp",
): Promise<number[]> {
  const { DecodePool } = await import("../pipeline/decode/decode_pool.ts");
  const cpuMs = await cpuClock();
  const pool = new DecodePool({ workers: w });
  try {
    const warm = records.slice(0, Math.max(w, 1));
    await Promise.all(warm.map((r) => pool.decode(r.path!, { resize: SIZE, decoder })));
    let i = 0;
    const t0 = performance.now();
    const c0 = cpuMs();
    const lane = async () => {
      while (i < n) {
        await pool.decode(records[i++ % records.length].path!, { resize: SIZE, decoder });
      }
    };
    await Promise.all(Array.from({ length: c }, lane));
    const rate = Math.round(n / ((performance.now() - t0) / 1000));
    return [rate, +((cpuMs() - c0) / n).toFixed(3)];
  } finally {
    pool.close();
  }
}

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
  o: { batchSize: number; workers: number; concurrency: number; prefetch: number },
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

/** The decoder set-ups measured for the default choice, on `n` images each. */
async function decoderVariants(records: ListRecord[], n: number) {
  return {
    sharp_inline_1: await decodeRate(records, n, 0, 1, "sharp"),
    sharp_inline_4: await decodeRate(records, n, 0, 4, "sharp"),
    sharp_workers2_x4: await decodeRate(records, n, 2, 8, "sharp"),
    turbo_inline_1: await decodeRate(records, n, 0, 1, "auto"),
    turbo_workers1_x4: await decodeRate(records, n, 1, 4, "auto"),
    turbo_workers2_x4: await decodeRate(records, n, 2, 8, "auto"),
    turbo_workers3_x4: await decodeRate(records, n, 3, 12, "auto"),
  };
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
  const { loadTurbo } = await import("../pipeline/decode/decode_image.ts");
  const { limit, "batch-size": batchSize, workers, concurrency, prefetch } = values;
  return {
    data: values.data,
    limit,
    batch_size: batchSize,
    workers,
    concurrency,
    prefetch,
    image_size: SIZE,
    jpeg_decoder: (await loadTurbo()) ? "libjpeg-turbo (TurboJPEG sync) + sharp fallback" : "sharp",
    resize: {
      // What training does (networkInput, the rule eval-lfw shares).
      end_to_end: "decode at the DCT scale covering 112 (reduceTo), area average to 112, normalize",
      // What `deno task decode --resize 112` does.
      decode_resize_only: "TurboJPEG DCT-domain 1/2-1/8 scaling, then area average to 112",
    },
    backend,
    cores: navigator.hardwareConcurrency,
    load_average: Deno.loadavg().map((v) => +v.toFixed(2)),
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
  const e = await endToEnd(records, { batchSize, workers, concurrency, prefetch });
  const toTensorMs = await batchToTensorMs(batchSize);
  const variants = compare > 0 ? await decoderVariants(records, compare) : undefined;
  const peer = await runPeer(values["no-peer"] === true, values.data, limit, batchSize);
  // Steady state: batches after the first; the first batch's start-up is in stages.
  const rate = Math.round(e.steadyImages / Math.max(1e-9, e.seconds - e.firstBatchS));
  console.log(JSON.stringify(
    {
      bench: "pipeline",
      // arcstream end to end (all cores) / OpenCV end to end on one thread, same run.
      ratio_to_opencv_1thread: peer.ok
        ? +(rate / Number(peer.result.images_per_s)).toFixed(3)
        : null,
      // arcstream end to end / OpenCV's one-thread decode + resize alone (no float batches).
      ratio_to_opencv_1thread_decode_resize: peer.ok
        ? +(rate / Number(peer.result.decode_resize_only_images_per_s)).toFixed(3)
        : null,
      // ... and with OpenCV decoding at the 1/2 DCT scale too (IMREAD_REDUCED_COLOR_2).
      ratio_to_opencv_1thread_reduced_decode_resize: peer.ok
        ? +(rate / Number(peer.result.reduced_decode_resize_only_images_per_s)).toFixed(3)
        : null,
      // CPU time per image, OpenCV / arcstream: > 1 means arcstream spends less CPU per image.
      // Robust to a busy machine, where the wall-clock ratio is not.
      cpu_ratio_opencv_over_arcstream: peer.ok
        ? +(Number(peer.result.cpu_ms_per_image) / e.cpuPerImage).toFixed(3)
        : null,
      peer: peer.ok ? { python: peer.python, ...peer.result } : { error: peer.reason },
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
