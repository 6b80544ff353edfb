/**
 * The server's one rule for paths from requests: a relative path of plain names that stays inside
 * the served folder after symlinks are followed. `..`, `.`, empty segments, backslashes, NUL and
 * absolute paths are refused before touching the disk (`%2e%2e` arrives decoded, so it is a `..`);
 * what is left is resolved with `realPath` and must still lie under the folder's real path, so a
 * symlink pointing out is refused too.
 */
import { join, sep as SEPARATOR } from "node:path";

/** A path that must not be served (HTTP 403). */
export class RefusedPathError extends Error {
  override name = "RefusedPathError";
}

/** A path that does not exist under the folder (HTTP 404). */
export class MissingPathError extends Error {
  override name = "MissingPathError";
}

/** Splits a decoded request path into its names, refusing anything that could leave the folder. */
export function checkRelativePath(rel: string): string[] {
  if (rel.startsWith("/") || /^[a-zA-Z]:/.test(rel)) {
    throw new RefusedPathError(`Refused absolute path "${rel}"`);
  }
  if (rel.includes("\0") || rel.includes("\\")) throw new RefusedPathError(`Refused path "${rel}"`);
  const names = rel.split("/");
  for (const n of names) {
    if (n === ".." || n === "." || n === "") {
      throw new RefusedPathError(`Refused path "${rel}": "${n || "//"}" is not a plain name`);
    }
  }
  return names;
}

/**
 * The real path of `rel` under `rootReal` (the folder's own real path), or an error: refused
 * (outside the folder, also through a symlink) or missing.
 */
export async function resolveInside(rootReal: string, rel: string): Promise<string> {
  const names = checkRelativePath(rel);
  let real: string;
  try {
    real = await Deno.realPath(join(rootReal, ...names));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      throw new MissingPathError(`Not found: "${rel}"`);
    }
    throw e;
  }
  if (real !== rootReal && !real.startsWith(rootReal + SEPARATOR)) {
    throw new RefusedPathError(`Refused "${rel}": it leads outside the served folder`);
  }
  return real;
}
