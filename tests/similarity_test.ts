import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import {
  alignFace,
  applySimilarity,
  ARCFACE_TEMPLATE_112,
  arcfaceTemplate,
  estimateSimilarity,
  warpSimilarity,
} from "../pipeline/align/similarity.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

Deno.test("estimateSimilarity() recovers a known rotation + scale + translation exactly", () => {
  const scale = 1.7, angle = 0.3, tx = -12.5, ty = 40.25;
  const truth = { a: scale * Math.cos(angle), b: scale * Math.sin(angle), tx, ty };
  const src: [number, number][] = [[10, 20], [90, 25], [50, 60], [20, 100], [85, 95]];
  const dst = src.map((p) => applySimilarity(truth, p));
  const m = estimateSimilarity(src, dst);
  close(m.a, truth.a, 1e-12, "a");
  close(m.b, truth.b, 1e-12, "b");
  close(m.tx, truth.tx, 1e-10, "tx");
  close(m.ty, truth.ty, 1e-10, "ty");
});

Deno.test("estimateSimilarity() maps the ArcFace template onto itself as the identity", () => {
  const m = estimateSimilarity(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112);
  close(m.a, 1, 1e-12, "a");
  close(m.b, 0, 1e-12, "b");
  close(m.tx, 0, 1e-10, "tx");
  close(m.ty, 0, 1e-10, "ty");
});

Deno.test("estimateSimilarity() gives a mirrored point set its least-squares proper similarity", () => {
  // A reflected point set cannot be matched by a rotation; the fit must stay a proper similarity.
  const src: [number, number][] = [[0, 0], [1, 0], [0, 1]];
  const dst: [number, number][] = [[0, 0], [0, 1], [1, 0]]; // mirror image
  const m = estimateSimilarity(src, dst);
  // Moving any parameter away from the fit must not lower the squared error.
  const err = (p: typeof m) =>
    src.reduce((s, q, i) => {
      const [x, y] = applySimilarity(p, q);
      return s + (x - dst[i][0]) ** 2 + (y - dst[i][1]) ** 2;
    }, 0);
  for (const k of ["a", "b", "tx", "ty"] as const) {
    for (const d of [-1e-3, 1e-3]) assert(err({ ...m, [k]: m[k] + d }) >= err(m) - 1e-12, k);
  }
});

Deno.test("estimateSimilarity() rejects mismatched, too few or coincident points", () => {
  assertThrows(() => estimateSimilarity([[0, 0]], [[1, 1]]), RangeError);
  assertThrows(() => estimateSimilarity([[0, 0], [1, 1]], [[0, 0]]), RangeError);
  assertThrows(() => estimateSimilarity([[2, 2], [2, 2]], [[0, 0], [1, 1]]), Error, "coincide");
  assertThrows(() => estimateSimilarity([[0, NaN], [1, 1]], [[0, 0], [1, 1]]), Error, "not finite");
});

Deno.test("warpSimilarity() samples bilinearly and fills outside the source with 0", () => {
  // 4x4 single-channel ramp: value = 10 * x + y.
  const src = new Uint8Array(16);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) src[y * 4 + x] = 10 * x + y;
  // Shift by (-0.5, -0.25): output (u, v) samples source (u + 0.5, v + 0.25).
  const out = warpSimilarity(src, 4, 4, { a: 1, b: 0, tx: -0.5, ty: -0.25 }, 4, 1);
  assertStrictEquals(out[0], Math.round(10 * 0.5 + 0.25)); // 5.25 -> 5
  assertStrictEquals(out[1 * 4 + 1], Math.round(10 * 1.5 + 1.25)); // 16.25 -> 16
  // Far outside: 0.
  const moved = warpSimilarity(src, 4, 4, { a: 1, b: 0, tx: 100, ty: 0 }, 4, 1);
  assertEquals([...moved], new Array(16).fill(0));
});

Deno.test("alignFace() puts the 5 landmarks on the template points", () => {
  // Landmarks of a face rotated by 20 degrees and scaled 2x in a 300x300 image.
  const t = arcfaceTemplate(112);
  const m = { a: 2 * Math.cos(0.35), b: 2 * Math.sin(0.35), tx: 60, ty: 30 };
  const lms = t.map((p) => applySimilarity(m, p));
  const img = { pixels: new Uint8Array(300 * 300 * 3), width: 300, height: 300 };
  // Mark the left eye with a bright 3x3 dot.
  const [ex, ey] = lms[0].map(Math.round);
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      img.pixels.fill(255, ((ey + dy) * 300 + ex + dx) * 3, ((ey + dy) * 300 + ex + dx) * 3 + 3);
    }
  }
  const { pixels, transform } = alignFace(img, lms, 112);
  for (let i = 0; i < 5; i++) {
    const [x, y] = applySimilarity(transform, lms[i]);
    close(x, t[i][0], 1e-9, `landmark ${i} x`);
    close(y, t[i][1], 1e-9, `landmark ${i} y`);
  }
  const at = (x: number, y: number) => pixels[(Math.round(y) * 112 + Math.round(x)) * 3];
  assert(at(t[0][0], t[0][1]) > 100, "the dot lands on the left-eye template point");
  assertStrictEquals(at(t[1][0], t[1][1]), 0);
  assertThrows(() => alignFace(img, lms.slice(0, 4)), Error, "5 landmarks");
});
