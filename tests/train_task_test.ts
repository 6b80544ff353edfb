import { assert, assertEquals, assertMatch, assertStrictEquals, assertThrows } from "@std/assert";
import { listCheckpoints, loadCheckpoint } from "../model/train/checkpoint.ts";
import { presetConfig } from "../model/train/presets.ts";
import { configFromFlags, TRAIN_FLAGS } from "../tasks/train/flags.ts";
import { parseFlags, UsageError } from "../tasks/cli.ts";

const DENO = Deno.execPath();

Deno.test("deno task train --help is instant and a bad flag is one clear line", async () => {
  const help = await new Deno.Command(DENO, { args: ["run", "-A", "tasks/train.ts", "--help"] })
    .output();
  assertStrictEquals(help.code, 0);
  assertMatch(new TextDecoder().decode(help.stdout), /--micro-batch N/);
  const bad = await new Deno.Command(DENO, {
    args: ["run", "-A", "tasks/train.ts", "--batch-size", "zero"],
  }).output();
  assertStrictEquals(bad.code, 2);
  assertStrictEquals(
    new TextDecoder().decode(bad.stderr).trim(),
    'train: --batch-size must be an integer >= 1, got "zero" (see --help)',
  );
});

Deno.test("Ctrl-C (SIGINT) saves a checkpoint and exits cleanly", async () => {
  const out = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(DENO, {
      args: [
        "run",
        "-A",
        "tasks/train.ts",
        "--preset",
        "tiny",
        "--steps",
        "500",
        "--checkpoint-every",
        "1000",
        "--out",
        out,
        "--backend",
        "wasm",
        "--workers",
        "0",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Wait until a few steps are logged, then interrupt.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const text = await Deno.readTextFile(`${out}/log.jsonl`).catch(() => "");
      if (text.split("\n").length > 3) break;
      assert(Date.now() < deadline, "training did not start within 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill("SIGINT");
    const { code, stdout, stderr } = await child.output();
    const err = new TextDecoder().decode(stderr);
    assertStrictEquals(code, 130, err);
    assertMatch(err, /interrupt: finishing the current step and saving a checkpoint/);
    assertMatch(new TextDecoder().decode(stdout), /== interrupted after \d+ steps/);
    const [ckpt] = await listCheckpoints(`${out}/checkpoints`);
    const ck = await loadCheckpoint(ckpt);
    assert(ck.meta.step >= 3 && ck.meta.step < 500);
    ck.tensors.forEach((t) => t.dispose());
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("configFromFlags() applies flags over the preset and names the bad flag", () => {
  const c = configFromFlags({
    preset: "r50-ms1m",
    "batch-size": 64,
    "micro-batch": 16,
    lr: 0.05,
    steps: 1000,
    margin: "cosface",
    m: 0.4,
    wd: 0.0001,
  });
  assertEquals(c.network.kind === "iresnet" && c.network.depth, 50);
  assertStrictEquals(c.batchSize, 64);
  assertStrictEquals(c.microBatch, 16);
  assertStrictEquals(c.margin.type, "cosface");
  assertStrictEquals(c.margin.m3, 0.4);
  assertStrictEquals(c.weightDecay, 0.0001);
  assertStrictEquals(c.steps, 1000);
  assertStrictEquals(c.schedule.kind, "piecewise");
  if (c.schedule.kind === "piecewise") assertStrictEquals(c.schedule.values[0], 0.05);
  const w = configFromFlags({ warmup: 5, lr: 0.2 });
  assertEquals(w.schedule, { kind: "poly", base: 0.2, warmupSteps: 5, totalSteps: w.steps });
  const p = configFromFlags({ "lr-steps": "10,20" });
  assertEquals(p.schedule.kind === "piecewise" && p.schedule.boundaries, [10, 20]);
  assertThrows(() => configFromFlags({ preset: "r51" }), Error, 'Unknown preset "r51"');
  assertThrows(
    () => configFromFlags({ "batch-size": 6, "micro-batch": 4 }),
    Error,
    "multiple of --micro-batch",
  );
  assertThrows(() => configFromFlags({ network: "r20" }), Error, "--network must be r18");
  assertThrows(() => configFromFlags({ steps: 5, epochs: 1 }), Error, "--steps or --epochs");
  assertEquals(configFromFlags({ "margin-warmup": 30, steps: 100 }).margin.warmupSteps, 30);
  assertEquals(configFromFlags({ "head-wd": 5e-3 }).headWeightDecay, 5e-3);
  assertEquals(configFromFlags({ "embedding-size": 256 }).network.embeddingSize, 256);
  assertEquals(configFromFlags({ "crop-scale": 0.85, jitter: 0.2 }).augment, {
    cropScale: 0.85,
    jitter: 0.2,
  });
  assertEquals(configFromFlags({ "crop-scale": 1, jitter: 0 }).augment, undefined);
  const torchNet = configFromFlags({ preset: "lfw-fold", "net-style": "arcface_torch" }).network;
  assertEquals(torchNet as unknown, {
    ...presetConfig("lfw-fold").network,
    bnEpsilon: 1e-5,
    stridePadding: "symmetric",
    fixedFeatureScale: true,
    weightInit: "arcface_torch",
  });
  assertEquals(configFromFlags({ "net-seed": 5, seed: 3 }).network.seed, 5);
  assertThrows(
    () => configFromFlags({ network: "mbf", "net-style": "arcface_torch" }),
    UsageError,
    "--net-style applies to IR-ResNet networks, not mbf",
  );
  assertThrows(
    () => configFromFlags({ "margin-warmup": 100, steps: 100 }),
    Error,
    "--margin-warmup 100 must be below the 100 steps",
  );
  // Single-flag rules are checked while parsing, with the flag's name.
  const parse = (args: string[]) => parseFlags(args, TRAIN_FLAGS, { help: "" }).flags;
  assertStrictEquals(parse(["--input-size", "96"])["input-size"], 96);
  assertThrows(() => parse(["--input-size", "100"]), UsageError, "a multiple of 16");
  assertThrows(
    () => parse(["--momentum", "1"]),
    UsageError,
    "--momentum must be a number in [0, 1)",
  );
  assertThrows(() => parse(["--width", "0"]), UsageError, "--width must be a number in (0, 4]");
});

Deno.test("an out-of-memory batch names the --micro-batch that splits it into quarters or less", async () => {
  const { outOfMemoryAdvice } = await import("../tasks/train/advice.ts");
  const slice = (b: number) => outOfMemoryAdvice(new RangeError("OOM"), b).message;
  assertMatch(slice(64), /^OOM: a batch of 64 does not fit; split it with --micro-batch 16 /);
  assertMatch(slice(128), /--micro-batch 32 /);
  assertMatch(slice(12), /--micro-batch 2 /); // divides 12, at most 12 / 4
  assertMatch(slice(6), /--micro-batch 1 /);
});

Deno.test("train --dry-run writes the run's run.json, trains nothing, and train-order reads it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/run`;
    const flags = ["--preset", "tiny", "--steps", "3", "--m", "0.3", "--margin-warmup", "1"];
    const run = (args: string[]) =>
      new Deno.Command(DENO, { args: ["run", "-A", ...args], stdout: "piped", stderr: "piped" })
        .output();
    const r = await run(["tasks/train.ts", ...flags, "--dry-run", "--out", out]);
    assertStrictEquals(r.code, 0, new TextDecoder().decode(r.stderr));
    const json = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
    // As JSON: the file has no undefined fields.
    const expected = configFromFlags({ preset: "tiny", steps: 3, m: 0.3, "margin-warmup": 1 });
    assertEquals(json.config, JSON.parse(JSON.stringify(expected)));
    assertEquals([...Deno.readDirSync(out)].map((e) => e.name), ["run.json"]);
    const order = await run(["tasks/train_order.ts", "--run", out]);
    assertStrictEquals(order.code, 0, new TextDecoder().decode(order.stderr));
    const lines = (await Deno.readTextFile(`${out}/order.jsonl`)).trim().split("\n");
    assertEquals(lines.length, 1 + 3); // header + one line a step
    // A second dry run over it is refused, exit 2, naming the folder.
    const again = await run(["tasks/train.ts", ...flags, "--dry-run", "--out", out]);
    assertStrictEquals(again.code, 2);
    assertMatch(new TextDecoder().decode(again.stderr), /already holds a run\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
