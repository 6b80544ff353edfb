/**
 * Archives written by GNU tar 1.34 (scripts/make_tar_fixtures.sh), not by arcstream: member names
 * over tar's 100-character field as GNU `././@LongLink` members (`--format=gnu`) and as pax
 * extended headers (`--format=pax`, one with a non-ASCII name). The tar reader must give exactly
 * the files GNU tar stored, `deno task decode`'s reader the same samples and pixels, and the
 * on-disk index (scanTar, used by align's resume and pack) the same names at the right offsets.
 */
import { assertEquals } from "@std/assert";
import { TarDecodeStream } from "../pipeline/formats/tar.ts";
import { scanTar } from "../pipeline/formats/tar_scan.ts";
import { readRecords } from "../pipeline/formats/wire.ts";
import { DecodeStream } from "../pipeline/decode/decode_stream.ts";
import { decodeImage } from "../pipeline/decode/decode_image.ts";
import type { ImageRecord } from "../pipeline/records.ts";

const FIX = new URL("../fixtures/gnu_tar/", import.meta.url).pathname;
const IMAGES = new URL("../fixtures/pipeline/images/Aaron_Peirsol/", import.meta.url).pathname;
const LONG = `identity_${
  "x".repeat(100)
}_long_folder_name/Aaron_Peirsol_0001_with_a_long_file_name`;
const UNICODE = `Zoë_Ångström_${"y".repeat(90)}/c`;
/** What the script put in: member key -> [source image, label]. */
const SAMPLES: [string, string, number][] = [
  [UNICODE, "Aaron_Peirsol_0003.jpg", 7],
  [LONG, "Aaron_Peirsol_0001.jpg", 3],
  ["short/b", "Aaron_Peirsol_0002.jpg", 5],
];

async function open(name: string): Promise<ReadableStream<Uint8Array>> {
  return (await Deno.open(FIX + name)).readable;
}

for (const format of ["gnu", "pax"]) {
  Deno.test(`the tar reader reads GNU tar's ${format} archive: long and non-ASCII names, exact bytes`, async () => {
    const entries = await Array.fromAsync(
      (await open(`${format}.tar`)).pipeThrough(new TarDecodeStream()),
    );
    assertEquals(
      entries.map((e) => e.name),
      SAMPLES.flatMap(([key]) => [`${key}.jpg`, `${key}.json`]),
    );
    for (const [i, [key, image, label]] of SAMPLES.entries()) {
      assertEquals(entries[2 * i].data, await Deno.readFile(IMAGES + image));
      const json = JSON.parse(new TextDecoder().decode(entries[2 * i + 1].data));
      assertEquals(json, { key, label });
    }
  });

  Deno.test(`scanTar indexes GNU tar's ${format} archive: long names, data at end - padded size`, async () => {
    const entries = await scanTar(FIX + `${format}.tar`);
    assertEquals(
      entries.map((e) => e.name),
      SAMPLES.flatMap(([key]) => [`${key}.jpg`, `${key}.json`]),
    );
    const tar = await Deno.readFile(FIX + `${format}.tar`);
    for (const [i, [, image]] of SAMPLES.entries()) {
      const { end, size } = entries[2 * i];
      const start = end - Math.ceil(size / 512) * 512;
      assertEquals(tar.subarray(start, start + size), await Deno.readFile(IMAGES + image));
    }
  });

  Deno.test(`the decoder decodes the samples of GNU tar's ${format} archive like the files`, async () => {
    const { format: detected, records } = await readRecords(await open(`${format}.tar`));
    assertEquals(detected, "tar");
    const decoded = await Array.fromAsync(
      records.pipeThrough(new DecodeStream({ workers: 0, onError: "fail" })),
    ) as ImageRecord[];
    assertEquals(decoded.map((r) => [r.key, r.label]), SAMPLES.map(([k, , l]) => [k, l]));
    for (const [i, [, image]] of SAMPLES.entries()) {
      const ref = await decodeImage(IMAGES + image);
      assertEquals([decoded[i].height, decoded[i].width], [ref.height, ref.width]);
      assertEquals(decoded[i].pixels, ref.pixels);
    }
  });
}
