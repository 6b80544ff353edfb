/**
 * The JSON side of a wire record (an NDJSON line, or a WebDataset sample's `<key>.json`): what a
 * record writes there and the checks every reader applies to what it parses back.
 */
import type { AnyRecord, ImageRecord } from "../records.ts";

/** The JSON side of a record: everything but bytes and pixels. */
export function recordMeta(r: AnyRecord): Record<string, unknown> {
  const { bytes: _b, pixels: _p, ...meta } = r as ImageRecord;
  if ("pixels" in r) (meta as Record<string, unknown>).channels = 3;
  return meta;
}

/**
 * Checks a parsed JSON object (an NDJSON line, a WebDataset `.json` member) as a record: `key` a
 * non-empty string, `label` an integer, `path` (if any) a string; errors start with `where`.
 */
export function checkRecord(o: unknown, where: string): AnyRecord {
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new SyntaxError(`${where}: expected a JSON object`);
  }
  const r = o as Record<string, unknown>;
  if (typeof r.key !== "string" || r.key === "") {
    throw new SyntaxError(`${where}: "key" must be a non-empty string`);
  }
  if (typeof r.label !== "number" || !Number.isInteger(r.label)) {
    throw new SyntaxError(`${where}: "label" must be an integer`);
  }
  if (r.path !== undefined && typeof r.path !== "string") {
    throw new SyntaxError(`${where}: "path" must be a string`);
  }
  return r as unknown as AnyRecord;
}
