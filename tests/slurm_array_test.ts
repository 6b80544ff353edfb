/**
 * Slurm for real: a one-node cluster (tests/slurm_cluster.ts) runs `align --shard auto` as a
 * 4-task job array (scripts/slurm/align_array.sbatch, the script docs/cluster.md shows), one task
 * is killed mid-way and resubmitted alone, and `pack` of the shared output must equal, byte for
 * byte, the pack of a single-process align of the same photos. Skips with a printed reason where
 * Slurm/munge are missing, unless CI is set (.ci/run installs them; then it must run).
 */
import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "node:path";
import { walkImages } from "../pipeline/list/folder_walk.ts";
import { shardOf } from "../tasks/align/run.ts";
import { mxReadAll } from "./mx_recordio.ts";
import { runTask } from "./run_task.ts";
import { SlurmCluster, slurmMissing } from "./slurm_cluster.ts";

const REPO = new URL("..", import.meta.url).pathname;
const ALIGN = join(REPO, "tasks/align.ts");
const PACK = join(REPO, "tasks/pack.ts");
const SCRIPT = join(REPO, "scripts/slurm/align_array.sbatch");
/** Aligned LFW faces (fixtures/lfw_faces/README.md): 12 people x 15 photos go in. */
const FACES = join(REPO, "fixtures/lfw_faces/train");

const missing = await slurmMissing();
const mustRun = Boolean(Deno.env.get("CI"));
if (missing && !mustRun) console.log(`skipping tests/slurm_array_test.ts: ${missing}`);

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(ok: () => Promise<boolean>, what: string, seconds = 60): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** True when no task of `job` is queued or running (squeue forgets old jobs: also ended). */
async function ended(cluster: SlurmCluster, job: string): Promise<boolean> {
  return (await cluster.client("squeue", ["-h", "-j", job]).catch(() => "")).trim() === "";
}

/** Copies 12 identities of the fixture into `dir`; returns the image keys. */
async function photos(dir: string): Promise<string[]> {
  const names = [...Deno.readDirSync(FACES)].map((e) => e.name).sort().slice(0, 12);
  const keys: string[] = [];
  for (const name of names) {
    await Deno.mkdir(join(dir, name), { recursive: true });
    for (const [file] of await walkImages(join(FACES, name), { maxDepth: 1 })) {
      await Deno.copyFile(join(FACES, name, file), join(dir, name, file));
      keys.push(`${name}/${file.replace(/\.jpg$/, "")}`);
    }
  }
  return keys;
}

Deno.test({
  name:
    "a 4-task Slurm array of align --shard auto, one task killed and resubmitted, packs to the single-process .rec",
  ignore: missing !== null && !mustRun,
  async fn() {
    if (missing) throw new Error(`CI is set but the Slurm test cannot run: ${missing}`);
    const tmp = await Deno.makeTempDir({ prefix: "slurm_array_" });
    let cluster: SlurmCluster | null = null;
    try {
      const input = join(tmp, "in"), single = join(tmp, "single"), array = join(tmp, "array");
      const keys = await photos(input);
      const a1 = await runTask(ALIGN, [input, single, "--quiet"]);
      assertStrictEquals(a1.code, 0, a1.stderr);
      const p1 = await runTask(PACK, [single, "--out", join(tmp, "pack1")]);
      assertStrictEquals(p1.code, 0, p1.stderr);

      cluster = await SlurmCluster.start();
      const sbatch = (array_: string, ...args: string[]) =>
        cluster!.client("sbatch", [
          "--parsable",
          `--array=${array_}`,
          `--chdir=${REPO}`,
          `--output=${tmp}/task_%a.log`,
          `--export=ALL,DENO=${Deno.execPath()}`,
          SCRIPT,
          input,
          array,
          ...args,
        ]);
      const job = (await sbatch("0-3")).trim().split(";")[0];
      // Kill task 2 once it has written its first face.
      const mine = keys.filter((k) => shardOf(k, 4) === 2);
      const doneOf2 = async () => {
        let n = 0;
        for (const k of mine) if (await exists(join(array, `${k}.json`))) n++;
        return n;
      };
      await until(async () => (await doneOf2()) > 0, "array task 2 to write a face");
      await cluster.client("scancel", [`${job}_2`]);
      await until(
        async () => await ended(cluster!, job),
        "the array to end",
      );
      const partial = await doneOf2();
      assert(partial < mine.length, `task 2 finished (${partial} faces) before it was killed`);
      assert(!(await exists(join(array, "align_report.2-of-4.json"))));
      // pack refuses the unfinished shard, naming it.
      const early = await runTask(PACK, [array, "--out", join(tmp, "early")]);
      assertStrictEquals(early.code, 1);
      assertMatch(early.stderr, /align_report\.2-of-4\.json: shard 2 of 4 has not finished/);

      // Resubmitted alone: redoes only what shard 2 lacks.
      const again = (await sbatch("2", "--shards", "4")).trim().split(";")[0];
      await until(
        async () => await ended(cluster!, again),
        "the resubmitted task",
      );
      const report = JSON.parse(await Deno.readTextFile(join(array, "align_report.2-of-4.json")));
      assertEquals([report.shard, report.alreadyDone, report.processed], [
        "2/4",
        partial,
        mine.length - partial,
      ]);

      const p4 = await runTask(PACK, [array, "--out", join(tmp, "pack4")]);
      assertStrictEquals(p4.code, 0, p4.stderr);
      for (const f of ["train.rec", "train.idx", "property"]) {
        assertEquals(
          await Deno.readFile(join(tmp, "pack4", f)),
          await Deno.readFile(join(tmp, "pack1", f)),
          f,
        );
      }
      const recs = mxReadAll(join(tmp, "pack4", "train.rec"), join(tmp, "pack4", "train.idx"));
      const { images, classes } = JSON.parse(new TextDecoder().decode(p1.stdout));
      assertEquals([recs.size, classes], [1 + images + classes, 12]);
    } finally {
      await cluster?.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
