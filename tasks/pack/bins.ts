/**
 * `deno task pack --bins pairs.txt[,more.txt]`: insightface verification `.bin` files beside the
 * packed folder, built from the packed faces themselves (the same JPEG bytes), one per pairs file:
 * `pairs.txt` -> `lfw.bin`, `<name>.txt` or `<name>_pairs.txt` -> `<name>.bin`.
 *
 * Since the faces are packed ones, every identity of a `.bin` is also trained on: its accuracy
 * is inflated (a warning says how many identities); pack the validation faces separately.
 */
import { basename, join } from "node:path";
import type { PackItem } from "../../pipeline/list/record_io_pack.ts";
import { readPairs } from "../../pipeline/formats/pairs_reader.ts";
import { writeBin } from "../../pipeline/formats/pickle_writer.ts";
import { UsageError } from "../cli.ts";

/** The `.bin` name for a pairs file: `pairs.txt` is LFW's. */
export function binName(pairsPath: string): string {
  const stem = basename(pairsPath).replace(/\.[^.]*$/, "").replace(/_pairs$/, "");
  return `${stem === "pairs" ? "lfw" : stem}.bin`;
}

/** Refuses (UsageError) two pairs files that would write the same `.bin`. */
export function checkBinNames(pairsFiles: string[]): void {
  const seen = new Map<string, string>();
  for (const f of pairsFiles) {
    const name = binName(f);
    const other = seen.get(name);
    if (other !== undefined) {
      throw new UsageError(`--bins: "${other}" and "${f}" would both write ${name}`);
    }
    seen.set(name, f);
  }
}

/** Removes the `<set>.bin` files an earlier pack left in `outDir` (a pack replaces them all). */
export async function removeBins(outDir: string): Promise<void> {
  for await (const e of Deno.readDir(outDir)) {
    if (e.isFile && e.name.endsWith(".bin")) await Deno.remove(join(outDir, e.name));
  }
}

/** Writes one `.bin` per pairs file into `outDir`; returns {file: pairs} for the summary. */
export async function writeBins(
  outDir: string,
  pairsFiles: string[],
  items: PackItem[],
  warn: (message: string) => void = (m) => console.error(m),
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
    const identities = new Set<string>();
    for (const p of pairs) {
      const [a, b] = [need(p.a, p.line), need(p.b, p.line)];
      identities.add(a.identity).add(b.identity);
      images.push(await bytes(a), await bytes(b));
    }
    const name = binName(file);
    warn(
      `Warning: the ${identities.size} identities of ${name} are also in train.rec (trained ` +
        `on), so its accuracy is inflated; pack the validation faces separately (docs/cluster.md)`,
    );
    await writeBin(join(outDir, name), { images, issame: pairs.map((p) => p.issame) });
    out[name] = pairs.length;
  }
  return out;
}
