import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import {
  count,
  nms,
  pnetCandidates,
  regress,
  select,
  square,
  STRIDE,
} from "../pipeline/align/mtcnn/boxes.ts";

/** Box rows [x1, y1, x2, y2, score] with zero regression. */
function boxes(rows: number[][]): Float64Array {
  const b = new Float64Array(rows.length * STRIDE);
  rows.forEach((r, i) => b.set(r, i * STRIDE));
  return b;
}

Deno.test("nms() keeps the best box and drops overlaps above the threshold, best first", () => {
  const b = boxes([
    [0, 0, 9, 9, 0.8],
    [1, 1, 10, 10, 0.9], // IoU with box 0 = 81 / 119 = 0.68
    [20, 20, 29, 29, 0.7],
  ]);
  assertEquals(nms(b, 0.5, "Union"), [1, 2]);
  assertEquals(nms(b, 0.7, "Union"), [1, 0, 2]);
});

Deno.test("nms() 'Min' divides by the smaller box, so a box inside a bigger one is dropped", () => {
  const b = boxes([[0, 0, 99, 99, 0.9], [10, 10, 29, 29, 0.95]]); // small one fully inside
  assertEquals(nms(b, 0.7, "Union"), [1, 0]); // IoU = 400 / 10000
  assertEquals(nms(b, 0.7, "Min"), [1]); // overlap / min area = 1
});

Deno.test("nms() +1 pixel convention differs from torchvision's at the edge", () => {
  // Two 10-wide boxes sharing one column: +1 convention overlaps (1x10 of 10x10), torchvision none.
  const b = boxes([[0, 0, 9, 9, 0.9], [9, 0, 18, 9, 0.8]]);
  assertEquals(nms(b, 0.05, "Union", true), [0]);
  assertEquals(nms(b, 0.05, "Union", false), [0, 1]);
});

Deno.test("regress() moves corners by offsets times the box size; square() centres a square", () => {
  const b = boxes([[10, 20, 30, 60, 1]]);
  b.set([0.1, -0.1, 0.2, 0], 5);
  regress(b, false); // width 20, height 40
  assertEquals([...b.subarray(0, 4)], [12, 16, 34, 60]);
  square(b); // w 22, h 44 -> side 44 around centre x 23
  assertEquals([...b.subarray(0, 4)], [1, 16, 45, 60]);
});

Deno.test("pnetCandidates() maps cell (x, y) to the 12x12 window at stride 2 and thresholds", () => {
  // A 2x3 (W' x H') map, transposed layout [x][y][6]; only cell (1, 2) is confident.
  const out = new Float32Array(2 * 3 * 6);
  const o = (1 * 3 + 2) * 6;
  out[o] = -3, out[o + 1] = 3; // softmax -> 0.9975
  out.set([0.1, 0.2, 0.3, 0.4], o + 2);
  const c = pnetCandidates(out, 2, 3, 0.5, 0.6);
  assertStrictEquals(count(c), 1);
  // x1 = fix((2*1 + 1) / 0.5) = 6, y1 = fix((2*2 + 1) / 0.5) = 10, x2 = fix(14 / 0.5) = 28 ...
  assertEquals([...c.subarray(0, 4)], [6, 10, 28, 32]);
  assert(Math.abs(c[4] - 1 / (1 + Math.exp(-6))) < 1e-12);
  assertEquals([...c.subarray(5, 9)].map((v) => Math.round(v * 10) / 10), [0.1, 0.2, 0.3, 0.4]);
  assertStrictEquals(count(select(c, [])), 0);
});
