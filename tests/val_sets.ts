/**
 * A small arcface_torch-style data folder built from the committed LFW fixture faces
 * (`fixtures/lfw_faces`): `train.rec` + `train.idx` (insightface RecordIO: header record 0, one
 * record per face, identity records) of `train/`, and three insightface verification `.bin` sets
 * of the held-out identities, named as arcface_torch's: `lfw.bin` (the 200 pairs of
 * `heldout/pairs.txt` in order, so KFold(10) gives its 10 folds), `cfp_fp.bin` and `agedb_30.bin`
 * (100 pairs each: the first / last 50 same and 50 different pairs, alternating). The JPEG bytes
 * are the fixture files' own. Used by tests and for trying `train --val-targets` by hand:
 *
 *   deno run -A tests/val_sets.ts /tmp/faces   # then: deno task train --data /tmp/faces/train.rec \
 *     --val-targets lfw,cfp_fp,agedb_30 --eval-every 20 ...
 */
import { join } from "node:path";
import { packIR, RecordIOWriter } from "../pipeline/list/record_io.ts";
import { writeBin } from "../pipeline/formats/pickle_writer.ts";
import { lfwPath, readPairs } from "../pipeline/formats/pairs_reader.ts";

const FACES = new URL("../fixtures/lfw_faces/", import.meta.url).pathname;

/** What `makeValFolder` wrote. */
export interface ValFolder {
  rec: string;
  images: number;
  identities: number;
  bins: Record<string, { path: string; pairs: number }>;
}

/** Writes the folder into `dir` (`ids` identities x `perId` faces in the .rec). */
export async function makeValFolder(dir: string, ids = 25, perId = 15): Promise<ValFolder> {
  await Deno.mkdir(dir, { recursive: true });
  const names = [...Deno.readDirSync(join(FACES, "train"))].filter((e) => e.isDirectory)
    .map((e) => e.name).sort().slice(0, ids);
  const rec = join(dir, "train.rec");
  const w = await RecordIOWriter.create(rec);
  const files = names.map((n) =>
    [...Deno.readDirSync(join(FACES, "train", n))].map((e) => e.name).filter((f) =>
      f.endsWith(".jpg")
    ).sort().slice(0, perId)
  );
  const n = files.reduce((s, f) => s + f.length, 0);
  // insightface: record 0's labels are [first identity record, end); identity records hold the
  // [first, end) image indices of each class.
  await w.write(0, packIR({ label: [n + 1, n + 1 + names.length] }, new Uint8Array(0)));
  let key = 1;
  const ranges: [number, number][] = [];
  for (let label = 0; label < names.length; label++) {
    const first = key;
    for (const f of files[label]) {
      const jpg = await Deno.readFile(join(FACES, "train", names[label], f));
      await w.write(key, packIR({ label, id: key }, jpg));
      key++;
    }
    ranges.push([first, key]);
  }
  for (const r of ranges) await w.write(key++, packIR({ label: r }, new Uint8Array(0)));
  await w.close();

  const { pairs } = await readPairs(join(FACES, "heldout", "pairs.txt"));
  const same = pairs.filter((p) => p.issame), diff = pairs.filter((p) => !p.issame);
  const alternate = (s: typeof pairs, d: typeof pairs) => s.flatMap((p, i) => [p, d[i]]);
  const sets = {
    lfw: pairs,
    cfp_fp: alternate(same.slice(0, 50), diff.slice(0, 50)),
    agedb_30: alternate(same.slice(-50), diff.slice(-50)),
  };
  const bins: ValFolder["bins"] = {};
  for (const [name, list] of Object.entries(sets)) {
    const path = join(dir, `${name}.bin`);
    const images = await Promise.all(
      list.flatMap((p) => [p.a, p.b]).map((k) => Deno.readFile(lfwPath(join(FACES, "heldout"), k))),
    );
    await writeBin(path, { images, issame: list.map((p) => p.issame) });
    bins[name] = { path, pairs: list.length };
  }
  return { rec, images: n, identities: names.length, bins };
}

if (import.meta.main) {
  if (Deno.args.length !== 1) {
    console.error("usage: deno run -A tests/val_sets.ts OUT_DIR");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await makeValFolder(Deno.args[0]), null, 2));
}
