/**
 * Every task exits non-zero when nothing useful came out and names what it could not use
 * (docs/reliability.md).
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { runTask } from "./run_task.ts";

const task = (name: string) => new URL(`../tasks/${name}.ts`, import.meta.url).pathname;
const ODD = new URL("../fixtures/pipeline/odd/", import.meta.url).pathname;
const enc = new TextEncoder();
const ndjson = (...paths: string[]) =>
  enc.encode(paths.map((p, i) => JSON.stringify({ key: `k/${i}`, label: 0, path: p })).join("\n"));

Deno.test("decode exits 1 when every input is unreadable, and names the first one", async () => {
  const r = await runTask(task("decode"), [], ndjson(`${ODD}corrupt.jpg`, "/nonexistent/a.jpg"));
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /no image could be decoded: all 2 were unreadable \(first: .*corrupt\.jpg/);
});

Deno.test("decode, shuffle and align exit 1 on empty input", async () => {
  const empty = new Uint8Array(0);
  const d = await runTask(task("decode"), [], empty);
  assertEquals(d.code, 1);
  assertMatch(d.stderr, /no records on stdin/);
  const s = await runTask(task("shuffle"), [], empty);
  assertEquals(s.code, 1);
  assertMatch(s.stderr, /no records on stdin/);
  const dir = await Deno.makeTempDir({ prefix: "exit_codes_" });
  try {
    const a = await runTask(task("align"), [dir, `${dir}/out`, "--quiet"]);
    assertEquals(a.code, 1);
    assertMatch(a.stderr, new RegExp(`no images in "${dir}"`));
    const l = await runTask(task("list"), [dir]);
    assert(l.code !== 0, "list errors on the same input");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval-lfw --data /nonexistent names the path it could not use", async () => {
  const pairs = new URL("../fixtures/eval/lfw_mini_pairs.txt", import.meta.url).pathname;
  const model = new URL("../fixtures/eval/tiny_graph.json", import.meta.url).pathname;
  const r = await runTask(task("eval_lfw"), [
    "--data",
    "/nonexistent/lfw",
    "--pairs",
    pairs,
    "--model",
    model,
    "--normalize",
    "raw",
  ]);
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /Cannot use --data "\/nonexistent\/lfw": No such file or directory/);
  assert(!/Fold 0/.test(r.stderr), r.stderr);
});

Deno.test("--batch-size -1 is a range error naming the flag, not 'argument is ambiguous'", async () => {
  const b = await runTask(task("batch"), ["--batch-size", "-1"], ndjson(`${ODD}gray.jpg`));
  assertEquals(b.code, 2);
  assertMatch(b.stderr, /--batch-size must be an integer >= 1, got "?-1"?/);
  const e = await runTask(task("eval_lfw"), ["--batch-size", "-1"]);
  assert(e.code !== 0);
  assertMatch(e.stderr, /--batch-size must be an integer >= 1, got "?-1"?/);
  const t = await runTask(task("train"), ["--batch-size", "-1"]);
  assert(t.code !== 0);
  assertMatch(t.stderr, /--batch-size must be an integer >= 1, got "?-1"?/);
  assert(!/ambiguous/.test(b.stderr + e.stderr + t.stderr));
});

Deno.test("a binary file given as a list is refused by name without echoing its bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "exit_codes_" });
  try {
    // Bytes that are neither text nor a list: NUL, escape sequences, invalid UTF-8.
    const junk = new Uint8Array(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 151 + 7) % 256;
    const file = `${dir}/weights.bin`;
    await Deno.writeFile(file, junk);
    // train gets an --out under the temp folder: its default, runs/<preset>-<time>/, would be made
    // (and left empty) in the working tree before the list is read.
    const cases = [["list", [dir, "--list", file]], ["train", [
      "--data",
      file,
      "--out",
      `${dir}/run`,
    ]]];
    for (const [name, args] of cases) {
      const r = await runTask(task(name as string), args as string[]);
      assert(r.code !== 0, `${name} exit code`);
      assertMatch(
        r.stderr,
        new RegExp(`"${file}" is not a clean list, an image folder or a \\.rec`),
      );
      assert(!r.stderr.includes("\u001b["), `${name} echoed an escape sequence`);
      assert(!r.stderr.includes("\ufffd"), `${name} echoed invalid UTF-8`);
      assert(!r.stderr.includes("\0"), `${name} echoed a NUL`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a malformed list line is echoed escaped and cut short", async () => {
  const { parseCleanList } = await import("../pipeline/list/list_reader.ts");
  const line = "\u001b[31mred" + "x".repeat(200);
  try {
    parseCleanList(`${line}\n`, "/", "l.txt");
    assert(false, "no error");
  } catch (e) {
    const msg = (e as Error).message;
    assertMatch(
      msg,
      /^Cannot read list line 1 of "l\.txt": expected "path label", got "\\u001b\[31mredx+\.\.\."$/,
    );
    assert(msg.length < 200, msg);
  }
});
