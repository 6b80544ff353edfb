/**
 * A small seeded PRNG with the same output on every machine and runtime: all arithmetic is 32-bit
 * integer (`Math.imul`, `>>>`), never floating point, so a seed gives the same shuffle everywhere.
 *
 * Generator: SplitMix32 for seeding, xoshiro128** for the stream (Blackman & Vigna).
 */

/**
 * Salts that keep the random streams drawn from one user seed independent: the bounded shuffle
 * buffer (`ShuffleStream`), the training flips (`batchFlips`) and the random crop and tone
 * (`batchAugments`) must not replay the epoch order or each other. The values are ASCII tags
 * ("buff", "flip", "augm"); changing one changes every draw made with it.
 */
export const SEED_SALT = { buffer: 0x62756666, flip: 0x666c6970, augment: 0x6175676d } as const;

/** Mixes a 32-bit value (the SplitMix32 finalizer); a bijection on uint32. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}

/** Validates a seed: a safe integer (negative allowed); its low and high 32 bits both count. */
export function checkSeed(seed: number, what = "seed"): number {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`${what} must be a safe integer, got ${seed}`);
  }
  return seed;
}

/** Derives a stream seed from a base seed and any number of integer components (epoch, step...). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  checkSeed(seed);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x100000000) >>> 0;
  let h = mix32(lo ^ mix32(hi));
  for (const p of parts) {
    checkSeed(p, "seed component");
    h = mix32(h ^ mix32((p >>> 0) ^ mix32(Math.floor(p / 0x100000000) >>> 0)));
  }
  return h;
}

/**
 * xoshiro128** seeded through SplitMix32.
 * @example
 * ```ts
 * import { Prng } from "../mod.ts";
 *
 * const rng = new Prng(7);
 * console.log(rng.nextInt(10), rng.nextInt(10));
 * ```
 */
export class Prng {
  #s = new Uint32Array(4);

  /** @param seed any safe integer; equal seeds give equal streams. */
  constructor(seed: number) {
    let x = deriveSeed(seed);
    for (let i = 0; i < 4; i++) {
      x = mix32(x + i);
      this.#s[i] = x;
    }
    if ((this.#s[0] | this.#s[1] | this.#s[2] | this.#s[3]) === 0) this.#s[0] = 1;
  }

  /** Next uniform uint32. */
  nextU32(): number {
    const s = this.#s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); n in [1, 2^32]. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new RangeError(`nextInt(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    // Reject the top partial bucket so every residue is equally likely.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextU32() / 0x100000000;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** In-place Fisher-Yates (Durstenfeld): i from n-1 down to 1 swaps with j in [0, i]. */
export function shuffleInPlace<T>(items: { length: number; [i: number]: T }, prng: Prng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}

/**
 * The order of epoch `epoch` for a list of `n` items: a permutation of 0..n-1 drawn by Fisher-Yates
 * from the stream seeded by (seed, epoch). Same (n, seed, epoch), same permutation, everywhere.
 * @example
 * ```ts
 * import { epochPermutation } from "../mod.ts";
 *
 * const order = epochPermutation(10, 7, 0); // the same on every machine for (n, seed, epoch)
 * console.log([...order]);
 * ```
 */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`list length must be an integer in [0, 2^32), got ${n}`);
  }
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  }
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  shuffleInPlace(perm, new Prng(deriveSeed(seed, epoch)));
  return perm;
}
