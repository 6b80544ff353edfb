/**
 * Training checkpoints: one self-describing file per checkpoint, `ckpt-<step>.arcs`, written
 * atomically (temp file + rename), the last K kept.
 *
 * File layout: 8-byte magic "ARCSCKP1", uint32 LE header length, UTF-8 JSON header
 * `{ meta, tensors: [{ key, dtype, shape, offset, byteLength }] }`, then the raw little-endian
 * tensor data (offsets relative to the start of the data section).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { join } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";

const MAGIC = "ARCSCKP1";

/** What a checkpoint records besides tensors (JSON-serializable). */
export interface CheckpointMeta {
  /** Number of optimizer steps done (the next step to run). */
  step: number;
  /** Epoch of the next batch. */
  epoch: number;
  /** The data source's cursor, to resume on exactly the same batch sequence. */
  cursor: unknown;
  /** Seeds of everything random (data order, flips, initialization). */
  seeds: Record<string, number>;
  /** The full training configuration. */
  config: unknown;
  /** Anything else (e.g. the loss history), free-form. */
  extra?: Record<string, unknown>;
}

interface TensorEntry {
  key: string;
  dtype: "float32" | "int32";
  shape: number[];
  offset: number;
  byteLength: number;
}

/** Checkpoint contents after loading: tensors are created on the current backend; caller disposes. */
export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  tensors: Map<string, tfTypes.Tensor>;
  path: string;
}

/** File name of the checkpoint after `step` steps. */
export function checkpointName(step: number): string {
  return `ckpt-${String(step).padStart(8, "0")}.arcs`;
}

/** Checkpoint paths in `dir`, oldest first (by step); [] when the folder is missing. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /^ckpt-\d{8}\.arcs$/.test(e.name)) names.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return names.sort().map((n) => join(dir, n));
}

/** The newest checkpoint in `dir`, or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  const all = await listCheckpoints(dir);
  return all.length ? all[all.length - 1] : null;
}

/**
 * Writes `ckpt-<meta.step>.arcs` into `dir` (created if missing) and deletes all but the newest
 * `keep` checkpoints. Returns the path. Tensor values are read with `await data()`.
 */
export async function saveCheckpoint(
  dir: string,
  meta: CheckpointMeta,
  tensors: Map<string, tfTypes.Tensor>,
  keep = 3,
): Promise<string> {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be >= 1, got ${keep}`);
  const entries: TensorEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of tensors) {
    if (t.dtype !== "float32" && t.dtype !== "int32") {
      throw new TypeError(`Cannot checkpoint "${key}": dtype ${t.dtype} is not float32/int32`);
    }
    const values = await t.data();
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    entries.push({ key, dtype: t.dtype, shape: t.shape, offset, byteLength: bytes.byteLength });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const header = new TextEncoder().encode(JSON.stringify({ meta, tensors: entries }));
  const out = new Uint8Array(MAGIC.length + 4 + header.byteLength + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.byteLength, true);
  out.set(header, MAGIC.length + 4);
  let pos = MAGIC.length + 4 + header.byteLength;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, checkpointName(meta.step));
  await writeFileAtomic(path, out);
  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    await Deno.remove(old).catch(() => {});
  }
  return path;
}

/** Reads a checkpoint file; throws a clear error naming the file when it is not one. */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const tf = await import("@tensorflow/tfjs");
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read checkpoint "${path}": ${(e as Error).message}`);
  }
  const bad = (why: string) => new SyntaxError(`Cannot read checkpoint "${path}": ${why}`);
  if (bytes.byteLength < MAGIC.length + 4) throw bad("file too short");
  if (new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw bad(`not an arcstream checkpoint (magic is not ${MAGIC})`);
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const dataStart = MAGIC.length + 4 + headerLength;
  if (dataStart > bytes.byteLength) throw bad("header runs past the end of the file");
  let header: { meta: CheckpointMeta; tensors: TensorEntry[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, dataStart)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  const tensors = new Map<string, tfTypes.Tensor>();
  for (const e of header.tensors) {
    const start = dataStart + e.offset;
    if (start + e.byteLength > bytes.byteLength) {
      tensors.forEach((t) => t.dispose());
      throw bad(`tensor "${e.key}" runs past the end of the file (truncated?)`);
    }
    // Copy so the typed array is aligned and owns its buffer.
    const raw = bytes.slice(start, start + e.byteLength).buffer;
    const values = e.dtype === "int32" ? new Int32Array(raw) : new Float32Array(raw);
    tensors.set(e.key, tf.tensor(values, e.shape, e.dtype));
  }
  return { meta: header.meta, tensors, path };
}
