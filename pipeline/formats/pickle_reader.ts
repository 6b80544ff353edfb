/**
 * A minimal Python pickle reader, for insightface verification `.bin` files (a pickle of
 * `(list of JPEG bytes, list of bool)`, read by `insightface_bin.ts`) and, through
 * `pickle_objects.ts`, PyTorch checkpoints.
 *
 * Only the opcodes such files use are understood; anything else is a `SyntaxError` naming the
 * opcode and its byte offset. Python 2 bins store the JPEGs as `str` (SHORT_BINSTRING/BINSTRING),
 * Python 3 bins as `bytes` (SHORT_BINBYTES/BINBYTES/BINBYTES8, protocol 3-4 with FRAME/MEMOIZE),
 * and Python 3 at protocol 2 as `_codecs.encode(unicode, "latin1")` (GLOBAL + REDUCE), which is
 * also accepted. JPEG payloads are returned as views into the file's bytes (no copy).
 */
import { PickleBytes } from "./pickle_bytes.ts";
import { PICKLE_OPCODES } from "./pickle_opcodes.ts";

/** A decoded pickle value (tuples come back as arrays). */
export type PickleValue = Uint8Array | string | boolean | number | null | PickleValue[];

// The two callables Python 3 uses to pickle bytes at protocol 2: _codecs.encode(str, "latin1"),
// and __builtin__.bytes() for an empty bytes.
const CODECS_ENCODE = Symbol("_codecs.encode");
const BUILTIN_BYTES = Symbol("__builtin__.bytes");
type Item = PickleValue | typeof CODECS_ENCODE | typeof BUILTIN_BYTES;

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
   * leave it to the core reader.
   * @default none (only the opcodes .bin files use)
   */
  extend?: (op: number, vm: PickleVM) => boolean;
  /**
   * Names the kind of file in "not one that ... use" errors.
   * @default "insightface .bin files"
   */
  kind?: string;
}

/** Unpickles `bytes`; `name` is used in error messages. */
export function readPickle(
  bytes: Uint8Array,
  name = "<bytes>",
  options: PickleOptions = {},
): PickleValue {
  return new Unpickler(bytes, name, options).run();
}

/** The pickle machine: a stack, marks and a memo, driven by one opcode at a time. */
class Unpickler {
  readonly #in: PickleBytes;
  readonly #stack: Item[] = [];
  readonly #marks: number[] = [];
  readonly #memo = new Map<number, Item>();
  readonly #options: PickleOptions;
  readonly #vm: PickleVM;

  constructor(bytes: Uint8Array, name: string, options: PickleOptions) {
    this.#options = options;
    this.#vm = {
      stack: this.#stack as unknown[],
      memo: this.#memo as Map<number, unknown>,
      u8: () => this.#in.u8(),
      u32: () => this.#in.u32(),
      take: (n) => this.#in.take(n),
      pop: () => this.#pop(),
      popMark: () => this.#popMark(),
      top: () => this.#top(),
      fail: (why) => this.#in.fail(why),
    };
    this.#in = new PickleBytes(bytes, name);
  }

  run(): PickleValue {
    for (;;) {
      this.#in.at = this.#in.p;
      const op = this.#in.u8();
      if (this.#options.extend?.(op, this.#vm)) continue;
      const name = PICKLE_OPCODES[op];
      if (name === "STOP") {
        if (this.#marks.length) throw this.#in.fail("STOP with an open MARK");
        if (this.#stack.length !== 1) {
          throw this.#in.fail(`STOP with ${this.#stack.length} items on the stack`);
        }
        return this.#value(this.#stack[0]);
      }
      if (!this.#data(name) && !this.#build(name, op) && !this.#call(name)) {
        throw this.#in.fail(
          `opcode 0x${op.toString(16).padStart(2, "0")} (${
            JSON.stringify(String.fromCharCode(op))
          }) is not one that ${this.#options.kind ?? "insightface .bin files"} use`,
        );
      }
    }
  }

  /** Opcodes that push a constant, a number or a string; false for any other. */
  #data(name: string | undefined): boolean {
    const stack = this.#stack;
    switch (name) {
      case "PROTO": {
        const v = this.#in.u8();
        if (v > 5) throw this.#in.fail(`unsupported pickle protocol ${v}`);
        return true;
      }
      case "FRAME":
        this.#in.u64();
        return true;
      case "BINSTRING": {
        const n = this.#in.i32();
        if (n < 0) throw this.#in.fail("negative BINSTRING length");
        stack.push(this.#in.take(n));
        return true;
      }
      case "SHORT_BINSTRING":
      case "SHORT_BINBYTES":
        stack.push(this.#in.take(this.#in.u8()));
        return true;
      case "BINBYTES":
        stack.push(this.#in.take(this.#in.u32()));
        return true;
      case "BINBYTES8":
        stack.push(this.#in.take(this.#in.u64()));
        return true;
      case "BINUNICODE":
        stack.push(utf8(this.#in.take(this.#in.u32())));
        return true;
      case "SHORT_BINUNICODE":
        stack.push(utf8(this.#in.take(this.#in.u8())));
        return true;
      case "BINUNICODE8":
        stack.push(utf8(this.#in.take(this.#in.u64())));
        return true;
      case "NEWTRUE":
      case "NEWFALSE":
      case "NONE":
        stack.push(name === "NONE" ? null : name === "NEWTRUE");
        return true;
      case "BININT1":
        stack.push(this.#in.u8());
        return true;
      case "BININT2":
        stack.push(this.#in.u16());
        return true;
      case "BININT":
        stack.push(this.#in.i32());
        return true;
    }
    return false;
  }

  /** Opcodes that build lists and tuples or use the memo; false for any other. */
  #build(name: string | undefined, op: number): boolean {
    const stack = this.#stack;
    switch (name) {
      case "EMPTY_LIST":
      case "EMPTY_TUPLE":
        stack.push([]);
        return true;
      case "MARK":
        this.#marks.push(stack.length);
        return true;
      case "APPEND": {
        const v = this.#value(this.#pop());
        this.#listTop().push(v);
        return true;
      }
      case "APPENDS": {
        const items = this.#popMark().map((v) => this.#value(v));
        const l = this.#listTop();
        for (const v of items) l.push(v);
        return true;
      }
      case "TUPLE1":
      case "TUPLE2":
      case "TUPLE3": {
        const n = op - 0x84;
        const items: PickleValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.#value(this.#pop()));
        stack.push(items);
        return true;
      }
      case "TUPLE":
        stack.push(this.#popMark().map((v) => this.#value(v)));
        return true;
      case "MEMOIZE":
        this.#memo.set(this.#memo.size, this.#top());
        return true;
      case "BINPUT":
        this.#memo.set(this.#in.u8(), this.#top());
        return true;
      case "LONG_BINPUT":
        this.#memo.set(this.#in.u32(), this.#top());
        return true;
      case "BINGET":
      case "LONG_BINGET": {
        const k = op === 0x68 ? this.#in.u8() : this.#in.u32();
        if (!this.#memo.has(k)) throw this.#in.fail(`memo key ${k} was never stored`);
        stack.push(this.#memo.get(k)!);
        return true;
      }
    }
    return false;
  }

  /** GLOBAL and REDUCE, only as Python 3 pickles bytes at protocol 2; false for any other. */
  #call(name: string | undefined): boolean {
    const bytes = this.#in.bytes;
    if (name === "GLOBAL") {
      const p = this.#in.p;
      const nl1 = bytes.indexOf(0x0a, p);
      const nl2 = nl1 < 0 ? -1 : bytes.indexOf(0x0a, nl1 + 1);
      if (nl2 < 0) throw this.#in.fail("truncated GLOBAL");
      const dec = new TextDecoder();
      const g = `${dec.decode(bytes.subarray(p, nl1))}.${dec.decode(bytes.subarray(nl1 + 1, nl2))}`;
      this.#in.p = nl2 + 1;
      if (g === "_codecs.encode") this.#stack.push(CODECS_ENCODE);
      else if (g === "__builtin__.bytes") this.#stack.push(BUILTIN_BYTES);
      else throw this.#in.fail(`GLOBAL ${g} is not supported (only _codecs.encode, for bytes)`);
      return true;
    }
    if (name === "REDUCE") {
      const args = this.#pop();
      const fn = this.#pop();
      if (fn === BUILTIN_BYTES && Array.isArray(args) && args.length === 0) {
        this.#stack.push(new Uint8Array(0));
        return true;
      }
      if (
        fn !== CODECS_ENCODE || !Array.isArray(args) || args.length !== 2 ||
        typeof args[0] !== "string" || args[1] !== "latin1"
      ) {
        throw this.#in.fail("REDUCE is only supported as _codecs.encode(str, 'latin1') or bytes()");
      }
      this.#stack.push(this.#latin1(args[0]));
      return true;
    }
    return false;
  }

  #pop(): Item {
    const stack = this.#stack, marks = this.#marks;
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      throw this.#in.fail("stack underflow");
    }
    return stack.pop()!;
  }

  #popMark(): Item[] {
    const m = this.#marks.pop();
    if (m === undefined) throw this.#in.fail("no MARK on the stack");
    return this.#stack.splice(m);
  }

  #top(): Item {
    if (this.#stack.length === 0) throw this.#in.fail("stack underflow");
    return this.#stack[this.#stack.length - 1];
  }

  #listTop(): PickleValue[] {
    const l = this.#top();
    if (!Array.isArray(l)) throw this.#in.fail("APPEND(S) onto something that is not a list");
    return l;
  }

  #value(v: Item): PickleValue {
    if (typeof v === "symbol") throw this.#in.fail(`a bare ${v.description} is not a value`);
    return v;
  }

  #latin1(s: string): Uint8Array {
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 255) throw this.#in.fail("_codecs.encode(..., 'latin1') of a non-latin1 character");
      out[i] = c;
    }
    return out;
  }
}

function utf8(b: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(b);
}
