/**
 * `deno task export-onnx --model DIR/model.json --out FILE.onnx`: an arcstream backbone export
 * (TF.js layers model) as ONNX for onnxruntime / insightface (docs/onnx.md).
 */
import type { OnnxInputScaling } from "../model/io/onnx_export.ts";
import { parseFlags, runTask, UsageError } from "./cli.ts";

const HELP = `Usage: deno task export-onnx --model DIR/model.json --out FILE.onnx [options]

Converts an arcstream backbone export (runs/<run>/export/model.json, a TF.js layers model) into an
ONNX model (IR 8, opset 13 by default) for onnxruntime and insightface's ArcFaceONNX.

The ONNX model takes "data" [N, 3, S, S] float32, NCHW, RGB pixels 0-255, and applies the model's
normalization itself as its first nodes (Sub, Mul: insightface then feeds raw pixels); it returns
"embedding" [N, D] (not L2-normalized).

  --model FILE      model.json of a layers model (required)
  --out FILE        ONNX file to write, atomically (required)
  --normalize MODE  arcface ((x-127.5)/128), raw, unit (x/255), arcface_torch ((x/255-0.5)/0.5),
                    or none (no Sub/Mul nodes: the
                    input is what the TF.js model takes). Default: what the export records, else
                    arcface
  --opset N         ONNX opset, 11..17 (default 13)
  --input-name S    graph input name (default "data")
  --backend NAME    TF.js backend that holds the weights while converting (default cpu:
                    nothing is computed)
  -h, --help        this text

Exit status: 0 written, 1 failure (unreadable model, unsupported layer), 2 usage error.`;

const FLAGS = {
  model: { type: "string" },
  out: { type: "string" },
  normalize: { type: "string", choices: ["arcface", "raw", "unit", "arcface_torch", "none"] },
  opset: { type: "int", min: 11, max: 17, default: 13 },
  "input-name": { type: "string" },
  backend: { type: "string", choices: ["auto", "tensorflow", "webgpu", "wasm", "cpu"] },
} as const;

async function main(): Promise<void> {
  const { flags: v } = parseFlags(Deno.args, FLAGS, { help: HELP });
  if (!v.model) throw new UsageError("--model FILE is required");
  if (!v.out) throw new UsageError("--out FILE is required");
  const { initBackend, parseBackendName } = await import("../model/backend/backend.ts");
  await initBackend({ backend: parseBackendName(v.backend ?? "cpu") });
  const { exportOnnxFile } = await import("../model/io/onnx_export.ts");
  const r = await exportOnnxFile(v.model, v.out, {
    normalize: v.normalize as OnnxInputScaling | undefined,
    opset: v.opset,
    inputName: v["input-name"],
  });
  console.log(
    `wrote ${r.out}: ${(r.bytes / 1e6).toFixed(1)} MB, ${r.nodes} nodes, input ${
      JSON.stringify(r.inputShape)
    } (RGB 0-255, normalize ${r.normalize}), output ${JSON.stringify(r.outputShape)}`,
  );
}

await runTask("export-onnx", main);
