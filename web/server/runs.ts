/**
 * What the runs page shows of a run folder (model/train/run_folder.ts writes them): its config
 * (`run.json`), its state, whether it has an export, and the verification threshold that the try-it
 * page applies (an eval-lfw report inside the run folder, else the last held-out check).
 *
 * State: "training" while the folder's lock (pipeline/folder_lock.ts, as model/train/run_folder.ts
 * takes it) names a live process of this host; "locked" when it names another host (which cannot
 * be checked) or cannot be read; "failed" when the lock's process is gone (killed) or when no lock
 * is left and the run stopped short of its steps or export; "finished" when the last logged step
 * reached the config's steps and the export exists.
 */
import { join } from "node:path";
import { processAlive, readLock } from "../../pipeline/folder_lock.ts";

export type RunStateName = "training" | "finished" | "failed" | "locked";

/** One row of the runs list. */
export interface RunInfo {
  name: string;
  state: RunStateName;
  /** Why that state (the lock's holder, the last step...). */
  reason: string;
  /** `run.json`'s config, or null when the folder has none yet. */
  config: Record<string, unknown> | null;
  /** Last step in log.jsonl (0 when none). */
  step: number;
  /** `export/model.json` exists. */
  hasExport: boolean;
  /** Squared-L2 threshold of unit embeddings and where it comes from, or null. */
  threshold: { distance: number; from: string } | null;
  /** eval-lfw output folders inside the run folder (relative to the runs folder). */
  reports: string[];
  /** Checkpoint file names (`checkpoints/*.arcs`), offered only as download links. */
  checkpoints: string[];
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

/** The last complete JSON line of a JSON-lines file, or null. */
export async function lastJsonLine(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return null;
  }
  const lines = text.split("\n");
  for (let i = lines.length - 2; i >= 0; i--) {
    try {
      if (lines[i].trim()) return JSON.parse(lines[i]);
    } catch {
      return null;
    }
  }
  return null;
}

/** True when `dir` looks like a run folder (run.json or log.jsonl). */
export async function isRunFolder(dir: string): Promise<boolean> {
  return await exists(join(dir, "run.json")) || await exists(join(dir, "log.jsonl"));
}

/** Folders under `dir` (depth 1) holding an eval-lfw `report.json`. */
async function reportFolders(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && await exists(join(dir, e.name, "report.json"))) out.push(e.name);
  }
  return out.sort();
}

async function stateOf(
  dir: string,
  config: Record<string, unknown> | null,
  step: number,
  hasExport: boolean,
): Promise<[RunStateName, string]> {
  // (old run folders' locks name the field `hostname`: readLock reads both)
  const lock = await readLock(join(dir, "lock"));
  if (lock) {
    const { pid, host } = lock;
    if (pid === -1) return ["locked", "its lock file cannot be read (being written?)"];
    if (host !== Deno.hostname()) return ["locked", `lock held by pid ${pid} on ${host}`];
    if (processAlive(pid)) return ["training", `pid ${pid}, started ${lock.started}`];
    return ["failed", `lock left by pid ${pid}, which is gone (killed?)`];
  }
  const steps = Number(config?.steps ?? NaN);
  if (hasExport && (!(steps > 0) || step >= steps)) return ["finished", `step ${step}`];
  return ["failed", `stopped at step ${step}${steps > 0 ? ` of ${steps}` : ""}`];
}

/** Everything the runs page shows of the run folder `dir` (named `name`). */
export async function runInfo(dir: string, name: string): Promise<RunInfo> {
  const runJson = await readJson(join(dir, "run.json"));
  const config = (runJson?.config as Record<string, unknown> | undefined) ?? null;
  const last = await lastJsonLine(join(dir, "log.jsonl"));
  const step = Number(last?.step ?? 0);
  const hasExport = await exists(join(dir, "export", "model.json"));
  const [state, reason] = await stateOf(dir, config, step, hasExport);
  // Read inside `dir` itself, not through `dir/..`: `dir` is a real path, whose parent is not the
  // runs folder when the run folder is a symlink. `name/sub` is the runs/-relative name shown.
  const subs = await reportFolders(dir);
  const reports = subs.map((sub) => `${name}/${sub}`);
  let threshold: RunInfo["threshold"] = null;
  for (const sub of subs) {
    const rep = await readJson(join(dir, sub, "report.json"));
    const t = (rep?.result as { bestThreshold?: number } | undefined)?.bestThreshold;
    if (typeof t === "number") threshold = { distance: t, from: `${name}/${sub}/report.json` };
  }
  const held = await lastJsonLine(join(dir, "heldout.jsonl"));
  if (!threshold && typeof held?.threshold === "number") {
    threshold = { distance: held.threshold, from: `${name}/heldout.jsonl, step ${held.step}` };
  }
  const checkpoints: string[] = [];
  try {
    for await (const e of Deno.readDir(join(dir, "checkpoints"))) {
      if (e.isFile && e.name.endsWith(".arcs")) checkpoints.push(e.name);
    }
  } catch {
    // none yet
  }
  checkpoints.sort();
  return { name, state, reason, config, step, hasExport, threshold, reports, checkpoints };
}

/** Every run folder directly under `root`, newest name last. */
export async function listRuns(root: string): Promise<RunInfo[]> {
  const out: RunInfo[] = [];
  for await (const e of Deno.readDir(root)) {
    if (!e.isDirectory) continue; // symlinks are not followed (they could lead out)
    const dir = join(root, e.name);
    if (await isRunFolder(dir)) out.push(await runInfo(dir, e.name));
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
