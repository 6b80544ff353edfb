/**
 * Validation sets during training, as arcface_torch's `CallBackVerification`
 * (`recognition/arcface_torch/utils/utils_callbacks.py`) runs them: every `--eval-every` steps each
 * target (an insightface `.bin`: lfw, cfp_fp, agedb_30, ...) is scored with the flip test and the
 * 10-fold protocol of `eval/verification.py` (`model/eval/verification.ts`), and its accuracy and
 * the highest so far are logged (`[lfw][2000]Accuracy-Flip: 0.99100+-0.00400`, then
 * `Accuracy-Highest`), to log.txt, log.jsonl (one line per target, `val` naming it), the
 * TensorBoard file (tag = the target's name, as arcface_torch writes it) and curves.svg.
 *
 * The targets come loaded (`tasks/train/val_targets.ts` reads and checks the `.bin` files before
 * training starts, with the evaluator `eval-lfw` uses); this file only runs and records them.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { join } from "node:path";
import type { VerificationResult } from "../eval/verification.ts";

/** One loaded validation set. */
export interface ValTarget {
  /** The name logged (`lfw`, or the .bin's base name). */
  name: string;
  /** The .bin file. */
  path: string;
  /** Pairs in the set. */
  pairs: number;
  /** 10-fold verification of `model` with the flip test (the model is not disposed). */
  evaluate(model: tfTypes.LayersModel): Promise<VerificationResult>;
}

/** A log.jsonl line of one target's evaluation. */
export interface ValEntry {
  time: string;
  epoch: number;
  step: number;
  /** The target's name. */
  val: string;
  /** 10-fold mean accuracy with the flip test, in [0, 1] (arcface_torch's Accuracy-Flip). */
  accuracy: number;
  std: number;
  /** The highest accuracy of this target so far in the run (Accuracy-Highest). */
  highest: number;
  pairs: number;
}

/** Whether a parsed log.jsonl line is a validation entry (the others are step windows). */
export function isValEntry(e: unknown): e is ValEntry {
  return typeof (e as ValEntry)?.val === "string";
}

/** Where results go: the run's text/JSON log and its TensorBoard file. */
export interface ValSinks {
  note(line: string): Promise<void>;
  json(entry: ValEntry): Promise<void>;
  scalars(step: number, values: Record<string, number>): Promise<void>;
}

/** The targets of a run with the highest accuracy of each so far. */
export class ValTargetRun {
  readonly targets: readonly ValTarget[];
  readonly highest = new Map<string, number>();

  constructor(targets: readonly ValTarget[]) {
    this.targets = targets;
  }

  /**
   * The run's targets with the highest accuracies already in `out/log.jsonl` (a resumed run:
   * the log was cut back to the checkpoint, so these are the evaluations it keeps).
   */
  static async resume(targets: readonly ValTarget[], out: string): Promise<ValTargetRun> {
    const run = new ValTargetRun(targets);
    const text = await Deno.readTextFile(join(out, "log.jsonl")).catch(() => "");
    for (const line of text.split("\n")) {
      let e: unknown;
      try {
        e = JSON.parse(line);
      } catch {
        continue; // blank or torn
      }
      if (isValEntry(e)) run.highest.set(e.val, Math.max(run.highest.get(e.val) ?? 0, e.accuracy));
    }
    return run;
  }

  /** Evaluates every target on `model` at `step` and records the results in `sinks`. */
  async evaluate(
    model: tfTypes.LayersModel,
    step: number,
    epoch: number,
    sinks: ValSinks,
  ): Promise<ValEntry[]> {
    const entries: ValEntry[] = [];
    for (const t of this.targets) {
      const r = await t.evaluate(model);
      // arcface_torch: highest_acc_list starts at 0.0 and takes acc2 when it is larger.
      const highest = Math.max(this.highest.get(t.name) ?? 0, r.accuracyMean);
      this.highest.set(t.name, highest);
      const e: ValEntry = {
        time: new Date().toISOString(),
        epoch,
        step,
        val: t.name,
        accuracy: r.accuracyMean,
        std: r.accuracyStd,
        highest,
        pairs: r.nPairs,
      };
      await sinks.note(
        `[${t.name}][${step}]Accuracy-Flip: ${e.accuracy.toFixed(5)}+-${e.std.toFixed(5)}`,
      );
      await sinks.note(`[${t.name}][${step}]Accuracy-Highest: ${highest.toFixed(5)}`);
      await sinks.json(e);
      entries.push(e);
    }
    await sinks.scalars(step, Object.fromEntries(entries.map((e) => [e.val, e.accuracy])));
    return entries;
  }
}
