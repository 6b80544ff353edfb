/**
 * The end of a training run: the final checkpoint, the backbone export (TF.js layers model), the
 * held-out verification of the finished model and the curves, all recorded in the summary.
 */
import { join } from "node:path";
import { ARCSTREAM_METADATA_KEY, fileSaveHandler } from "../io/model_io.ts";
import type { TrainConfig } from "./presets.ts";
import type { RunSummary } from "./run_options.ts";
import {
  evaluateHeldout,
  evaluateValTargets,
  type RunState,
  saveRunCheckpoint,
} from "./run_state.ts";
import { writeTrainPlot } from "./train_plot.ts";
import type { Trainer } from "./trainer.ts";
import { networkName } from "../nets/network.ts";

/** Finishes the run after its last step (none of this after a non-finite loss but the curves). */
export async function finishRun(s: RunState): Promise<RunSummary> {
  const { summary, log, skipped } = s;
  summary.step = s.step;
  if (skipped.length > 0) {
    await log.note(`skipped ${skipped.length} unreadable images, first: ${skipped[0].reason}`);
  }
  summary.imagesPerSec = s.seconds > 0 ? s.images / s.seconds : 0;
  if (summary.stoppedBy !== "non-finite loss") {
    await saveRunCheckpoint(s);
    summary.exportDir = await exportBackbone(s.trainer, s.config, s.options.out, s.step);
    await log.note(`exported ${join(summary.exportDir, "model.json")}`);
    if (s.val && summary.stoppedBy === "done") {
      summary.val = (await evaluateValTargets(s)).map((e) => ({
        name: e.val,
        accuracy: e.accuracy,
        std: e.std,
        highest: e.highest,
        pairs: e.pairs,
      }));
    }
    if (s.heldout && summary.stoppedBy === "done") {
      const r = await evaluateHeldout(s);
      summary.heldout = {
        accuracy: r.accuracyMean,
        std: r.accuracyStd,
        auc: r.auc,
        pairs: r.nPairs,
      };
      await log.note(
        `held-out verification ${(100 * r.accuracyMean).toFixed(2)}% +- ${
          (100 * r.accuracyStd).toFixed(2)
        } (AUC ${r.auc.toFixed(4)}) on ${r.nPairs} pairs of unseen identities`,
      );
    }
  }
  summary.checkpoint = s.lastCheckpoint;
  summary.plot = await writeTrainPlot(s.options.out, s.title);
  await log.note(`curves ${summary.plot}`);
  return summary;
}

/** Saves the backbone (inference graph) as `out/export/model.json` + `weights.bin`. */
export async function exportBackbone(
  trainer: Trainer,
  config: TrainConfig,
  out: string,
  step: number,
): Promise<string> {
  const dir = join(out, "export");
  trainer.model.setUserDefinedMetadata({
    [ARCSTREAM_METADATA_KEY]: {
      normalize: "arcface",
      inputSize: config.network.inputSize,
      embeddingSize: config.network.embeddingSize,
      network: networkName(config.network),
      width: config.network.width,
      preset: config.preset,
      step,
    },
  });
  await trainer.model.save(fileSaveHandler(dir));
  return dir;
}
