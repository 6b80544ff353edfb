/**
 * `deno task plot RUN [RUN...] --out FILE`: several training runs' curves in one SVG
 * (model/train/compare_plot.ts); with one run and no --out, redraws RUN/curves.svg as the trainer
 * draws it (model/train/train_plot.ts).
 */
import { parseFlags, runTask, UsageError } from "./cli.ts";

const HELP = `Usage: deno task plot RUN [RUN...] [--out FILE] [--names A,B] [--title T]

Draws the runs' softmax (margin) loss, training accuracy, learning rate and held-out accuracy,
one line per run, in one SVG. A run is a folder with log.jsonl (and heldout.jsonl): a
deno task train run, or a PyTorch peer run of scripts/torch_run.py.
  --out FILE     the SVG to write (required with two or more runs); one run without --out:
                 redraws RUN/curves.svg, the trainer's own picture
  --names A,B    legend labels, one per run (default: the folders' names)
  --title T      the picture's title (default "Training runs")
  -h, --help     this help

Example:
  deno task plot runs/fold1-arcstream runs/fold1-torch --names arcstream,pytorch --out both.svg`;

await runTask("plot", async () => {
  const { flags, positionals: positional } = parseFlags(Deno.args, {
    out: { type: "string" },
    names: { type: "string" },
    title: { type: "string" },
  }, { help: HELP, positionals: [1, 100], positionalName: "RUN [RUN...]" });
  if (positional.length === 0) throw new UsageError("give at least one run folder");
  const names = flags.names?.split(",");
  if (names && names.length !== positional.length) {
    throw new UsageError(`--names has ${names.length} labels for ${positional.length} runs`);
  }
  if (positional.length > 1 && !flags.out) throw new UsageError("--out is required for 2+ runs");
  if (!flags.out) {
    // One run, no --out: RUN/curves.svg is the trainer's own picture, so it is redrawn as the
    // trainer draws it (its four panels, validation sets included), not as a comparison.
    const { readRunLog, writeTrainPlot } = await import("../model/train/train_plot.ts");
    if ((await readRunLog(positional[0])).train.length === 0) {
      throw new Error(`"${positional[0]}" has no log.jsonl entries: not a run folder`);
    }
    console.log(await writeTrainPlot(positional[0], flags.title));
    return;
  }
  const { writeComparePlot } = await import("../model/train/compare_plot.ts");
  const out = await writeComparePlot(positional, flags.out, { names, title: flags.title });
  console.log(out);
});
