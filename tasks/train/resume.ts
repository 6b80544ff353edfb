/**
 * `train --resume`: the configuration a run was started with, read without making any tensor
 * (the backend is not chosen yet): `DIR/run.json`, or for a run older than run.json the header of
 * its newest intact checkpoint; and what the flags of a `--resume` may change. Flags that extend
 * or re-pace the run (steps, epochs, the LR schedule, checkpoint/log/eval cadence, keep) apply and
 * are recorded, while a flag that would change the network, the data, the head or the optimizer's
 * math is an error naming the conflict, e.g.
 * `--network r50 conflicts with the run's r18 (runs/x/run.json)`.
 */
import { join } from "node:path";
import {
  CheckpointDamagedError,
  listCheckpoints,
  readCheckpointFile,
} from "../../model/train/checkpoint.ts";
import { storedConfig, type TrainConfig } from "../../model/train/presets.ts";
import { readRunJson, RunFolderError } from "../../model/train/run_folder.ts";
import { configDiff, isExtendField, showValue } from "../../model/train/config_diff.ts";
import { applyFlags, type TrainFlags } from "./flags.ts";

/** Flags of one invocation, not of the run. */
const INVOCATION_FLAGS: readonly string[] = [
  "out",
  "resume",
  "overwrite",
  "dry-run",
  "backend",
  "workers",
  "threads",
  "help",
];

/** Flags that extend or re-pace a run: applied on resume, printed, recorded in run.json. */
const EXTEND_FLAGS: readonly string[] = [
  "steps",
  "epochs",
  "lr",
  "lr-steps",
  "warmup",
  "checkpoint-every",
  "keep",
  "log-every",
  "eval-every",
  "eval-pairs",
  "eval-data",
  "val-targets",
];

function show(field: string, v: unknown): string {
  return field === "network.depth" && v !== undefined ? `r${v}` : showValue(v);
}

/**
 * The config a `--resume` continues with: `stored` plus the extending flags. Throws a
 * `RunFolderError` listing every flag that conflicts with the run (`source` names run.json).
 */
export function resumeConfig(stored: TrainConfig, flags: TrainFlags, source: string): TrainConfig {
  const problems: string[] = [];
  const extend: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || v === false || INVOCATION_FLAGS.includes(k)) continue;
    if (EXTEND_FLAGS.includes(k)) {
      extend[k] = v;
      continue;
    }
    if (k === "preset") {
      if (v !== stored.preset) {
        problems.push(`--preset ${v} conflicts with the run's ${stored.preset} (${source})`);
      }
      continue;
    }
    // Apply the one flag to the run's config: a change to a fixed field is a conflict.
    const probe = applyFlags(structuredClone(stored), { [k]: v } as TrainFlags);
    const d = configDiff(stored, probe).find((x) => !isExtendField(x.field));
    if (d) {
      problems.push(`--${k} ${v} conflicts with the run's ${show(d.field, d.from)} (${source})`);
    }
  }
  if (problems.length) throw new RunFolderError(problems.join("; "));
  return applyFlags(structuredClone(stored), extend as TrainFlags);
}

/** The run's stored config and where it came from (for messages). */
export async function storedRunConfig(
  out: string,
): Promise<{ config: TrainConfig; source: string }> {
  const run = await readRunJson(out);
  if (run) return { config: run.config, source: join(out, "run.json") };
  const dir = join(out, "checkpoints");
  const all = await listCheckpoints(dir);
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      const file = await readCheckpointFile(all[i]);
      return { config: storedConfig(file.meta.config), source: all[i] };
    } catch (e) {
      if (!(e instanceof CheckpointDamagedError)) throw e;
    }
  }
  throw new RunFolderError(`Cannot resume: no run.json and no intact checkpoint in "${out}"`);
}
