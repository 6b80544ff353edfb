/**
 * Decode(+resize to the ArcFace crop) timed alone for `deno task bench pipeline`: through the
 * decode worker pool, as the pipeline runs it, and the decoder set-ups the default was chosen from.
 */
import { ARCFACE_SIZE } from "../pipeline/align/similarity.ts";
import type { ListRecord } from "../pipeline/records.ts";

const SIZE = ARCFACE_SIZE;

/** CPU ms used so far by all threads of this process, decode workers included. */
export async function cpuClock(): Promise<() => number> {
  const { default: process } = await import("node:process");
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
}

/** Decode(+resize) alone, through the worker pool, `c` in flight: [images/s, CPU ms per image]. */
export async function decodeRate(
  records: ListRecord[],
  n: number,
  w: number,
  c: number,
  decoder: "auto" | "sharp",
  dctScale: "auto" | "off" = "auto",
): Promise<number[]> {
  const { DecodePool } = await import("../pipeline/decode/decode_pool.ts");
  const cpuMs = await cpuClock();
  const pool = new DecodePool({ workers: w });
  try {
    const warm = records.slice(0, Math.max(w, 1));
    const opts = { resize: SIZE, decoder, dctScale };
    await Promise.all(warm.map((r) => pool.decode(r.path!, opts)));
    let i = 0;
    const t0 = performance.now();
    const c0 = cpuMs();
    const lane = async () => {
      while (i < n) {
        await pool.decode(records[i++ % records.length].path!, opts);
      }
    };
    await Promise.all(Array.from({ length: c }, lane));
    const rate = Math.round(n / ((performance.now() - t0) / 1000));
    return [rate, +((cpuMs() - c0) / n).toFixed(3)];
  } finally {
    pool.close();
  }
}

/** The decoder set-ups measured for the default choice, on `n` images each. */
export async function decoderVariants(records: ListRecord[], n: number) {
  return {
    sharp_inline_1: await decodeRate(records, n, 0, 1, "sharp"),
    sharp_inline_4: await decodeRate(records, n, 0, 4, "sharp"),
    sharp_workers2_x4: await decodeRate(records, n, 2, 8, "sharp"),
    turbo_inline_1: await decodeRate(records, n, 0, 1, "auto"),
    turbo_workers1_x4: await decodeRate(records, n, 1, 4, "auto"),
    turbo_workers2_x4: await decodeRate(records, n, 2, 8, "auto"),
    turbo_workers3_x4: await decodeRate(records, n, 3, 12, "auto"),
  };
}
