/**
 * eval-lfw's review.json (what `deno task serve`'s report page lists), checked against the
 * hand-worked answer of fixtures/eval/tiny_* (fixtures/eval/README.md): threshold 0.16 on all
 * pairs; the one same pair above it is fold 3's (pair 6, distance 2 - 10/13, cosine 5/13); the
 * hard different pair (fold 7, distance 0.2353) stays above it, so nothing is falsely accepted.
 */
import { assertAlmostEquals, assertEquals } from "@std/assert";
import { join } from "node:path";
import { runTask } from "./run_task.ts";

Deno.test("eval-lfw writes review.json: every pair's cosine and fold, false accepts and rejects", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runTask("tasks/eval_lfw.ts", [
      "--embeddings",
      "fixtures/eval/tiny_embeddings.npy",
      "--pairs",
      "fixtures/eval/tiny_pairs.txt",
      "--out",
      dir,
      "--quiet",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const review = JSON.parse(await Deno.readTextFile(join(dir, "review.json")));
    assertAlmostEquals(review.threshold.distance, 0.16, 1e-9);
    assertAlmostEquals(review.threshold.cosine, 0.92, 1e-9);
    assertEquals(review.falseRejects, [6]);
    assertEquals(review.falseAccepts, []);
    assertEquals(review.pairs.length, 20);
    assertEquals(
      review.pairs.map((p: { fold: number }) => p.fold),
      [...Array(20).keys()].map((i) => i >> 1),
    );
    assertAlmostEquals(review.pairs[6].cosine, 5 / 13, 1e-6);
    assertAlmostEquals(review.pairs[14 + 1].cosine, 15 / 17, 1e-6);
    assertAlmostEquals(review.pairs[0].cosine, 12 / 13, 1e-6);
    assertEquals(review.faces, {}); // an --embeddings file has no images
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
