/** Loads the PyTorch parity fixtures written by fixtures/torch/make_parity.py (tests only). */
import { fromFileUrl } from "@std/path";
import type { TorchStateDict } from "../model/io/torch_checkpoint.ts";

export const TORCH_FIXTURES = fromFileUrl(new URL("../fixtures/torch/", import.meta.url));

export interface StepExpectation {
  file: string;
  loss: number;
  tensors: { key: string; shape: number[]; offset: number }[];
  head_weight: number[][];
}

export interface ParityManifest {
  widths: number[];
  embedding: number;
  classes: number;
  faces_shape: number[];
  labels: number[];
  lr: number;
  momentum: number;
  wd: number;
  s: number;
  m: number;
  embeddings_eval: number[][];
  head_weight: number[][];
  steps: Record<"seed" | "all", StepExpectation>;
}

export async function readManifest(): Promise<ParityManifest> {
  return JSON.parse(await Deno.readTextFile(`${TORCH_FIXTURES}parity.json`));
}

/** The fixture faces, [4, 112, 112, 3] uint8 RGB. */
export async function readFaces(): Promise<Uint8Array> {
  return await Deno.readFile(`${TORCH_FIXTURES}faces_u8.bin`);
}

/** The state dict PyTorch had after one step in `mode` (the "all" file holds only what differs). */
export async function expectedStepState(
  m: ParityManifest,
  mode: "seed" | "all",
): Promise<TorchStateDict> {
  const out: TorchStateDict = new Map();
  for (const which of mode === "all" ? ["seed", "all"] as const : ["seed"] as const) {
    const step = m.steps[which];
    const bytes = await Deno.readFile(`${TORCH_FIXTURES}${step.file}`);
    const f32 = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    for (const t of step.tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const data = f32.slice(t.offset / 4, t.offset / 4 + n);
      out.set(t.key, { shape: t.shape, dtype: "float32", data });
    }
  }
  return out;
}
