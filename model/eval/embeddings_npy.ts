/**
 * eval-lfw's `.npy` embeddings: `--embeddings FILE` reads [2N, D] float32 rows (pair i = rows 2i,
 * 2i+1), `--save-embeddings FILE` writes the same layout. `--embeddings A,B,...` scores an ensemble:
 * each file's rows L2-normalized, then concatenated, so a pair's cosine is the mean of the files'.
 */
import { readNpy, writeNpy } from "../../pipeline/formats/npy.ts";
import type { PairSpec } from "./score_pairs.ts";

/**
 * Reads [2N, D] float32 rows (pair i = rows 2i, 2i+1), L2-normalized; zero rows = missing. Several
 * files (one model each, same pairs): each row normalized, then the files' rows concatenated
 * ([2N, D1 + D2 + ...]); a row missing from any file is missing.
 */
export async function loadEmbeddings(
  paths: string | string[],
  pairs: PairSpec[],
  totalPairs: number,
  pairIndex: number[] | null,
) {
  const list = typeof paths === "string" ? [paths] : paths;
  if (list.length === 0) throw new TypeError("No embeddings file given");
  const sets = [];
  for (const p of list) sets.push(await loadOne(p, pairs, totalPairs, pairIndex));
  if (sets.length === 1) return sets[0];
  const embeddings = new Map<string, Float32Array>();
  // Each part is a unit vector: k of them joined have norm sqrt(k); scale back to 1.
  const scale = 1 / Math.sqrt(sets.length);
  for (const key of sets[0].embeddings.keys()) {
    const parts = sets.flatMap((s) => s.embeddings.get(key) ?? []);
    if (parts.length < sets.length) continue; // missing from some file
    const joined = new Float32Array(parts.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of parts) {
      for (let i = 0; i < x.length; i++) joined[at + i] = x[i] * scale;
      at += x.length;
    }
    embeddings.set(key, joined);
  }
  return { embeddings, pairs: sets[0].pairs };
}

/** One file's rows, L2-normalized, keyed `row/<r>`. */
async function loadOne(
  path: string,
  pairs: PairSpec[],
  totalPairs: number,
  pairIndex: number[] | null,
) {
  const { shape, data } = await readNpy(path);
  if (shape.length !== 2 || shape[0] !== 2 * totalPairs) {
    throw new RangeError(
      `"${path}" has shape [${shape}]; expected [${2 * totalPairs}, D] for ${totalPairs} pairs`,
    );
  }
  const D = shape[1];
  const embeddings = new Map<string, Float32Array>();
  const rowKey = (r: number) => `row/${r}`;
  const rows = pairs.flatMap((_, i) => {
    const at = pairIndex ? pairIndex[i] : i;
    return [2 * at, 2 * at + 1];
  });
  for (const r of rows) {
    const row = data.subarray(r * D, (r + 1) * D);
    let n = 0;
    for (const x of row) n += x * x;
    if (!Number.isFinite(n)) throw new RangeError(`"${path}" row ${r} is not finite`);
    if (n > 0) embeddings.set(rowKey(r), Float32Array.from(row, (x) => x / Math.sqrt(n)));
  }
  const rowPairs = pairs.map((p, i) => ({
    ...p,
    a: rowKey(rows[2 * i]),
    b: rowKey(rows[2 * i + 1]),
  }));
  return { embeddings, pairs: rowPairs };
}

/** Writes the pairs' embeddings as [2N, D] float32 rows; a missing image is a zero row. */
export async function saveEmbeddings(
  path: string,
  pairs: PairSpec[],
  embeddings: Map<string, Float32Array>,
) {
  const D = embeddings.values().next().value?.length ?? 0;
  const data = new Float32Array(2 * pairs.length * D);
  pairs.forEach((p, i) => {
    const a = embeddings.get(p.a), b = embeddings.get(p.b);
    if (a) data.set(a, 2 * i * D);
    if (b) data.set(b, (2 * i + 1) * D);
  });
  await writeNpy(path, { shape: [2 * pairs.length, D], data });
}
