/**
 * `deno task decode` fails when nothing useful came out (docs/reliability.md): a pass-through
 * stream that errors at the end when no image was decoded, naming how many were unreadable.
 */
import type { ImageRecord } from "../../pipeline/records.ts";
import type { DecodeReport } from "../../pipeline/decode/decode_stream.ts";

/** Passes records through; errors at the end when `report.decoded` is still 0. */
export function nothingDecoded(report: DecodeReport): TransformStream<ImageRecord, ImageRecord> {
  return new TransformStream({
    flush() {
      if (report.decoded > 0) return;
      const { skipped } = report;
      if (skipped.length === 0) throw new Error("no records on stdin: nothing to decode");
      const first = skipped[0];
      throw new Error(
        `no image could be decoded: all ${skipped.length} were unreadable ` +
          `(first: ${first.source}: ${first.reason.split("\n")[0]})`,
      );
    },
  });
}
