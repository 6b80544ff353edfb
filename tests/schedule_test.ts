import assert from "node:assert/strict";
import { makeSchedule, piecewiseConstant, warmupPolynomial } from "../model/train/schedule.ts";

Deno.test("piecewiseConstant() switches value at each boundary step, like tf piecewise_constant", () => {
  // The seed's schedule: boundaries [40000, 60000, 80000], values [0.001, 0.0005, 0.0003, 0.0001].
  const lr = piecewiseConstant([40000, 60000, 80000], [0.001, 0.0005, 0.0003, 0.0001]);
  assert.equal(lr(0), 0.001);
  assert.equal(lr(39999), 0.001);
  assert.equal(lr(40000), 0.0005);
  assert.equal(lr(60000), 0.0003);
  assert.equal(lr(79999), 0.0003);
  assert.equal(lr(1e9), 0.0001);
});

Deno.test("warmupPolynomial() ramps linearly then decays as (1 - progress)^2 to 0", () => {
  const lr = warmupPolynomial(0.1, 10, 110);
  assert.equal(lr(0), 0);
  assert.ok(Math.abs(lr(5) - 0.05) < 1e-12);
  assert.equal(lr(10), 0.1);
  assert.ok(Math.abs(lr(60) - 0.1 * 0.25) < 1e-12);
  assert.equal(lr(110), 0);
  assert.equal(lr(500), 0);
});

Deno.test("schedules reject mismatched or unordered settings", () => {
  assert.throws(() => piecewiseConstant([10], [1]), /one more value than boundaries/);
  assert.throws(() => piecewiseConstant([20, 10], [1, 2, 3]), /increasing/);
  assert.throws(() => warmupPolynomial(0.1, 10, 10), /greater than warmup/);
  assert.throws(
    () => makeSchedule({ kind: "cosine" } as unknown as Parameters<typeof makeSchedule>[0]),
    /Unknown LR schedule kind "cosine"/,
  );
});
