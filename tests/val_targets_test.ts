import { assert, assertEquals, assertMatch, assertNotMatch, assertStrictEquals } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../model/backend/backend.ts";
import { runTraining } from "../model/train/train_loop.ts";
import { encodeBin } from "../pipeline/formats/pickle_writer.ts";
import { loadValTargets, resolveValTargets } from "../tasks/train/val_targets.ts";
import { readEventFile } from "./tfevents_reader.ts";
import { runTask } from "./run_task.ts";
import { QUIET, tinyRun } from "./tiny_run.ts";
import { makeValFolder } from "./val_sets.ts";

await initBackend({ backend: "wasm" });

const HELDOUT_PAIRS = "fixtures/lfw_faces/heldout/pairs.txt";

async function withDir(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const jsonLines = async (path: string) =>
  (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));

Deno.test("--val-targets: each .bin scored at every evaluation with the highest so far, in log.jsonl, TensorBoard and curves.svg, across a resume", () =>
  withDir(async (dir) => {
    const data = await makeValFolder(join(dir, "data"), 4, 4);
    // Two bare names (beside the .rec) and a path.
    const files = await resolveValTargets(
      ["lfw", "cfp_fp", data.bins.agedb_30.path],
      data.rec,
    );
    assertEquals(files.map((f) => f.name), ["lfw", "cfp_fp", "agedb_30"]);
    const valTargets = await loadValTargets(files, 32);
    // lfw.bin holds heldout/pairs.txt's pairs as .bin JPEGs: the LFW-format held-out check on the
    // same faces must give the same figures through its own loading path.
    const config = {
      ...tinyRun(6),
      data: data.rec,
      evalPairs: HELDOUT_PAIRS,
      evalEvery: 2,
      valTargets: files.map((f) => f.path),
    };
    const out = join(dir, "run");
    await runTraining({ config, out, valTargets, ...QUIET });
    // What a kill during step 6's checkpoint leaves: no ckpt-6, steps 5-6 logged, a torn event
    // record. The resume restarts from step 4 and cuts every log back to it.
    await Deno.remove(join(out, "checkpoints", "ckpt-00000006.arcs"));
    const eventFile = [...Deno.readDirSync(out)].find((e) => e.name.startsWith("events.out."))!;
    await Deno.writeFile(join(out, eventFile.name), new Uint8Array([40, 0, 0, 0, 0, 0, 0]), {
      append: true,
    });
    const s = await runTraining({
      config,
      out,
      resume: true,
      valTargets,
      warn: () => {},
      ...QUIET,
    });
    assertStrictEquals(s.step, 6);

    const log = await jsonLines(join(out, "log.jsonl"));
    const val = log.filter((e) => typeof e.val === "string");
    for (const [name, pairs] of [["lfw", 200], ["cfp_fp", 100], ["agedb_30", 100]] as const) {
      const mine = val.filter((e) => e.val === name);
      assertEquals(mine.map((e) => e.step), [2, 4, 6], name);
      let highest = 0;
      for (const e of mine) {
        highest = Math.max(highest, e.accuracy);
        assertStrictEquals(e.highest, highest, `${name} step ${e.step}: highest so far`);
        assertStrictEquals(e.pairs, pairs);
        assert(e.accuracy >= 0 && e.accuracy <= 1 && e.std >= 0);
      }
    }
    const lfwEnd = val.find((e) => e.val === "lfw" && e.step === 6);
    assertStrictEquals(s.heldout?.accuracy, lfwEnd.accuracy);
    assertStrictEquals(s.heldout?.std, lfwEnd.std);
    assertEquals(s.val?.map((v) => v.name), ["lfw", "cfp_fp", "agedb_30"]);
    // Step windows: each step once after the resume's cut-back.
    assertEquals(log.filter((e) => e.val === undefined).map((e) => e.step), [1, 2, 3, 4, 5, 6]);

    const events = [...Deno.readDirSync(out)].filter((e) => e.name.startsWith("events.out."));
    assertStrictEquals(events.length, 1);
    const tb = await readEventFile(join(out, events[0].name));
    assertStrictEquals(tb[0].fileVersion, "brain.Event:2");
    const tagged = (tag: string) => tb.filter((e) => tag in e.values);
    assertEquals(tagged("loss").map((e) => e.step), [1, 2, 3, 4, 5, 6]);
    for (const tag of ["learning_rate", "train/accuracy", "train/images_per_sec"]) {
      assertStrictEquals(tagged(tag).length, 6, tag);
    }
    for (const name of ["lfw", "cfp_fp", "agedb_30"]) {
      assertEquals(
        tagged(name).map((e) => [e.step, e.values[name]]),
        val.filter((e) => e.val === name).map((e) => [e.step, Math.fround(e.accuracy)]),
      );
    }
    assertEquals(tagged("heldout").map((e) => e.step), [2, 4, 6]);
    const svg = await Deno.readTextFile(join(out, "curves.svg"));
    for (const name of ["lfw", "cfp_fp", "agedb_30"]) {
      assertMatch(svg, new RegExp(`data-series="${name}"`));
    }
  }));

Deno.test("deno task train --val-targets: a missing or unknown set is exit 2 naming the file, a bad .bin exit 1, before anything trains", () =>
  withDir(async (dir) => {
    const data = await makeValFolder(join(dir, "data"), 2, 2);
    const out = join(dir, "run");
    const train = (...args: string[]) =>
      runTask("tasks/train.ts", ["--preset", "tiny", "--steps", "1", "--out", out, ...args]);

    const missing = await train("--data", data.rec, "--val-targets", "lfw,agedb_31");
    assertStrictEquals(missing.code, 2, missing.stderr);
    assertMatch(missing.stderr, /agedb_31\.bin/);
    assertNotMatch(missing.stderr, /\n\s+at /);

    const noRec = await train("--val-targets", "lfw"); // --data: the preset's image folder
    assertStrictEquals(noRec.code, 2, noRec.stderr);
    assertMatch(noRec.stderr, /\.rec/);

    const garbage = join(dir, "garbage.bin");
    await Deno.writeTextFile(garbage, "not a pickle");
    const bad = await train("--data", data.rec, "--val-targets", garbage);
    assertStrictEquals(bad.code, 1, bad.stderr);
    assertMatch(bad.stderr, /garbage\.bin/);

    // A well-formed .bin whose 7th image is not an image.
    const images = await Promise.all(
      [...Deno.readDirSync("fixtures/lfw_faces/heldout/Abdullah")].map((e) =>
        Deno.readFile(`fixtures/lfw_faces/heldout/Abdullah/${e.name}`)
      ),
    );
    const list = Array.from({ length: 20 }, (_, i) => images[i % images.length]);
    list[6] = new TextEncoder().encode("broken");
    const broken = join(dir, "broken.bin");
    await Deno.writeFile(broken, encodeBin({ images: list, issame: Array(10).fill(true) }));
    const undecodable = await train("--data", data.rec, "--val-targets", broken);
    assertStrictEquals(undecodable.code, 1, undecodable.stderr);
    assertMatch(undecodable.stderr, /broken\.bin/);
    assertNotMatch(undecodable.stderr, /\n\s+at /);

    // Nothing trained: the run folder was never written.
    assertEquals(await Deno.stat(out).then(() => "exists", () => "absent"), "absent");
  }));

Deno.test("--val-targets decode as the run decodes (dctScale off): lfw.bin scores as the held-out check on the same faces", () =>
  withDir(async (dir) => {
    const data = await makeValFolder(join(dir, "data"), 2, 2);
    const files = await resolveValTargets(["lfw"], data.rec);
    const config = {
      ...tinyRun(2),
      data: data.rec,
      evalPairs: HELDOUT_PAIRS,
      evalEvery: 2,
      dctScale: "off" as const,
      valTargets: files.map((f) => f.path),
    };
    const valTargets = await loadValTargets(files, 32, { dctScale: config.dctScale });
    const s = await runTraining({ config, out: join(dir, "run"), valTargets, ...QUIET });
    const lfw = (await jsonLines(join(dir, "run", "log.jsonl"))).find((e) => e.val === "lfw");
    // Held-out check decodes whole first ("off"); "auto" would shrink JPEGs in the DCT domain.
    assertStrictEquals(s.heldout?.accuracy, lfw.accuracy);
    assertStrictEquals(s.heldout?.std, lfw.std);
  }));
