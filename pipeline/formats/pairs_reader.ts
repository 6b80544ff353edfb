/**
 * LFW verification pair lists.
 *
 * - Official `pairs.txt`: first line `F N` (10 300): F folds, each N same-person lines
 *   `name n1 n2` followed by N different-person lines `name1 n1 name2 n2`.
 * - `pairsDevTrain.txt` / `pairsDevTest.txt` style: first line `N`, then N same and N different
 *   lines (no folds; the protocol then falls back to 10 contiguous KFold splits of the file order).
 *
 * Image `n` of `name` is `name/name_%04d.jpg`; its record key is that path without extension.
 */
import { quoteLine } from "../list/list_text.ts";
import { join } from "node:path";

/** One pair, in file order. */
export interface Pair {
  /** Key of the first image, e.g. "Abel_Pacheco/Abel_Pacheco_0001". */
  a: string;
  /** Key of the second image. */
  b: string;
  issame: boolean;
  /** 1-based line number in the pairs file (for error messages). */
  line: number;
}

/** A parsed pairs file. */
export interface PairList {
  pairs: Pair[];
  /** Pairs per fold in file order (sums to pairs.length), or null when the file has no folds. */
  foldSizes: number[] | null;
  /** Unique image keys in first-use order (each image is embedded once). */
  images: string[];
}

/** The record key of image `n` of `name`. */
export function lfwKey(name: string, n: number): string {
  return `${name}/${name}_${String(n).padStart(4, "0")}`;
}

/** The file of an image key under an LFW folder (`.jpg` unless `ext` says otherwise). */
export function lfwPath(dataDir: string, key: string, ext = ".jpg"): string {
  return join(dataDir, key + ext);
}

/** The two image keys of a pair line: "name n1 n2" (same person) or "name1 n1 name2 n2". */
function pairKeys(line: string, issame: boolean, bad: (why: string) => Error): [string, string] {
  const t = line.split(/\s+/);
  const num = (s: string) => {
    if (!/^\d+$/.test(s)) throw bad(`"${s}" is not an image number`);
    return Number(s);
  };
  if (issame) {
    if (t.length !== 3) {
      throw bad(`expected a same-person pair "name n1 n2", got ${quoteLine(line)}`);
    }
    return [lfwKey(t[0], num(t[1])), lfwKey(t[0], num(t[2]))];
  }
  if (t.length !== 4) {
    throw bad(`expected a different-person pair "name1 n1 name2 n2", got ${quoteLine(line)}`);
  }
  return [lfwKey(t[0], num(t[1])), lfwKey(t[2], num(t[3]))];
}

/**
 * Parses pairs text; `name` is used in error messages.
 * @example
 * ```ts
 * import { parsePairs } from "../mod.ts";
 *
 * const list = parsePairs("1 1\nAdrien_Brody 1 2\nAbdullah_Gul 1 Aaron_Peirsol 1\n");
 * console.log(list.pairs.map((p) => [p.a, p.b, p.issame]));
 * ```
 */
export function parsePairs(text: string, name = "pairs.txt"): PairList {
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first].trim() === "") first++;
  const head = (lines[first] ?? "").trim().split(/\s+/);
  const bad = (ln: number, why: string) =>
    new SyntaxError(`Cannot read pairs line ${ln} of "${name}": ${why}`);
  const isCount = (s: string) => /^\d+$/.test(s) && Number(s) > 0;
  let folds: number;
  let perFold: number;
  if (head.length === 2 && head.every(isCount)) {
    [folds, perFold] = head.map(Number);
  } else if (head.length === 1 && isCount(head[0])) {
    folds = 1;
    perFold = Number(head[0]);
  } else {
    throw bad(
      first + 1,
      `expected a header "folds count" or "count", got ${quoteLine(lines[first] ?? "")}`,
    );
  }
  const pairs: Pair[] = [];
  const seen = new Set<string>();
  const images: string[] = [];
  const use = (k: string) => {
    if (!seen.has(k)) {
      seen.add(k);
      images.push(k);
    }
  };
  let ln = first + 1;
  for (let f = 0; f < folds; f++) {
    for (const issame of [true, false]) {
      for (let i = 0; i < perFold; i++) {
        while (ln < lines.length && lines[ln].trim() === "") ln++;
        if (ln >= lines.length) {
          throw bad(
            ln + 1,
            `file ends after ${pairs.length} pairs; the header promises ${folds * perFold * 2}`,
          );
        }
        const lineNo = ln + 1;
        const [a, b] = pairKeys(lines[ln].trim(), issame, (why) => bad(lineNo, why));
        use(a);
        use(b);
        pairs.push({ a, b, issame, line: lineNo });
        ln++;
      }
    }
  }
  while (ln < lines.length && lines[ln].trim() === "") ln++;
  if (ln < lines.length) {
    throw bad(ln + 1, `unexpected extra line after the ${pairs.length} pairs the header promises`);
  }
  return {
    pairs,
    foldSizes: folds > 1 ? Array.from({ length: folds }, () => 2 * perFold) : null,
    images,
  };
}

/**
 * Reads and parses a pairs file.
 * @example
 * ```ts
 * import { readPairs } from "../mod.ts";
 *
 * const list = await readPairs("fixtures/lfw_faces/heldout/pairs.txt");
 * console.log(list.pairs.length, list.foldSizes);
 * ```
 */
export async function readPairs(path: string): Promise<PairList> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot read pairs file "${path}": ${(e as Error).message}`);
  }
  return parsePairs(text, path);
}
