import { assert, assertEquals, assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "node:path";
import { toBytes } from "@std/streams/to-bytes";
import { walkImages } from "../pipeline/list/folder_walk.ts";
import { shardOf } from "../tasks/align/run.ts";
import { TarDecodeStream, type TarEntry } from "../pipeline/formats/tar.ts";
import { encodeTarEntry } from "../pipeline/formats/tar.ts";
import { readBin } from "../pipeline/formats/insightface_bin.ts";
import { mxReadAll } from "./mx_recordio.ts";
import { runTask } from "./run_task.ts";
import { inputItems } from "../tasks/pack/sources.ts";

const PACK = new URL("../tasks/pack.ts", import.meta.url).pathname;
const LIST = new URL("../tasks/list.ts", import.meta.url).pathname;
/** 375 aligned 112x112 LFW faces of 25 people (fixtures/lfw_faces/README.md). */
const FACES = new URL("../fixtures/lfw_faces/train/", import.meta.url).pathname;

/** key (Name/Name_0001) -> JPEG bytes of every fixture face. */
async function fixtureFaces(): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const s of await walkImages(FACES)) {
    out.set(s.join("/").replace(/\.jpg$/, ""), await Deno.readFile(join(FACES, ...s)));
  }
  return out;
}

async function pack(...args: string[]) {
  const r = await runTask(PACK, args);
  return { ...r, summary: r.code === 0 ? JSON.parse(new TextDecoder().decode(r.stdout)) : null };
}

const files = async (
  dir: string,
) => [await Deno.readFile(join(dir, "train.rec")), await Deno.readFile(join(dir, "train.idx"))];

Deno.test("pack writes what MXFaceDataset reads: header [N+1, N+1+C), images, identity ranges", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pack_" });
  try {
    const out = join(tmp, "p");
    const r = await pack(FACES, "--out", out);
    assertStrictEquals(r.code, 0, r.stderr);
    const faces = await fixtureFaces();
    const keys = [...faces.keys()].sort();
    const names = [...new Set(keys.map((k) => k.split("/")[0]))].sort();
    const n = keys.length, c = names.length;
    assertEquals([r.summary.images, r.summary.classes], [375, 25]);
    assertStrictEquals(await Deno.readTextFile(join(out, "property")), `${c},112,112\n`);
    // The independent reader (tests/mx_recordio.ts), record by record.
    const recs = mxReadAll(join(out, "train.rec"), join(out, "train.idx"));
    assertEquals(recs.size, 1 + n + c);
    const head = recs.get(0)!;
    assertEquals([head.flag, head.label], [2, [n + 1, n + 1 + c]]);
    keys.forEach((key, i) => {
      const rec = recs.get(i + 1)!;
      assertEquals([rec.flag, rec.label, rec.id], [
        0,
        names.indexOf(key.split("/")[0]),
        BigInt(i + 1),
      ]);
      assertEquals(rec.payload, faces.get(key), `record ${i + 1} (${key}): JPEG bytes as given`);
    });
    names.forEach((name, k) => {
      const rec = recs.get(n + 1 + k)!;
      const first = keys.findIndex((x) => x.startsWith(name + "/")) + 1;
      const count = keys.filter((x) => x.startsWith(name + "/")).length;
      assertEquals([rec.flag, rec.label, rec.payload.length], [2, [first, first + count], 0]);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("deno task list reads a packed .rec back to the same faces and labels", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pack_list_" });
  try {
    const out = join(tmp, "p");
    assertStrictEquals((await pack(FACES, "--out", out)).code, 0);
    const listed = await runTask(LIST, ["--rec", join(out, "train.rec")]);
    assertStrictEquals(listed.code, 0, listed.stderr);
    const entries: TarEntry[] = [];
    await ReadableStream.from([listed.stdout]).pipeThrough(new TarDecodeStream())
      .pipeTo(new WritableStream({ write: (e) => void entries.push(e) }));
    const faces = await fixtureFaces();
    const keys = [...faces.keys()].sort();
    const index = (await Deno.readTextFile(join(out, "pack_index.tsv"))).trim().split("\n")
      .map((l) => l.split("\t"));
    const jpgs = entries.filter((e) => e.name.endsWith(".jpg"));
    const metas = entries.filter((e) => e.name.endsWith(".json"))
      .map((e) => JSON.parse(new TextDecoder().decode(e.data)));
    assertEquals(jpgs.length, keys.length);
    keys.forEach((key, i) => {
      assertEquals(jpgs[i].data, faces.get(key));
      assertEquals(index[i], [String(i + 1), String(metas[i].label), key]);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Copies the fixture faces into `n` folders by shard (as `align --shard i/n` would split them). */
async function shardCopies(tmp: string, n: number): Promise<string[]> {
  const dirs = Array.from({ length: n }, (_, i) => join(tmp, `shard${i}`));
  for (const d of dirs) await Deno.mkdir(d, { recursive: true });
  for (const s of await walkImages(FACES)) {
    const key = s.join("/").replace(/\.jpg$/, "");
    const dst = join(dirs[shardOf(key, n)], ...s);
    await Deno.mkdir(join(dst, ".."), { recursive: true });
    await Deno.copyFile(join(FACES, ...s), dst);
  }
  return dirs;
}

Deno.test("pack gives the same bytes from one folder, from 3 shard folders and from a tar", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pack_shards_" });
  try {
    assertStrictEquals((await pack(FACES, "--out", join(tmp, "one"))).code, 0);
    const shards = await shardCopies(tmp, 3);
    const r3 = await pack(...shards.reverse(), "--out", join(tmp, "three"));
    assertStrictEquals(r3.code, 0, r3.stderr);
    const tar = join(tmp, "faces.tar");
    const parts: Uint8Array[] = [];
    for (const s of (await walkImages(FACES)).reverse()) {
      parts.push(
        ...encodeTarEntry({ name: s.join("/"), data: await Deno.readFile(join(FACES, ...s)) }),
      );
    }
    parts.push(new Uint8Array(1024));
    await Deno.writeFile(tar, await toBytes(ReadableStream.from(parts)));
    assertStrictEquals((await pack(tar, "--out", join(tmp, "tar"))).code, 0);
    const one = await files(join(tmp, "one"));
    assertEquals(await files(join(tmp, "three")), one);
    assertEquals(await files(join(tmp, "tar")), one);
    // A truncated tar is refused, naming it.
    const cut = join(tmp, "cut.tar");
    await Deno.writeFile(cut, (await Deno.readFile(tar)).subarray(0, 40000));
    const bad = await pack(cut, "--out", join(tmp, "cut"));
    assertStrictEquals(bad.code, 1);
    assertMatch(bad.stderr, /cut\.tar" is truncated/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("pack refuses a key given twice, naming both inputs, and leaves no pack", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pack_dup_" });
  try {
    const [a] = await shardCopies(join(tmp, "a"), 1);
    const r = await pack(FACES, a, "--out", join(tmp, "p"));
    assertStrictEquals(r.code, 1);
    assertMatch(r.stderr, /Duplicate key "Andre_Agassi\/Andre_Agassi_0001" in ".*" and ".*"/);
    assert(!(await Deno.stat(join(tmp, "p", "train.rec")).catch(() => null)));
    assertStrictEquals((await pack("--out", join(tmp, "p"))).code, 2);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("pack --bins writes an insightface .bin of the packed faces for a pairs file", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pack_bins_" });
  try {
    const pairs = join(tmp, "pairs.txt");
    await Deno.writeTextFile(pairs, "1\t1\nBill_Gates\t1\t2\nBill_Gates\t1\tAndre_Agassi\t3\n");
    // An earlier pack's .bin of another set is not left beside the new pack.
    await Deno.mkdir(join(tmp, "p"));
    await Deno.writeTextFile(join(tmp, "p", "cfp_fp.bin"), "stale");
    const r = await pack(FACES, "--out", join(tmp, "p"), "--bins", pairs);
    assertStrictEquals(r.code, 0, r.stderr);
    assertEquals(r.summary.bins, { "lfw.bin": 2 });
    assert(!(await Deno.stat(join(tmp, "p", "cfp_fp.bin")).catch(() => null)));
    // Its faces are trained on: the warning counts the identities (Bill_Gates, Andre_Agassi).
    assertMatch(r.stderr, /the 2 identities of lfw\.bin are also in train\.rec/);
    // Two pairs files naming one .bin are refused as a usage error.
    const other = join(tmp, "lfw_pairs.txt");
    await Deno.copyFile(pairs, other);
    const dup = await pack(FACES, "--out", join(tmp, "q"), "--bins", `${pairs},${other}`);
    assertStrictEquals(dup.code, 2);
    assertMatch(dup.stderr, /would both write lfw\.bin/);
    const bin = await readBin(join(tmp, "p", "lfw.bin"));
    assertEquals(bin.issame, [true, false]);
    const f = (k: string) => Deno.readFile(join(FACES, `${k}.jpg`));
    assertEquals(bin.images, [
      await f("Bill_Gates/Bill_Gates_0001"),
      await f("Bill_Gates/Bill_Gates_0002"),
      await f("Bill_Gates/Bill_Gates_0001"),
      await f("Andre_Agassi/Andre_Agassi_0003"),
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("pack's tar inputs: close() releases the one handle each tar's reads opened", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pack_tarfd_" });
  try {
    const tars: string[] = [];
    for (const [i, s] of (await walkImages(FACES)).slice(0, 3).entries()) {
      const data = await Deno.readFile(join(FACES, ...s));
      tars.push(join(tmp, `${i}.tar`));
      const bytes = [...encodeTarEntry({ name: s.join("/"), data }), new Uint8Array(1024)];
      await Deno.writeFile(tars[i], await toBytes(ReadableStream.from(bytes)));
    }
    const fds = async () => {
      let n = 0;
      for await (const _ of Deno.readDir("/proc/self/fd")) n++;
      return n;
    };
    const before = await fds();
    const inputs = await inputItems(tars);
    for (const it of inputs.items) await it.read();
    assertStrictEquals(await fds(), before + 3);
    await inputs.close();
    assertStrictEquals(await fds(), before);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("pack refuses an --out folder another live pack holds, naming it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pack_lock_" });
  try {
    const out = join(tmp, "p");
    await Deno.mkdir(out);
    // This test process stands for the other pack: alive, on this host.
    const info = { pid: Deno.pid, host: Deno.hostname(), started: new Date().toISOString() };
    await Deno.writeTextFile(join(out, ".pack.lock"), JSON.stringify(info) + "\n");
    const r = await pack(FACES, "--out", out);
    assertStrictEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, new RegExp(`Pack folder ".*" is in use by pid ${Deno.pid}`));
    assert(!(await Deno.stat(join(out, "train.rec")).catch(() => null)));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
