/**
 * `eval-lfw --limit-pairs N` keeps both kinds of pair in every fold (docs/reliability.md).
 */
import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { limitPairs } from "../model/eval/limit_pairs.ts";
import { writeNpy } from "../pipeline/formats/npy.ts";
import { runTask } from "./run_task.ts";

const EVAL = new URL("../tasks/eval_lfw.ts", import.meta.url).pathname;

/** pairs.txt layout: F folds of S same then S different pairs. */
function layout(F: number, S: number): boolean[] {
  return Array.from({ length: F }, () => [...Array(S).fill(true), ...Array(S).fill(false)]).flat();
}

Deno.test("limitPairs() takes the first same and different pairs of every fold, exactly N", () => {
  const issame = layout(10, 300);
  const { indices, foldSizes } = limitPairs(issame, Array(10).fill(600), 100);
  assertEquals(indices.length, 100);
  assertEquals(foldSizes, Array(10).fill(10));
  // Fold 0: lines 0-4 (same) and 300-304 (different); fold 1 starts at 600.
  assertEquals(indices.slice(0, 10), [0, 1, 2, 3, 4, 300, 301, 302, 303, 304]);
  assertEquals(indices[10], 600);
  assertEquals(indices.filter((i) => issame[i]).length, 50);
  for (let i = 1; i < indices.length; i++) assert(indices[i] > indices[i - 1], "file order kept");
});

Deno.test("limitPairs() spreads a remainder one pair per (fold, kind) slot, in order", () => {
  const issame = layout(10, 300);
  const { indices, foldSizes } = limitPairs(issame, Array(10).fill(600), 23);
  assertEquals(indices.length, 23);
  assertEquals(foldSizes, [4, 3, 2, 2, 2, 2, 2, 2, 2, 2]);
  assertEquals(indices.slice(0, 4), [0, 1, 300, 301]);
  assertEquals(indices.slice(4, 7), [600, 601, 900]);
});

Deno.test("limitPairs() refuses a limit that cannot keep both kinds in each fold", () => {
  const issame = layout(10, 300);
  assertThrows(
    () => limitPairs(issame, Array(10).fill(600), 19),
    RangeError,
    "limit 19 is too few: keeping same and different pairs in each of the 10 folds needs at least 20",
  );
  // A fold with too few different pairs for its share.
  const lopsided = [
    ...Array(10).fill(true),
    false,
    ...Array(5).fill(true),
    ...Array(4).fill(false),
  ];
  assertThrows(
    () => limitPairs(lopsided, [11, 9], 8),
    RangeError,
    "fold 0 has 1 different-person pairs, fewer than the 2 its share needs",
  );
  // Without folds (a .bin): KFold(10) folds of the whole list.
  const bin = layout(10, 3);
  assertEquals(limitPairs(bin, null, 20).foldSizes, Array(10).fill(2));
});

Deno.test("eval-lfw --limit-pairs 20 on 10 folds scores both kinds: AUC is a number, not NaN", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eval_limit_" });
  try {
    // 10 folds of 3 same + 3 different pairs; same pairs close, different ones far, one hard
    // case of each kind so accuracy is not trivially 1.
    const F = 10, S = 3, D = 2;
    const lines = [`${F}\t${S}`];
    const rows: number[] = [];
    let n = 0;
    for (let f = 0; f < F; f++) {
      for (let s = 0; s < S; s++) {
        lines.push(`P${n++}\t1\t2`);
        const angle = f === 3 && s === 0 ? 1.4 : 0.2 + 0.01 * s;
        rows.push(1, 0, Math.cos(angle), Math.sin(angle));
      }
      for (let s = 0; s < S; s++) {
        lines.push(`P${n++}\t1\tQ${n}\t1`);
        const angle = f === 7 && s === 0 ? 0.3 : 1.5 - 0.01 * s;
        rows.push(1, 0, Math.cos(angle), Math.sin(angle));
      }
    }
    await Deno.writeTextFile(`${dir}/pairs.txt`, lines.join("\n") + "\n");
    await writeNpy(`${dir}/emb.npy`, { shape: [rows.length / D, D], data: new Float32Array(rows) });
    const args = ["--pairs", `${dir}/pairs.txt`, "--embeddings", `${dir}/emb.npy`, "--quiet"];
    const r = await runTask(EVAL, [...args, "--out", `${dir}/out`, "--limit-pairs", "20"]);
    assertEquals(r.code, 0, r.stderr);
    const rep = JSON.parse(await Deno.readTextFile(`${dir}/out/report.json`));
    assertEquals(rep.counts.pairs, 20);
    assertEquals(rep.result.foldSizes, Array(10).fill(2));
    assertEquals([rep.result.nSame, rep.result.nDiff], [10, 10]);
    assert(Number.isFinite(rep.result.auc), `AUC ${rep.result.auc}`);
    assert(rep.result.auc > 0.5 && rep.result.auc <= 1);

    const few = await runTask(EVAL, [...args, "--out", `${dir}/few`, "--limit-pairs", "7"]);
    assertEquals(few.code, 1);
    assertMatch(few.stderr, /--limit-pairs 7 is too few/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
