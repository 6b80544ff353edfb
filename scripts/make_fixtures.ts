/**
 * Rebuilds `fixtures/lfw_faces/` from LFW with `deno task align` (reproducible: seeded choice).
 *
 *   deno run -A scripts/make_fixtures.ts [--lfw ../shared/data/lfw/lfw-deepfunneled]
 *     [--out fixtures/lfw_faces] [--seed 2019] [--train-ids 25] [--train-per-id 15]
 *     [--heldout-ids 20] [--heldout-per-id 6] [--quality 90]
 *
 * train/: `--train-ids` identities drawn from those with >= `--train-per-id` images, their first
 * `--train-per-id` images. heldout/: `--heldout-ids` other identities drawn from those with 4..30
 * images, their first `--heldout-per-id`, plus heldout/pairs.txt in LFW's format (`10 10`
 * header: 10 folds of 10 same-person then 10 different-person pairs, tab-separated).
 */
import { parseFlags, runTask } from "../tasks/cli.ts";
import { join, resolve } from "node:path";
import { Prng, shuffleInPlace } from "../pipeline/shuffle/prng.ts";
import { writeFileAtomic } from "../pipeline/atomic_write.ts";

async function main(): Promise<void> {
  const { flags: v } = parseFlags(Deno.args, {
    lfw: { type: "string", default: "../shared/data/lfw/lfw-deepfunneled" },
    out: { type: "string", default: "fixtures/lfw_faces" },
    seed: { type: "int", default: 2019 },
    "train-ids": { type: "int", min: 1, default: 25 },
    "train-per-id": { type: "int", min: 1, default: 15 },
    // Same-person pairs need held-out identities with >= 2 images each, and two identities.
    "heldout-ids": { type: "int", min: 2, default: 20 },
    "heldout-per-id": { type: "int", min: 2, default: 6 },
    quality: { type: "int", min: 1, max: 100, default: 90 },
  }, { help: await helpFromDocComment() });
  const lfw = resolve(v.lfw);
  const { seed, "train-ids": trainIds, "train-per-id": trainPer } = v;
  const { "heldout-ids": heldIds, "heldout-per-id": heldPer } = v;

  const people = await listPeople(lfw);
  const names = [...people.keys()].sort();
  const prng = new Prng(seed);
  const draw = (pool: string[], n: number) => {
    const p = pool.slice();
    shuffleInPlace(p, prng);
    return p.slice(0, n).sort();
  };
  const train = draw(names.filter((n) => people.get(n)!.length >= trainPer), trainIds);
  const held = draw(
    names.filter((n) =>
      !train.includes(n) && people.get(n)!.length >= 4 && people.get(n)!.length <= 30
    ),
    heldIds,
  );

  const parts = [["train", train, trainPer], ["heldout", held, heldPer]] as const;
  const stage = await alignSubset(lfw, people, [...parts], v.quality);

  const out = resolve(v.out);
  const aligned = await copyAligned(stage, out, train, held);
  const report = JSON.parse(await Deno.readTextFile(join(stage, "out", "align_report.json")));
  await Deno.remove(stage, { recursive: true });

  const ids = [...aligned.keys()].sort();
  const lines = pairLines(aligned, prng);
  await writeFileAtomic(join(out, "heldout", "pairs.txt"), lines.join("\n") + "\n");
  console.log(JSON.stringify({
    train: { identities: train.length },
    heldout: {
      identities: ids.length,
      images: [...aligned.values()].reduce((n, l) => n + l.length, 0),
    },
    align: { detected: report.detected, skipped: report.skippedKeys },
  }));
}

/** Identities of an LFW tree and their sorted image file names. */
async function listPeople(lfw: string): Promise<Map<string, string[]>> {
  const people = new Map<string, string[]>();
  for await (const e of Deno.readDir(lfw)) {
    if (!e.isDirectory) continue;
    const files = [];
    for await (const f of Deno.readDir(join(lfw, e.name))) {
      if (f.name.endsWith(".jpg")) files.push(f.name);
    }
    people.set(e.name, files.sort());
  }
  return people;
}

/**
 * A folder of links selecting the subset (the first `per` images of each identity of each part),
 * aligned by `deno task align` into `<stage>/out`; returns `<stage>`.
 */
async function alignSubset(
  lfw: string,
  people: Map<string, string[]>,
  parts: (readonly [string, readonly string[], number])[],
  quality: number,
): Promise<string> {
  const stage = await Deno.makeTempDir({ prefix: "lfw_faces_" });
  for (const [part, ids, per] of parts) {
    for (const id of ids) {
      await Deno.mkdir(join(stage, "src", part, id), { recursive: true });
      for (const f of people.get(id)!.slice(0, per)) {
        await Deno.symlink(join(lfw, id, f), join(stage, "src", part, id, f));
      }
    }
  }
  const args = [
    "run",
    "-A",
    new URL("../tasks/align.ts", import.meta.url).pathname,
    join(stage, "src"),
    join(stage, "out"),
    "--quality",
    String(quality),
    "--quiet",
  ];
  const run = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
  if (!run.success) throw new Error(`deno task align failed (exit ${run.code})`);
  return stage;
}

/**
 * Copies the aligned JPEGs into `out` (sidecars stay behind: the fixture is just the faces);
 * returns the image numbers of each held-out identity that got a face.
 */
async function copyAligned(
  stage: string,
  out: string,
  train: string[],
  held: string[],
): Promise<Map<string, number[]>> {
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const aligned = new Map<string, number[]>();
  for (const [part, ids] of [["train", train], ["heldout", held]] as const) {
    for (const id of ids) {
      await Deno.mkdir(join(out, part, id), { recursive: true });
      for await (const f of Deno.readDir(join(stage, "out", part, id))) {
        if (!f.name.endsWith(".jpg")) continue;
        await Deno.copyFile(join(stage, "out", part, id, f.name), join(out, part, id, f.name));
        if (part === "heldout") {
          const list = aligned.get(id) ?? [];
          list.push(Number(f.name.slice(id.length + 1, -4)));
          aligned.set(id, list);
        }
      }
    }
  }
  return aligned;
}

/** pairs.txt lines: 10 folds x (10 same + 10 different), no pair twice, aligned images only. */
function pairLines(aligned: Map<string, number[]>, prng: Prng): string[] {
  const ids = [...aligned.keys()].sort();
  for (const id of ids) aligned.get(id)!.sort((a, b) => a - b);
  const seen = new Set<string>();
  const lines = ["10\t10"];
  const pick = <T>(xs: T[]) => xs[prng.nextInt(xs.length)];
  for (let fold = 0; fold < 10; fold++) {
    for (let k = 0; k < 10;) {
      const id = pick(ids.filter((i) => aligned.get(i)!.length >= 2));
      const a = pick(aligned.get(id)!), b = pick(aligned.get(id)!);
      const key = `${id} ${Math.min(a, b)} ${Math.max(a, b)}`;
      if (a === b || seen.has(key)) continue;
      seen.add(key);
      lines.push(`${id}\t${Math.min(a, b)}\t${Math.max(a, b)}`);
      k++;
    }
    for (let k = 0; k < 10;) {
      const [i1, i2] = [pick(ids), pick(ids)].sort();
      const a = pick(aligned.get(i1)!), b = pick(aligned.get(i2)!);
      const key = `${i1} ${a} ${i2} ${b}`;
      if (i1 === i2 || seen.has(key)) continue;
      seen.add(key);
      lines.push(`${i1}\t${a}\t${i2}\t${b}`);
      k++;
    }
  }
  return lines;
}

/** The help text: this file's doc comment. */
async function helpFromDocComment(): Promise<string> {
  const doc = (await Deno.readTextFile(new URL(import.meta.url))).split("*/")[0];
  return doc.replace(/^\/\*\*\n/, "").replace(/^ \* ?/gm, "");
}

if (import.meta.main) await runTask("make_fixtures", main);
