/**
 * An exclusive lock on an output folder: a pid file created with `createNew` (atomic), holding
 * `{pid, host, started}`. A lock left by a process that is gone (same host, no `/proc/<pid>`, or
 * an unreadable lock file) is stale and taken over; a live holder is an error naming it.
 */
import { join } from "node:path";

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

/** Whether `pid` runs on this machine (Linux `/proc`; elsewhere assume it does). */
function alive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return Deno.build.os !== "linux";
    return true;
  }
}

/** A held lock; `release()` removes the file (only if it is still ours). */
export class FolderLock {
  private constructor(readonly path: string, readonly info: LockInfo) {}

  /** Takes `<folder>/<name>` or throws naming the process that holds it. */
  static async acquire(folder: string, name = ".lock"): Promise<FolderLock> {
    const path = join(folder, name);
    const info: LockInfo = {
      pid: Deno.pid,
      host: Deno.hostname(),
      started: new Date().toISOString(),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await Deno.writeTextFile(path, JSON.stringify(info) + "\n", { createNew: true });
        return new FolderLock(path, info);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) {
          throw new Error(`Cannot lock "${folder}": ${(e as Error).message}`);
        }
      }
      const held = await readLock(path);
      if (held === "gone") continue; // released meanwhile: try again
      if (held && (held.host !== info.host || alive(held.pid))) {
        throw new Error(
          `"${folder}" is in use by process ${held.pid} on ${held.host} (since ${held.started}); ` +
            `if that process is gone, remove "${path}"`,
        );
      }
      // Stale (its process is gone) or unreadable: take it over.
      await Deno.remove(path).catch(() => {});
    }
    throw new Error(`Cannot lock "${folder}": "${path}" keeps reappearing`);
  }

  async release(): Promise<void> {
    const held = await readLock(this.path);
    if (held !== "gone" && held?.pid === this.info.pid && held.started === this.info.started) {
      await Deno.remove(this.path).catch(() => {});
    }
  }
}

async function readLock(path: string): Promise<LockInfo | null | "gone"> {
  try {
    const o = JSON.parse(await Deno.readTextFile(path));
    return typeof o?.pid === "number" && typeof o?.host === "string" ? o : null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "gone";
    return null;
  }
}
