/**
 * `train --resume`: the configuration a run was started with, read without making any tensor
 * (the backend is not chosen yet): `DIR/run.json`, or for a run older than run.json the header of
 * its newest intact checkpoint.
 */
import { join } from "node:path";
import {
  CheckpointDamagedError,
  listCheckpoints,
  readCheckpointFile,
} from "../model/train/checkpoint.ts";
import type { TrainConfig } from "../model/train/presets.ts";
import { readRunJson, RunFolderError } from "../model/train/run_folder.ts";
import { withDctScale } from "../model/train/resume_config.ts";

/** The run's stored config and where it came from (for messages). */
export async function storedRunConfig(
  out: string,
): Promise<{ config: TrainConfig; source: string }> {
  const run = await readRunJson(out);
  if (run) return { config: withDctScale(run.config), source: join(out, "run.json") };
  const dir = join(out, "checkpoints");
  const all = await listCheckpoints(dir);
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      const file = await readCheckpointFile(all[i]);
      return { config: withDctScale(file.meta.config as TrainConfig), source: all[i] };
    } catch (e) {
      if (!(e instanceof CheckpointDamagedError)) throw e;
    }
  }
  throw new RunFolderError(`Cannot resume: no run.json and no intact checkpoint in "${out}"`);
}
