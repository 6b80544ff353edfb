/**
 * The training step of `deno task bench kernels`: a conv net forward + backward on the active
 * backend, timed, plus a per-kernel profile (tf.profile) of one more step.
 */
import type * as tfTypes from "@tensorflow/tfjs";

type Tf = typeof tfTypes;

export type StepNet = "small" | "r18" | "r50" | "mbf";

/** Builds the loss of one step over the net's variables; `dispose` frees what it built. */
async function buildNet(tf: Tf, net: StepNet, batch: number) {
  const x = tf.randomNormal([batch, 112, 112, 3], 0, 1, "float32", 1); // [B, 112, 112, 3]
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32");
  if (net === "small") {
    // 3 x (conv3x3 64 + BN + PReLU) at 112x112, the IR-ResNet stem's working size.
    const v = (s: number[], seed: number) =>
      tf.variable(tf.randomNormal(s, 0, Math.sqrt(2 / (9 * s[2])), "float32", seed));
    const convs = [v([3, 3, 3, 64], 2), v([3, 3, 64, 64], 3), v([3, 3, 64, 64], 4)];
    const gammas = convs.map(() => tf.variable(tf.ones([64])));
    const betas = convs.map(() => tf.variable(tf.zeros([64])));
    const alphas = convs.map(() => tf.variable(tf.fill([1, 1, 64], 0.25)));
    const fc = tf.variable(tf.randomNormal([64, 10], 0, 0.1, "float32", 5));
    const vars = [...convs, ...gammas, ...betas, ...alphas, fc];
    const loss = () =>
      tf.tidy(() => {
        let h = x as tfTypes.Tensor4D;
        convs.forEach((w, i) => {
          h = tf.conv2d(h, w as tfTypes.Tensor4D, 1, "same");
          const { mean, variance } = tf.moments(h, [0, 1, 2]);
          h = tf.prelu(
            tf.batchNorm(h, mean, variance, betas[i], gammas[i], 2e-5),
            alphas[i],
          ) as tfTypes.Tensor4D;
        });
        const logits = tf.matMul(tf.mean(h, [1, 2]), fc);
        return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), logits) as tfTypes.Scalar;
      });
    return { vars, loss, dispose: () => tf.dispose([x, labels, ...vars]) };
  }
  const { buildIResNet } = await import("../model/nets/iresnet.ts");
  const { MarginHead } = await import("../model/loss/arcface.ts");
  const mbf = await import("../model/nets/mobilefacenet.ts");
  const { mbfTrainForward } = await import("../model/nets/mobilefacenet_train.ts");
  const { variablesByName } = await import("../model/nets/train_ops.ts");
  const model = net === "mbf"
    ? mbf.buildMobileFaceNet()
    : buildIResNet({ depth: net === "r18" ? 18 : 50, dropout: 0 });
  const head = new MarginHead(512, 1000);
  const vars = [
    ...model.trainableWeights.map((w) => (w as unknown as { val: tfTypes.Variable }).val),
    head.weights,
  ];
  const byName = variablesByName(model);
  // MobileFaceNet: the lean training forward the Trainer runs (fused BN + PReLU on wasm).
  const forward = (x: tfTypes.Tensor4D) =>
    net === "mbf"
      ? mbfTrainForward(mbf.mbfConfig(), x, byName)
      : model.apply(x, { training: true }) as tfTypes.Tensor2D;
  const loss = () =>
    tf.tidy(() => {
      const emb = forward(x as tfTypes.Tensor4D); // [B, 512]
      const logits = head.logits(emb, labels);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 1000), logits) as tfTypes.Scalar;
    });
  return {
    vars,
    loss,
    dispose: () => {
      model.dispose();
      head.dispose();
      tf.dispose([x, labels]);
    },
  };
}

/** Times `steps` forward+backward passes after one warm-up, then profiles one more. */
export async function netStep(tf: Tf, net: StepNet, batch: number, steps: number) {
  const built = await buildNet(tf, net, batch);
  const step = () => {
    const { value, grads } = tf.variableGrads(built.loss, built.vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  try {
    step();
    const stepMs: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      step();
      stepMs.push(+(performance.now() - t).toFixed(0));
    }
    const prof = await tf.profile(step);
    const byKernel = new Map<string, { ms: number; calls: number }>();
    let total = 0;
    for (const k of prof.kernels) {
      // Names ending in __op are op scopes around a kernel, not extra time.
      if (k.name.endsWith("__op")) continue;
      const ms = await k.kernelTimeMs as number;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls++;
      byKernel.set(k.name, e);
      total += ms;
    }
    const best = Math.min(...stepMs);
    return {
      net,
      batch,
      step_ms: stepMs,
      img_per_s: +(batch * 1000 / best).toFixed(3),
      profile_kernel_total_ms: +total.toFixed(0),
      profile_top: [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12).map(([k, v]) => ({
        kernel: k,
        ms: +v.ms.toFixed(1),
        calls: v.calls,
        pct: +(100 * v.ms / total).toFixed(1),
      })),
    };
  } finally {
    built.dispose();
  }
}
