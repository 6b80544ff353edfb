import {
  assert,
  assertEquals,
  assertNotEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { deriveSeed, epochPermutation, mix32, Prng } from "../pipeline/shuffle/prng.ts";

/** Reference xoshiro128** in BigInt arithmetic (independent of the Math.imul implementation). */
function referenceStream(state: bigint[], count: number): number[] {
  const M = 0xffffffffn;
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
  const s = [...state];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((s[1] * 5n) & M, 7n) * 9n) & M));
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
  }
  return out;
}

Deno.test("Prng() matches a BigInt reference of xoshiro128** seeded by SplitMix32", () => {
  for (const seed of [0, 7, -3, 2 ** 40 + 5]) {
    let x = deriveSeed(seed);
    const state: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      x = mix32(x + i);
      state.push(BigInt(x));
    }
    const p = new Prng(seed);
    const got = Array.from({ length: 50 }, () => p.nextU32());
    assertEquals(got, referenceStream(state, 50));
  }
});

Deno.test("Prng.nextInt() stays in range and covers every value roughly uniformly", () => {
  const p = new Prng(1);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[p.nextInt(6)]++;
  for (const c of counts) assert(Math.abs(c - 10000) < 500, `count ${c}`);
  assertThrows(() => p.nextInt(0), RangeError);
  assertThrows(() => p.nextInt(1.5), RangeError);
});

Deno.test("epochPermutation() is a permutation, reproducible, and new each epoch", () => {
  const a = epochPermutation(100, 7, 0);
  assertEquals([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assertEquals(a, epochPermutation(100, 7, 0));
  assertNotEquals(a, epochPermutation(100, 7, 1));
  assertNotEquals(a, epochPermutation(100, 8, 0));
  assertStrictEquals(epochPermutation(0, 7, 0).length, 0);
  assertThrows(() => epochPermutation(5, 7, -1), RangeError);
  assertThrows(() => epochPermutation(5, 0.5, 0), RangeError);
});

Deno.test("epochPermutation() puts each item in each position about equally often", () => {
  // 3 items, 6000 epochs: each (item, position) cell expects 2000.
  const cells = new Array(9).fill(0);
  for (let e = 0; e < 6000; e++) {
    const p = epochPermutation(3, 11, e);
    p.forEach((item, pos) => cells[item * 3 + pos]++);
  }
  for (const c of cells) assert(Math.abs(c - 2000) < 150, `cell ${c}`);
});
