/**
 * What every output of `deno task align` offers (`AlignSink`), and the `.json` a face carries.
 * The folder sink (`folder_sink.ts`) and the tar sink (`tar_sink.ts`) both import this file
 * and not each other.
 */
import type { FaceRecord, ImageRecord } from "../../pipeline/records.ts";

export interface AlignSink {
  /** True when `key` was finished by an earlier run (resume). */
  has(key: string): Promise<boolean>;
  /** Records an image dropped for having no face (so a rerun does not retry it). */
  skip(rec: ImageRecord): void;
  write(face: FaceRecord, jpeg: Uint8Array): Promise<void>;
  /** The run failed: a tar stream on stdout ends with `__error__.json` (docs/reliability.md). */
  fail?(error: unknown): Promise<void>;
  /** Flushes and writes the run report (`suffix` distinguishes shards). */
  close(summary: object, suffix: string): Promise<void>;
}

/** The sidecar / tar `.json` of a face: the record without its pixels. */
export function faceMeta(face: FaceRecord | ImageRecord, policy?: string): Record<string, unknown> {
  const { pixels: _p, bytes: _b, ...rest } = face as FaceRecord & { bytes?: Uint8Array };
  return policy ? { ...rest, policy } : rest;
}
