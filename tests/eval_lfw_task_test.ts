import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { fileSaveHandler } from "../model/io/model_io.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const FIX = `${ROOT}fixtures/eval/`;

async function evalLfw(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tasks/eval_lfw.ts`, "--quiet", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const readReport = async (dir: string) => JSON.parse(await Deno.readTextFile(`${dir}/report.json`));

/** A small 112x112 image model (pooling + dense), saved as an arcstream export or a foreign one. */
async function saveModel(dir: string, arcstream: boolean) {
  await tf.setBackend("cpu");
  const input = tf.input({ shape: [112, 112, 3] });
  const pooled = tf.layers.averagePooling2d({ poolSize: 16, strides: 16 }).apply(input);
  const flat = tf.layers.flatten().apply(pooled);
  const init = tf.initializers.glorotUniform({ seed: 7 });
  const out = tf.layers.dense({ units: 16, kernelInitializer: init }).apply(
    flat,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  await model.save(fileSaveHandler(dir, {
    userDefinedMetadata: arcstream
      ? { arcstream: { normalize: "arcface", inputSize: 112 } }
      : undefined,
  }));
  model.dispose();
  return `${dir}/model.json`;
}

Deno.test("eval-lfw --help prints the usage and exits 0", async () => {
  const r = await evalLfw("--help");
  assertStrictEquals(r.code, 0);
  assertMatch(r.stdout, /^Usage: deno task eval-lfw/);
});

Deno.test("eval-lfw --pairs --embeddings reports the tiny fixture's hand-worked numbers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await evalLfw(
      "--pairs",
      `${FIX}tiny_pairs.txt`,
      "--embeddings",
      `${FIX}tiny_embeddings.npy`,
      "--out",
      dir,
    );
    assertStrictEquals(r.code, 0, r.stderr);
    const rep = await readReport(dir);
    assertEquals(rep.result.foldAccuracy, [1, 1, 1, 0.5, 1, 1, 1, 0.5, 1, 1]);
    assertStrictEquals(rep.result.accuracyMean, 0.9);
    assertStrictEquals(rep.result.auc, 0.99);
    assertStrictEquals(rep.policy.onMissing, "skip");
    assertEquals([rep.counts.pairs, rep.counts.counted], [20, 20]);
    assertMatch(r.stdout, /accuracy\s+90\.00% \+- 20\.00%/);
    assertMatch(
      await Deno.readTextFile(`${dir}/roc.svg`),
      /^<svg[^>]*>[\s\S]*<polyline[\s\S]*<\/svg>\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval-lfw --limit-pairs refuses a limit under two pairs per fold", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await evalLfw(
      "--pairs",
      `${FIX}tiny_pairs.txt`,
      "--embeddings",
      `${FIX}tiny_embeddings.npy`,
      "--out",
      dir,
      "--limit-pairs",
      "5",
    );
    // 10 folds of 1 same + 1 different pair: 5 cannot keep both kinds in every fold
    // (tests/eval_limit_pairs_test.ts checks the subsets it does take).
    assertStrictEquals(r.code, 1);
    assertMatch(r.stderr, /--limit-pairs 5 is too few/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval-lfw prints one clear line and exits 1 on a missing pairs file or a bad option", async () => {
  const r = await evalLfw("--pairs", "nope/pairs.txt", "--embeddings", `${FIX}tiny_embeddings.npy`);
  assertStrictEquals(r.code, 1);
  assertMatch(r.stderr, /^eval-lfw: Cannot read pairs file "nope\/pairs\.txt"/);
  assertStrictEquals(r.stderr.trim().split("\n").length, 1);
  const bad = await evalLfw(
    "--pairs",
    `${FIX}tiny_pairs.txt`,
    "--embeddings",
    "x.npy",
    "--on-missing",
    "ignore",
  );
  assertStrictEquals(bad.code, 2);
  assertMatch(bad.stderr, /--on-missing must be skip, center-crop or fail/);
});

Deno.test("eval-lfw --bin embeds with a model; --save-embeddings re-scores to the same numbers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = await saveModel(`${dir}/m`, true);
    const a = await evalLfw(
      "--bin",
      `${FIX}lfw_mini.bin`,
      "--model",
      model,
      "--out",
      `${dir}/a`,
      "--save-embeddings",
      `${dir}/e.npy`,
    );
    assertStrictEquals(a.code, 0, a.stderr);
    const ra = await readReport(`${dir}/a`);
    // 8 .bin entries, 4 distinct faces: each is embedded once.
    assertEquals([ra.counts.pairs, ra.counts.counted, ra.counts.images], [4, 4, 4]);
    assertStrictEquals(ra.policy.aligned, true);
    assertStrictEquals(ra.model.normalize, "arcface"); // from the export's metadata
    const b = await evalLfw(
      "--bin",
      `${FIX}lfw_mini.bin`,
      "--embeddings",
      `${dir}/e.npy`,
      "--out",
      `${dir}/b`,
    );
    assertStrictEquals(b.code, 0, b.stderr);
    const rb = await readReport(`${dir}/b`);
    assertEquals(rb.result.foldAccuracy, ra.result.foldAccuracy);
    assert(Math.abs(rb.result.auc - ra.result.auc) < 1e-12);
    // --cache: the second run reuses every embedding, even after a crash tore the last line.
    const cached = ["--bin", `${FIX}lfw_mini.bin`, "--model", model, "--cache", `${dir}/c.ndjson`];
    assertStrictEquals((await evalLfw(...cached, "--out", `${dir}/c1`)).code, 0);
    await Deno.writeTextFile(`${dir}/c.ndjson`, '{"key":"bin/0000', { append: true });
    const again = await evalLfw(...cached, "--out", `${dir}/c2`);
    assertStrictEquals(again.code, 0, again.stderr);
    const rc = await readReport(`${dir}/c2`);
    assertStrictEquals(rc.counts.fromCache, 4);
    assertEquals(rc.result.foldAccuracy, ra.result.foldAccuracy);
    // A model without arcstream metadata must say how it wants its pixels.
    const foreign = await saveModel(`${dir}/f`, false);
    const c = await evalLfw("--bin", `${FIX}lfw_mini.bin`, "--model", foreign, "--out", `${dir}/c`);
    assertStrictEquals(c.code, 2);
    assertMatch(c.stderr, /not an arcstream export.*--normalize/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval-lfw with MTCNN names a missing image and its pair, skips or fails as told", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = await saveModel(`${dir}/m`, true);
    const args = [
      "--data",
      `${FIX}lfw_mini`,
      "--pairs",
      `${FIX}lfw_mini_missing_pairs.txt`,
      "--model",
      model,
    ];
    const r = await evalLfw(...args, "--out", `${dir}/r`);
    assertStrictEquals(r.code, 0, r.stderr);
    const rep = await readReport(`${dir}/r`);
    assertStrictEquals(rep.policy.onMissing, "skip");
    assertEquals([rep.counts.pairs, rep.counts.counted, rep.counts.missing], [4, 3, 1]);
    assertStrictEquals(rep.images.missing[0].key, "Akhmed_Zakayev/Akhmed_Zakayev_0009");
    assertEquals(rep.images.missing[0].pairs, [2]);
    assertEquals(
      [rep.skippedPairs[0].index, rep.skippedPairs[0].line, rep.skippedPairs[0].because],
      [2, 4, ["Akhmed_Zakayev/Akhmed_Zakayev_0009"]],
    );
    assertMatch(r.stdout, /3 counted of 4 \(1 skipped; on-missing: skip\)/);
    const f = await evalLfw(...args, "--out", `${dir}/f`, "--on-missing", "fail");
    assertStrictEquals(f.code, 1);
    assertMatch(f.stderr, /Akhmed_Zakayev_0009/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval-lfw --embeddings A,B scores the ensemble: a pair's cosine is the mean of the models' cosines", async () => {
  const { writeNpy } = await import("../pipeline/formats/npy.ts");
  const { loadEmbeddings } = await import("../model/eval/embeddings_npy.ts");
  const dir = await Deno.makeTempDir();
  try {
    // Two pairs, 2-d embeddings. Model A: pair 0 at 90 degrees (cos 0), pair 1 at 60 (cos 0.5);
    // model B (3-d, unnormalized rows): pair 0 equal (cos 1), pair 1 opposite (cos -1).
    const c = Math.cos(Math.PI / 3), s = Math.sin(Math.PI / 3);
    await writeNpy(`${dir}/a.npy`, {
      shape: [4, 2],
      data: Float32Array.of(1, 0, 0, 1, 1, 0, c, s),
    });
    await writeNpy(`${dir}/b.npy`, {
      shape: [4, 3],
      data: Float32Array.of(2, 0, 0, 5, 0, 0, 0, 0, 3, 0, 0, -1),
    });
    const pairs = [{ a: "x", b: "y", issame: true }, { a: "u", b: "v", issame: false }];
    const { embeddings, pairs: rows } = await loadEmbeddings(
      [`${dir}/a.npy`, `${dir}/b.npy`],
      pairs,
      2,
      null,
    );
    const cos = (p: { a: string; b: string }) => {
      const x = embeddings.get(p.a)!, y = embeddings.get(p.b)!;
      assertEquals(x.length, 5);
      return x.reduce((t, v, i) => t + v * y[i], 0);
    };
    assert(Math.abs(cos(rows[0]) - (0 + 1) / 2) < 1e-6, `${cos(rows[0])}`);
    assert(Math.abs(cos(rows[1]) - (0.5 - 1) / 2) < 1e-6, `${cos(rows[1])}`);
    // The task: the same file twice is that file alone (equal cosines, equal report).
    const one = await evalLfw(
      "--pairs",
      `${FIX}tiny_pairs.txt`,
      "--embeddings",
      `${FIX}tiny_embeddings.npy`,
      "--out",
      `${dir}/one`,
    );
    const two = await evalLfw(
      "--pairs",
      `${FIX}tiny_pairs.txt`,
      "--embeddings",
      `${FIX}tiny_embeddings.npy,${FIX}tiny_embeddings.npy`,
      "--out",
      `${dir}/two`,
    );
    // A file whose name holds a comma is that file, not an ensemble of two missing ones.
    await Deno.copyFile(`${FIX}tiny_embeddings.npy`, `${dir}/run 1,seed 2.npy`);
    const comma = await evalLfw(
      "--pairs",
      `${FIX}tiny_pairs.txt`,
      "--embeddings",
      `${dir}/run 1,seed 2.npy`,
      "--out",
      `${dir}/comma`,
    );
    assertEquals(
      [one.code, two.code, comma.code],
      [0, 0, 0],
      one.stderr + two.stderr + comma.stderr,
    );
    const [r1, r2] = [await readReport(`${dir}/one`), await readReport(`${dir}/two`)];
    assertEquals(r2.result.accuracyMean, r1.result.accuracyMean);
    assertEquals(r2.result.auc, r1.result.auc);
    assertEquals((await readReport(`${dir}/comma`)).result.auc, r1.result.auc);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
