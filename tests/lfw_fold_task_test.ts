import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { join, resolve } from "node:path";
import { runTask } from "./run_task.ts";

const FACES = resolve("fixtures/lfw_faces/train");
const TRAIN = ["--steps", "2", "--batch-size", "8", "--width", "0.0625", "--input-size", "32"];

/** An LFW-format pairs.txt of 2 folds x (10 same + 10 different) over the fixture's people. */
async function twoFoldPairs(dir: string): Promise<string> {
  const people = [...Deno.readDirSync(FACES)].map((e) => e.name).sort();
  const lines = ["2 10"];
  for (const f of [0, 1]) {
    const [a, b, c, d] = people.slice(4 * f, 4 * f + 4);
    for (let i = 0; i < 10; i++) {
      lines.push(`${i < 5 ? a : b}\t${1 + 2 * (i % 5)}\t${2 + 2 * (i % 5)}`);
    }
    for (let i = 0; i < 10; i++) {
      lines.push(`${i % 2 ? c : a}\t${i + 1}\t${i % 2 ? d : b}\t${i + 1}`);
    }
  }
  const path = join(dir, "pairs.txt");
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

Deno.test("lfw-fold --folds trains and scores each fold, prints their mean, and resumes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pairs = await twoFoldPairs(dir);
    const out = join(dir, "folds");
    const args = ["--aligned", FACES, "--pairs", pairs, "--folds", "1,2", "--out", out];
    const r = await runTask("tasks/lfw_fold.ts", [...args, "--", ...TRAIN]);
    assertEquals(r.code, 0, r.stderr);
    const s = JSON.parse(new TextDecoder().decode(r.stdout));
    assertEquals(s.folds.map((f: { fold: number }) => f.fold), [1, 2]);
    for (const f of s.folds) {
      // The fold's figure is its run's last held-out evaluation, at the run's last step.
      const held = (await Deno.readTextFile(join(out, `fold${f.fold}`, "run", "heldout.jsonl")))
        .trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(f.step, 2);
      assertEquals(f.accuracy, held.at(-1).accuracy);
      // Its minutes: from the run's first log line to that evaluation.
      const logs = (await Deno.readTextFile(join(out, `fold${f.fold}`, "run", "log.jsonl")))
        .trim().split("\n").map((l) => JSON.parse(l));
      const span = (Date.parse(held.at(-1).time) - Date.parse(logs[0].time)) / 60000;
      assert(f.minutes > 0);
      assertAlmostEquals(f.minutes, span, 1e-9);
      const list = await Deno.readTextFile(join(out, `fold${f.fold}`, "split", "train.lst"));
      assertEquals(list.trim().split("\n").length, 21 * 15); // 25 people less the fold's 4
    }
    const [a, b] = s.folds.map((f: { accuracy: number }) => f.accuracy);
    assertAlmostEquals(s.mean, (a + b) / 2, 1e-12);
    assertAlmostEquals(s.spread, Math.abs(a - b) / Math.SQRT2, 1e-12);
    assertEquals(JSON.parse(await Deno.readTextFile(join(out, "summary.json"))), s);
    assertEquals(s.folds[0].train, TRAIN);
    // Run again with the same flags: both folds are done, so nothing trains, same figures (the
    // minutes too: they are the runs' own, not this invocation's).
    const again = await runTask("tasks/lfw_fold.ts", [...args, "--", ...TRAIN]);
    assertEquals(again.code, 0, again.stderr);
    assert(!again.stderr.includes("training"), again.stderr);
    assertEquals(JSON.parse(new TextDecoder().decode(again.stdout)), s);
    // Other flags (or none): the 2-step folds are not mixed into a 3-step mean; refused, exit 2,
    // naming the fold folder and the flags that differ. Nothing is retrained or rewritten.
    const summary = await Deno.readTextFile(join(out, "summary.json"));
    const other = TRAIN.map((x, i) => i === 1 ? "3" : x);
    for (const extra of [["--", ...other], []]) {
      const r2 = await runTask("tasks/lfw_fold.ts", [...args, ...extra]);
      assertEquals(r2.code, 2, r2.stderr);
      assert(r2.stderr.includes(join(out, "fold1")), r2.stderr);
      assert(r2.stderr.includes("--steps 2"), r2.stderr);
      if (extra.length) assert(r2.stderr.includes("--steps 3"), r2.stderr);
      assert(!r2.stderr.includes("training"), r2.stderr);
    }
    assertEquals(await Deno.readTextFile(join(out, "summary.json")), summary);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lfw-fold: --fold with --folds, a bad fold list, or train flags without --folds exit 2", async () => {
  const base = ["--aligned", FACES, "--pairs", "x.txt"];
  for (
    const extra of [["--fold", "1", "--folds", "1,2"], ["--folds", "0,11"], ["--folds", "1,1"], [
      "--fold",
      "1",
      "--",
      "--steps",
      "2",
    ]]
  ) {
    const r = await runTask("tasks/lfw_fold.ts", [...base, ...extra]);
    assertEquals(r.code, 2, `${extra.join(" ")}: ${r.stderr}`);
  }
});
