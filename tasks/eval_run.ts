/** The body of `deno task eval-lfw` (see tasks/eval_lfw.ts for the options). */
import { basename, dirname } from "node:path";
import { lfwPath, readPairs } from "../pipeline/formats/pairs_reader.ts";
import { readBin } from "../pipeline/formats/pickle_reader.ts";
import { readNpy, writeNpy } from "../pipeline/formats/npy.ts";
import { arcstreamMetadata, readModelJson } from "../model/io/model_io.ts";
import type { NoFacePolicy } from "../pipeline/align/align_stream.ts";
import type { NormalizeMode } from "../model/eval/embed_stream.ts";
import type { EvalImage } from "./eval_embed.ts";
import { type PairSpec, scorePairs } from "../model/eval/score_pairs.ts";
import { formatTable, pairsOfImages, writeReport } from "./eval_report.ts";
import { UsageError } from "./cli.ts";

export interface EvalRunOptions {
  data?: string;
  pairs?: string;
  bin?: string;
  embeddings?: string;
  model?: string;
  inputSize?: number;
  normalize?: NormalizeMode;
  output?: string;
  listOutputs: boolean;
  aligned: boolean;
  onMissing: NoFacePolicy;
  batchSize: number;
  backend: string;
  out: string;
  saveEmbeddings?: string;
  label?: string;
  cache?: string;
  limitPairs?: number;
  quiet: boolean;
}

export async function runEval(o: EvalRunOptions): Promise<number> {
  const log = (s: string) => o.quiet || console.error(s);
  if (o.listOutputs) return await listModelOutputs(o);
  if (!o.pairs && !o.bin) {
    throw new UsageError("give --pairs FILE (with --data or --embeddings) or --bin FILE");
  }
  if (o.pairs && o.bin) throw new UsageError("give --pairs or --bin, not both");
  if (!o.embeddings && !o.model) throw new UsageError("give --model FILE or --embeddings FILE");
  if (o.embeddings && o.model) throw new UsageError("give --model or --embeddings, not both");
  if (o.model && o.pairs && !o.data) {
    throw new UsageError("--pairs with --model needs --data DIR (the images)");
  }

  if (o.data) await checkFolder(o.data, "--data");

  // ---- pairs and their images ----
  let pairs: PairSpec[];
  let foldSizes: number[] | null = null;
  let images: EvalImage[];
  if (o.bin) {
    const bin = await readBin(o.bin);
    // A .bin repeats an image once per pair that uses it (LFW: 12,000 entries, 7,701 faces):
    // identical JPEGs share one key, so each face is decoded and embedded once, as from a folder.
    const { keys, unique } = await dedupeImages(bin.images);
    pairs = bin.issame.map((issame, i) => ({ a: keys[2 * i], b: keys[2 * i + 1], issame }));
    images = unique.map((i) => ({ key: keys[i], bytes: bin.images[i] }));
  } else {
    const list = await readPairs(o.pairs!);
    pairs = list.pairs;
    foldSizes = list.foldSizes;
    images = list.images.map((key) => ({ key, path: o.data ? lfwPath(o.data, key) : undefined }));
  }
  const totalPairs = pairs.length;
  // Original index of each kept pair (rows 2i, 2i+1 of an --embeddings file); null: all kept.
  let pairIndex: number[] | null = null;
  if (o.limitPairs !== undefined && o.limitPairs < pairs.length) {
    const { limitPairs } = await import("./eval_limit.ts");
    const lim = limitPairs(pairs.map((p) => p.issame), foldSizes, o.limitPairs);
    pairIndex = lim.indices;
    pairs = lim.indices.map((i) => pairs[i]);
    foldSizes = lim.foldSizes;
    const used = new Set(pairs.flatMap((p) => [p.a, p.b]));
    images = images.filter((im) => used.has(im.key));
  }

  // ---- embeddings ----
  let embeddings: Map<string, Float32Array>;
  let issues: {
    missing: { key: string; reason: string }[];
    noFace: string[];
    centerCropped: string[];
  } = {
    missing: [],
    noFace: [],
    centerCropped: [],
  };
  let model: Record<string, unknown> | null = null;
  let embedSeconds = 0;
  let fromCache = 0;
  let backend = "none";
  if (o.embeddings) {
    ({ embeddings, pairs } = await loadEmbeddings(o.embeddings, pairs, totalPairs, pairIndex));
    images = [];
    issues.missing = pairs.flatMap((p) => [p.a, p.b]).filter((k) => !embeddings.has(k))
      .map((key) => ({ key, reason: "all-zero embedding row" }));
  } else {
    const json = await readModelJson(o.model!);
    const meta = arcstreamMetadata(json);
    if (!meta && !o.normalize) {
      throw new UsageError(
        `"${o.model}" is not an arcstream export: say how it wants its pixels, --normalize arcface|raw|unit|arcface_torch`,
      );
    }
    const { initBackend } = await import("../model/backend/backend.ts");
    backend = (await initBackend({ backend: o.backend as "auto" })).name;
    const { Embedder } = await import("../model/eval/embed_stream.ts");
    const { embedAll } = await import("./eval_embed.ts");
    const embedder = await Embedder.load(o.model!, {
      inputSize: o.inputSize ?? meta?.inputSize,
      normalize: o.normalize,
      output: o.output,
    });
    model = {
      path: o.model,
      inputSize: embedder.inputSize,
      normalize: embedder.normalize,
      output: embedder.output,
      flip: embedder.flip,
      arcstream: meta,
    };
    log(
      `eval-lfw: ${images.length} images for ${pairs.length} pairs; model ${basename(o.model!)} ` +
        `(input ${embedder.inputSize}, ${embedder.normalize}, output ${embedder.output}) on ${backend}`,
    );
    const { EmbeddingCache } = await import("./eval_cache.ts");
    const cache = o.cache
      ? await EmbeddingCache.open(o.cache, { model: model, aligned: o.aligned || !!o.bin })
      : undefined;
    if (cache) log(`  cache ${o.cache}: ${cache.done.size} embeddings already there`);
    let last = performance.now();
    const t0 = last;
    try {
      const r = await embedAll(images, embedder, {
        aligned: o.aligned || !!o.bin, // .bin files hold aligned 112x112 faces
        onMissing: o.onMissing,
        batchSize: o.batchSize,
        cache,
        progress: (done, total) => {
          const now = performance.now();
          if (total === 0 || (now - last < 5000 && done < total)) return;
          last = now;
          const rate = done / ((now - t0) / 1000);
          log(
            `  ${done}/${total} images, ${rate.toFixed(2)} img/s, ETA ${
              ((total - done) / rate / 60).toFixed(1)
            } min`,
          );
        },
      });
      embeddings = r.embeddings;
      issues = r;
      embedSeconds = r.seconds;
      fromCache = r.fromCache;
    } finally {
      await cache?.close();
      embedder.dispose();
    }
  }

  // ---- protocol, report ----
  checkSomePairScorable(o, pairs, embeddings, issues.missing);
  const scored = scorePairs(pairs, embeddings, foldSizes);
  const usedBy = pairsOfImages(pairs);
  const withPairs = (list: { key: string; reason: string }[]) =>
    list.map((x) => ({ ...x, pairs: usedBy.get(x.key) ?? [] }));
  const label = o.label ??
    basename(o.model ? dirname(o.model) + "/" + basename(o.model, ".json") : o.embeddings!);
  const { gridRoc, roc, ...result } = scored.result;
  const report = {
    tool: "arcstream eval-lfw",
    date: new Date().toISOString(),
    label,
    inputs: {
      pairs: o.pairs ?? null,
      bin: o.bin ?? null,
      data: o.data ?? null,
      embeddings: o.embeddings ?? null,
    },
    model,
    backend,
    protocol:
      "insightface verification.py: squared L2 of L2-normalized (flip-summed) embeddings; " +
      (foldSizes
        ? "the pairs file's folds"
        : "10 contiguous folds in file order (KFold, no shuffle)") +
      "; thresholds 0:0.01:4 picked on 9 folds; TAR@FAR via calculate_val (0:0.001:4, slinear)",
    policy: {
      onMissing: o.onMissing,
      aligned: o.aligned || !!o.bin,
      limitPairs: o.limitPairs ?? null,
    },
    counts: {
      pairs: pairs.length,
      counted: scored.counted,
      skipped: scored.skippedPairs.length,
      images: images.length,
      embedded: embeddings.size,
      fromCache,
      missing: issues.missing.length,
      noFace: issues.noFace.length,
      centerCropped: issues.centerCropped.length,
    },
    result,
    skippedPairs: scored.skippedPairs,
    images: {
      missing: withPairs(issues.missing),
      noFace: withPairs(issues.noFace.map((key) => ({ key, reason: "no face found" }))),
      centerCropped: withPairs(
        issues.centerCropped.map((key) => ({ key, reason: "no face found" })),
      ),
    },
    timing: {
      embedSeconds,
      imagesPerSecond: embedSeconds ? (embeddings.size - fromCache) / embedSeconds : null,
      pairsPerSecond: embedSeconds && !fromCache ? pairs.length / embedSeconds : null,
      protocolMs: scored.protocolMs,
    },
    roc,
    gridRoc,
  };
  if (o.saveEmbeddings) await saveEmbeddings(o.saveEmbeddings, pairs, embeddings);
  const files = await writeReport(o.out, report, scored, label);
  for (const x of report.images.missing) {
    log(`  missing: ${x.key} (pairs ${x.pairs.join(",")}): ${x.reason}`);
  }
  for (const x of report.images.noFace) log(`  no face: ${x.key} (pairs ${x.pairs.join(",")})`);
  console.log(
    formatTable(`${label} on ${basename(o.pairs ?? o.bin!)}`, scored, pairs.length, o.onMissing),
  );
  console.log(`  report         ${files.json}, ${files.svg}`);
  return 0;
}

/**
 * Keys for a .bin's images: `bin/<index>` of the first image with the same bytes (SHA-256), and
 * the indices of the first occurrences.
 */
async function dedupeImages(images: Uint8Array[]): Promise<{ keys: string[]; unique: number[] }> {
  const first = new Map<string, number>();
  const keys: string[] = [];
  const unique: number[] = [];
  for (let i = 0; i < images.length; i++) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", images[i] as Uint8Array<ArrayBuffer>),
    );
    const h = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
    let at = first.get(h);
    if (at === undefined) first.set(h, at = i), unique.push(i);
    keys.push(`bin/${String(at).padStart(6, "0")}`);
  }
  return { keys, unique };
}

/** Throws naming `flag` and `path` unless `path` is a readable folder. */
async function checkFolder(path: string, flag: string): Promise<void> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    throw new Error(`Cannot use ${flag} "${path}": ${(e as Error).message.split(":")[0]}`);
  }
  if (!stat.isDirectory) throw new Error(`Cannot use ${flag} "${path}": not a folder`);
}

/** Nothing to score is a failure naming the input, not a fold-level message. */
function checkSomePairScorable(
  o: EvalRunOptions,
  pairs: PairSpec[],
  embeddings: Map<string, Float32Array>,
  missing: { key: string; reason: string }[],
): void {
  if (pairs.some((p) => embeddings.has(p.a) && embeddings.has(p.b))) return;
  const input = o.embeddings
    ? `--embeddings "${o.embeddings}"`
    : o.bin
    ? `--bin "${o.bin}"`
    : `--data "${o.data}"`;
  const first = missing[0] ? ` (first: ${missing[0].key}: ${missing[0].reason})` : "";
  throw new Error(
    `No pair of ${pairs.length} could be scored: ${missing.length} images missing or ` +
      `unreadable from ${input}${first}`,
  );
}

/** Reads [2N, D] float32 rows (pair i = rows 2i, 2i+1), L2-normalized; zero rows = missing. */
async function loadEmbeddings(
  path: string,
  pairs: PairSpec[],
  totalPairs: number,
  pairIndex: number[] | null,
) {
  const { shape, data } = await readNpy(path);
  if (shape.length !== 2 || shape[0] !== 2 * totalPairs) {
    throw new RangeError(
      `"${path}" has shape [${shape}]; expected [${2 * totalPairs}, D] for ${totalPairs} pairs`,
    );
  }
  const D = shape[1];
  const embeddings = new Map<string, Float32Array>();
  const rowKey = (r: number) => `row/${r}`;
  const rows = pairs.flatMap((_, i) => {
    const at = pairIndex ? pairIndex[i] : i;
    return [2 * at, 2 * at + 1];
  });
  for (const r of rows) {
    const row = data.subarray(r * D, (r + 1) * D);
    let n = 0;
    for (const x of row) n += x * x;
    if (!Number.isFinite(n)) throw new RangeError(`"${path}" row ${r} is not finite`);
    if (n > 0) embeddings.set(rowKey(r), Float32Array.from(row, (x) => x / Math.sqrt(n)));
  }
  const rowPairs = pairs.map((p, i) => ({
    ...p,
    a: rowKey(rows[2 * i]),
    b: rowKey(rows[2 * i + 1]),
  }));
  return { embeddings, pairs: rowPairs };
}

async function saveEmbeddings(
  path: string,
  pairs: PairSpec[],
  embeddings: Map<string, Float32Array>,
) {
  const D = embeddings.values().next().value?.length ?? 0;
  const data = new Float32Array(2 * pairs.length * D);
  pairs.forEach((p, i) => {
    const a = embeddings.get(p.a), b = embeddings.get(p.b);
    if (a) data.set(a, 2 * i * D);
    if (b) data.set(b, (2 * i + 1) * D);
  });
  await writeNpy(path, { shape: [2 * pairs.length, D], data });
}

async function listModelOutputs(o: EvalRunOptions): Promise<number> {
  if (!o.model) throw new UsageError("--list-outputs needs --model FILE");
  const { loadModelFile } = await import("../model/io/model_io.ts");
  const { Embedder, listOutputs } = await import("../model/eval/embed_stream.ts");
  const { model, json, kind } = await loadModelFile(o.model);
  try {
    const chosen = new Embedder(model, { normalize: o.normalize ?? "arcface" }, json).output;
    console.log(`${o.model}: ${kind} model, input [${model.inputs[0]?.shape}]`);
    for (const out of listOutputs(model, json)) {
      console.log(
        `  ${out.name}  [${out.shape ?? "?"}]${
          out.name === chosen ? "  <- default embedding" : ""
        }`,
      );
    }
  } finally {
    model.dispose();
  }
  return 0;
}
