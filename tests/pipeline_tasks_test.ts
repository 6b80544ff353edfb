import {
  assert,
  assertEquals,
  assertMatch,
  assertNotStrictEquals,
  assertStrictEquals,
} from "@std/assert";
import { runTask } from "./run_task.ts";

/** Runs `deno run -A tasks/<task>.ts args` with stdin bytes; returns code, stdout, stderr. */
const task = (name: string, args: string[], stdin?: Uint8Array) =>
  runTask(`tasks/${name}.ts`, args, stdin);

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("list | shuffle | decode --resize 112 produces a tar that tar(1) lists", async () => {
  const list = await task("list", ["fixtures/pipeline/images"]);
  assertStrictEquals(list.code, 0, list.stderr);
  assertStrictEquals(text(list.stdout).trim().split("\n").length, 9);
  const shuffled = await task("shuffle", ["--seed", "7"], list.stdout);
  assertStrictEquals(shuffled.code, 0, shuffled.stderr);
  assertNotStrictEquals(text(shuffled.stdout), text(list.stdout));
  const decoded = await task("decode", ["--resize", "112", "--workers", "1"], shuffled.stdout);
  assertStrictEquals(decoded.code, 0, decoded.stderr);
  assertMatch(decoded.stderr, /9 decoded, 0 skipped/);
  const tar = new Deno.Command("tar", { args: ["tvf", "-"], stdin: "piped", stdout: "piped" })
    .spawn();
  const w = tar.stdin.getWriter();
  await w.write(decoded.stdout);
  await w.close();
  const out = await tar.output();
  assertStrictEquals(out.code, 0);
  const lines = text(out.stdout).trim().split("\n");
  assertStrictEquals(lines.length, 18);
  assertStrictEquals(lines.filter((l) => / 37632 .*\.rgb$/.test(l)).length, 9);
  // Shuffled order survives decoding.
  const firstKey = JSON.parse(text(shuffled.stdout).split("\n")[0]).key;
  assert(lines[0].endsWith(`${firstKey}.rgb`));
});

Deno.test("decode --on-error skip lists bad files on stderr; fail exits non-zero naming the file", async () => {
  const list = await task("list", [
    "fixtures/pipeline",
    "--list",
    "fixtures/pipeline/clean_list_with_bad_files.txt",
  ]);
  assertStrictEquals(list.code, 0, list.stderr);
  const skip = await task("decode", ["--workers", "0"], list.stdout);
  assertStrictEquals(skip.code, 0, skip.stderr);
  assertMatch(skip.stderr, /3 decoded, 3 skipped/);
  assertMatch(skip.stderr, /odd\/missing: .*file not found/);
  const fail = await task("decode", ["--on-error", "fail", "--workers", "0"], list.stdout);
  assertStrictEquals(fail.code, 1);
  assertMatch(fail.stderr, /^decode: Cannot decode "fixtures\/pipeline\/odd\/truncated\.jpg"/);
});

Deno.test("a malformed input line is an error naming the line number", async () => {
  const bad = new TextEncoder().encode('{"key":"a","label":0}\nnot json\n');
  const r = await task("shuffle", [], bad);
  assertStrictEquals(r.code, 1);
  assertMatch(r.stderr, /Cannot read NDJSON line 2 of stdin/);
  const lst = await task("list", [
    "fixtures/pipeline/images",
    "--list",
    "fixtures/pipeline/clean_list_malformed.txt",
  ]);
  assertStrictEquals(lst.code, 1);
  assertMatch(lst.stderr, /list line 3 of/);
});

Deno.test("batch prints the wraparound composition and shuffle --buffer keeps every record", async () => {
  const list = await task("list", ["fixtures/pipeline/images"]);
  const b = await task("batch", ["--batch-size", "4", "--epochs", "2"], list.stdout);
  assertStrictEquals(b.code, 0, b.stderr);
  const rows = text(b.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assertStrictEquals(rows.length, 5); // ceil(2 * 9 / 4)
  const keys = text(list.stdout).trim().split("\n").map((l) => JSON.parse(l).key);
  assertEquals(rows[2].keys, [keys[8], keys[0], keys[1], keys[2]]);
  assertEquals(rows[2].sampleEpochs, [0, 1, 1, 1]);
  const s = await task("shuffle", ["--buffer", "3", "--seed", "2"], list.stdout);
  const got = text(s.stdout).trim().split("\n").map((l) => JSON.parse(l).key);
  assertEquals([...got].sort(), [...keys].sort());
});

Deno.test("list --rec writes RecordIO images as a WebDataset tar that decode reads", async () => {
  const rec = await task("list", ["--rec", "fixtures/pipeline/rec/train.rec"]);
  assertStrictEquals(rec.code, 0, rec.stderr);
  const dec = await task("decode", ["--workers", "0"], rec.stdout);
  assertStrictEquals(dec.code, 0, dec.stderr);
  assertMatch(dec.stderr, /4 decoded/);
});

Deno.test("every stage task answers --help", async () => {
  for (const name of ["list", "shuffle", "decode", "batch"]) {
    const r = await task(name, ["--help"]);
    assertStrictEquals(r.code, 0, name);
    assertMatch(text(r.stdout), /Usage: /);
  }
  const usage = await task("batch", []);
  assertStrictEquals(usage.code, 2);
  assertMatch(usage.stderr, /--batch-size is required/);
  const unknown = await task("shuffle", ["--bogus"]);
  assertStrictEquals(unknown.code, 2);
  assertStrictEquals(unknown.stderr.trim(), 'shuffle: Unknown option "--bogus" (see --help)');
  const flat = await task("list", ["fixtures/mtcnn/lfw"]);
  assertStrictEquals(flat.code, 1);
  assertMatch(flat.stderr, /No images under "fixtures\/mtcnn\/lfw"/);
});

Deno.test("list --rec --lazy writes NDJSON offsets that decode reads from the .rec", async () => {
  const lazy = await task("list", ["--rec", "fixtures/pipeline/rec/train.rec", "--lazy"]);
  assertStrictEquals(lazy.code, 0, lazy.stderr);
  const rows = text(lazy.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(rows.map((r) => r.label), [0, 0, 1, 1]);
  const dec = await task("decode", ["--workers", "0"], lazy.stdout);
  assertStrictEquals(dec.code, 0, dec.stderr);
  assertMatch(dec.stderr, /4 decoded, 0 skipped/);
});

Deno.test("decode --reduce-to 112 writes 250 px photos at the 1/2 DCT scale training decodes them at", async () => {
  const { openTurboFfi } = await import("../pipeline/decode/turbo_ffi.ts");
  const side = openTurboFfi() ? 125 : 250; // without TurboJPEG through FFI: whole, as training
  const list = await task("list", ["fixtures/pipeline/images"]);
  const decoded = await task("decode", ["--reduce-to", "112", "--workers", "0"], list.stdout);
  assertStrictEquals(decoded.code, 0, decoded.stderr);
  const { TarDecodeStream } = await import("../pipeline/formats/tar.ts");
  const entries = await Array.fromAsync(
    ReadableStream.from([decoded.stdout]).pipeThrough(new TarDecodeStream()),
  );
  const rgb = entries.filter((e) => e.name.endsWith(".rgb"));
  assertStrictEquals(rgb.length, 9);
  for (const e of rgb) assertStrictEquals(e.data.length, side * side * 3, e.name);
  const bad = await task("decode", ["--reduce-to", "0"], list.stdout);
  assertStrictEquals(bad.code, 2);
});

Deno.test("decode --resize 112 --dct-scale auto|off: OpenCV's reduced or full imread + INTER_AREA pixels", async () => {
  const { openTurboFfi } = await import("../pipeline/decode/turbo_ffi.ts");
  if (!openTurboFfi()) {
    if (Deno.env.get("CI")) throw new Error("CI: libturbojpeg.so.0 not available by FFI");
    return console.warn("skipped: libturbojpeg.so.0 not available by FFI");
  }
  const { TarDecodeStream } = await import("../pipeline/formats/tar.ts");
  const path = "fixtures/pipeline/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg";
  const list = new TextEncoder().encode(JSON.stringify({ key: "a", label: 0, path }) + "\n");
  for (const mode of ["auto", "off"]) {
    const args = ["--resize", "112", "--dct-scale", mode, "--workers", "0"];
    const out = await task("decode", args, list);
    assertStrictEquals(out.code, 0, out.stderr);
    const [rgb] = (await Array.fromAsync(
      ReadableStream.from([out.stdout]).pipeThrough(new TarDecodeStream()),
    )).filter((e) => e.name.endsWith(".rgb"));
    // scripts/make_decode_fixtures.py: IMREAD_REDUCED_COLOR_2 / IMREAD_COLOR, then INTER_AREA.
    const ref = await Deno.readFile(`fixtures/decode/lfw_a_${mode}_112.rgb`);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(rgb.data[i] - ref[i]));
    assertStrictEquals(worst, 0, `--dct-scale ${mode}`);
  }
  const bad = await task("decode", ["--dct-scale", "fast"], list);
  assertStrictEquals(bad.code, 2);
  assertMatch(bad.stderr, /dct-scale/);
});
