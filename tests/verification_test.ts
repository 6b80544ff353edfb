import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import {
  ACC_THRESHOLDS,
  distancesFromCosine,
  evaluateVerification,
  pairDistances,
} from "../model/eval/verification.ts";
import { kfoldSizes, npMeanStd, npSum, slinearInterp } from "../model/eval/np_compat.ts";
import { readNpy } from "../pipeline/formats/npy.ts";
import { readPairs } from "../pipeline/formats/pairs_reader.ts";

const FIX = new URL("../fixtures/eval/", import.meta.url).pathname;

/** Tiny fixture: rows L2-normalized, squared-L2 pair distances and labels (see its README). */
async function tiny() {
  const { shape, data } = await readNpy(`${FIX}tiny_embeddings.npy`);
  const D = shape[1];
  const unit = new Float64Array(data.length);
  for (let r = 0; r < shape[0]; r++) {
    const n = Math.hypot(...data.subarray(r * D, (r + 1) * D));
    for (let k = 0; k < D; k++) unit[r * D + k] = data[r * D + k] / n;
  }
  const list = await readPairs(`${FIX}tiny_pairs.txt`);
  return { dist: pairDistances(unit, D), issame: list.pairs.map((p) => p.issame), list };
}

Deno.test("evaluateVerification() reproduces the hand-worked 10-fold answer of the tiny fixture", async () => {
  const { dist, issame, list } = await tiny();
  const r = evaluateVerification(dist, issame, { foldSizes: list.foldSizes });
  assertEquals(r.foldSizes, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
  assertEquals(r.foldAccuracy, [1, 1, 1, 0.5, 1, 1, 1, 0.5, 1, 1]);
  assertEquals(r.foldThresholds, [0.16, 0.16, 0.16, 0.16, 0.16, 0.16, 0.16, 1.24, 0.16, 0.16]);
  assertStrictEquals(r.accuracyMean, 0.9);
  assert(Math.abs(r.accuracyStd - 0.2) < 1e-12);
  assertStrictEquals(r.bestThreshold, 0.16);
  assert(Math.abs(r.tar.mean - 0.9) < 1e-12);
  assert(Math.abs(r.tar.std - 0.3) < 1e-12);
  assert(Math.abs(r.tar.far - 0.1) < 1e-12);
  assertStrictEquals(r.auc, 0.99);
  assert(Math.abs(r.eer - 0.1) < 1e-12);
  assertStrictEquals(r.tarAtFarExact, 0.9);
  assertStrictEquals(r.nSame, 10);
  assertStrictEquals(r.nDiff, 10);
});

Deno.test("evaluateVerification() without fold sizes splits like sklearn KFold(10) in file order", async () => {
  const { dist, issame } = await tiny();
  const a = evaluateVerification(dist, issame);
  const b = evaluateVerification(dist, issame, { foldSizes: kfoldSizes(20, 10) });
  assertEquals(a, b);
});

Deno.test("kfoldSizes() gives the first n % k folds one extra pair, as sklearn does", () => {
  assertEquals(kfoldSizes(23, 10), [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]);
  assertEquals(kfoldSizes(6000, 10), Array(10).fill(600));
  assertThrows(() => kfoldSizes(5, 10), RangeError);
});

Deno.test("ACC_THRESHOLDS are numpy's arange(0, 4, 0.01): i * 0.01", () => {
  assertStrictEquals(ACC_THRESHOLDS.length, 400);
  assertStrictEquals(ACC_THRESHOLDS[0], 0);
  assertStrictEquals(ACC_THRESHOLDS[29], 0.29); // 29 * 0.01 = 0.29 exactly in float64
  assertStrictEquals(ACC_THRESHOLDS[399], 399 * 0.01);
});

Deno.test("slinearInterp() takes the last of duplicate knots and interpolates linearly to the next", () => {
  const x = Float64Array.from([0, 0, 0.5, 0.5, 1]);
  const y = Float64Array.from([0, 1, 2, 3, 4]);
  assertStrictEquals(slinearInterp(x, y, 0), 1); // knots 0,0: the last one (y=1) at x=0
  assertStrictEquals(slinearInterp(x, y, 0.25), 1.5); // halfway from (0, 1) to (0.5, 2)
  assertStrictEquals(slinearInterp(x, y, 0.5), 3); // last duplicate at 0.5
  assertStrictEquals(slinearInterp(x, y, 0.75), 3.5);
});

Deno.test("npSum() adds in numpy's pairwise order (8 partial sums), not left to right", () => {
  const a = [1e16, 1, 1, 1, 1, 1, 1, 1, -1e16, 1];
  // Left to right every +1 is lost against 1e16 (ulp 2): 1. Pairwise keeps (1+1)+(1+1)...: 7.
  assertStrictEquals(a.reduce((s, v) => s + v, 0), 1);
  assertStrictEquals(npSum(a), 7);
  assertStrictEquals(npMeanStd([1, 1, 1, 1]).std, 0);
});

Deno.test("evaluateVerification() counts tied distances as half in the AUC", () => {
  const r = evaluateVerification([0.1, 0.5, 0.5, 0.9], [true, true, false, false], { nFolds: 2 });
  // (0.1<0.5) + (0.1<0.9) + tie(0.5,0.5)/2 + (0.5<0.9) = 3.5 of 4
  assertStrictEquals(r.auc, 0.875);
});

Deno.test("distancesFromCosine() maps cosine s to 2 - 2s", () => {
  assertEquals(Array.from(distancesFromCosine([1, 0, -1, 0.5])), [0, 2, 4, 1]);
});

Deno.test("evaluateVerification() rejects NaN distances and mismatched labels with the pair index", () => {
  assertThrows(
    () => evaluateVerification([0.1, NaN], [true, false], { nFolds: 2 }),
    Error,
    "pair 1 is NaN",
  );
  assertThrows(
    () => evaluateVerification([0.1, 0.2], [true], { nFolds: 2 }),
    Error,
    "2 distances but 1 labels",
  );
  assertThrows(
    () => evaluateVerification([0.1, 0.2], [true, false], { foldSizes: [1, 2] }),
    RangeError,
  );
  assertThrows(() => pairDistances(new Float32Array(6), 2), Error, "not a whole number");
});

Deno.test("evaluateVerification() scores 6,000 pairs (LFW's size) of two overlapping distributions", () => {
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const dist: number[] = [], same: boolean[] = [];
  for (let i = 0; i < 6000; i++) {
    const isSame = i % 600 < 300;
    dist.push(
      Math.min(4, Math.max(0, (isSame ? 0.9 : 1.8) + 0.35 * (rnd() + rnd() + rnd() - 1.5))),
    );
    same.push(isSame);
  }
  const r = evaluateVerification(dist, same);
  assertEquals(r.nPairs, 6000);
  // Same pairs around 0.9, different around 1.8, spread +-0.5: mostly separable, not entirely.
  assert(r.accuracyMean > 0.8 && r.accuracyMean < 1);
  assert(r.auc > 0.9 && r.auc < 1);
});
