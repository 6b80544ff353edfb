/**
 * The relative error the kernel tests hold their tolerances to (not a test file): shared by the
 * wasm and webgpu kernel tests so that both measure the same thing.
 */
import { assert, assertStrictEquals } from "@std/assert";

/** max |a - b| / max |b|: a relative error that ignores where b is near zero; a must be finite. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertStrictEquals(a.length, b.length, "lengths differ");
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    assert(Number.isFinite(a[i]), `non-finite value at ${i}`);
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale || 1);
}
