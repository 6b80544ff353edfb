/**
 * Reads a PyTorch checkpoint (`torch.save`, zip format, the default since torch 1.6) into a map of
 * float32 tensors, without Python: the archive's `<name>/data.pkl` is unpickled by arcstream's own
 * pickle VM (`pipeline/formats/pickle_objects.ts`), each `torch._utils._rebuild_tensor_v2` is
 * rebuilt from the raw little-endian storage `<name>/data/<key>` with its offset and strides.
 *
 * Accepted layouts: a plain state_dict (`collections.OrderedDict` of tensors), a dict holding one
 * under `state_dict` / `state_dict_backbone` (arcface_torch's training checkpoints) / `model`, and
 * keys with DistributedDataParallel's `module.` prefix. Legacy (pre-1.6) files and TorchScript
 * archives are recognised and refused with a message saying what they are.
 */
import { PyObject, readPickleObjects } from "../../pipeline/formats/pickle_objects.ts";
import { isZip, ZipReader } from "../../pipeline/formats/zip_reader.ts";

export type TorchDtype =
  | "float32"
  | "float16"
  | "bfloat16"
  | "float64"
  | "int64"
  | "int32"
  | "uint8"
  | "int8"
  | "int16"
  | "bool";

/** One tensor of a state dict, converted to float32 (C order, `shape` as in PyTorch). */
export interface TorchTensor {
  shape: number[];
  /** The storage's dtype in the file. */
  dtype: TorchDtype;
  data: Float32Array;
}

/** A state dict: parameter name -> tensor, in file order. */
export type TorchStateDict = Map<string, TorchTensor>;

const STORAGE_DTYPES: Record<string, [TorchDtype, number]> = {
  FloatStorage: ["float32", 4],
  HalfStorage: ["float16", 2],
  BFloat16Storage: ["bfloat16", 2],
  DoubleStorage: ["float64", 8],
  LongStorage: ["int64", 8],
  IntStorage: ["int32", 4],
  ShortStorage: ["int16", 2],
  CharStorage: ["int8", 1],
  ByteStorage: ["uint8", 1],
  BoolStorage: ["bool", 1],
};

/** Where a state dict may sit inside a checkpoint dict, in order of preference. */
const STATE_DICT_KEYS = ["state_dict", "state_dict_backbone", "model", "backbone"];

interface Storage {
  dtype: TorchDtype;
  values: Float32Array;
}

/**
 * Reads a `.pth` / `.pt` file.
 * @example
 * ```ts
 * import { readTorchCheckpoint } from "../mod.ts";
 *
 * const stateDict = await readTorchCheckpoint("fixtures/torch/iresnet_tiny.pth");
 * for (const [name, t] of stateDict) console.log(name, t.shape);
 * ```
 */
export async function readTorchCheckpoint(path: string): Promise<TorchStateDict> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
  }
  return parseTorchCheckpoint(bytes, path);
}

/** Parses the bytes of a torch.save file into its state dict. */
export function parseTorchCheckpoint(bytes: Uint8Array, name = "<bytes>"): TorchStateDict {
  const fail = (why: string) => new SyntaxError(`Cannot read PyTorch checkpoint "${name}": ${why}`);
  if (!isZip(bytes)) throw fail(describeNonZip(bytes));
  const zip = new ZipReader(bytes, name);
  const pkl = [...zip.entries.keys()].find((k) => /^[^/]+\/data\.pkl$/.test(k));
  const names = [...zip.entries.keys()];
  const prefix = pkl ? pkl.slice(0, -"/data.pkl".length) : names[0]?.split("/")[0] ?? "";
  if (
    zip.entries.has(`${prefix}/constants.pkl`) || names.some((k) => k.startsWith(`${prefix}/code/`))
  ) {
    throw fail(
      "it is a TorchScript archive (torch.jit.save: constants.pkl, code/), not a state dict; " +
        "in Python, save `torch.jit.load(f).state_dict()` with torch.save",
    );
  }
  if (!pkl) throw fail("a zip without <name>/data.pkl (not written by torch.save)");
  const storages = new Map<string, Storage>();
  const root = readPickleObjects(zip.data(pkl), `${name}:${pkl}`, {
    kind: "PyTorch checkpoints",
    findClass: (module, cls) => findClass(module, cls, fail),
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
        throw fail(`unknown persistent id ${JSON.stringify(pid)}`);
      }
      const [, type, key, , numel] = pid as [string, { storage?: string }, string, string, number];
      const cached = storages.get(key);
      if (cached) return cached;
      const spec = STORAGE_DTYPES[type?.storage ?? ""];
      if (!spec) throw fail(`storage ${key} has an unsupported type`);
      const raw = zip.data(`${prefix}/data/${key}`);
      if (raw.length < numel * spec[1]) {
        throw fail(`storage ${key} holds ${raw.length} bytes, ${numel} x ${spec[0]} needs more`);
      }
      const s = { dtype: spec[0], values: decodeStorage(raw, spec[0], numel) };
      storages.set(key, s);
      return s;
    },
  });
  return findStateDict(root, fail);
}

/** What a file that is not a torch zip is, in words. */
function describeNonZip(bytes: Uint8Array): string {
  const ascii = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  if (bytes.length > 262 && ascii(257, 262) === "ustar") {
    return "it is a tar archive: the legacy PyTorch tar format (torch < 0.4); load and re-save " +
      "it with torch >= 1.6 (torch.save(torch.load(f), g))";
  }
  if (bytes[0] === 0x80 && bytes[2] === 0x8a && bytes[3] === 0x0a) {
    return "it is a legacy (non-zip) PyTorch file (torch < 1.6 or " +
      "_use_new_zipfile_serialization=False); re-save it with torch >= 1.6";
  }
  return "not a zip archive (PyTorch checkpoints are zips since torch 1.6)";
}

type Fail = (why: string) => SyntaxError;

function findClass(module: string, cls: string, fail: Fail): (args: unknown[]) => unknown {
  const full = `${module}.${cls}`;
  if (full === "collections.OrderedDict") return () => new Map();
  if (full === "torch._utils._rebuild_tensor_v2") return (a) => rebuildTensor(a, fail);
  if (full === "torch._utils._rebuild_parameter") return (a) => a[0];
  if (module === "torch" && cls in STORAGE_DTYPES) {
    // Used only as a value inside persistent ids; calling it is never needed.
    return Object.assign(() => {
      throw fail(`${full} called`);
    }, { storage: cls });
  }
  // Anything else (argparse.Namespace, numpy scalars in a training checkpoint) stays an opaque
  // object: nothing is executed, and only tensors are read from it.
  return (args) => new PyObject(full, args);
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks, ...)`. */
function rebuildTensor(args: unknown[], fail: Fail): TorchTensor {
  const [storage, offset, size, stride] = args as [Storage, number, number[], number[]];
  if (!storage?.values || !Array.isArray(size) || !Array.isArray(stride)) {
    throw fail("_rebuild_tensor_v2 with unexpected arguments");
  }
  const numel = size.reduce((a, b) => a * b, 1);
  const contiguous = size.every((_, i) =>
    size[i] === 1 || stride[i] === size.slice(i + 1).reduce((a, b) => a * b, 1)
  );
  if (contiguous) {
    if (offset + numel > storage.values.length) throw fail("a tensor runs past its storage");
    // A tensor that is its whole storage (every parameter of a state dict) needs no copy.
    if (offset === 0 && numel === storage.values.length) {
      return { shape: [...size], dtype: storage.dtype, data: storage.values };
    }
    return {
      shape: [...size],
      dtype: storage.dtype,
      data: storage.values.slice(offset, offset + numel),
    };
  }
  // Strided (e.g. a transposed view): gather element by element.
  const out = new Float32Array(numel);
  const idx = new Array(size.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let src = offset;
    for (let d = 0; d < size.length; d++) src += idx[d] * stride[d];
    if (src >= storage.values.length) throw fail("a strided tensor runs past its storage");
    out[i] = storage.values[src];
    for (let d = size.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: [...size], dtype: storage.dtype, data: out };
}

function decodeStorage(raw: Uint8Array, dtype: TorchDtype, n: number): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case "float32":
      if (raw.byteOffset % 4 === 0) out.set(new Float32Array(raw.buffer, raw.byteOffset, n));
      else for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case "float64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case "float16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case "bfloat16": {
      const f = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        f.setUint32(0, view.getUint16(2 * i, true) << 16);
        out[i] = f.getFloat32(0);
      }
      break;
    }
    case "int64":
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case "int32":
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case "int16":
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case "int8":
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    default: // uint8, bool
      for (let i = 0; i < n; i++) out[i] = raw[i];
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function isTensor(v: unknown): v is TorchTensor {
  return typeof v === "object" && v !== null && "data" in v && (v as TorchTensor).data instanceof
      Float32Array;
}

/** The state dict inside whatever was saved; strips DDP's `module.` prefix. */
function findStateDict(root: unknown, fail: Fail): TorchStateDict {
  let dict: unknown = root;
  if (dict instanceof Map && ![...dict.values()].some(isTensor)) {
    const key = STATE_DICT_KEYS.find((k) => (dict as Map<unknown, unknown>).get(k) instanceof Map);
    if (!key) {
      const keys = [...dict.keys()].map(String).slice(0, 8).join(", ");
      throw fail(`no tensors, and no ${STATE_DICT_KEYS.join("/")} entry (keys: ${keys})`);
    }
    dict = dict.get(key);
  }
  if (!(dict instanceof Map)) throw fail("the pickle holds no dict of tensors");
  const out: TorchStateDict = new Map();
  const entries = [...dict.entries()] as [unknown, unknown][];
  const ddp = entries.length > 0 && entries.every(([k]) => String(k).startsWith("module."));
  for (const [k, v] of entries) {
    const key = ddp ? String(k).slice("module.".length) : String(k);
    if (!isTensor(v)) throw fail(`state dict entry "${key}" is not a tensor`);
    out.set(key, v);
  }
  return out;
}
