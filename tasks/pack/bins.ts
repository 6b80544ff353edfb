/**
 * `deno task pack --bins pairs.txt[,more.txt]`: insightface verification `.bin` files beside the
 * packed folder, built from the packed faces themselves (the same JPEG bytes), one per pairs file:
 * `pairs.txt` -> `lfw.bin`, `<name>.txt` or `<name>_pairs.txt` -> `<name>.bin`.
 */
import { basename, join } from "node:path";
import type { PackItem } from "../../pipeline/list/record_io_pack.ts";
import { readPairs } from "../../pipeline/formats/pairs_reader.ts";
import { writeBin } from "../../pipeline/formats/pickle_writer.ts";

/** The `.bin` name for a pairs file: `pairs.txt` is LFW's. */
export function binName(pairsPath: string): string {
  const stem = basename(pairsPath).replace(/\.[^.]*$/, "").replace(/_pairs$/, "");
  return `${stem === "pairs" ? "lfw" : stem}.bin`;
}

/** Writes one `.bin` per pairs file into `outDir`; returns {file: pairs} for the summary. */
export async function writeBins(
  outDir: string,
  pairsFiles: string[],
  items: PackItem[],
): Promise<Record<string, number>> {
  const byKey = new Map(items.map((it) => [it.key, it]));
  const out: Record<string, number> = {};
  for (const file of pairsFiles) {
    const { pairs } = await readPairs(file);
    const need = (key: string, line: number) => {
      const it = byKey.get(key);
      if (!it) {
        throw new Error(
          `"${file}" line ${line} needs face "${key}", which is not among the packed faces ` +
            `(align skipped it? align with --on-no-face center-crop keeps every image)`,
        );
      }
      return it;
    };
    const cache = new Map<string, Uint8Array>();
    const bytes = async (it: PackItem) => {
      if (!cache.has(it.key)) cache.set(it.key, await it.read());
      return cache.get(it.key)!;
    };
    const images: Uint8Array[] = [];
    for (const p of pairs) {
      images.push(await bytes(need(p.a, p.line)), await bytes(need(p.b, p.line)));
    }
    const name = binName(file);
    await writeBin(join(outDir, name), { images, issame: pairs.map((p) => p.issame) });
    out[name] = pairs.length;
  }
  return out;
}
