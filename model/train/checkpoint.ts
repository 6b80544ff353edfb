/**
 * Training checkpoints: one self-describing file per checkpoint, `ckpt-<step>.arcs`, written
 * atomically (temp file + rename), the last K kept.
 *
 * File layout (format 2): 8-byte magic "ARCSCKP2", uint32 LE header length, UTF-8 JSON header
 * `{ meta, tensors: [{ key, dtype, shape, offset, byteLength }] }`, the raw little-endian tensor
 * data (offsets relative to the start of the data section), then a 32-byte SHA-256 digest of
 * everything before it. A file whose digest does not match is "damaged" (`CheckpointDamagedError`).
 * Format 1 ("ARCSCKP1", no digest) is still read, with a warning that it cannot be verified.
 *
 * The tensors are a `Trainer`'s full state (`trainingState()` below): "model/<layer>/<weight>"
 * (every backbone weight, BN moving statistics included), "head/weights" (the class weights) and
 * "slot/<key>" (the optimizer's momentum slots).
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { join } from "node:path";
import { writeFileAtomic } from "../../pipeline/atomic_write.ts";
import type { MarginHead } from "../loss/arcface.ts";
import type { MomentumSGD } from "./optimizer.ts";

const MAGIC = "ARCSCKP2";
const MAGIC_V1 = "ARCSCKP1";
const DIGEST_BYTES = 32;

/** A checkpoint file that exists but cannot be trusted (digest mismatch, truncated, garbage). */
export class CheckpointDamagedError extends Error {
  override name = "CheckpointDamagedError";
  constructor(readonly path: string, readonly why: string) {
    super(`Checkpoint "${path}" is damaged: ${why}`);
  }
}

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

/**
 * The newest checkpoint in `dir`, or null.
 * @example
 * ```ts
 * import { latestCheckpoint } from "../mod.ts";
 *
 * console.log(await latestCheckpoint("runs/lfw-small/checkpoints")); // null when there is none
 * ```
 */
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
  const out = new Uint8Array(MAGIC.length + 4 + header.byteLength + offset + DIGEST_BYTES);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.byteLength, true);
  out.set(header, MAGIC.length + 4);
  let pos = MAGIC.length + 4 + header.byteLength;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  out.set(await sha256(out.subarray(0, pos)), pos);
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, checkpointName(meta.step));
  await writeFileAtomic(path, out);
  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    await Deno.remove(old).catch(() => {});
  }
  return path;
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** A verified checkpoint file before its tensors are made. */
export interface CheckpointFile {
  meta: CheckpointMeta;
  tensors: TensorEntry[];
  bytes: Uint8Array;
  dataStart: number;
  /** False for a format-1 file (no digest: not verifiable). */
  verified: boolean;
}

/**
 * Reads and verifies a checkpoint file without making tensors. Throws `CheckpointDamagedError`
 * for a file that is not a whole, intact checkpoint, an Error naming the file when unreadable.
 */
export async function readCheckpointFile(path: string): Promise<CheckpointFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read checkpoint "${path}": ${(e as Error).message}`);
  }
  const bad = (why: string) => new CheckpointDamagedError(path, why);
  if (bytes.byteLength < MAGIC.length + 4) throw bad("file too short");
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC && magic !== MAGIC_V1) {
    throw bad(`not an arcstream checkpoint (magic is not ${MAGIC})`);
  }
  const verified = magic === MAGIC;
  const end = bytes.byteLength - (verified ? DIGEST_BYTES : 0);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const dataStart = MAGIC.length + 4 + headerLength;
  if (dataStart > end) throw bad("header runs past the end of the file (truncated?)");
  if (verified) {
    const want = bytes.subarray(end);
    const got = await sha256(bytes.subarray(0, end));
    if (!got.every((b, i) => b === want[i])) {
      throw bad("digest mismatch (SHA-256 of header and data; truncated or altered)");
    }
  }
  let header: { meta: CheckpointMeta; tensors: TensorEntry[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, dataStart)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  for (const e of header.tensors) {
    if (dataStart + e.offset + e.byteLength > end) {
      throw bad(`tensor "${e.key}" runs past the end of the file (truncated?)`);
    }
  }
  return { meta: header.meta, tensors: header.tensors, bytes, dataStart, verified };
}

/**
 * Reads a checkpoint file, verifying its digest; throws `CheckpointDamagedError` naming the file
 * when it is damaged. `warn` hears about a format-1 file (no digest, read unverified).
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { latestCheckpoint, loadCheckpoint } from "../mod.ts";
 *
 * const path = await latestCheckpoint("runs/lfw-small/checkpoints");
 * if (path) {
 *   const { meta, tensors } = await loadCheckpoint(path);
 *   console.log(meta.step, [...tensors.keys()].length);
 *   tf.dispose([...tensors.values()]);
 * }
 * ```
 */
export async function loadCheckpoint(
  path: string,
  warn: (message: string) => void = (m) => console.warn(m),
): Promise<LoadedCheckpoint> {
  const tf = await import("@tensorflow/tfjs");
  const file = await readCheckpointFile(path);
  if (!file.verified) {
    warn(`Warning: checkpoint "${path}" has no digest (format 1); it is read unverified`);
  }
  const tensors = new Map<string, tfTypes.Tensor>();
  for (const e of file.tensors) {
    const start = file.dataStart + e.offset;
    // Copy so the typed array is aligned and owns its buffer.
    const raw = file.bytes.slice(start, start + e.byteLength).buffer;
    const values = e.dtype === "int32" ? new Int32Array(raw) : new Float32Array(raw);
    tensors.set(e.key, tf.tensor(values, e.shape, e.dtype));
  }
  return { meta: file.meta, tensors, path };
}

/**
 * The newest intact checkpoint in `dir` for a resume, or null when there is none. Damaged newer
 * files are renamed to `<name>.damaged` (kept for inspection, no longer counted) with a warning.
 */
export async function findResumeCheckpoint(
  dir: string,
  warn: (message: string) => void,
): Promise<LoadedCheckpoint | null> {
  const all = await listCheckpoints(dir);
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      return await loadCheckpoint(all[i], warn);
    } catch (e) {
      if (!(e instanceof CheckpointDamagedError)) throw e;
      await Deno.rename(all[i], `${all[i]}.damaged`);
      warn(
        `Warning: ${e.message}; moved aside to "${all[i]}.damaged"` +
          (i > 0 ? ", falling back to an older checkpoint" : ""),
      );
    }
  }
  return null;
}

/** What holds the state (a `Trainer`). */
export interface TrainingStateOwner {
  readonly model: tfTypes.LayersModel;
  readonly head: MarginHead;
  readonly optimizer: MomentumSGD;
}

/** Every tensor of the training state (all model weights incl. BN moving stats, head, slots). */
export function trainingState(owner: TrainingStateOwner): Map<string, tfTypes.Tensor> {
  const out = new Map<string, tfTypes.Tensor>();
  for (const w of owner.model.weights) out.set(`model/${w.originalName}`, w.read());
  out.set("head/weights", owner.head.weights);
  for (const [k, v] of owner.optimizer.state()) out.set(`slot/${k}`, v);
  return out;
}

/** Restores `trainingState()` output (e.g. from a checkpoint); checks that every weight is present. */
export function restoreTrainingState(
  owner: TrainingStateOwner,
  tensors: Map<string, tfTypes.Tensor>,
): void {
  for (const w of owner.model.weights) {
    const t = tensors.get(`model/${w.originalName}`);
    if (!t) throw new RangeError(`Checkpoint has no tensor "model/${w.originalName}"`);
    if (t.shape.join("x") !== w.shape.join("x")) {
      throw new RangeError(
        `Checkpoint tensor "model/${w.originalName}" has shape [${t.shape}], expected [${w.shape}]`,
      );
    }
    w.write(t);
  }
  const h = tensors.get("head/weights");
  if (!h || h.shape.join("x") !== owner.head.weights.shape.join("x")) {
    throw new RangeError(
      `Checkpoint class weights are missing or not [${owner.head.weights.shape}] (other dataset?)`,
    );
  }
  owner.head.weights.assign(h);
  const slots = new Map<string, tfTypes.Tensor>();
  for (const [k, t] of tensors) if (k.startsWith("slot/")) slots.set(k.slice(5), t);
  owner.optimizer.restore(slots);
}
