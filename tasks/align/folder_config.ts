/**
 * The settings an align output folder was made with (`align_config.json`) and its lock
 * (docs/reliability.md). A rerun with settings that change the crops (size, MTCNN parameters,
 * policies, JPEG quality) is refused, or redoes every image with `--overwrite`: each sidecar names
 * the settings id it was made with, so resume counts only crops made with the current settings.
 */
import { join } from "node:path";
import type { AlignCliOptions } from "./options.ts";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import { FolderLock } from "../../pipeline/folder_lock.ts";

export const CONFIG_FILE = "align_config.json";

/** What a folder sink needs to know to resume: the settings id and whether legacy crops count. */
export interface FolderState {
  /** Settings id written into every sidecar as `config`. */
  id: string;
  /** Sidecars without a `config` field count as made with these settings (`--adopt`). */
  adopted: boolean;
  lock: FolderLock;
}

/** The options that change what a crop looks like (not shard, limit, backend, threads...). */
export function cropSettings(o: AlignCliOptions): Record<string, unknown> {
  return {
    size: o.size,
    quality: o.quality,
    minFaceSize: o.minFaceSize,
    thresholds: o.thresholds,
    nms: o.nms,
    factor: o.factor,
    channelOrder: o.channelOrder,
    flavor: o.flavor,
    border: o.border ?? null,
    pick: o.pick,
    onNoFace: o.onNoFace,
    centerCropFraction: o.centerCropFraction,
  };
}

/** A short stable id of a settings object (FNV-1a 32 of its JSON, hex). */
export function settingsId(settings: Record<string, unknown>): string {
  const s = JSON.stringify(settings);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** "size 112 -> 160, quality 95 -> 90" */
function describeDiff(old: Record<string, unknown>, now: Record<string, unknown>): string {
  const keys = new Set([...Object.keys(old), ...Object.keys(now)]);
  const d = [...keys].filter((k) => JSON.stringify(old[k]) !== JSON.stringify(now[k]))
    .map((k) => `--${kebab(k)} ${JSON.stringify(old[k])} -> ${JSON.stringify(now[k])}`);
  return d.join(", ") || "same values, other version";
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** True when the folder holds anything but lock files (an earlier run's output). */
async function hasOutput(folder: string): Promise<boolean> {
  for await (const e of Deno.readDir(folder)) {
    if (!e.name.startsWith(".align.lock")) return true;
  }
  return false;
}

/**
 * Locks the output folder (per shard: shards of one run may share a folder) and checks or writes
 * its `align_config.json`. Throws a one-line error for a folder made with other settings unless
 * `overwrite` (redo every image) or, for a folder without a config, `adopt`.
 */
export async function prepareFolder(
  o: AlignCliOptions,
  flags: { overwrite: boolean; adopt: boolean },
): Promise<FolderState> {
  const folder = o.output;
  await Deno.mkdir(folder, { recursive: true });
  const [si, sn] = o.shard;
  const lock = await FolderLock.acquire(folder, {
    name: sn > 1 ? `.align.lock.${si}-of-${sn}` : ".align.lock",
    holder: "aligner",
  });
  try {
    const settings = cropSettings(o);
    const id = settingsId(settings);
    const path = join(folder, CONFIG_FILE);
    let old: { id?: string; settings?: Record<string, unknown>; adopted?: boolean } | null = null;
    try {
      old = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
      }
    }
    if (old?.id === id) return { id, adopted: !!old.adopted, lock };
    let adopted = false;
    if (old) {
      if (!flags.overwrite) {
        throw new Error(
          `"${folder}" holds crops made with other settings (${
            describeDiff(old.settings ?? {}, settings)
          }): rerun with the same settings, use another folder, or pass --overwrite to redo ` +
            `every image`,
        );
      }
    } else if (await hasOutput(folder) && !flags.overwrite) {
      if (!flags.adopt) {
        throw new Error(
          `"${folder}" has files but no ${CONFIG_FILE} (an older arcstream wrote it; its settings ` +
            `are unknown): pass --overwrite to redo every image, or --adopt if it was made with ` +
            `the settings given now`,
        );
      }
      adopted = true;
    }
    const config = { tool: "arcstream align", id, settings, adopted, written: new Date() };
    await writeFileAtomic(path, JSON.stringify(config, null, 1) + "\n");
    return { id, adopted, lock };
  } catch (e) {
    await lock.release();
    throw e;
  }
}
