import { assert, assertEquals, assertMatch, assertNotMatch, assertStrictEquals } from "@std/assert";
import { join } from "node:path";
import { niceTicks, trainPlotSvg, writeTrainPlot } from "../model/train/train_plot.ts";
import type { LogEntry } from "../model/train/train_log.ts";

/** Checks that every tag is closed in order and attributes are quoted: well-formed XML (no DTD). */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m; (m = tag.exec(xml));) {
    assert(!/[<>]/.test(xml.slice(last, m.index)), `stray < or > before offset ${m.index}`);
    last = tag.lastIndex;
    const [, close, name, , self] = m;
    if (close) assertStrictEquals(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!self) stack.push(name);
  }
  assert(!/[<>]/.test(xml.slice(last)), "stray < or > at the end");
  assertEquals(stack, [], "unclosed elements");
}

function entry(step: number, loss: number): LogEntry {
  return {
    time: "2026-12-01T00:00:00Z",
    epoch: 0,
    step,
    totalLoss: loss,
    inferenceLoss: loss - 1,
    weightDecayLoss: 1,
    accuracy: step / 100,
    lr: 0.1 * (1 - step / 100),
    imagesPerSec: 10,
  };
}

const pointsOf = (svg: string, series: string) => {
  const m = new RegExp(`data-series="${series}"[^>]*points="([^"]*)"`).exec(svg);
  assert(m, `no polyline for "${series}"`);
  return m[1].trim() === "" ? [] : m[1].trim().split(/\s+/);
};

Deno.test("writeTrainPlot() draws loss, accuracy, lr and held-out curves from a run folder's logs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = [1, 10, 20, 30, 40].map((s, i) => entry(s, 10 - i));
    // A resumed run re-logs step 30: the plot keeps one point per step.
    log.push(entry(30, 6.5), entry(50, 5));
    // --val-targets lines share log.jsonl: one per target and evaluation, not step windows.
    const val = (step: number, name: string, accuracy: number) =>
      JSON.stringify({
        time: "t",
        epoch: 0,
        step,
        val: name,
        accuracy,
        std: 0,
        highest: accuracy,
        pairs: 20,
      });
    await Deno.writeTextFile(
      join(dir, "log.jsonl"),
      log.map((e) => JSON.stringify(e)).join("\n") + "\n" +
        [val(20, "lfw", 0.55), val(20, "cfp_fp", 0.6), val(40, "lfw", 0.7)].join("\n") +
        '\n{"step": 6', // torn last line
    );
    const held = [{ time: "t", step: 25, accuracy: 0.61, std: 0.02, auc: 0.7, pairs: 100 }, {
      time: "t",
      step: 50,
      accuracy: 0.66,
      std: 0.03,
      auc: 0.72,
      pairs: 100,
    }];
    await Deno.writeTextFile(
      join(dir, "heldout.jsonl"),
      held.map((e) => JSON.stringify(e)).join("\n") + "\n",
    );
    const path = await writeTrainPlot(dir, "run <A&B>");
    assertStrictEquals(path, join(dir, "curves.svg"));
    const svg = await Deno.readTextFile(path);
    assertWellFormed(svg);
    assertMatch(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assertNotMatch(svg, /<script|href=/, "self-contained: no script, no links");
    assertMatch(svg, /run &lt;A&amp;B&gt;/);
    assertStrictEquals(pointsOf(svg, "total").length, 6);
    assertStrictEquals(pointsOf(svg, "softmax \\(margin\\)").length, 6);
    assertStrictEquals(pointsOf(svg, "training accuracy").length, 6);
    assertStrictEquals(pointsOf(svg, "lr").length, 6);
    assertStrictEquals(pointsOf(svg, "held-out pairs").length, 2);
    assertStrictEquals(pointsOf(svg, "lfw").length, 2);
    assertStrictEquals(pointsOf(svg, "cfp_fp").length, 1);
    assertStrictEquals((svg.match(/<circle /g) ?? []).length, 5);
    // The re-logged step 30 keeps its last value, 6.5: 3/4 of the way from 8 (step 20) to 6
    // (step 40); the first value, 7, would sit at 1/2.
    const ys = pointsOf(svg, "total").map((p) => Number(p.split(",")[1]));
    const at = (ys[3] - ys[2]) / (ys[4] - ys[2]);
    assert(Math.abs(at - 0.75) < 0.01, `y of step 30: ${ys}`);
    const tmp = [...Deno.readDirSync(dir)].filter((e) => e.name.includes(".tmp"));
    assertEquals(tmp, [], "written atomically, no temp file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainPlotSvg() with no held-out check or no log yet still draws four labelled panels", () => {
  const svg = trainPlotSvg([entry(1, 3)], []);
  assertWellFormed(svg);
  assertStrictEquals((svg.match(/no data yet/g) ?? []).length, 1);
  const empty = trainPlotSvg([], []);
  assertWellFormed(empty);
  assertStrictEquals((empty.match(/no data yet/g) ?? []).length, 4);
  for (const t of ["Loss", "Training accuracy", "Learning rate", "Held-out verification"]) {
    assertMatch(empty, new RegExp(t));
  }
});

Deno.test("niceTicks() gives round steps covering the range", () => {
  assertEquals(niceTicks(0, 100), [0, 20, 40, 60, 80, 100]);
  assertEquals(niceTicks(0.5, 0.9), [0.5, 0.6, 0.7, 0.8, 0.9]);
  assertEquals(niceTicks(3, 3), [3]);
});
