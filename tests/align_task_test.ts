import {
  assert,
  assertEquals,
  assertMatch,
  assertNotStrictEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { toBytes } from "@std/streams/to-bytes";
import { join } from "node:path";
import { shardOf } from "../tasks/align/run.ts";
import { parseAlignArgs } from "../tasks/align.ts";
import { HelpRequested } from "../tasks/cli.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import { recordsToTar } from "../pipeline/formats/wire.ts";
import { runTask, type TaskResult } from "./run_task.ts";

const ALIGN = new URL("../tasks/align.ts", import.meta.url).pathname;
const LFW = new URL("../fixtures/mtcnn/lfw/", import.meta.url).pathname;

/** Runs `deno task align` with string arguments; a Uint8Array argument is piped to stdin. */
function align(...args: (string | Uint8Array)[]): Promise<TaskResult> {
  const stdin = args.find((a) => a instanceof Uint8Array) as Uint8Array | undefined;
  return runTask(ALIGN, args.filter((a) => typeof a === "string"), stdin);
}

/** A small image-folder tree: 3 LFW faces under two names plus a flat grey PNG. */
async function tree(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "align_task_" });
  for (
    const [dir, file] of [["A", "Aaron_Sorkin_0001.jpg"], ["A", "Teddy_Kollek_0001.jpg"], [
      "B",
      "Bill_Cartwright_0001.jpg",
    ]]
  ) {
    await Deno.mkdir(join(root, "in", dir), { recursive: true });
    await Deno.copyFile(LFW + file, join(root, "in", dir, file));
  }
  const sharp = (await import("sharp")).default;
  await sharp({ create: { width: 90, height: 110, channels: 3, background: "#808080" } }).png()
    .toFile(join(root, "in", "B", "grey.png"));
  return root;
}

const report = async (dir: string, suffix = "") =>
  JSON.parse(await Deno.readTextFile(join(dir, `align_report${suffix}.json`)));

Deno.test("deno task align writes faces + sidecars, lists the no-face image, and resumes", async () => {
  const root = await tree();
  try {
    const out = join(root, "out");
    const first = await align(join(root, "in"), out, "--quiet");
    assertStrictEquals(first.code, 0, first.stderr);
    const r1 = await report(out);
    assertEquals([r1.listed, r1.alreadyDone, r1.processed, r1.detected], [4, 0, 4, 3]);
    assertEquals(r1.skippedKeys, ["B/grey"]);
    const meta = JSON.parse(await Deno.readTextFile(join(out, "A/Aaron_Sorkin_0001.json")));
    assertStrictEquals(meta.policy, "detected");
    assertStrictEquals(meta.landmarks.length, 5);
    assertStrictEquals(meta.width, 112);
    const sharp = (await import("sharp")).default;
    const info = await sharp(join(out, "A/Aaron_Sorkin_0001.jpg")).metadata();
    assertEquals([info.width, info.height, info.channels], [112, 112, 3]);
    assertStrictEquals(
      JSON.parse(await Deno.readTextFile(join(out, "B/grey.json"))).policy,
      "skipped",
    );
    // No temp files are left behind.
    for await (const e of Deno.readDir(join(out, "A"))) assert(!e.name.includes(".tmp"), e.name);

    // A rerun skips everything finished, including the recorded skip.
    const again = await align(join(root, "in"), out, "--quiet");
    assertStrictEquals(again.code, 0, again.stderr);
    const r2 = await report(out);
    assertEquals([r2.listed, r2.alreadyDone, r2.processed], [4, 4, 0]);

    // A lost output is redone on the next run, and only it.
    await Deno.remove(join(out, "B/Bill_Cartwright_0001.json"));
    await align(join(root, "in"), out, "--quiet");
    assertEquals([(await report(out)).processed, (await report(out)).detected], [1, 1]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task align --shard i/n splits the keys into disjoint shards that cover all", async () => {
  const root = await tree();
  try {
    const out = join(root, "out");
    for (const i of [0, 1, 2]) {
      const r = await align(
        join(root, "in"),
        out,
        "--quiet",
        "--shard",
        `${i}/3`,
        "--on-no-face",
        "center-crop",
      );
      assertStrictEquals(r.code, 0, r.stderr);
    }
    const reports = await Promise.all([0, 1, 2].map((i) => report(out, `.${i}-of-3`)));
    assertStrictEquals(reports.reduce((n, r) => n + r.listed, 0), 4);
    assertStrictEquals(reports.reduce((n, r) => n + r.processed, 0), 4);
    const grey = JSON.parse(await Deno.readTextFile(join(out, "B/grey.json")));
    assertStrictEquals(grey.policy, "center-crop");
    assertStrictEquals(grey.box, null);
    // Shards are balanced whatever the key pattern (FNV-1a alone would put these all in even ones).
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[shardOf(`Name_${i}/Name_${i}_0001`, 4)]++;
    assert(counts.every((c) => c > 900 && c < 1100), `balanced: ${counts}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task align writes a WebDataset tar to a .tar file and to stdout", async () => {
  const root = await tree();
  try {
    const tarPath = join(root, "out.tar");
    const r = await align(join(root, "in"), tarPath, "--quiet", "--limit", "2");
    assertStrictEquals(r.code, 0, r.stderr);
    const names = (bytes: Uint8Array) => {
      const out: string[] = [];
      for (let o = 0; o + 512 <= bytes.length && bytes[o] !== 0;) {
        out.push(new TextDecoder().decode(bytes.subarray(o, o + 100)).replace(/\0.*$/s, ""));
        const size = parseInt(new TextDecoder().decode(bytes.subarray(o + 124, o + 135)), 8);
        o += 512 + Math.ceil(size / 512) * 512;
      }
      return out;
    };
    assertEquals(names(await Deno.readFile(tarPath)), [
      "A/Aaron_Sorkin_0001.jpg",
      "A/Aaron_Sorkin_0001.json",
      "A/Teddy_Kollek_0001.jpg",
      "A/Teddy_Kollek_0001.json",
    ]);
    // Resume: the rest is appended, the first two are not redone.
    await align(join(root, "in"), tarPath, "--quiet");
    assertStrictEquals(names(await Deno.readFile(tarPath)).length, 6);
    const rep = JSON.parse(await Deno.readTextFile(`${tarPath}.report.json`));
    assertEquals([rep.alreadyDone, rep.detected, rep.skipped], [2, 1, 1]);
    const piped = await align(join(root, "in", "B"), "-", "--quiet");
    assertStrictEquals(piped.code, 0, piped.stderr);
    assertEquals(names(piped.stdout), [
      "Bill_Cartwright_0001.jpg",
      "Bill_Cartwright_0001.json",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task align: --help, and one clear line for bad arguments or input", async () => {
  const help = await align("--help");
  assertStrictEquals(help.code, 0);
  assertThrows(() => parseAlignArgs(["--help"]), HelpRequested);
  assertThrows(() => parseAlignArgs(["a", "b", "--shard", "3/3"]), Error, "--shard");
  assertThrows(() => parseAlignArgs(["a", "b", "--thresholds", "0.6,0.7"]), Error, "--thresholds");
  assertThrows(() => parseAlignArgs(["a", "b", "--on-no-face", "drop"]), Error, "--on-no-face");
  assertThrows(() => parseAlignArgs(["a"]), Error, "expected <input> <output>");
  const missing = await align("/nonexistent/input", "/tmp/never");
  assertNotStrictEquals(missing.code, 0);
  assertMatch(missing.stderr, /Cannot read input "\/nonexistent\/input"/);
});

Deno.test("deno task align - reads NDJSON or a decoded WebDataset tar on stdin", async () => {
  const root = await Deno.makeTempDir({ prefix: "align_stdin_" });
  try {
    const ndjson = [
      { key: "n/face", label: 0, path: LFW + "Aaron_Sorkin_0001.jpg" },
      { key: "n/missing", label: 1, path: join(root, "missing.jpg") },
    ].map((r) => JSON.stringify(r)).join("\n") + "\n";
    const r1 = await align("-", join(root, "a"), "--quiet", new TextEncoder().encode(ndjson));
    assertStrictEquals(r1.code, 0, r1.stderr);
    const rep = await report(join(root, "a"));
    assertEquals([rep.listed, rep.detected], [2, 1]);
    assertStrictEquals(rep.decodeErrors[0].key, "n/missing");
    assertMatch(rep.decodeErrors[0].reason, /missing\.jpg/);
    // --on-decode-error fail: one clear line naming the file, non-zero exit.
    const r2 = await align(
      "-",
      join(root, "b"),
      "--on-decode-error",
      "fail",
      new TextEncoder().encode(ndjson),
    );
    assertNotStrictEquals(r2.code, 0);
    assertMatch(r2.stderr, /Cannot decode .*missing\.jpg/);

    const img = await decodeImage(LFW + "Teddy_Kollek_0001.jpg");
    const tar = recordsToTar(ReadableStream.from([{ key: "t/teddy", label: 4, ...img }]));
    const bytes = await toBytes(tar);
    const r3 = await align("-", join(root, "c"), "--quiet", bytes);
    assertStrictEquals(r3.code, 0, r3.stderr);
    const meta = JSON.parse(await Deno.readTextFile(join(root, "c/t/teddy.json")));
    assertEquals([meta.label, meta.policy, meta.width], [4, "detected", 112]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
