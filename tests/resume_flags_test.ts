import { assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { initBackend } from "../model/backend/backend.ts";
import { listCheckpoints } from "../model/train/checkpoint.ts";
import {
  presetConfig,
  storedConfig,
  type TrainConfig,
  withDctScale,
} from "../model/train/presets.ts";
import { configDiff, extendChanges } from "../model/train/config_diff.ts";
import { resumeConfig } from "../tasks/train/resume.ts";
import { RunFolderError } from "../model/train/run_folder.ts";
import { runTraining } from "../model/train/train_loop.ts";
import { parseFlags } from "../tasks/cli.ts";
import { configFromFlags, TRAIN_FLAGS } from "../tasks/train/flags.ts";

await initBackend({ backend: "wasm" });

const DENO = Deno.execPath();
const SOURCE = "runs/x/run.json";

/** `resumeConfig()` on flags parsed as `deno task train` parses them. */
function resume(stored: TrainConfig, flags: Record<string, string | boolean>): TrainConfig {
  const argv = Object.entries(flags).flatMap(([k, v]) =>
    v === true ? [`--${k}`] : [`--${k}`, `${v}`]
  );
  return resumeConfig(stored, parseFlags(argv, TRAIN_FLAGS, { help: "" }).flags, SOURCE);
}

Deno.test("resumeConfig() names the conflict when --network would change the run's network", () => {
  const e = assertThrows(
    () => resume(presetConfig("tiny"), { network: "r50" }),
    RunFolderError,
  );
  assertEquals(e.message, "--network r50 conflicts with the run's r18 (runs/x/run.json)");
  assertEquals(e.exitCode, 2);
});

Deno.test("resumeConfig() refuses every flag that changes the network, data, head or optimizer", () => {
  const cases: [string, string, RegExp][] = [
    ["preset", "r50", /--preset r50 conflicts with the run's tiny/],
    ["data", "other/faces", /--data other\/faces conflicts with the run's fixtures\/lfw_faces/],
    ["data-root", "/data", /--data-root \/data conflicts with the run's \(unset\)/],
    ["width", "0.5", /--width 0.5 conflicts with the run's 0.0625/],
    ["input-size", "64", /--input-size 64 conflicts with the run's 32/],
    ["dropout", "0.4", /--dropout 0.4 conflicts with the run's 0/],
    ["embedding-size", "64", /--embedding-size 64 conflicts with the run's 32/],
    ["net-style", "arcface_torch", /--net-style arcface_torch conflicts with the run's \(unset\)/],
    ["batch-size", "16", /--batch-size 16 conflicts with the run's 8/],
    ["micro-batch", "4", /--micro-batch 4 conflicts with the run's 0/],
    ["margin", "cosface", /--margin cosface conflicts with the run's arcface/],
    ["s", "64", /--s 64 conflicts with the run's 32/],
    ["m", "0.5", /--m 0.5 conflicts with the run's 0.2/],
    ["margin-warmup", "2", /--margin-warmup 2 conflicts with the run's \(unset\)/],
    ["seed", "3", /--seed 3 conflicts with the run's 0/],
    ["net-seed", "3", /--net-seed 3 conflicts with the run's 1/],
    ["wd", "0.001", /--wd 0.001 conflicts with the run's 0.0005/],
    ["head-wd", "0.005", /--head-wd 0.005 conflicts with the run's \(unset\)/],
    ["crop-scale", "0.9", /--crop-scale 0.9 conflicts with the run's \(unset\)/],
    ["jitter", "0.2", /--jitter 0.2 conflicts with the run's \(unset\)/],
    ["momentum", "0.5", /--momentum 0.5 conflicts with the run's 0.9/],
  ];
  for (const [flag, value, message] of cases) {
    const e = assertThrows(
      () => resume(presetConfig("tiny"), { [flag]: value }),
      RunFolderError,
      undefined,
      `--${flag}`,
    );
    assertMatch(e.message, message);
    assertMatch(e.message, /\(runs\/x\/run\.json\)$/);
  }
});

Deno.test("--dct-scale is recorded in the run's config and a resume keeps it (old runs: auto)", () => {
  assertEquals(configFromFlags({}).dctScale, "auto");
  assertEquals(configFromFlags({ "dct-scale": "off" }).dctScale, "off");
  const old = presetConfig("tiny"); // a run.json from before the flag
  assertEquals(old.dctScale, undefined);
  const stored = storedConfig(old); // as readRunJson and a checkpoint header read it
  assertEquals(stored.dctScale, "auto");
  assertThrows(
    () => resume(stored, { "dct-scale": "off" }),
    RunFolderError,
    "--dct-scale off conflicts with the run's auto (runs/x/run.json)",
  );
  const off: TrainConfig = { ...stored, dctScale: "off" };
  assertEquals(resume(off, { steps: "9" }).dctScale, "off");
  assertEquals(resume(off, { "dct-scale": "off" }).dctScale, "off");
});

Deno.test("resumeConfig() accepts a fixed flag that repeats the run's own value", () => {
  const stored = presetConfig("tiny");
  const c = resume(stored, { network: "r18", "batch-size": "8", preset: "tiny" });
  assertEquals(configDiff(stored, c), []);
});

Deno.test("resumeConfig() applies the extending flags and reports exactly those changes", () => {
  const stored = presetConfig("tiny");
  const c = resume(stored, {
    steps: "40",
    keep: "3",
    "log-every": "5",
    "checkpoint-every": "10",
    "eval-every": "20",
    backend: "wasm",
    workers: "0",
    resume: true,
    out: "runs/x",
  });
  assertEquals(c.steps, 40);
  assertEquals(c.schedule, { kind: "poly", base: 0.05, warmupSteps: 1, totalSteps: 40 });
  assertEquals(c.network, stored.network);
  assertEquals(extendChanges(stored, c).map((d) => `${d.field} ${d.from}->${d.to}`), [
    "steps 4->40",
    "schedule.totalSteps 4->40",
    "logEvery 1->5",
    "checkpointEvery 2->10",
    "keep 2->3",
    "evalEvery 0->20",
  ]);
});

Deno.test("runTraining() refuses a resume whose config changes the run's network", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const quiet = { print: () => {}, progress: false, workers: 0 };
    await runTraining({ config: presetConfig("tiny"), out: dir, stopAt: 2, ...quiet });
    const other = presetConfig("tiny");
    other.network = { ...other.network, depth: 34 } as typeof other.network;
    await assertRejects(
      () => runTraining({ config: other, out: dir, resume: true, ...quiet }),
      RunFolderError,
      `network.depth 34 conflicts with the run's 18 (${dir}/run.json)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task train --resume: a conflicting flag is exit 2 naming it; --steps extends and is recorded", async () => {
  const dir = await Deno.makeTempDir();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  const train = (...args: string[]) =>
    new Deno.Command(DENO, {
      args: ["run", "-A", "tasks/train.ts", "--workers", "0", "--backend", "wasm", ...args],
    }).output();
  try {
    const first = await train("--preset", "tiny", "--out", dir);
    assertEquals(first.code, 0, dec(first.stderr));
    const runJson = await Deno.readTextFile(`${dir}/run.json`);

    const bad = await train("--resume", "--out", dir, "--network", "r50", "--batch-size", "16");
    assertEquals(bad.code, 2);
    assertEquals(
      dec(bad.stderr).trim(),
      `train: --network r50 conflicts with the run's r18 (${dir}/run.json); ` +
        `--batch-size 16 conflicts with the run's 8 (${dir}/run.json)`,
    );
    assertEquals(await Deno.readTextFile(`${dir}/run.json`), runJson);

    const more = await train("--resume", "--out", dir, "--steps", "8", "--keep", "3");
    assertEquals(more.code, 0, dec(more.stderr));
    assertMatch(
      dec(more.stdout),
      /resume changes: steps 4 -> 8, schedule.totalSteps 4 -> 8, keep 2 -> 3/,
    );
    assertMatch(dec(more.stdout), /== done after 8 steps/);
    const run = JSON.parse(await Deno.readTextFile(`${dir}/run.json`));
    assertEquals(run.config.steps, 8);
    assertEquals(run.history.length, 1);
    assertEquals(run.history[0].step, 4);
    assertEquals(run.history[0].changes[0], { field: "steps", from: 4, to: 8 });
    assertEquals((await listCheckpoints(`${dir}/checkpoints`)).length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--wd-on seed is the old name of no-bias: a run stored with it resumes, with either name", () => {
  const old = { ...presetConfig("tiny"), decayOn: "seed" as const };
  assertEquals(configDiff(old, { ...old, decayOn: "no-bias" }), []);
  assertEquals(resume(old, { "wd-on": "no-bias", steps: "6" }).steps, 6);
  assertThrows(() => resume(old, { "wd-on": "all" }), RunFolderError, "--wd-on all conflicts");
});

Deno.test("deno task train --wd-on seed trains as no-bias and says once that the name changed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const args = ["--preset", "tiny", "--steps", "1", "--wd-on", "seed", "--out", dir];
    const r = await new Deno.Command(DENO, {
      args: ["run", "-A", "tasks/train.ts", "--workers", "0", "--backend", "wasm", ...args],
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    assertEquals(r.code, 0, stderr);
    assertEquals(
      stderr,
      "note: --wd-on seed is now called --wd-on no-bias (the same weights decay)\n",
    );
    const run = JSON.parse(await Deno.readTextFile(`${dir}/run.json`));
    assertEquals(run.config.decayOn, "no-bias");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a config stored before the tagged network union reads as today's (old runs resume)", () => {
  // run.json / checkpoint configs of earlier arcstream: IR-ResNet fields, MobileFaceNet as arch.
  const { kind: _k, ...oldTiny } = presetConfig("tiny").network as Record<string, unknown>;
  const tiny = storedConfig({ ...presetConfig("tiny"), network: oldTiny });
  // (storedConfig also fills dctScale: a run stored before --dct-scale decoded "auto".)
  assertEquals(configDiff(tiny, withDctScale(presetConfig("tiny"))), []);
  const oldMbf = {
    arch: "mbf",
    depth: 0,
    width: 1,
    inputSize: 112,
    embeddingSize: 512,
    dropout: 0,
  };
  const mbf = storedConfig({ ...presetConfig("mbf"), network: { ...oldMbf, seed: 1 } });
  assertEquals(configDiff(mbf, withDctScale(presetConfig("mbf"))), []);
  assertEquals(mbf.network, {
    kind: "mobilefacenet",
    arch: "mbf",
    inputSize: 112,
    embeddingSize: 512,
    seed: 1,
  });
});
