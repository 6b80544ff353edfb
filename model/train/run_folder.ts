/**
 * A run folder belongs to one run and one live process. `openRunFolder` takes the folder's lock,
 * removes temp files of killed writes, and then either starts a run (refusing a folder that holds
 * anything unless `overwrite`, which first clears the run's own files) or resumes one (the newest
 * intact checkpoint, the stored config checked against the one given, the logs cut back to the
 * checkpoint's step so no step is logged twice). `DIR/run.json` records the config and its history.
 * What a run writes into it besides logs: checkpoints (`saveRunCheckpoint`), the backbone export
 * (`exportBackbone`).
 */
import { join } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { findResumeCheckpoint, type LoadedCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { ARCSTREAM_METADATA_KEY, fileSaveHandler } from "../io/model_io.ts";
import { networkName, networkWidth } from "../nets/network.ts";
import type { RunState } from "./run_types.ts";
import type { Trainer } from "./trainer.ts";
import { storedConfig, type TrainConfig, withDctScale } from "./presets.ts";
import { type ConfigChange, configConflicts, extendChanges } from "./config_diff.ts";
import { FolderInUseError, FolderLock } from "../../pipeline/folder_lock.ts";
import { cutEventFiles, EVENT_FILE } from "../io/tensorboard_writer.ts";

/** A run-folder problem the user must resolve (task exit status 2). */
export class RunFolderError extends Error {
  override name = "RunFolderError";
  readonly exitCode = 2;
  /** Why, for a caller that words its own advice: "not empty" (neither resume nor overwrite). */
  constructor(message: string, readonly reason?: "not empty") {
    super(message);
  }
}

/** Takes `DIR/lock` (one live trainer per run folder; see pipeline/folder_lock.ts). */
export async function lockRunFolder(
  dir: string,
  warn?: (message: string) => void,
): Promise<FolderLock> {
  try {
    return await FolderLock.acquire(dir, {
      name: "lock",
      what: "Run folder",
      holder: "trainer",
      warn,
    });
  } catch (e) {
    if (e instanceof FolderInUseError) throw new RunFolderError(e.message);
    throw e;
  }
}

/** Files and folders a run writes into its folder (what an overwrite clears). */
export const RUN_FILES = [
  "run.json",
  "log.txt",
  "log.jsonl",
  "heldout.jsonl",
  "checkpoints",
  "export",
] as const;

/** `DIR/run.json`. */
export interface RunJson {
  version: 1;
  created: string;
  /** The run's current configuration (steps resolved). */
  config: TrainConfig;
  /** Each resume that changed something: when, at which step, what. */
  history: { time: string; step: number; changes: ConfigChange[] }[];
}

export interface OpenRunOptions {
  out: string;
  resume: boolean;
  /** Clear the run's own files from a non-empty folder instead of refusing it. */
  overwrite?: boolean;
  /** The config a resume continues with, checked against the stored one. */
  config: TrainConfig;
  warn: (message: string) => void;
}

export interface OpenRun {
  lock: FolderLock;
  /** The checkpoint a resume starts from (caller disposes its tensors), else null. */
  checkpoint: LoadedCheckpoint | null;
  /** run.json as found (resume), or null. */
  stored: RunJson | null;
  /** log.jsonl lines dropped by the cut-back (entries after the checkpoint, a torn line). */
  cutEntries: number;
}

/** Takes the folder for a new or resumed run; releases the lock again if anything fails. */
export async function openRunFolder(o: OpenRunOptions): Promise<OpenRun> {
  const lock = await lockRunFolder(o.out, o.warn);
  try {
    await removeStaleTemps(o.out);
    if (!o.resume) {
      await clearOrRefuse(o.out, o.overwrite ?? false);
      return { lock, checkpoint: null, stored: null, cutEntries: 0 };
    }
    const stored = await readRunJson(o.out);
    const ckDir = join(o.out, "checkpoints");
    const checkpoint = await findResumeCheckpoint(ckDir, o.warn);
    if (!checkpoint) throw new RunFolderError(`Cannot resume: no intact checkpoint in "${ckDir}"`);
    try {
      const base = stored?.config ?? storedConfig(checkpoint.meta.config);
      const source = stored ? join(o.out, "run.json") : checkpoint.path;
      const conflicts = configConflicts(base, withDctScale(o.config), source);
      if (conflicts.length) throw new RunFolderError(conflicts.join("; "));
      const cutEntries = await cutLogs(o.out, checkpoint.meta.step);
      return { lock, checkpoint, stored, cutEntries };
    } catch (e) {
      checkpoint.tensors.forEach((t) => t.dispose());
      throw e;
    }
  } catch (e) {
    await lock.release();
    throw e;
  }
}

async function clearOrRefuse(out: string, overwrite: boolean): Promise<void> {
  const names: string[] = [];
  for await (const e of Deno.readDir(out)) if (e.name !== "lock") names.push(e.name);
  if (names.length === 0) return;
  if (!overwrite) {
    const shown = names.sort().slice(0, 5).join(", ") + (names.length > 5 ? ", ..." : "");
    throw new RunFolderError(
      `Run folder "${out}" is not empty (${shown}): resume its run or overwrite it`,
      "not empty",
    );
  }
  for (const name of [...RUN_FILES, ...names.filter((n) => EVENT_FILE.test(n))]) {
    await Deno.remove(join(out, name), { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

const TEMP = /\.tmp-\d+-\d+$/;

/** Removes `*.tmp-<pid>-<n>` files of killed atomic writes (the lock is held: none is live). */
export async function removeStaleTemps(out: string): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of [out, join(out, "checkpoints"), join(out, "export")]) {
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isFile && TEMP.test(e.name)) {
          await Deno.remove(join(dir, e.name));
          removed.push(join(dir, e.name));
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return removed;
}

/** `DIR/run.json`, or null when the run predates it. */
export async function readRunJson(out: string): Promise<RunJson | null> {
  const path = join(out, "run.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const j = JSON.parse(text) as RunJson;
    if (!j.config || !Array.isArray(j.history)) throw new Error("no config/history");
    return { ...j, config: storedConfig(j.config) };
  } catch (e) {
    throw new RunFolderError(`Cannot read "${path}": ${(e as Error).message}`);
  }
}

/** Writes `DIR/run.json` atomically. */
export async function writeRunJson(out: string, run: RunJson): Promise<void> {
  await writeFileAtomic(join(out, "run.json"), JSON.stringify(run, null, 2) + "\n");
}

/**
 * Writes run.json for the config the run trains with: a new run's, or for a resume the stored one
 * updated, with the extending changes as a history entry (and told to `note`).
 */
export async function recordRunConfig(
  run: OpenRun,
  config: TrainConfig,
  out: string,
  note: (line: string) => Promise<void>,
): Promise<void> {
  const ck = run.checkpoint;
  const json: RunJson = run.stored ??
    { version: 1, created: new Date().toISOString(), config, history: [] };
  if (ck) {
    const changes = extendChanges(run.stored?.config ?? storedConfig(ck.meta.config), config);
    if (changes.length) {
      json.history.push({ time: new Date().toISOString(), step: ck.meta.step, changes });
      const shown = changes.map((c) =>
        `${c.field} ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`
      );
      await note(`resume changes: ${shown.join(", ")}`);
    }
  }
  json.config = config;
  await writeRunJson(out, json);
}

const TEXT_ENTRY = /^epoch \d+, step (\d+),/;

/**
 * Cuts log.jsonl, heldout.jsonl and log.txt back to `step`: everything from the first entry past it (or a line
 * torn by a kill) on is dropped, so a resumed run appends without repeating steps. Returns the
 * number of log.jsonl entries dropped.
 */
export async function cutLogs(out: string, step: number): Promise<number> {
  const cut = async (name: string, past: (line: string) => boolean): Promise<number> => {
    const path = join(out, name);
    const text = await Deno.readTextFile(path).catch(() => null);
    if (text === null) return 0;
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const at = lines.findIndex(past);
    if (at < 0 && text.endsWith("\n")) return 0;
    const keep = at < 0 ? lines.length - 1 : at; // no newline at the end: a torn last line
    await writeFileAtomic(path, lines.slice(0, keep).map((l) => l + "\n").join(""));
    return lines.length - keep;
  };
  const pastStep = (line: string) => {
    try {
      return !(JSON.parse(line).step <= step);
    } catch {
      return true; // torn by a kill
    }
  };
  const dropped = await cut("log.jsonl", pastStep);
  await cut("heldout.jsonl", pastStep); // the resumed run evaluates those steps again
  await cut("log.txt", (line) => Number(TEXT_ENTRY.exec(line)?.[1] ?? 0) > step);
  await cutEventFiles(out, step); // TensorBoard's events.out.tfevents.*, the same way
  return dropped;
}

/** Saves a checkpoint at the current step and cursor (atomic; the last `config.keep` kept). */
export async function saveRunCheckpoint(s: RunState): Promise<void> {
  s.lastCheckpoint = await saveCheckpoint(
    join(s.options.out, "checkpoints"),
    {
      step: s.step,
      epoch: s.epoch,
      cursor: s.cursor,
      seeds: { data: s.config.seed, network: s.config.network.seed },
      config: s.config,
    },
    s.trainer.state(),
    s.config.keep,
  );
  await s.log.note(`checkpoint ${s.lastCheckpoint}`);
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
      width: networkWidth(config.network),
      preset: config.preset,
      step,
    },
  });
  await trainer.model.save(fileSaveHandler(dir));
  return dir;
}
