/**
 * One live process per output folder (an aligner's shard, a trainer's run): `<folder>/<name>`
 * holds `{pid, host, started}` and is created with `createNew` (atomic: of two processes starting
 * at once, exactly one creates it). A lock left by a process that no longer exists on this host
 * (killed with -9, machine crash) is taken over with a warning; a lock of a live process, or of
 * another host (which cannot be checked), is refused with a `FolderInUseError` naming the holder.
 */
import { join } from "node:path";
import process from "node:process";

/** The folder is held by another live process (or one on another host). */
export class FolderInUseError extends Error {
  override name = "FolderInUseError";
}

/** What the lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the holder started. */
  started: string;
}

export interface FolderLockOptions {
  /**
   * The lock file's name in the folder.
   * @default ".lock"
   */
  name?: string;
  /**
   * What the folder is, for messages (`Run folder "runs/x" is in use by ...`).
   * @default "Folder"
   */
  what?: string;
  /**
   * What holds it, for messages (`stop that trainer first`).
   * @default "process"
   */
  holder?: string;
  /**
   * Where warnings go (a stale or unreadable lock taken over).
   * @default console.warn
   */
  warn?: (message: string) => void;
}

/** True when a process with this pid exists on this host (signal 0: existence check only). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as { code?: string }).code === "EPERM";
  }
}

/** This host's name (a lock's `host`, a TensorBoard file's name), or "unknown" without --allow-sys. */
export function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

const held = new Set<FolderLock>();

/** A held lock; `release()` removes the file if it is still ours. */
export class FolderLock {
  private constructor(readonly path: string, readonly info: LockInfo) {
    held.add(this);
  }

  /**
   * Takes `<folder>/<name>` (creating the folder), taking over a stale lock (dead pid on this
   * host) with a warning; throws a `FolderInUseError` naming a live holder.
   * @example
   * ```ts
   * import { FolderLock } from "./mod.ts";
   *
   * const lock = await FolderLock.acquire("runs/x", { name: "lock", what: "Run folder" });
   * try {
   *   await Deno.writeTextFile("runs/x/log.txt", "only this process writes here\n");
   * } finally {
   *   await lock.release();
   * }
   * ```
   */
  static async acquire(folder: string, options: FolderLockOptions = {}): Promise<FolderLock> {
    const warn = options.warn ?? ((m: string) => console.warn(m));
    await Deno.mkdir(folder, { recursive: true });
    const path = join(folder, options.name ?? ".lock");
    const info: LockInfo = { pid: Deno.pid, host: hostname(), started: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const f = await Deno.open(path, { createNew: true, write: true });
        try {
          await f.write(new TextEncoder().encode(JSON.stringify(info) + "\n"));
        } finally {
          f.close();
        }
        return new FolderLock(path, info);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) {
          throw new Error(`Cannot lock "${folder}": ${(e as Error).message}`);
        }
      }
      const now = await readLock(path);
      if (!now) continue; // released meanwhile
      if (now.pid === -1) {
        if (await unreadableTakenOver(path, warn)) continue;
      }
      const sameHost = now.host === info.host;
      if (now.pid !== -1 && sameHost && !processAlive(now.pid)) {
        warn(
          `Warning: taking over the stale lock "${path}" of pid ${now.pid} (started ` +
            `${now.started}), which is no longer running`,
        );
        await Deno.remove(path).catch(() => {});
        continue;
      }
      throw new FolderInUseError(
        `${options.what ?? "Folder"} "${folder}" is in use by pid ${now.pid} on ${now.host} ` +
          `(started ${now.started}); stop that ${options.holder ?? "process"} first` +
          (sameHost ? "" : `, or remove "${path}" if it is no longer running`),
      );
    }
    throw new FolderInUseError(`Cannot take the lock "${path}": it keeps changing`);
  }

  async release(): Promise<void> {
    held.delete(this);
    const now = await readLock(this.path);
    if (now && now.pid === this.info.pid && now.started === this.info.started) {
      await Deno.remove(this.path).catch(() => {});
    }
  }

  /** For a process about to `Deno.exit()` (a second Ctrl-C): removes the lock if still ours. */
  releaseSync(): void {
    held.delete(this);
    try {
      const now = JSON.parse(Deno.readTextFileSync(this.path)) as LockInfo;
      if (now.pid === this.info.pid && now.started === this.info.started) {
        Deno.removeSync(this.path);
      }
    } catch {
      // Already gone or replaced: nothing of ours to remove.
    }
  }
}

/** Releases every lock this process holds, synchronously (before `Deno.exit`). */
export function releaseHeldLocksSync(): void {
  for (const lock of [...held]) lock.releaseSync();
}

/**
 * An unreadable lock may be being written right now: looks again after 200 ms, and removes it
 * (true) only when it is still unreadable and over 5 s old (its writer was killed in between).
 */
async function unreadableTakenOver(
  path: string,
  warn: (message: string) => void,
): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 200));
  const again = await readLock(path);
  if (again && again.pid !== -1) return true; // readable now: judge it on the next attempt
  const age = Date.now() - ((await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? 0);
  if (!again || age <= 5_000) return !again;
  warn(`Warning: taking over the unreadable lock "${path}" (${Math.round(age / 1000)} s old)`);
  await Deno.remove(path).catch(() => {});
  return true;
}

/**
 * The lock's holder; null when there is no lock; pid -1 when it cannot be read. Also read by
 * `deno task serve`'s runs page (web/server/runs.ts) to tell a live run from a killed one.
 */
export async function readLock(path: string): Promise<LockInfo | null> {
  try {
    const o = JSON.parse(await Deno.readTextFile(path));
    // `hostname`: the field name of run-folder locks written before the two locks were one.
    const host = o?.host ?? o?.hostname;
    if (typeof o?.pid !== "number" || typeof host !== "string") throw new TypeError("no pid");
    return { pid: o.pid, host, started: String(o.started) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    // Unreadable/half-written lock: treat as held by an unknown process.
    return { pid: -1, host: "?", started: "?" };
  }
}
