/**
 * Reads (and, for tests and tools, writes) insightface verification `.bin` files: a Python pickle
 * of `(list of JPEG bytes, list of bool)`, e.g. `lfw.bin`, `cfp_fp.bin`, `agedb_30.bin`.
 *
 * Only the opcodes such files use are understood; anything else is a `SyntaxError` naming the
 * opcode and its byte offset. Python 2 bins store the JPEGs as `str` (SHORT_BINSTRING/BINSTRING),
 * Python 3 bins as `bytes` (SHORT_BINBYTES/BINBYTES/BINBYTES8, protocol 3-4 with FRAME/MEMOIZE),
 * and Python 3 at protocol 2 as `_codecs.encode(unicode, "latin1")` (GLOBAL + REDUCE), which is
 * also accepted. JPEG payloads are returned as views into the file's bytes (no copy).
 */

/** A decoded pickle value (tuples come back as arrays). */
export type PickleValue = Uint8Array | string | boolean | number | null | PickleValue[];

// The two callables Python 3 uses to pickle bytes at protocol 2: _codecs.encode(str, "latin1"),
// and __builtin__.bytes() for an empty bytes.
const CODECS_ENCODE = Symbol("_codecs.encode");
const BUILTIN_BYTES = Symbol("__builtin__.bytes");
type Item = PickleValue | typeof CODECS_ENCODE | typeof BUILTIN_BYTES;

const OPS: Record<number, string> = {
  0x80: "PROTO",
  0x95: "FRAME",
  0x5d: "EMPTY_LIST",
  0x29: "EMPTY_TUPLE",
  0x28: "MARK",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8e: "BINBYTES8",
  0x58: "BINUNICODE",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x61: "APPEND",
  0x65: "APPENDS",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x4e: "NONE",
  0x4b: "BININT1",
  0x4d: "BININT2",
  0x4a: "BININT",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x74: "TUPLE",
  0x94: "MEMOIZE",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x68: "BINGET",
  0x6a: "LONG_BINGET",
  0x63: "GLOBAL",
  0x52: "REDUCE",
  0x2e: "STOP",
}; // deno-fmt-ignore

/**
 * The VM's state as seen by an opcode extension (`PickleOptions.extend`, used by
 * `pickle_objects.ts` for PyTorch checkpoints): items are opaque to the core reader.
 */
export interface PickleVM {
  stack: unknown[];
  memo: Map<number, unknown>;
  u8(): number;
  u32(): number;
  take(n: number): Uint8Array;
  pop(): unknown;
  popMark(): unknown[];
  top(): unknown;
  fail(why: string): SyntaxError;
}

export interface PickleOptions {
  /**
   * Handles opcode `op` (its argument bytes not yet read) and returns true, or returns false to
   * leave it to the core reader. Default: none (only the opcodes .bin files use).
   */
  extend?: (op: number, vm: PickleVM) => boolean;
  /** Names the kind of file in "not one that ... use" errors. Default: "insightface .bin files". */
  kind?: string;
}

/** Unpickles `bytes`; `name` is used in error messages. */
export function readPickle(
  bytes: Uint8Array,
  name = "<bytes>",
  options: PickleOptions = {},
): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: Item[] = [];
  const marks: number[] = [];
  const memo = new Map<number, Item>();
  let p = 0;
  let at = 0;
  const fail = (why: string) =>
    new SyntaxError(`Cannot read pickle "${name}" at byte ${at}: ${why}`);
  const need = (n: number) => {
    if (p + n > bytes.length) throw fail(`truncated (needs ${n} more bytes)`);
  };
  const u8 = () => (need(1), bytes[p++]);
  const u16 = () => (need(2), p += 2, view.getUint16(p - 2, true));
  const u32 = () => (need(4), p += 4, view.getUint32(p - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw fail("length too large");
    return Number(v);
  };
  const take = (n: number) => (need(n), p += n, bytes.subarray(p - n, p));
  const utf8 = (b: Uint8Array) => new TextDecoder("utf-8", { fatal: true }).decode(b);
  const pop = () => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      throw fail("stack underflow");
    }
    return stack.pop()!;
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) throw fail("no MARK on the stack");
    return stack.splice(m);
  };
  const top = () => {
    if (stack.length === 0) throw fail("stack underflow");
    return stack[stack.length - 1];
  };
  const listTop = (): PickleValue[] => {
    const l = top();
    if (!Array.isArray(l)) throw fail("APPEND(S) onto something that is not a list");
    return l;
  };
  const value = (v: Item): PickleValue => {
    if (typeof v === "symbol") throw fail(`a bare ${v.description} is not a value`);
    return v;
  };
  const latin1 = (s: string) => {
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 255) throw fail("_codecs.encode(..., 'latin1') of a non-latin1 character");
      out[i] = c;
    }
    return out;
  };
  const vm: PickleVM = {
    stack: stack as unknown[],
    memo: memo as Map<number, unknown>,
    u8,
    u32,
    take,
    pop,
    popMark,
    top,
    fail,
  };
  for (;;) {
    at = p;
    const op = u8();
    if (options.extend?.(op, vm)) continue;
    switch (OPS[op]) {
      case "PROTO": {
        const v = u8();
        if (v > 5) throw fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case "FRAME":
        u64();
        break;
      case "EMPTY_LIST":
      case "EMPTY_TUPLE":
        stack.push([]);
        break;
      case "MARK":
        marks.push(stack.length);
        break;
      case "BINSTRING": {
        const n = view.getInt32((need(4), p), true);
        p += 4;
        if (n < 0) throw fail("negative BINSTRING length");
        stack.push(take(n));
        break;
      }
      case "SHORT_BINSTRING":
      case "SHORT_BINBYTES":
        stack.push(take(u8()));
        break;
      case "BINBYTES":
        stack.push(take(u32()));
        break;
      case "BINBYTES8":
        stack.push(take(u64()));
        break;
      case "BINUNICODE":
        stack.push(utf8(take(u32())));
        break;
      case "SHORT_BINUNICODE":
        stack.push(utf8(take(u8())));
        break;
      case "BINUNICODE8":
        stack.push(utf8(take(u64())));
        break;
      case "APPEND": {
        const v = value(pop());
        listTop().push(v);
        break;
      }
      case "APPENDS": {
        const items = popMark().map(value);
        const l = listTop();
        for (const v of items) l.push(v);
        break;
      }
      case "NEWTRUE":
        stack.push(true);
        break;
      case "NEWFALSE":
        stack.push(false);
        break;
      case "NONE":
        stack.push(null);
        break;
      case "BININT1":
        stack.push(u8());
        break;
      case "BININT2":
        stack.push(u16());
        break;
      case "BININT":
        need(4);
        stack.push(view.getInt32(p, true));
        p += 4;
        break;
      case "TUPLE1":
      case "TUPLE2":
      case "TUPLE3": {
        const n = op - 0x84;
        const items: PickleValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(value(pop()));
        stack.push(items);
        break;
      }
      case "TUPLE":
        stack.push(popMark().map(value));
        break;
      case "MEMOIZE":
        memo.set(memo.size, top());
        break;
      case "BINPUT":
        memo.set(u8(), top());
        break;
      case "LONG_BINPUT":
        memo.set(u32(), top());
        break;
      case "BINGET":
      case "LONG_BINGET": {
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k)!);
        break;
      }
      case "GLOBAL": {
        const nl1 = bytes.indexOf(0x0a, p);
        const nl2 = nl1 < 0 ? -1 : bytes.indexOf(0x0a, nl1 + 1);
        if (nl2 < 0) throw fail("truncated GLOBAL");
        const dec = new TextDecoder();
        const g = `${dec.decode(bytes.subarray(p, nl1))}.${
          dec.decode(bytes.subarray(nl1 + 1, nl2))
        }`;
        p = nl2 + 1;
        if (g === "_codecs.encode") stack.push(CODECS_ENCODE);
        else if (g === "__builtin__.bytes") stack.push(BUILTIN_BYTES);
        else throw fail(`GLOBAL ${g} is not supported (only _codecs.encode, for bytes)`);
        break;
      }
      case "REDUCE": {
        const args = pop();
        const fn = pop();
        if (fn === BUILTIN_BYTES && Array.isArray(args) && args.length === 0) {
          stack.push(new Uint8Array(0));
          break;
        }
        if (
          fn !== CODECS_ENCODE || !Array.isArray(args) || args.length !== 2 ||
          typeof args[0] !== "string" || args[1] !== "latin1"
        ) {
          throw fail("REDUCE is only supported as _codecs.encode(str, 'latin1') or bytes()");
        }
        stack.push(latin1(args[0]));
        break;
      }
      case "STOP": {
        if (marks.length) throw fail("STOP with an open MARK");
        if (stack.length !== 1) throw fail(`STOP with ${stack.length} items on the stack`);
        return value(stack[0]);
      }
      default:
        throw fail(
          `opcode 0x${op.toString(16).padStart(2, "0")} (${
            JSON.stringify(String.fromCharCode(op))
          }) is not one that ${options.kind ?? "insightface .bin files"} use`,
        );
    }
  }
}

/** An insightface verification set: images 2i and 2i+1 form pair i. */
export interface VerificationBin {
  /** Encoded images (JPEG/PNG bytes), 2 per pair. */
  images: Uint8Array[];
  issame: boolean[];
}

/** Parses a `.bin` file's bytes, checking the `(list of bytes, list of bool)` layout. */
export function parseBin(bytes: Uint8Array, name = "<bytes>"): VerificationBin {
  const v = readPickle(bytes, name);
  const bad = (why: string) =>
    new SyntaxError(`Cannot read "${name}" as an insightface .bin: ${why}`);
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1])) {
    throw bad("expected a pickled (list of images, list of bools)");
  }
  const [imgs, same] = v as [PickleValue[], PickleValue[]];
  const bi = imgs.findIndex((x) => !(x instanceof Uint8Array));
  if (bi >= 0) throw bad(`image ${bi} is not bytes`);
  const si = same.findIndex((x) => typeof x !== "boolean");
  if (si >= 0) throw bad(`issame ${si} is not a bool`);
  if (imgs.length !== 2 * same.length) {
    throw bad(`${imgs.length} images for ${same.length} pairs (expected ${2 * same.length})`);
  }
  return { images: imgs as Uint8Array[], issame: same as boolean[] };
}

/** Reads a `.bin` verification set from a file. */
export async function readBin(path: string): Promise<VerificationBin> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
  }
  return parseBin(bytes, path);
}
