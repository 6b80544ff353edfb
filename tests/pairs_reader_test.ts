import { assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { lfwKey, lfwPath, parsePairs, readPairs } from "../pipeline/formats/pairs_reader.ts";

const FIX = new URL("../fixtures/eval/", import.meta.url).pathname;

Deno.test("readPairs() reads the official layout: folds of same then different pairs", async () => {
  const list = await readPairs(`${FIX}lfw_mini_pairs.txt`);
  assertEquals(list.foldSizes, [2, 2]);
  assertEquals(list.pairs.map((p) => [p.a, p.b, p.issame, p.line]), [
    ["Abel_Pacheco/Abel_Pacheco_0001", "Abel_Pacheco/Abel_Pacheco_0004", true, 2],
    ["Abel_Pacheco/Abel_Pacheco_0001", "Akhmed_Zakayev/Akhmed_Zakayev_0001", false, 3],
    ["Akhmed_Zakayev/Akhmed_Zakayev_0001", "Akhmed_Zakayev/Akhmed_Zakayev_0003", true, 4],
    ["Abel_Pacheco/Abel_Pacheco_0004", "Akhmed_Zakayev/Akhmed_Zakayev_0003", false, 5],
  ]);
  // Each image once, in first-use order.
  assertEquals(list.images, [
    "Abel_Pacheco/Abel_Pacheco_0001",
    "Abel_Pacheco/Abel_Pacheco_0004",
    "Akhmed_Zakayev/Akhmed_Zakayev_0001",
    "Akhmed_Zakayev/Akhmed_Zakayev_0003",
  ]);
});

Deno.test("parsePairs() reads the pairsDevTest layout (a single count) without folds", () => {
  const list = parsePairs("2\nA 1 2\nB 3 4\nA 1 C 2\r\nB 2 D 1\n\n");
  assertStrictEquals(list.foldSizes, null);
  assertEquals(list.pairs.map((p) => p.issame), [true, true, false, false]);
  assertStrictEquals(list.pairs[2].b, "C/C_0002");
});

Deno.test("parsePairs() names the line of a malformed, missing or extra pair", () => {
  assertMatch(
    (assertThrows(() => parsePairs("1 1\nA 1\nA 1 B 2\n", "p.txt")) as Error).message,
    /line 2 of "p\.txt".*"name n1 n2"/,
  );
  assertMatch(
    (assertThrows(() => parsePairs("1 1\nA 1 2\nA 1 B\n", "p.txt")) as Error).message,
    /line 3 of "p\.txt".*"name1 n1 name2 n2"/,
  );
  assertMatch(
    (assertThrows(() => parsePairs("1 1\nA 1 x\nA 1 B 2\n", "p.txt")) as Error).message,
    /line 2.*"x" is not an image number/,
  );
  assertThrows(
    () => parsePairs("2 1\nA 1 2\nA 1 B 2\n", "p.txt"),
    Error,
    "ends after 2 pairs; the header promises 4",
  );
  assertMatch(
    (assertThrows(() => parsePairs("1 1\nA 1 2\nA 1 B 2\nA 1 2\n", "p.txt")) as Error).message,
    /line 4.*extra line/,
  );
  assertMatch(
    (assertThrows(() => parsePairs("ten 300\n", "p.txt")) as Error).message,
    /line 1 of "p\.txt".*header/,
  );
});

Deno.test("lfwKey() and lfwPath() follow LFW's Name/Name_%04d.jpg", () => {
  assertStrictEquals(lfwKey("George_W_Bush", 7), "George_W_Bush/George_W_Bush_0007");
  assertStrictEquals(lfwPath("/d", lfwKey("A", 12)), "/d/A/A_0012.jpg");
});
