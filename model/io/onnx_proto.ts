/**
 * A small protobuf writer for the few ONNX messages an exported backbone needs (field numbers from
 * onnx/onnx.proto, IR version 8): ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto
 * (float32 / int64 as raw little-endian bytes), ValueInfoProto with a tensor type, and
 * OperatorSetIdProto. Writing is all this needs; reading an ONNX file is left to onnxruntime or
 * `onnx` in Python.
 *
 * Messages are built as lists of byte chunks with a known total length, so a 170 MB weight tensor is
 * copied once, into the final buffer.
 *
 * ```ts
 * import { encodeModel, type OnnxGraph } from "./onnx_proto.ts";
 *
 * const graph: OnnxGraph = { name: "empty", nodes: [], inputs: [], outputs: [], initializers: [] };
 * const bytes = encodeModel({ graph, opset: 13, producerName: "arcstream" });
 * ```
 */

/** A message being written: byte chunks and their total length. */
class Msg {
  readonly parts: Uint8Array[] = [];
  length = 0;

  #push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  #varint(value: number | bigint): void {
    // int64 fields: negative values are 10-byte two's complement, as protobuf writes them.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.#push(new Uint8Array(out));
  }

  #tag(field: number, wireType: number): void {
    this.#varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): this {
    this.#tag(field, 0);
    this.#varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.#tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(value.length);
    this.#push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Msg): this {
    this.#tag(field, 2);
    this.#varint(value.length);
    for (const p of value.parts) this.#push(p);
    return this;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** ONNX TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

/** An initializer: float32 or int64 data with its dims. */
export interface OnnxTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

/** An attribute value: number -> INT (integers) unless `float`, number[] -> INTS, string -> STRING. */
export type OnnxAttribute =
  | number
  | readonly number[]
  | string
  | { float: number };

export interface OnnxNode {
  opType: string;
  /** Node name; insightface reads the first names (e.g. "Sub", "Mul") to guess the input scaling. */
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

/** A graph input or output: float32 with dims (a string is a symbolic dim such as "N"). */
export interface OnnxValueInfo {
  name: string;
  dims: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** Default-domain opset version. */
  opset: number;
  producerName: string;
  producerVersion?: string;
  docString?: string;
  /** ModelProto.metadata_props (key/value strings). */
  metadata?: Readonly<Record<string, string>>;
}

/** IR version 8 (ONNX 1.10-1.12); onnxruntime 1.2x reads IR 3-10. */
export const ONNX_IR_VERSION = 8;

function tensorMsg(t: OnnxTensor): Msg {
  const m = new Msg();
  for (const d of t.dims) m.int(1, d);
  m.int(2, t.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  m.string(8, t.name);
  // raw_data is little-endian; every platform Deno runs on is little-endian.
  m.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return m;
}

function attributeMsg(name: string, value: OnnxAttribute): Msg {
  const m = new Msg().string(1, name);
  if (typeof value === "string") return m.int(20, 3).bytes(4, new TextEncoder().encode(value));
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw new TypeError(`ONNX attribute "${name}": ${value} is not an integer (use {float})`);
    }
    return m.int(20, 2).int(3, value);
  }
  if ("float" in value) return m.int(20, 1).float(2, value.float);
  m.int(20, 7);
  for (const v of value) m.int(8, v);
  return m;
}

function nodeMsg(n: OnnxNode): Msg {
  const m = new Msg();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name).string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) m.message(5, attributeMsg(k, v));
  return m;
}

function valueInfoMsg(v: OnnxValueInfo): Msg {
  const shape = new Msg();
  for (const d of v.dims) {
    shape.message(1, typeof d === "string" ? new Msg().string(2, d) : new Msg().int(1, d));
  }
  const tensorType = new Msg().int(1, ONNX_FLOAT).message(2, shape);
  return new Msg().string(1, v.name).message(2, new Msg().message(1, tensorType));
}

/** Encodes a ModelProto (ir_version 8, one default-domain opset). */
export function encodeModel(model: OnnxModel): Uint8Array {
  const g = new Msg();
  for (const n of model.graph.nodes) g.message(1, nodeMsg(n));
  g.string(2, model.graph.name);
  for (const t of model.graph.initializers) g.message(5, tensorMsg(t));
  for (const v of model.graph.inputs) g.message(11, valueInfoMsg(v));
  for (const v of model.graph.outputs) g.message(12, valueInfoMsg(v));
  const m = new Msg().int(1, ONNX_IR_VERSION);
  m.string(2, model.producerName);
  if (model.producerVersion) m.string(3, model.producerVersion);
  if (model.docString) m.string(6, model.docString);
  m.message(7, g);
  m.message(8, new Msg().string(1, "").int(2, model.opset));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    m.message(14, new Msg().string(1, key).string(2, value));
  }
  return m.toBytes();
}
