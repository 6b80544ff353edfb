/**
 * A failed tar stream is detectable by its reader (docs/reliability.md): the writer leaves out the
 * end-of-archive marker and appends `__error__.json`; arcstream's reader rejects both.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { ERROR_MEMBER, TarDecodeStream, TarEncodeStream } from "../pipeline/formats/tar.ts";
import { readRecords, recordsToTar } from "../pipeline/formats/wire.ts";
import type { ListRecord } from "../pipeline/records.ts";
import { runTask } from "./run_task.ts";

const task = (name: string) => new URL(`../tasks/${name}.ts`, import.meta.url).pathname;
const ODD = new URL("../fixtures/pipeline/odd/", import.meta.url).pathname;
const enc = new TextEncoder();

async function bytesOf(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const reader = s.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
    }
  } catch { /* the stream errors after its last bytes: keep what came */ }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** Records that yield `n` samples and then fail. */
function failingAfter(n: number): ReadableStream<ListRecord> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < n) c.enqueue({ key: `a/${i++}`, label: 0, bytes: new Uint8Array([0xff, 0xd8, 1]) });
      else c.error(new Error('Cannot decode "a/bad.jpg": corrupt'));
    },
  });
}

Deno.test("TarDecodeStream rejects a tar that ends without the end-of-archive marker", async () => {
  const whole = await bytesOf(
    ReadableStream.from([{ name: "a/1.json", data: enc.encode("{}") }])
      .pipeThrough(new TarEncodeStream()),
  );
  assertEquals(whole.length, 512 * 4); // header + data block + 2 zero blocks
  const cut = whole.slice(0, 1024); // whole entries, no marker: what `tar` and tarfile accept
  await assertRejects(
    () => Array.fromAsync(ReadableStream.from([cut]).pipeThrough(new TarDecodeStream("stdin"))),
    SyntaxError,
    "Truncated tar stream: stdin ends at byte 1024 without the end-of-archive marker",
  );
  const back = await Array.fromAsync(
    ReadableStream.from([whole]).pipeThrough(new TarDecodeStream()),
  );
  assertEquals(back.map((e) => e.name), ["a/1.json"]);
});

Deno.test("recordsToTar() on a failing stream writes __error__.json and no end marker, then errors", async () => {
  const out = recordsToTar(failingAfter(2), "decode");
  const reader = out.getReader();
  const parts: Uint8Array[] = [];
  const err = await (async () => {
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return null;
        parts.push(r.value);
      }
    } catch (e) {
      return e as Error;
    }
  })();
  assert(err, "the byte stream must error too (the task exits 1)");
  assertMatch(err.message, /corrupt/);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) bytes.set(p, o), o += p.length;
  // The last member is the error, and no zero blocks follow it.
  const names: string[] = [];
  for (let at = 0; at + 512 <= bytes.length;) {
    const h = bytes.subarray(at, at + 512);
    assert(!h.every((b) => b === 0), `zero block at ${at}`);
    const name = new TextDecoder().decode(h.subarray(0, 100)).replace(/\0.*$/s, "");
    const size = parseInt(new TextDecoder().decode(h.subarray(124, 135)), 8);
    names.push(name);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  assertEquals(names, ["a/0.jpg", "a/0.json", "a/1.jpg", "a/1.json", ERROR_MEMBER]);
  // arcstream's reader stops at the error member with its message, naming the source.
  const { records } = await readRecords(ReadableStream.from([bytes]), "stdin");
  await assertRejects(
    () => Array.fromAsync(records),
    Error,
    'The stage that wrote stdin failed: Cannot decode "a/bad.jpg": corrupt',
  );
});

Deno.test("decode --on-error fail | shuffle: the tar has no end marker, and shuffle fails naming stdin", async () => {
  const lines = [`${ODD}gray.jpg`, `${ODD}corrupt.jpg`]
    .map((p, i) => JSON.stringify({ key: `k/${i}`, label: 0, path: p })).join("\n");
  const d = await runTask(
    task("decode"),
    ["--on-error", "fail", "--concurrency", "1"],
    enc.encode(lines),
  );
  assertEquals(d.code, 1);
  assertMatch(d.stderr, /corrupt\.jpg/);
  const tar = d.stdout;
  assert(tar.length >= 1024 && tar.length % 512 === 0, `tar of ${tar.length} bytes`);
  assert(!tar.subarray(tar.length - 1024).every((b) => b === 0), "end-of-archive marker written");
  const errorHeader = tar.subarray(tar.length - 1024, tar.length - 512);
  assertEquals(
    new TextDecoder().decode(errorHeader.subarray(0, ERROR_MEMBER.length)),
    ERROR_MEMBER,
  );
  const s = await runTask(task("shuffle"), [], tar);
  assertEquals(s.code, 1);
  assertMatch(s.stderr, /^shuffle: The stage that wrote stdin failed: .*corrupt\.jpg/);
  // With the error member cut off (a killed writer), the missing marker alone fails the reader.
  const s2 = await runTask(task("shuffle"), [], tar.slice(0, tar.length - 1024));
  assertEquals(s2.code, 1);
  assertMatch(
    s2.stderr,
    /Truncated tar stream: stdin ends at byte \d+ without the end-of-archive marker/,
  );
});

Deno.test("align - (tar on stdout) that fails ends with __error__.json and no end marker", async () => {
  const dir = await Deno.makeTempDir({ prefix: "align_fail_" });
  try {
    await Deno.mkdir(`${dir}/in/B`, { recursive: true });
    await Deno.copyFile(`${ODD}corrupt.jpg`, `${dir}/in/B/corrupt.jpg`);
    const r = await runTask(task("align"), [
      `${dir}/in`,
      "-",
      "--on-decode-error",
      "fail",
      "--quiet",
    ]);
    assertEquals(r.code, 1);
    assertMatch(r.stderr, /corrupt\.jpg/);
    const tar = r.stdout;
    assert(tar.length >= 1024 && tar.length % 512 === 0, `tar of ${tar.length} bytes`);
    const last = tar.subarray(tar.length - 1024, tar.length - 512);
    assertEquals(new TextDecoder().decode(last.subarray(0, ERROR_MEMBER.length)), ERROR_MEMBER);
    const s = await runTask(task("shuffle"), [], tar);
    assertEquals(s.code, 1);
    assertMatch(s.stderr, /The stage that wrote stdin failed: .*corrupt\.jpg/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
