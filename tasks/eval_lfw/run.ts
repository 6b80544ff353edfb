/**
 * The body of `deno task eval-lfw` (see tasks/eval_lfw.ts for the options): pairs and images
 * (pairs.ts) -> embeddings (embed_with_model.ts, or an .npy: model/eval/embeddings_npy.ts) -> the
 * insightface protocol -> report (model/eval/report.ts) and the worst pairs for `deno task serve`
 * (model/eval/review.ts).
 */
import { basename, dirname } from "node:path";
import { type PairSpec, type ScoredPairs, scorePairs } from "../../model/eval/score_pairs.ts";
import { formatTable, pairsOfImages, writeReport } from "../../model/eval/report.ts";
import { type EvalPairs, loadEvalPairs } from "./pairs.ts";
import { loadEmbeddings, saveEmbeddings } from "../../model/eval/embeddings_npy.ts";
import { embedWithModel, type ModelEmbedOptions } from "./embed_with_model.ts";
import { reviewPairs, writeReview } from "../../model/eval/review.ts";
import { UsageError } from "../cli.ts";

/** eval-lfw's options: what embedding with a model takes (`--model` optional here), and more. */
export interface EvalRunOptions extends Omit<ModelEmbedOptions, "model"> {
  data?: string;
  pairs?: string;
  bin?: string;
  embeddings?: string;
  model?: string;
  listOutputs: boolean;
  out: string;
  saveEmbeddings?: string;
  label?: string;
  limitPairs?: number;
  quiet: boolean;
}

/** The embeddings eval-lfw scores, and what it could not embed. */
interface Embedded {
  embeddings: Map<string, Float32Array>;
  /** The pairs, re-keyed to `row/<r>` for an --embeddings file. */
  pairs: PairSpec[];
  /** The images embedded (none for an --embeddings file). */
  images: EvalPairs["images"];
  issues: {
    missing: { key: string; reason: string }[];
    noFace: string[];
    centerCropped: string[];
  };
  model: Record<string, unknown> | null;
  embedSeconds: number;
  fromCache: number;
  backend: string;
}

export async function runEval(o: EvalRunOptions): Promise<number> {
  const log = (s: string) => o.quiet || console.error(s);
  if (o.listOutputs) return await listModelOutputs(o);
  checkInputs(o);
  if (o.data) await checkFolder(o.data, "--data");
  const input = await loadEvalPairs(o);
  const e = await embed(o, input, log);
  const { pairs, embeddings } = e;
  checkSomePairScorable(o, pairs, embeddings, e.issues.missing);
  const scored = scorePairs(pairs, embeddings, input.foldSizes);
  const label = o.label ??
    basename(o.model ? dirname(o.model) + "/" + basename(o.model, ".json") : o.embeddings!);
  const report = buildReport(o, e, scored, input.foldSizes, label);
  if (o.saveEmbeddings) await saveEmbeddings(o.saveEmbeddings, pairs, embeddings);
  const files = await writeReport(o.out, report, scored, label);
  // For `deno task serve`'s report page: every pair's cosine, the worst pairs' aligned faces.
  const review = reviewPairs(pairs, embeddings, input.foldSizes, scored);
  await writeReview(o.out, review, e.images, { aligned: o.aligned || !!o.bin });
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

/** One source of pairs (--pairs or --bin) and one of embeddings (--model or --embeddings). */
function checkInputs(o: EvalRunOptions): void {
  if (!o.pairs && !o.bin) {
    throw new UsageError("give --pairs FILE (with --data or --embeddings) or --bin FILE");
  }
  if (o.pairs && o.bin) throw new UsageError("give --pairs or --bin, not both");
  if (!o.embeddings && !o.model) throw new UsageError("give --model FILE or --embeddings FILE");
  if (o.embeddings && o.model) throw new UsageError("give --model or --embeddings, not both");
  if (o.model && o.pairs && !o.data) {
    throw new UsageError("--pairs with --model needs --data DIR (the images)");
  }
}

/**
 * The files of --embeddings: "E1,E2,..." is an ensemble, but a value that names an existing file
 * is that one file, so a path holding a comma still works.
 */
async function embeddingPaths(value: string): Promise<string[]> {
  const whole = await Deno.stat(value).then((s) => s.isFile, () => false);
  return whole ? [value] : value.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

/** Embeddings from the --embeddings file, or computed with --model. */
async function embed(
  o: EvalRunOptions,
  input: EvalPairs,
  log: (line: string) => void,
): Promise<Embedded> {
  if (o.embeddings) {
    const { embeddings, pairs } = await loadEmbeddings(
      await embeddingPaths(o.embeddings),
      input.pairs,
      input.totalPairs,
      input.pairIndex,
    );
    const missing = pairs.flatMap((p) => [p.a, p.b]).filter((k) => !embeddings.has(k))
      .map((key) => ({ key, reason: "all-zero embedding row" }));
    return {
      embeddings,
      pairs,
      images: [],
      issues: { missing, noFace: [], centerCropped: [] },
      model: null,
      embedSeconds: 0,
      fromCache: 0,
      backend: "none",
    };
  }
  const aligned = o.aligned || !!o.bin; // .bin files hold aligned 112x112 faces
  const { result: r, model, backend } = await embedWithModel(
    { ...o, model: o.model!, aligned },
    input.images,
    input.pairs.length,
    log,
  );
  return {
    embeddings: r.embeddings,
    pairs: input.pairs,
    images: input.images,
    issues: r,
    model,
    embedSeconds: r.seconds,
    fromCache: r.fromCache,
    backend,
  };
}

/** The JSON report: inputs, model, protocol, counts, result, image issues, timing, ROC. */
function buildReport(
  o: EvalRunOptions,
  e: Embedded,
  scored: ScoredPairs,
  foldSizes: number[] | null,
  label: string,
) {
  const { pairs, embeddings, issues, embedSeconds, fromCache } = e;
  const usedBy = pairsOfImages(pairs);
  const withPairs = (list: { key: string; reason: string }[]) =>
    list.map((x) => ({ ...x, pairs: usedBy.get(x.key) ?? [] }));
  const { gridRoc, roc, ...result } = scored.result;
  return {
    tool: "arcstream eval-lfw",
    date: new Date().toISOString(),
    label,
    inputs: {
      pairs: o.pairs ?? null,
      bin: o.bin ?? null,
      data: o.data ?? null,
      embeddings: o.embeddings ?? null,
    },
    model: e.model,
    backend: e.backend,
    protocol:
      "insightface verification.py: squared L2 of L2-normalized (flip-summed) embeddings; " +
      (foldSizes
        ? "the pairs file's folds"
        : "10 contiguous folds in file order (KFold, no shuffle)") +
      "; thresholds 0:0.01:4 picked on 9 folds; TAR@FAR via calculate_val (0:0.001:4, slinear)",
    policy: {
      onMissing: o.onMissing,
      aligned: o.aligned || !!o.bin,
      dctScale: o.dctScale ?? "auto",
      limitPairs: o.limitPairs ?? null,
    },
    counts: {
      pairs: pairs.length,
      counted: scored.counted,
      skipped: scored.skippedPairs.length,
      images: e.images.length,
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

async function listModelOutputs(o: EvalRunOptions): Promise<number> {
  if (!o.model) throw new UsageError("--list-outputs needs --model FILE");
  const { loadModelFile } = await import("../../model/io/model_io.ts");
  const { Embedder, listOutputs } = await import("../../model/eval/embed_stream.ts");
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
