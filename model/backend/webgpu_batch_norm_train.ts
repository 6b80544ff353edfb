/**
 * Training-mode batch norm (+ the PReLU after it) for the webgpu backend: the kernels
 * `ArcstreamBatchNormTrain` / `ArcstreamBatchNormTrainGrad` that `batchNormTrain`
 * (model/nets/train_ops.ts) calls, with the same inputs, outputs and formulas as the wasm
 * ones (`wasm_batch_norm_train.ts`, whose comment has them).
 *
 * As tf ops a BN + PReLU layer is ~14 full-size passes forward and backward; here the forward
 * reads x three times and writes y once, the backward reads x and dy twice and writes dx once,
 * plus per-channel programs of C elements. Statistics are float32, computed TWO-PASS: the mean
 * first, then the mean of (x - mean)^2 (never E[x^2] - mean^2, which cancels catastrophically
 * when |mean| is many standard deviations, e.g. a stem conv on raw pixels). Each column sum is
 * split into row chunks (`splitRows`: enough invocations to fill a GPU, each chunk's running sum
 * at most a few thousand terms), and the chunks' partial sums are added per channel.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ints, splitRows, type WebGPUBackendLike, type WgslProgram } from "./webgpu_program.ts";

type Args = {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
};

/** A flat program with one invocation per output element (`main(index)`). */
function flat(key: string, names: string[], shape: number[], body: string, uniforms = "") {
  const size = shape.reduce((a, b) => a * b, 1);
  const program: WgslProgram = {
    variableNames: names,
    outputShape: shape,
    shaderKey: key,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    uniforms: `C : i32, ${uniforms}`,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.C;
          ${body}
        }
      }`,
  };
  return program;
}

/**
 * Per-channel partial sums over row chunks: `terms` (WGSL, per row r and channel c; the values
 * `xv`, `gv` and per-channel `fw` rows are in scope) -> parts [S, Q, C].
 */
function columnSums(
  backend: WebGPUBackendLike,
  key: string,
  inputs: tf.TensorInfo[],
  names: string[],
  terms: string[],
  rows: number,
  c: number,
): tf.TensorInfo {
  const { splits, chunk } = splitRows(c, rows);
  const q = terms.length;
  const program: WgslProgram = {
    variableNames: names,
    outputShape: [splits, q, c],
    shaderKey: `arcstreamBnSums_${key}`,
    dispatchLayout: { x: [2], y: [0] },
    dispatch: [Math.ceil(c / 64), splits, 1],
    workgroupSize: [64, 1, 1],
    uniforms: "C : i32, rows : i32, chunk : i32,",
    getUserCode: () => `
      fn main() {
        let c = i32(globalId.x);
        if (c >= uniforms.C) { return; }
        let s = i32(globalId.y);
        let r1 = min((s + 1) * uniforms.chunk, uniforms.rows);
        ${names.includes("fw") ? "let m = fw[c]; let sc = fw[uniforms.C + c];" : ""}
        ${names.includes("fw") ? "let be = fw[2 * uniforms.C + c];" : ""}
        ${names.includes("alpha") ? "let al = alpha[c];" : ""}
        ${names.includes("mean") ? "let m = mean[c];" : ""}
        ${terms.map((_, i) => `var acc${i} = 0.0;`).join(" ")}
        for (var r = s * uniforms.chunk; r < r1; r = r + 1) {
          let i = r * uniforms.C + c;
          let xv = x[i];
          ${names.includes("dy") ? "let gv = dy[i];" : ""}
          ${terms.map((t, i) => `acc${i} = acc${i} + ${t};`).join("\n          ")}
        }
        let base = s * ${q} * uniforms.C + c;
        ${terms.map((_, i) => `result[base + ${i} * uniforms.C] = acc${i};`).join(" ")}
      }`,
  };
  return backend.runWebGPUProgram(program, inputs, "float32", ints(c, rows, chunk));
}

/** out[c] = expr(sum over the S chunks of parts[s, row, c]) for a [C] result. */
function reduceParts(
  backend: WebGPUBackendLike,
  parts: tf.TensorInfo,
  row: number,
  expr: string,
  extra: tf.TensorInfo[] = [],
  extraNames: string[] = [],
  floats: number[] = [],
): tf.TensorInfo {
  const [splits, q, c] = parts.shape;
  const program = flat(
    `arcstreamBnReduce_${expr}`,
    ["parts", ...extraNames],
    [c],
    `var v = 0.0;
          for (var s = 0; s < uniforms.S; s = s + 1) { v = v + parts[(s * uniforms.Q + uniforms.row) * uniforms.C + c]; }
          result[index] = ${expr};`,
    "S : i32, Q : i32, row : i32, n : f32, eps : f32,",
  );
  return backend.runWebGPUProgram(program, [parts, ...extra], "float32", [
    ...ints(c, splits, q, row),
    { type: "float32", data: [floats[0] ?? 1] },
    { type: "float32", data: [floats[1] ?? 0] },
  ]);
}

/** The PReLU (when `alpha` is an input) of the normalized value v, WGSL. */
const PRELU = "select(alpha[c] * v, v, v > 0.0)";

/** x [..., C], gamma, beta [C] (alpha: PReLU) -> y, mean, variance, inv (see the file comment). */
export function batchNormTrainWebGPU(args: Args): tf.TensorInfo[] {
  const { x, gamma, beta, alpha } = args.inputs as Record<string, tf.TensorInfo>;
  const backend = args.backend as WebGPUBackendLike;
  const eps = args.attrs!.varianceEpsilon as number;
  const c = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / c;
  const free = (t: tf.TensorInfo) => backend.disposeData(t.dataId);
  const sums = columnSums(backend, "sum", [x], ["x"], ["xv"], rows, c);
  const mean = reduceParts(backend, sums, 0, "v / uniforms.n", [], [], [rows]);
  free(sums);
  const sq = columnSums(backend, "sq", [x, mean], ["x", "mean"], ["(xv - m) * (xv - m)"], rows, c);
  const variance = reduceParts(backend, sq, 0, "v / uniforms.n", [], [], [rows]);
  const inv = reduceParts(backend, sq, 0, "inverseSqrt(v / uniforms.n + uniforms.eps)", [], [], [
    rows,
    eps,
  ]);
  free(sq);
  const names = ["x", "mean", "inv", "gamma", "beta", ...(alpha ? ["alpha"] : [])];
  const y = backend.runWebGPUProgram(
    flat(
      `arcstreamBnNormalize_${!!alpha}`,
      names,
      x.shape,
      `let v = (x[index] - mean[c]) * inv[c] * gamma[c] + beta[c];
          result[index] = ${alpha ? PRELU : "v"};`,
    ),
    [x, mean, inv, gamma, beta, ...(alpha ? [alpha] : [])],
    "float32",
    ints(c),
  );
  return [y, mean, variance, inv];
}

/**
 * x, dy [..., C], mean, inv, gamma [C] (+ beta, alpha: dy is the PReLU output's gradient) ->
 * dx, dgamma, dbeta (+ dalpha).
 */
export function batchNormTrainGradWebGPU(args: Args): tf.TensorInfo[] {
  const { x, dy, mean, inv, gamma, beta, alpha } = args.inputs as Record<string, tf.TensorInfo>;
  const backend = args.backend as WebGPUBackendLike;
  const c = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / c;
  const prelu = !!alpha;
  // fw [3, C] = (mean, inv * gamma, beta): the forward's per-channel terms in one binding, so the
  // full-size programs stay within 8 storage buffers.
  const fw = backend.runWebGPUProgram(
    flat(
      "arcstreamBnPack",
      ["mean", "inv", "gamma", "beta"],
      [3, c],
      `let row = index / uniforms.C;
          result[index] = select(select(beta[c], inv[c] * gamma[c], row == 1), mean[c], row == 0);`,
    ),
    [mean, inv, gamma, beta ?? gamma],
    "float32",
    ints(c),
  );
  // dv: the norm output's gradient (through the PReLU: dy * (1 or alpha)); v recomputed.
  const dv = prelu ? "select(al * gv, gv, (xv - m) * sc + be > 0.0)" : "gv";
  const terms = [dv, `${dv} * (xv - m)`];
  if (prelu) terms.push("select(gv * ((xv - m) * sc + be), 0.0, (xv - m) * sc + be > 0.0)");
  const names = ["x", "dy", "fw", ...(prelu ? ["alpha"] : [])];
  const inputs = [x, dy, fw, ...(prelu ? [alpha] : [])];
  const parts = columnSums(backend, `grad_${prelu}`, inputs, names, terms, rows, c);
  const dBeta = reduceParts(backend, parts, 0, "v");
  const dGamma = reduceParts(backend, parts, 1, "v * inv[c]", [inv], ["inv"]);
  const dAlpha = prelu ? reduceParts(backend, parts, 2, "v") : null;
  backend.disposeData(parts.dataId);
  // dx = a * dv + bx * (x - mean) + k: a = gamma * inv, bx = -a * inv * dgamma / n,
  // k = -a * dbeta / n.
  const dvAt = prelu
    ? "select(alpha[c] * dy[index], dy[index], xm * fw[uniforms.C + c] + fw[2 * uniforms.C + c] > 0.0)"
    : "dy[index]";
  const dx = backend.runWebGPUProgram(
    flat(
      `arcstreamBnGrad_${prelu}`,
      ["x", "dy", "fw", "inv", "dBeta", "dGamma", ...(prelu ? ["alpha"] : [])],
      x.shape,
      `let xm = x[index] - fw[c];
          let a = fw[uniforms.C + c];
          let r = inv[c];
          result[index] = a * (${dvAt}) - a * r * dGamma[c] / uniforms.n * xm -
            a * dBeta[c] / uniforms.n;`,
      "n : f32,",
    ),
    [x, dy, fw, inv, dBeta, dGamma, ...(prelu ? [alpha] : [])],
    "float32",
    [...ints(c), { type: "float32", data: [rows] }],
  );
  backend.disposeData(fw.dataId);
  if (!dAlpha) return [dx, dGamma, dBeta];
  return [dx, dGamma, dBeta, { ...dAlpha, shape: alpha.shape }];
}
