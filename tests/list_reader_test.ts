import {
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  ListReaderStream,
  parseCleanList,
  readCleanList,
  readImageFolder,
} from "../pipeline/list/list_reader.ts";

const ROOT = "fixtures/pipeline/images";

Deno.test("readImageFolder() sorts identities and gives dense labels", async () => {
  const { records, classes } = await readImageFolder(ROOT);
  assertEquals(classes, ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody"]);
  assertStrictEquals(records.length, 9);
  assertEquals(records.map((r) => r.label), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
  assertStrictEquals(records[4].key, "Abdullah_Gul/Abdullah_Gul_0002");
  assertStrictEquals(records[4].path, `${ROOT}/Abdullah_Gul/Abdullah_Gul_0002.jpg`);
});

Deno.test("readImageFolder() skips empty folders so labels stay dense", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const d of ["a", "b_empty", "c"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeFile(`${dir}/a/1.jpg`, new Uint8Array(1));
    await Deno.writeFile(`${dir}/c/1.PNG`, new Uint8Array(1));
    await Deno.writeFile(`${dir}/c/notes.txt`, new Uint8Array(1));
    const { records, classes } = await readImageFolder(dir);
    assertEquals(classes, ["a", "c"]);
    assertEquals(records.map((r) => [r.key, r.label]), [["a/1", 0], ["c/1", 1]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assertRejects(() => readImageFolder("fixtures/pipeline/nope"), Error, "nope");
});

Deno.test("readCleanList() keeps integer labels", async () => {
  const { records, classes } = await readCleanList("fixtures/pipeline/clean_list_int.txt", ROOT);
  assertEquals(classes, []);
  assertEquals(records.map((r) => r.label), [0, 0, 0, 10, 10, 10, 20, 20, 20]);
  assertStrictEquals(records[0].path, `${ROOT}/Aaron_Peirsol/Aaron_Peirsol_0001.jpg`);
});

Deno.test("readCleanList() maps name labels to dense integers in sorted name order", async () => {
  const { records, classes } = await readCleanList("fixtures/pipeline/clean_list_names.txt", ROOT);
  assertEquals(classes, ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody"]);
  for (const r of records) assertStrictEquals(classes[r.label], r.key.split("/")[0]);
  assertStrictEquals(records[0].key, "Adrien_Brody/Adrien_Brody_0003", "list order is kept");
});

Deno.test("readCleanList() names the file and line of a malformed entry", async () => {
  await assertRejects(
    () => readCleanList("fixtures/pipeline/clean_list_malformed.txt", ROOT),
    Error,
    'Cannot read list line 3 of "fixtures/pipeline/clean_list_malformed.txt": expected "path label"',
  );
  assertMatch(
    (assertThrows(() => parseCleanList("a.jpg 1\nb.jpg bob\n", ".")) as Error).message,
    /line 2 .*mix integers/,
  );
  assertMatch(
    (assertThrows(() => parseCleanList("a.jpg 1\na.jpg 2\n", ".")) as Error).message,
    /line 2 .*duplicate/,
  );
  assertMatch(
    (assertThrows(() => parseCleanList("a.jpg -1\n", ".")) as Error).message,
    /line 1 .*>= 0/,
  );
  await assertRejects(() => readCleanList("fixtures/pipeline/none.txt", ROOT), Error, "none.txt");
});

Deno.test("parseCleanList() allows spaces in paths, comments and blank lines", () => {
  const { records } = parseCleanList("# header\n\nmy dir/a b.jpg 3\r\n", "/r");
  assertEquals(records, [{ key: "my dir/a b", label: 3, path: "/r/my dir/a b.jpg" }]);
});

Deno.test("ListReaderStream() streams folder, list and RecordIO sources", async () => {
  const folder = new ListReaderStream({ root: ROOT });
  assertStrictEquals((await Array.fromAsync(folder)).length, 9);
  assertStrictEquals(folder.classes.length, 3);
  const rec = await Array.fromAsync(
    new ListReaderStream({ root: ".", rec: "fixtures/pipeline/rec/train.rec" }),
  );
  assertEquals(rec.map((r) => [r.key, r.label, r.bytes!.length > 1000]), [
    ["1", 0, true],
    ["2", 0, true],
    ["3", 1, true],
    ["4", 1, true],
  ]);
});
