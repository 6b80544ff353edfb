/**
 * `deno task bench <name> [options]`: benchmarks that print one JSON object on stdout.
 * Each benchmark lives in its own module, loaded lazily so one bench pays only for its imports.
 */
import { runTask } from "../tasks/cli.ts";

const BENCHES: Record<string, { module: string; about: string }> = {
  pipeline: {
    module: "./pipeline.ts",
    about: "images/s for list -> shuffle -> decode(+resize 112) -> batch",
  },
  kernels: {
    module: "./kernels.ts",
    about: "wasm training kernels against the cpu backend",
  },
  train: {
    module: "./train.ts",
    about: "training images/s, arcstream and PyTorch side by side: r50, r18, mbf",
  },
  align: { module: "./align.ts", about: "MTCNN detection + alignment faces/s on LFW" },
  wire: {
    module: "./wire.ts",
    about: "NDJSON and tar codecs, hand-written vs @std/streams and @std/tar",
  },
  scale: {
    module: "./scale.ts",
    about: "MS1M-scale synthetic .rec: first batch, peak RSS, batches/s",
  },
  eval: {
    module: "./eval.ts",
    about: "LFW protocol time on 6,000 pairs; pairs/s end to end",
  },
  import: { module: "./import.ts", about: "import-torch of arcface_torch r50/r100 .pth" },
  web: {
    module: "./web.ts",
    about: "try-it detect+align+embed in headless chromium vs Deno; runs page follow delay",
  },
};

const [name, ...rest] = Deno.args;
if (!name || name === "--help" || name === "-h" || !(name in BENCHES)) {
  const lines = Object.entries(BENCHES).map(([k, v]) => `  ${k.padEnd(9)} ${v.about}`);
  const text =
    `Usage: deno task bench <name> [options]   (each prints JSON; <name> --help for options)\n\n${
      lines.join("\n")
    }\n`;
  if (name && name !== "--help" && name !== "-h") {
    console.error(`Unknown benchmark "${name}".\n\n${text}`);
    Deno.exit(2);
  }
  console.log(text);
  Deno.exit(0);
}
// One clear line, not a stack trace: exit 2 for bad options, 1 for a failed run.
await runTask(`bench ${name}`, async () => {
  const mod = await import(BENCHES[name].module);
  await mod.main(rest);
});
