/**
 * One live trainer per run folder: `DIR/lock` holds `{pid, hostname, started}` and is created with
 * `createNew` (atomic: of two trainers starting at once, exactly one creates it). A lock left by a
 * process that no longer exists on this host (killed with -9, machine crash) is taken over with a
 * warning; a lock of a live process, or of another host (which cannot be checked), is refused.
 */
import { join } from "node:path";
import process from "node:process";

/** A run-folder problem the user must resolve (task exit status 2). */
export class RunFolderError extends Error {
  override name = "RunFolderError";
  readonly exitCode = 2;
}

/** What `DIR/lock` holds. */
export interface LockInfo {
  pid: number;
  hostname: string;
  /** ISO time the holder started. */
  started: string;
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

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

const held = new Set<RunLock>();

/** The held lock of a run folder; `release()` removes `DIR/lock` if it is still ours. */
export class RunLock {
  constructor(readonly path: string, readonly info: LockInfo) {
    held.add(this);
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

async function readLock(path: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as LockInfo;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    // Unreadable/half-written lock: treat as held by an unknown process.
    return { pid: -1, hostname: "?", started: "?" };
  }
}

/**
 * Takes `dir/lock` (creating `dir`). Throws a `RunFolderError` naming the holder when a live
 * process holds it; takes over a stale lock (dead pid on this host), telling `warn`.
 */
export async function acquireRunLock(
  dir: string,
  warn: (message: string) => void = (m) => console.warn(m),
): Promise<RunLock> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, "lock");
  const info: LockInfo = { pid: Deno.pid, hostname: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = await Deno.open(path, { createNew: true, write: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(info) + "\n"));
      } finally {
        f.close();
      }
      return new RunLock(path, info);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const held = await readLock(path);
    if (!held) continue; // released meanwhile
    if (held.pid === -1) {
      // Possibly being written right now: look again before judging.
      await new Promise((r) => setTimeout(r, 200));
      const again = await readLock(path);
      if (again && again.pid !== -1) continue;
      const age = Date.now() - ((await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? 0);
      if (again && age > 5_000) {
        // Killed between creating and writing it: an empty or partial lock nobody owns.
        warn(
          `Warning: taking over the unreadable lock "${path}" (${Math.round(age / 1000)} s old)`,
        );
        await Deno.remove(path).catch(() => {});
        continue;
      }
    }
    const sameHost = held.hostname === info.hostname;
    if (held.pid !== -1 && sameHost && !processAlive(held.pid)) {
      warn(
        `Warning: taking over the stale lock "${path}" of pid ${held.pid} (started ` +
          `${held.started}), which is no longer running`,
      );
      await Deno.remove(path).catch(() => {});
      continue;
    }
    throw new RunFolderError(
      `Run folder "${dir}" is in use by pid ${held.pid} on ${held.hostname} (started ` +
        `${held.started}); stop that trainer first` +
        (sameHost ? "" : `, or remove "${path}" if it is no longer running`),
    );
  }
  throw new RunFolderError(`Cannot take the lock "${path}": it keeps changing`);
}
