/**
 * P-Net, R-Net and O-Net of MTCNN (Zhang et al., "Joint Face Detection and Alignment using
 * Multi-task Cascaded Convolutional Networks", IEEE SPL 2016) rebuilt with TF.js ops from the
 * pretrained weights face-api.js ships (`weights/`, MIT), which keep facenet's TF port of the
 * original Caffe model: every input is transposed height <-> width (`[N, W, H, 3]`), and the
 * flatten before R/O-Net's fc1 follows that transposed layout.
 *
 * Heads are fused so each net returns ONE tensor: P-Net `[1, W', H', 6]` (2 logits + 4 box
 * offsets), R-Net `[N, 6]`, O-Net `[N, 16]` (2 logits, 4 offsets, 10 landmarks x1..x5 y1..y5).
 */
import * as tf from "@tensorflow/tfjs";

/** Folder of the bundled TF.js weights manifest + shard. */
export const WEIGHTS_DIR = new URL("./weights/", import.meta.url);
const MANIFEST = "mtcnn_model-weights_manifest.json";

interface Conv {
  w: tf.Tensor4D;
  b: tf.Tensor1D;
  alpha?: tf.Tensor1D;
}
interface Dense {
  w: tf.Tensor2D;
  b: tf.Tensor1D;
  alpha?: tf.Tensor1D;
}

/** Owns the weight tensors of the three nets; call `dispose()` when done. */
export class MtcnnNets {
  private readonly p: Conv[];
  private readonly r: { convs: Conv[]; fc: Dense; head: Dense };
  private readonly o: { convs: Conv[]; fc: Dense; head: Dense };
  private readonly owned: tf.Tensor[];

  private constructor(m: tf.NamedTensorMap) {
    const t = <T extends tf.Tensor>(name: string): T => {
      const x = m[name];
      if (!x) throw new SyntaxError(`Cannot read MTCNN weights: "${name}" is missing`);
      return x as T;
    };
    const conv = (net: string, i: number, prelu = true): Conv => ({
      w: t(`${net}/conv${i}/weights`),
      b: t(`${net}/conv${i}/bias`),
      alpha: prelu ? t(`${net}/prelu${i}_alpha`) : undefined,
    });
    // P-Net's two 1x1 heads become one [1, 1, 32, 6] conv; R/O-Net's fc heads one matrix.
    const pHead: Conv = {
      w: tf.concat([t("pnet/conv4_1/weights"), t("pnet/conv4_2/weights")], 3),
      b: tf.concat([t("pnet/conv4_1/bias"), t("pnet/conv4_2/bias")]),
    };
    const head = (net: string, n: number): Dense => {
      const ws = [], bs = [];
      for (let i = 1; i <= n; i++) {
        ws.push(t<tf.Tensor2D>(`${net}/fc2_${i}/weights`));
        bs.push(t<tf.Tensor1D>(`${net}/fc2_${i}/bias`));
      }
      return { w: tf.concat(ws, 1), b: tf.concat(bs) };
    };
    this.p = [conv("pnet", 1), conv("pnet", 2), conv("pnet", 3), pHead];
    this.r = {
      convs: [conv("rnet", 1), conv("rnet", 2), conv("rnet", 3)],
      fc: { w: t("rnet/fc1/weights"), b: t("rnet/fc1/bias"), alpha: t("rnet/prelu4_alpha") },
      head: head("rnet", 2),
    };
    this.o = {
      convs: [conv("onet", 1), conv("onet", 2), conv("onet", 3), conv("onet", 4)],
      fc: { w: t("onet/fc1/weights"), b: t("onet/fc1/bias"), alpha: t("onet/prelu5_alpha") },
      head: head("onet", 3),
    };
    this.owned = [
      ...Object.values(m),
      pHead.w,
      pHead.b,
      this.r.head.w,
      this.r.head.b,
      this.o.head.w,
      this.o.head.b,
    ];
  }

  /**
   * Loads the nets from a weights folder (default: the bundled `pipeline/align/mtcnn/weights/`)
   * with `fetch`, which reads `file:` URLs in Deno and `http:` ones in a browser, so the detector
   * has no file-system code. A string is an absolute file path.
   */
  static async load(dir: URL | string = WEIGHTS_DIR): Promise<MtcnnNets> {
    const base = typeof dir === "string" ? fileFolderUrl(dir) : dir;
    const manifestUrl = new URL(MANIFEST, base);
    let manifest: tf.io.WeightsManifestConfig;
    try {
      manifest = JSON.parse(await fetchText(manifestUrl));
    } catch (e) {
      throw new Error(`Cannot read MTCNN weights manifest "${manifestUrl.pathname}": ${e}`);
    }
    const specs = manifest.flatMap((g) => g.weights);
    const shards = await Promise.all(
      manifest.flatMap((g) => g.paths).map((p) => fetchBytes(new URL(p, base))),
    );
    const bytes = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
    let o = 0;
    for (const s of shards) {
      bytes.set(s, o);
      o += s.length;
    }
    return new MtcnnNets(tf.io.decodeWeights(bytes.buffer, specs));
  }

  /** `x`: `[1, W, H, 3]` normalized, transposed. Returns `[1, W', H', 6]`. */
  pnet(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [c1, c2, c3, head] = this.p;
      let y = convPrelu(x, c1);
      y = tf.maxPool(y, 2, 2, "same");
      y = convPrelu(convPrelu(y, c2), c3);
      return tf.fused.conv2d({ x: y, filter: head.w, bias: head.b, strides: 1, pad: "valid" });
    });
  }

  /** `x`: `[N, 24, 24, 3]` normalized, transposed. Returns `[N, 6]`. */
  rnet(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const [c1, c2, c3] = this.r.convs;
      let y = tf.maxPool(convPrelu(x, c1), 3, 2, "same");
      y = tf.maxPool(convPrelu(y, c2), 3, 2, "valid");
      y = convPrelu(y, c3); // [N, 3, 3, 64]
      return dense(dense(tf.reshape(y, [x.shape[0], -1]) as tf.Tensor2D, this.r.fc), this.r.head);
    });
  }

  /** `x`: `[N, 48, 48, 3]` normalized, transposed. Returns `[N, 16]`. */
  onet(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const [c1, c2, c3, c4] = this.o.convs;
      let y = tf.maxPool(convPrelu(x, c1), 3, 2, "same");
      y = tf.maxPool(convPrelu(y, c2), 3, 2, "valid");
      y = tf.maxPool(convPrelu(y, c3), 2, 2, "same");
      y = convPrelu(y, c4); // [N, 3, 3, 128]
      return dense(dense(tf.reshape(y, [x.shape[0], -1]) as tf.Tensor2D, this.o.fc), this.o.head);
    });
  }

  dispose(): void {
    tf.dispose(this.owned);
  }
}

function convPrelu(x: tf.Tensor4D, c: Conv): tf.Tensor4D {
  return tf.fused.conv2d({
    x,
    filter: c.w,
    bias: c.b,
    strides: 1,
    pad: "valid",
    activation: "prelu",
    preluActivationWeights: c.alpha,
  });
}

function dense(x: tf.Tensor2D, d: Dense): tf.Tensor2D {
  return tf.fused.matMul({
    a: x,
    b: d.w,
    bias: d.b,
    activation: d.alpha ? "prelu" : "linear",
    preluActivationWeights: d.alpha,
  }) as tf.Tensor2D;
}

/** `file:` URL of an absolute folder path (a relative one has no runtime-neutral meaning). */
function fileFolderUrl(p: string): URL {
  if (!p.startsWith("/")) {
    throw new RangeError(`MTCNN weights folder must be an absolute path or a URL, got "${p}"`);
  }
  return new URL(`file://${p.replace(/\/$/, "")}/`);
}

async function fetchResponse(url: URL): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) {
    await r.body?.cancel();
    throw new Error(`${url.pathname}: HTTP ${r.status}`);
  }
  return r;
}

async function fetchText(url: URL): Promise<string> {
  return await (await fetchResponse(url)).text();
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchResponse(url)).arrayBuffer());
}
