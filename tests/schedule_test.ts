import { assert, assertStrictEquals, assertThrows } from "@std/assert";
import { makeSchedule, piecewiseConstant, warmupPolynomial } from "../model/train/schedule.ts";

Deno.test("piecewiseConstant() switches value at each boundary step, like tf piecewise_constant", () => {
  // The original TensorFlow ArcFace code's schedule: boundaries [40000, 60000, 80000], values [0.001, 0.0005, 0.0003, 0.0001].
  const lr = piecewiseConstant([40000, 60000, 80000], [0.001, 0.0005, 0.0003, 0.0001]);
  assertStrictEquals(lr(0), 0.001);
  assertStrictEquals(lr(39999), 0.001);
  assertStrictEquals(lr(40000), 0.0005);
  assertStrictEquals(lr(60000), 0.0003);
  assertStrictEquals(lr(79999), 0.0003);
  assertStrictEquals(lr(1e9), 0.0001);
});

Deno.test("warmupPolynomial() ramps linearly then decays as (1 - progress)^2 to 0", () => {
  const lr = warmupPolynomial(0.1, 10, 110);
  assertStrictEquals(lr(0), 0);
  assert(Math.abs(lr(5) - 0.05) < 1e-12);
  assertStrictEquals(lr(10), 0.1);
  assert(Math.abs(lr(60) - 0.1 * 0.25) < 1e-12);
  assertStrictEquals(lr(110), 0);
  assertStrictEquals(lr(500), 0);
});

Deno.test("schedules reject mismatched or unordered settings", () => {
  assertThrows(() => piecewiseConstant([10], [1]), Error, "one more value than boundaries");
  assertThrows(() => piecewiseConstant([20, 10], [1, 2, 3]), Error, "increasing");
  assertThrows(() => warmupPolynomial(0.1, 10, 10), Error, "greater than warmup");
  assertThrows(
    () => makeSchedule({ kind: "cosine" } as unknown as Parameters<typeof makeSchedule>[0]),
    Error,
    'Unknown LR schedule kind "cosine"',
  );
});
