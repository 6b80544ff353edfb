/**
 * Writes a state dict in PyTorch's `torch.save` zip format (the inverse of `torch_checkpoint.ts`)
 * without Python: `<prefix>/data.pkl` (pickle protocol 2: an OrderedDict of
 * `torch._utils._rebuild_tensor_v2(persistent storage, 0, size, stride, False, OrderedDict())`),
 * `<prefix>/data/<i>` raw little-endian float32, `<prefix>/version`. Used by the import benchmark
 * and tests to build arcface_torch-shaped checkpoints of any size.
 */
import { encodeZip } from "../../pipeline/formats/zip_writer.ts";
import type { TorchStateDict } from "./torch_checkpoint.ts";

export interface TorchSaveOptions {
  /** Archive folder name. Default: "archive" (torch uses the file's stem). */
  prefix?: string;
  /** Save `{[wrap]: state_dict, epoch: 1}` instead of the bare state dict. Default: none. */
  wrap?: string;
  /** Prefix every key with DDP's "module.". Default: false. */
  ddp?: boolean;
}

/** The bytes of a `.pth` holding `sd` (float32 storages, one per tensor, C-contiguous). */
export function encodeTorchCheckpoint(
  sd: TorchStateDict,
  options: TorchSaveOptions = {},
): Uint8Array {
  const prefix = options.prefix ?? "archive";
  const p = new PickleBytes();
  p.op(0x80, 2); // PROTO 2
  if (options.wrap) {
    p.op(0x7d, 0x28); // EMPTY_DICT, MARK
    p.str("epoch");
    p.int(1);
    p.str(options.wrap);
  }
  p.global("collections", "OrderedDict").op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  p.op(0x28); // MARK
  const storages: [string, Uint8Array][] = [];
  let i = 0;
  for (const [key, t] of sd) {
    p.str(options.ddp ? `module.${key}` : key);
    p.global("torch._utils", "_rebuild_tensor_v2").op(0x28); // MARK (args)
    // persistent id ("storage", torch.FloatStorage, "<i>", "cpu", numel)
    p.op(0x28).str("storage").global("torch", "FloatStorage").str(String(i)).str("cpu");
    p.int(t.data.length).op(0x74, 0x51); // TUPLE, BINPERSID
    p.int(0); // storage offset
    p.tuple(t.shape);
    p.tuple(t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1)));
    p.op(0x89); // NEWFALSE (requires_grad)
    p.global("collections", "OrderedDict").op(0x29, 0x52); // backward hooks
    p.op(0x74, 0x52); // TUPLE, REDUCE
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    storages.push([`${prefix}/data/${i++}`, bytes]);
  }
  p.op(0x75); // SETITEMS
  if (options.wrap) p.op(0x75); // SETITEMS of the outer dict
  p.op(0x2e); // STOP
  return encodeZip([
    [`${prefix}/data.pkl`, p.bytes()],
    ...storages,
    [`${prefix}/version`, new TextEncoder().encode("3\n")],
  ]);
}

class PickleBytes {
  private parts: number[] = [];
  op(...b: number[]): this {
    this.parts.push(...b);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.op(
      0x58,
      b.length & 0xff,
      (b.length >> 8) & 0xff,
      (b.length >> 16) & 0xff,
      b.length >>> 24,
    );
    for (const x of b) this.parts.push(x);
    return this;
  }
  int(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`int ${n}`);
    return this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
  }
  tuple(xs: number[]): this {
    this.op(0x28);
    for (const x of xs) this.int(x);
    return this.op(0x74);
  }
  global(module: string, name: string): this {
    this.op(0x63);
    for (const c of `${module}\n${name}\n`) this.parts.push(c.charCodeAt(0));
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
