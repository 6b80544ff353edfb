/** Whether a path exists (file, folder or other): the one check tasks share. */

/**
 * True when `path` can be stat'ed; false when it cannot (missing, or not reachable).
 * @example
 * ```ts
 * import { exists } from "./path_exists.ts";
 *
 * if (!(await exists("runs/x/run.json"))) console.log("a fresh run");
 * ```
 */
export function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}
