/**
 * `deno task bench <name> [options]`: benchmarks that print one JSON object on stdout.
 * Each benchmark lives in its own module, loaded lazily so one bench pays only for its imports.
 */
const BENCHES: Record<string, { module: string; about: string }> = {
  pipeline: {
    module: "./bench_pipeline.ts",
    about: "images/s for list -> shuffle -> decode(+resize 112) -> batch",
  },
  kernels: {
    module: "./bench_kernels.ts",
    about: "wasm training kernels against the cpu backend",
  },
  train: {
    module: "./bench_train.ts",
    about: "training images/s, arcstream and PyTorch side by side: r50, r18, mbf",
  },
  align: { module: "./bench_align.ts", about: "MTCNN detection + alignment faces/s on LFW" },
  eval: {
    module: "./bench_eval.ts",
    about: "LFW protocol time on 6,000 pairs; pairs/s end to end",
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
try {
  const mod = await import(BENCHES[name].module);
  await mod.main(rest);
} catch (e) {
  // One clear line, not a stack trace: bad options are the common case.
  console.error(`bench ${name}: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(1);
}
