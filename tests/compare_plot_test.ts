import { assert, assertEquals, assertRejects } from "@std/assert";
import { basename, join } from "node:path";
import { comparePlotSvg, writeComparePlot } from "../model/train/compare_plot.ts";
import type { LogEntry } from "../model/train/train_log.ts";
import { runTask } from "./run_task.ts";

function entry(step: number, loss: number): LogEntry {
  return {
    time: "2026-12-01T00:00:00Z",
    epoch: 0,
    step,
    totalLoss: loss + 1,
    inferenceLoss: loss,
    weightDecayLoss: 1,
    accuracy: step / 100,
    lr: 0.1,
    imagesPerSec: 10,
  };
}

/** Every polyline of `series` as [x, y] points, in panel order. */
function lines(svg: string, series: string): number[][][] {
  const re = new RegExp(`data-series="${series}"[^>]*points="([^"]*)"`, "g");
  return [...svg.matchAll(re)].map((m) =>
    m[1].trim() === "" ? [] : m[1].trim().split(/\s+/).map((p) => p.split(",").map(Number))
  );
}

Deno.test("comparePlotSvg draws each run as its own line in every panel, on shared axes", () => {
  const a = { name: "arcstream", log: [entry(10, 20), entry(20, 10)], heldout: [] };
  const b = {
    name: "pytorch",
    log: [entry(10, 10), entry(20, 5)],
    heldout: [{ time: "", step: 20, accuracy: 0.8, std: 0.01, auc: 0.9, pairs: 600 }],
  };
  const svg = comparePlotSvg([a, b], "both");
  const [la, lb] = [lines(svg, "arcstream"), lines(svg, "pytorch")];
  assertEquals(la.length, 4); // loss, accuracy, lr, held-out (an empty line for a)
  assertEquals(lb.length, 4);
  // Loss panel: same steps -> same x; a's loss is twice b's -> higher on the page (smaller y).
  assertEquals(la[0].map((p) => p[0]), lb[0].map((p) => p[0]));
  assert(la[0][0][1] < lb[0][0][1] && la[0][1][1] < lb[0][1][1]);
  // b's loss at step 20 (5) and a's at step 20 (10) sit on one linear axis with a's 20 at step 10.
  const y = (v: number) => la[0][0][1] + (v - 20) * (la[0][1][1] - la[0][0][1]) / (10 - 20);
  assert(Math.abs(y(5) - lb[0][1][1]) < 0.2, `${y(5)} vs ${lb[0][1][1]}`);
  assertEquals(la[3].length, 0);
  assertEquals(lb[3].length, 1);
});

Deno.test("deno task plot writes two runs' picture; a folder without log.jsonl is an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, k] of [["r1", 1], ["r2", 2]] as const) {
      await Deno.mkdir(join(dir, name));
      const log = [entry(1, 10 * k), entry(2, 5 * k)].map((e) => JSON.stringify(e)).join("\n");
      await Deno.writeTextFile(join(dir, name, "log.jsonl"), log + "\n");
    }
    const out = join(dir, "both.svg");
    const r = await runTask("tasks/plot.ts", [
      join(dir, "r1"),
      join(dir, "r2"),
      "--names",
      "one,two",
      "--out",
      out,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const svg = await Deno.readTextFile(out);
    // Loss, accuracy, lr; no held-out panel lines (neither run has heldout.jsonl).
    assertEquals(lines(svg, "one").length, 3);
    assertEquals(lines(svg, "two").length, 3);
    await Deno.mkdir(join(dir, "empty"));
    await assertRejects(() => writeComparePlot([join(dir, "empty")], out), Error, "no log.jsonl");
    assertEquals((await runTask("tasks/plot.ts", [join(dir, "r1"), join(dir, "r2")])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeComparePlot keeps validation lines (val field, same step) out of the training panels", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const val = {
      time: "",
      step: 2,
      val: "lfw",
      accuracy: 0.97,
      std: 0.01,
      xnorm: 20,
      highest: 0.97,
    };
    const log = [entry(1, 10), entry(2, 5), val].map((e) => JSON.stringify(e)).join("\n");
    await Deno.writeTextFile(join(dir, "log.jsonl"), log + "\n");
    const out = join(dir, "one.svg");
    await writeComparePlot([dir], out, { names: ["r"] });
    const [loss, acc, lr] = lines(await Deno.readTextFile(out), "r");
    // Two training steps per panel, every y finite (a val line has no loss/lr: NaN if drawn).
    for (const l of [loss, acc, lr]) {
      assertEquals(l.length, 2);
      assert(l.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)), JSON.stringify(l));
    }
    // Training accuracy at step 2 is 0.02 (entry), not the validation 0.97: near the axis bottom.
    assert(acc[1][1] > acc[0][1] - 5, `${acc}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task plot RUN (no --out) redraws RUN/curves.svg as the trainer draws it, not as a comparison", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = [entry(1, 10), entry(2, 5)].map((e) => JSON.stringify(e)).join("\n");
    await Deno.writeTextFile(join(dir, "log.jsonl"), log + "\n");
    const r = await runTask("tasks/plot.ts", [dir]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(new TextDecoder().decode(r.stdout).trim(), join(dir, "curves.svg"));
    const svg = await Deno.readTextFile(join(dir, "curves.svg"));
    // The trainer's loss panel has a "total" line; a comparison has one line per run folder.
    assertEquals(lines(svg, "total").length, 1);
    assertEquals(lines(svg, basename(dir)).length, 0);
    assertEquals((await runTask("tasks/plot.ts", ["--help"])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
