/**
 * Object opcodes on top of `pickle_reader.ts`, for pickles that hold dicts, class references and
 * persistent ids, such as PyTorch's `data.pkl`: EMPTY_DICT, SETITEM(S), GLOBAL, REDUCE, NEWOBJ,
 * BUILD, BINPERSID, LONG1 and BINFLOAT. Like Python's `Unpickler`, the caller decides what a
 * GLOBAL means (`findClass`) and what a persistent id loads (`persistentLoad`); nothing is ever
 * executed, and a class the caller does not know is an error naming it.
 */
import { type PickleVM, readPickle } from "./pickle_reader.ts";

/** A callable produced by `findClass`: REDUCE and NEWOBJ call it with the pickled arguments. */
export type PyCallable = (args: unknown[]) => unknown;

/** A Python object that BUILD may give a state (e.g. an argparse Namespace in a checkpoint). */
export class PyObject {
  state: unknown = undefined;
  constructor(readonly className: string, readonly args: unknown[]) {}
}

export interface UnpicklerHooks {
  /** What `module.name` is, or an error naming it (never import anything). */
  findClass(module: string, name: string): PyCallable;
  /** The object a persistent id (BINPERSID) stands for. */
  persistentLoad(pid: unknown): unknown;
  /** Names the kind of file in error messages, e.g. "PyTorch checkpoints". */
  kind: string;
}

/** Marks a callable pushed by GLOBAL so that REDUCE can tell it from a data value. */
const CALLABLE = Symbol("pickle callable");
type Tagged = PyCallable & { [CALLABLE]: string };

/** Unpickles `bytes` with object support; dicts come back as `Map`s, tuples/lists as arrays. */
export function readPickleObjects(bytes: Uint8Array, name: string, hooks: UnpicklerHooks): unknown {
  const extend = (op: number, vm: PickleVM): boolean => {
    switch (op) {
      case 0x7d: // EMPTY_DICT
        vm.stack.push(new Map());
        return true;
      case 0x73: { // SETITEM
        const v = vm.pop();
        const k = vm.pop();
        dictTop(vm).set(k, v);
        return true;
      }
      case 0x75: { // SETITEMS
        const items = vm.popMark();
        const d = dictTop(vm);
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        return true;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line(vm);
        const cls = line(vm);
        const fn = hooks.findClass(module, cls) as Tagged;
        fn[CALLABLE] = `${module}.${cls}`;
        vm.stack.push(fn);
        return true;
      }
      case 0x52: // REDUCE
      case 0x81: { // NEWOBJ
        const args = vm.pop();
        const fn = vm.pop();
        if (typeof fn !== "function" || !(CALLABLE in fn)) {
          throw vm.fail(`${op === 0x52 ? "REDUCE" : "NEWOBJ"} of something that is not a class`);
        }
        if (!Array.isArray(args)) throw vm.fail("REDUCE arguments are not a tuple");
        vm.stack.push((fn as Tagged)(args));
        return true;
      }
      case 0x62: { // BUILD: obj.__setstate__(state); an OrderedDict's _metadata is dropped
        const state = vm.pop();
        const obj = vm.top();
        if (obj instanceof PyObject) obj.state = state;
        return true;
      }
      case 0x51: // BINPERSID
        vm.stack.push(hooks.persistentLoad(vm.pop()));
        return true;
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const b = vm.take(vm.u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        vm.stack.push(Number(v));
        return true;
      }
      case 0x47: { // BINFLOAT: big-endian float64
        const b = vm.take(8);
        vm.stack.push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false));
        return true;
      }
      default:
        return false;
    }
  };
  return readPickle(bytes, name, { extend, kind: hooks.kind });
}

function dictTop(vm: PickleVM): Map<unknown, unknown> {
  const d = vm.top();
  if (!(d instanceof Map)) throw vm.fail("SETITEM(S) onto something that is not a dict");
  return d;
}

/** One newline-terminated ASCII line (GLOBAL's operands). */
function line(vm: PickleVM): string {
  const out: number[] = [];
  for (;;) {
    const c = vm.u8();
    if (c === 0x0a) return String.fromCharCode(...out);
    out.push(c);
    if (out.length > 1000) throw vm.fail("GLOBAL name longer than 1000 bytes");
  }
}
