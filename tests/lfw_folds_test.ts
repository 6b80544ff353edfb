import { assertEquals, assertThrows } from "@std/assert";
import { parsePairs } from "../pipeline/formats/pairs_reader.ts";
import { foldPairsText, lfwFold, personOf } from "../pipeline/formats/lfw_folds.ts";

// Two folds of 20 same + 20 different pairs; fold f's people are named P<f>_<i> / Q<f>_<i>.
function twoFolds(): string {
  const lines = ["2 20"];
  for (const f of [1, 2]) {
    for (let i = 0; i < 20; i++) lines.push(`P${f}_${i}\t1\t2`);
    for (let i = 0; i < 20; i++) lines.push(`P${f}_${i}\t1\tQ${f}_${i}\t3`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("lfwFold() takes fold k's pairs and every person they name", () => {
  const fold = lfwFold(parsePairs(twoFolds()), 2);
  assertEquals(fold.pairs.length, 40);
  assertEquals(fold.pairs[0].a, "P2_0/P2_0_0001");
  assertEquals(fold.people.size, 40);
  assertEquals([...fold.people].some((p) => p.startsWith("P1")), false);
  assertEquals(personOf("Q2_3/Q2_3_0003"), "Q2_3");
});

Deno.test("foldPairsText() writes 10 sub-folds that each hold both kinds of pair", () => {
  const text = foldPairsText(lfwFold(parsePairs(twoFolds()), 1));
  const back = parsePairs(text);
  assertEquals(back.foldSizes, Array(10).fill(4));
  assertEquals(back.pairs.length, 40);
  for (let f = 0; f < 10; f++) {
    const part = back.pairs.slice(4 * f, 4 * f + 4).map((p) => p.issame);
    assertEquals(part, [true, true, false, false]);
  }
  // Same pairs, same order within each kind.
  const orig = lfwFold(parsePairs(twoFolds()), 1).pairs;
  assertEquals(
    back.pairs.filter((p) => p.issame).map((p) => p.b),
    orig.slice(0, 20).map((p) => p.b),
  );
  assertEquals(back.pairs.filter((p) => !p.issame).map((p) => p.b), orig.slice(20).map((p) => p.b));
});

Deno.test("lfwFold() refuses a list without folds and a fold out of range", () => {
  assertThrows(
    () => lfwFold(parsePairs("2\nA 1 2\nB 1 2\nA 1 B 2\nB 1 A 2\n"), 1),
    RangeError,
    "no folds",
  );
  assertThrows(() => lfwFold(parsePairs(twoFolds()), 3), RangeError, "[1, 2]");
  assertThrows(() => lfwFold(parsePairs(twoFolds()), 0), RangeError, "fold must be");
});
