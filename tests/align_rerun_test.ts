/**
 * `deno task align` into a folder: settings recorded in align_config.json, a rerun with other
 * settings refused (or redone with --overwrite), the folder lock, and non-zero exits when nothing
 * came out (docs/reliability.md).
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "@std/assert";
import { join } from "node:path";
import { runTask } from "./run_task.ts";

const ALIGN = new URL("../tasks/align.ts", import.meta.url).pathname;
const LFW = new URL("../fixtures/mtcnn/lfw/", import.meta.url).pathname;

async function oneFace(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "align_rerun_" });
  await Deno.mkdir(join(root, "in", "A"), { recursive: true });
  await Deno.copyFile(
    LFW + "Aaron_Sorkin_0001.jpg",
    join(root, "in", "A", "Aaron_Sorkin_0001.jpg"),
  );
  return root;
}

async function cropWidth(path: string): Promise<number> {
  const sharp = (await import("sharp")).default;
  return (await sharp(path).metadata()).width!;
}

Deno.test("align rerun with another --size is refused, and --overwrite redoes every crop", async () => {
  const root = await oneFace();
  try {
    const [input, out] = [join(root, "in"), join(root, "out")];
    const crop = join(out, "A", "Aaron_Sorkin_0001.jpg");
    const first = await runTask(ALIGN, [input, out, "--quiet"]);
    assertEquals(first.code, 0, first.stderr);
    const config = JSON.parse(await Deno.readTextFile(join(out, "align_config.json")));
    assertEquals(config.settings.size, 112);
    assertEquals(await cropWidth(crop), 112);

    const other = await runTask(ALIGN, [input, out, "--quiet", "--size", "64"]);
    assertEquals(other.code, 1);
    assertMatch(other.stderr, /holds crops made with other settings \(--size 112 -> 64\)/);
    assertMatch(other.stderr, /--overwrite/);
    assertEquals(await cropWidth(crop), 112, "the refused run must not touch the crops");

    const redo = await runTask(ALIGN, [input, out, "--quiet", "--size", "64", "--overwrite"]);
    assertEquals(redo.code, 0, redo.stderr);
    assertEquals(await cropWidth(crop), 64);
    const report = JSON.parse(await Deno.readTextFile(join(out, "align_report.json")));
    assertEquals([report.alreadyDone, report.processed], [0, 1]);

    // The same settings again: everything is done, nothing is redone.
    const same = await runTask(ALIGN, [input, out, "--quiet", "--size", "64"]);
    assertEquals(same.code, 0, same.stderr);
    const r2 = JSON.parse(await Deno.readTextFile(join(out, "align_report.json")));
    assertEquals([r2.alreadyDone, r2.processed], [1, 0]);
    // The lock is released at the end.
    await Deno.stat(join(out, ".align.lock")).then(
      () => assert(false, "lock left behind"),
      (e) => assert(e instanceof Deno.errors.NotFound),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("align into a folder without align_config.json refuses unless --adopt or --overwrite", async () => {
  const root = await oneFace();
  try {
    const [input, out] = [join(root, "in"), join(root, "out")];
    await Deno.mkdir(join(out, "A"), { recursive: true });
    await Deno.writeTextFile(join(out, "A", "Aaron_Sorkin_0001.json"), '{"policy":"detected"}\n');
    const refused = await runTask(ALIGN, [input, out, "--quiet"]);
    assertEquals(refused.code, 1);
    assertMatch(refused.stderr, /has files but no align_config\.json/);
    const adopted = await runTask(ALIGN, [input, out, "--quiet", "--adopt"]);
    assertEquals(adopted.code, 0, adopted.stderr);
    const report = JSON.parse(await Deno.readTextFile(join(out, "align_report.json")));
    assertEquals([report.alreadyDone, report.processed], [1, 0]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("align refuses a folder locked by a live process and takes over a stale lock", async () => {
  const root = await oneFace();
  try {
    const [input, out] = [join(root, "in"), join(root, "out")];
    await Deno.mkdir(out);
    const lock = join(out, ".align.lock");
    const info = (pid: number) =>
      JSON.stringify({ pid, host: Deno.hostname(), started: "2026-01-01T00:00:00Z" });
    await Deno.writeTextFile(lock, info(Deno.pid)); // this test process: alive
    const busy = await runTask(ALIGN, [input, out, "--quiet"]);
    assertEquals(busy.code, 1);
    assertMatch(
      busy.stderr,
      new RegExp(`is in use by pid ${Deno.pid} on .*; stop that aligner first`),
    );
    await Deno.writeTextFile(lock, info(2 ** 22 + 12345)); // above Linux's pid_max: gone
    const stale = await runTask(ALIGN, [input, out, "--quiet"]);
    assertEquals(stale.code, 0, stale.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("align exits non-zero on an empty folder and when no face comes out", async () => {
  const root = await Deno.makeTempDir({ prefix: "align_empty_" });
  try {
    await Deno.mkdir(join(root, "in"));
    const empty = await runTask(ALIGN, [join(root, "in"), join(root, "out"), "--quiet"]);
    assertEquals(empty.code, 1);
    assertMatch(empty.stderr, new RegExp(`no images in "${join(root, "in")}"`));
    const sharp = (await import("sharp")).default;
    await Deno.mkdir(join(root, "in", "B"));
    await sharp({ create: { width: 90, height: 110, channels: 3, background: "#808080" } }).png()
      .toFile(join(root, "in", "B", "grey.png"));
    const faceless = await runTask(ALIGN, [join(root, "in"), join(root, "out"), "--quiet"]);
    assertNotEquals(faceless.code, 0);
    assertMatch(faceless.stderr, /no face aligned from .*: 1 without a face, 0 unreadable/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
