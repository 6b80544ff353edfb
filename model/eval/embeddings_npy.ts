/**
 * eval-lfw's `.npy` embeddings: `--embeddings FILE` reads [2N, D] float32 rows (pair i = rows 2i,
 * 2i+1), `--save-embeddings FILE` writes the same layout.
 */
import { readNpy, writeNpy } from "../../pipeline/formats/npy.ts";
import type { PairSpec } from "./score_pairs.ts";

/** Reads [2N, D] float32 rows (pair i = rows 2i, 2i+1), L2-normalized; zero rows = missing. */
export async function loadEmbeddings(
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
