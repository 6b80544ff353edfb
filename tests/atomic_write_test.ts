import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { join } from "node:path";
import { writeFileAtomic, writeStreamAtomic } from "../pipeline/atomic_write.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("writeFileAtomic() replaces the file's content and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "report.json");
    await writeFileAtomic(path, "first\n");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assertEquals(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    assertEquals(await names(dir), ["report.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() creates missing folders only when asked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a", "b", "face.json");
    await assertRejects(() => writeFileAtomic(path, "{}"), Error, path);
    await writeFileAtomic(path, "{}", { mkdir: true });
    assertStrictEquals(await Deno.readTextFile(path), "{}");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() keeps the old file and removes its temp file when the rename fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A folder in the way: writing the temp file works, renaming it over a non-empty folder fails.
    const path = join(dir, "out");
    await Deno.mkdir(join(path, "inside"), { recursive: true });
    const e = await assertRejects(() => writeFileAtomic(path, "data"), Error);
    assert(e.message.startsWith(`Cannot write "${path}"`), e.message);
    assertEquals(await names(dir), ["out"]);
    assertEquals(await names(path), ["inside"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() rejects an empty path up front", async () => {
  await assertRejects(() => writeFileAtomic("", "x"), TypeError);
});

Deno.test("writeStreamAtomic() writes text and byte chunks in order and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "index.tsv");
    await Deno.writeTextFile(path, "old\n");
    await writeStreamAtomic(path, ["1\ta\n", "2\tb\n"]);
    assertStrictEquals(await Deno.readTextFile(path), "1\ta\n2\tb\n");
    const bytes = async function* () {
      yield new Uint8Array([104, 105]);
      yield new Uint8Array([10]);
    };
    await writeStreamAtomic(path, bytes());
    assertStrictEquals(await Deno.readTextFile(path), "hi\n");
    assertEquals(await names(dir), ["index.tsv"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeStreamAtomic() keeps the old file and removes its temp file when a chunk fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "index.tsv");
    await Deno.writeTextFile(path, "old\n");
    const failing = function* () {
      yield "1\ta\n";
      throw new Error("source broke");
    };
    const e = await assertRejects(() => writeStreamAtomic(path, failing()), Error);
    assert(e.message.includes("source broke") && e.message.includes(path), e.message);
    assertStrictEquals(await Deno.readTextFile(path), "old\n");
    assertEquals(await names(dir), ["index.tsv"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
