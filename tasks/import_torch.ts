/**
 * `deno task import-torch FILE.pth [--out DIR]`: converts an insightface arcface_torch backbone
 * checkpoint into an arcstream TF.js export (`DIR/model.json` + `weights.bin`, scored as it is by
 * `deno task eval-lfw --model`) and an arcstream checkpoint (`DIR/ckpt-00000000.arcs`, usable with
 * `deno task train --init-from`). No Python needed.
 */
import { basename } from "node:path";
import { parseFlags, runTask, UsageError } from "./cli.ts";

const HELP = `Usage: deno task import-torch FILE.pth [--out DIR] [--backend NAME]

Reads a PyTorch checkpoint (torch.save zip format, torch >= 1.6) of an insightface arcface_torch
backbone: a plain state_dict, a dict holding one ("state_dict", "state_dict_backbone", "model"),
DDP "module." keys allowed. Known backbones: IResNet r18/r34/r50/r100/r200 (any width).

Writes, into DIR (default: runs/import-<file name>):
  model.json + weights.bin   TF.js LayersModel; metadata normalize "arcface_torch" (RGB,
                             (x / 255 - 0.5) / 0.5), input size, embedding size
  ckpt-00000000.arcs         the backbone as an arcstream checkpoint (train --init-from)
Prints a JSON summary on stdout.

Options:
  --out DIR          output folder
  --backend NAME     TF.js backend (auto | wasm | cpu | webgpu | tensorflow; default auto)
  -h, --help         this text

Exit status: 0 written, 1 the file cannot be imported (the message says why), 2 usage.`;

const FLAGS = {
  out: { type: "string" },
  backend: { type: "string", default: "auto" },
} as const;

async function main(): Promise<void> {
  const { flags: v, positionals } = parseFlags(Deno.args, FLAGS, {
    help: HELP,
    positionals: [0, Infinity],
  });
  if (positionals.length !== 1) throw new UsageError("give exactly one checkpoint FILE.pth");
  const file = positionals[0];
  const out = v.out ?? `runs/import-${basename(file).replace(/\.[^.]*$/, "")}`;
  const { parseBackendName, initBackend } = await import("../model/backend/backend.ts");
  let backendName;
  try {
    backendName = parseBackendName(v.backend);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const started = performance.now();
  await initBackend({ backend: backendName });
  const { importTorchBackbone, writeImported } = await import("../model/io/torch_import.ts");
  const b = await importTorchBackbone(file);
  try {
    const written = await writeImported(b, out, file);
    const params = b.model.weights.reduce((s, w) => s + w.shape.reduce((a, x) => a! * x!, 1)!, 0);
    console.log(JSON.stringify({
      source: file,
      ...written,
      family: b.family,
      config: b.config,
      parameters: params,
      normalize: "arcface_torch",
      seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    }));
  } finally {
    b.model.dispose();
  }
}

await runTask("import-torch", main);
