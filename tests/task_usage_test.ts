/**
 * Every task's command-line contract: `--help` prints usage on stdout and exits 0; a bad flag is
 * one line on stderr naming it and exit status 2; a failed run exits 1.
 */
import { assertMatch, assertStrictEquals } from "@std/assert";
import { runTask } from "./run_task.ts";

/** Each deno task: its script, the args before the flags (a bench name), a flag it rejects. */
const TASKS: { script: string; pre?: string[]; bad: string[]; message: RegExp }[] = [
  { script: "tasks/list.ts", bad: ["--nope"], message: /^list: Unknown option "--nope"/ },
  {
    script: "tasks/shuffle.ts",
    bad: ["--epoch", "-1"],
    message: /^shuffle: --epoch must be an integer >= 0, got "-1"/,
  },
  {
    script: "tasks/decode.ts",
    bad: ["--on-error", "ignore"],
    message: /^decode: --on-error must be skip or fail, got "ignore"/,
  },
  {
    script: "tasks/batch.ts",
    bad: ["--batch-size", "-1"],
    message: /^batch: --batch-size must be an integer >= 1, got "-1"/,
  },
  {
    script: "tasks/align.ts",
    bad: ["in", "out", "--quality", "101"],
    message: /^align: --quality must be an integer in \[1, 100\], got "101"/,
  },
  {
    script: "tasks/train.ts",
    bad: ["--batch-size", "-1"],
    message: /^train: --batch-size must be an integer >= 1, got "-1"/,
  },
  {
    script: "tasks/eval_lfw.ts",
    bad: ["--batch-size", "0"],
    message: /^eval-lfw: --batch-size must be an integer >= 1, got "0"/,
  },
  { script: "tasks/setup_gpu.ts", bad: ["--gpu"], message: /^setup-gpu: Unknown option "--gpu"/ },
  {
    script: "tasks/gpu_probe.ts",
    bad: ["--timeout", "0"],
    message: /^gpu-probe: --timeout must be a number > 0, got "0"/,
  },
  {
    script: "scripts/make_fixtures.ts",
    bad: ["--heldout-ids", "1"],
    message: /^make_fixtures: --heldout-ids must be an integer >= 2, got "1"/,
  },
  {
    script: "tasks/import_torch.ts",
    bad: ["a.pth", "b.pth"],
    message: /^import-torch: give exactly one checkpoint FILE\.pth/,
  },
  {
    script: "tasks/export_onnx.ts",
    bad: ["--opset", "9"],
    message: /^export-onnx: --opset must be an integer in \[11, 17\], got "9"/,
  },
  ...["pipeline", "train", "align", "eval", "kernels", "wire", "scale", "import"].map((name) => ({
    script: "bench/bench.ts",
    pre: [name],
    bad: ["--bogus"],
    message: new RegExp(`^bench ${name}: Unknown option "--bogus"`),
  })),
];

for (const t of TASKS) {
  const name = [t.script, ...(t.pre ?? [])].join(" ");
  Deno.test(`${name}: --help exits 0 with usage, a bad flag exits 2 naming it`, async () => {
    const help = await runTask(t.script, [...(t.pre ?? []), "--help"]);
    assertStrictEquals(help.code, 0, help.stderr);
    assertMatch(new TextDecoder().decode(help.stdout), /--/);
    assertStrictEquals(help.stderr, "");
    const bad = await runTask(t.script, [...(t.pre ?? []), ...t.bad]);
    assertStrictEquals(bad.code, 2, bad.stderr);
    assertMatch(bad.stderr, t.message);
    assertStrictEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assertMatch(bad.stderr, /\(see --help\)$/m);
  });
}

Deno.test("bench with an unknown benchmark name exits 2; a failed run exits 1", async () => {
  const r = await runTask("bench/bench.ts", ["nope"]);
  assertStrictEquals(r.code, 2);
  assertMatch(r.stderr, /Unknown benchmark "nope"/);
  // A failure (not a usage error): a data folder that does not exist.
  const f = await runTask("bench/bench.ts", ["align", "--data", "/nonexistent/arcstream"]);
  assertStrictEquals(f.code, 1, f.stderr);
  // (stderr may also carry the runtime's own WebGPU warnings before our line.)
  assertMatch(f.stderr, /^bench align: .*nonexistent/m);
});

Deno.test("a stage's run-time failure exits 1: list on a missing folder", async () => {
  const r = await runTask("tasks/list.ts", ["/nonexistent/arcstream"]);
  assertStrictEquals(r.code, 1);
  assertMatch(r.stderr, /^list: .*nonexistent/);
});
