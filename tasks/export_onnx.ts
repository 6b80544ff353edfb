/**
 * `deno task export-onnx --model DIR/model.json --out FILE.onnx`: an arcstream backbone export
 * (TF.js layers model) as ONNX for onnxruntime / insightface (docs/onnx.md).
 */
import { parseArgs } from "node:util";

const HELP = `Usage: deno task export-onnx --model DIR/model.json --out FILE.onnx [options]

Converts an arcstream backbone export (runs/<run>/export/model.json, a TF.js layers model) into an
ONNX model (IR 8, opset 13 by default) for onnxruntime and insightface's ArcFaceONNX.

The ONNX model takes "data" [N, 3, S, S] float32, NCHW, RGB pixels 0-255, and applies the model's
normalization itself as its first nodes (Sub, Mul: insightface then feeds raw pixels); it returns
"embedding" [N, D] (not L2-normalized).

  --model FILE      model.json of a layers model (required)
  --out FILE        ONNX file to write, atomically (required)
  --normalize MODE  arcface ((x-127.5)/128), raw, unit (x/255), or none (no Sub/Mul nodes: the
                    input is what the TF.js model takes). Default: what the export records, else
                    arcface
  --opset N         ONNX opset, 11..17 (default 13)
  --input-name S    graph input name (default "data")
  --backend NAME    TF.js backend that holds the weights while converting (default cpu:
                    nothing is computed)
  -h, --help        this text

Exit status: 0 written, 1 failure (unreadable model, unsupported layer), 2 usage error.`;

const OPTIONS = {
  model: { type: "string" },
  out: { type: "string" },
  normalize: { type: "string" },
  opset: { type: "string" },
  "input-name": { type: "string" },
  backend: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function usage(message: string): never {
  console.error(`export-onnx: ${message} (see --help)`);
  Deno.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: Deno.args, options: OPTIONS, allowPositionals: false });
  } catch (e) {
    usage((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(HELP);
    return;
  }
  if (!v.model) usage("--model FILE is required");
  if (!v.out) usage("--out FILE is required");
  const normalize = v.normalize;
  if (normalize !== undefined && !["arcface", "raw", "unit", "none"].includes(normalize)) {
    usage(`--normalize "${normalize}": expected arcface, raw, unit or none`);
  }
  const opset = v.opset === undefined ? 13 : Number(v.opset);
  if (!Number.isInteger(opset) || opset < 11 || opset > 17) {
    usage(`--opset "${v.opset}": expected an integer in 11..17`);
  }
  const { initBackend, parseBackendName } = await import("../model/backend/backend.ts");
  let backend;
  try {
    backend = parseBackendName(v.backend ?? "cpu");
  } catch (e) {
    usage((e as Error).message);
  }
  try {
    await initBackend({ backend });
    const { exportOnnxFile } = await import("../model/io/onnx_export.ts");
    const r = await exportOnnxFile(v.model, v.out, {
      normalize: normalize as "arcface" | "raw" | "unit" | "none" | undefined,
      opset,
      inputName: v["input-name"],
    });
    console.log(
      `wrote ${r.out}: ${(r.bytes / 1e6).toFixed(1)} MB, ${r.nodes} nodes, input ${
        JSON.stringify(r.inputShape)
      } (RGB 0-255, normalize ${r.normalize}), output ${JSON.stringify(r.outputShape)}`,
    );
  } catch (e) {
    console.error(`export-onnx: ${(e as Error).message}`);
    Deno.exit(1);
  }
}

await main();
