#!/usr/bin/python3
"""An arcface_torch r50 through import-torch: eval-lfw and OpenCV DNN (ONNX export) against PyTorch.

Run from the repository root with Debian's Python (torch, python3-opencv, PIL, numpy):

    /usr/bin/python3 scripts/check_torch_interop.py [--lfw DIR] [--work DIR]

Builds arcface_torch's IResNet-50 (the class re-typed in fixtures/torch/make_parity.py: layers
[3, 4, 14, 3], widths 64..512, embedding 512, 112 px) with random weights, non-trivial BN affine
and PReLU values and BN statistics calibrated on faces; saves its state_dict as r50.pth, then
`deno task import-torch r50.pth --out <work>/r50` and `deno task export-onnx`.

Faces: the centre 112x112 crop of the first image pairs of 20 people of an LFW folder (--lfw,
default ../shared/data/lfw/lfw-deepfunneled: 250 px photos), saved by PIL as quality-100 JPEGs
(40 files) with an LFW-format pairs.txt over them ("10 2": 20 same, 20 different pairs).

Both sides feed the network arcface_torch's input, RGB (x / 255 - 0.5) / 0.5 = (x - 127.5) / 127.5
(not arcstream's own (x - 127.5) / 128): PyTorch by `make_parity.normalize` on the PIL-decoded
pixels; `eval-lfw` from the import's metadata (`normalize: "arcface_torch"`, checked in its
report.json); the ONNX graph takes RGB 0-255 and applies the same formula itself.

- eval-lfw: `deno task eval-lfw --aligned --data <crops> --pairs <pairs> --save-embeddings`
  decodes the JPEGs itself (112 px = the input side, so no resize) and saves flip-test embeddings,
  L2-normalize(f(x) + f(mirror(x))); PyTorch computes the same from f(x) and f(mirror(x)).
- OpenCV DNN (`cv2.dnn.readNetFromONNX`) runs the .onnx on the 40 decoded crops, no flip;
  compared with PyTorch's f(x).

Prints JSON (min cosine and max |diff| of the L2-normalized rows for each); exit 0 when both
minimum cosines are >= 0.99999, else 1.
"""
import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

spec = importlib.util.spec_from_file_location("make_parity", "fixtures/torch/make_parity.py")
parity = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parity)  # the IResNet class and the faces; seeds torch with 2024

MIN_COSINE = 0.99999
PEOPLE = 20  # 2 images each: 40 crops
SIDE = 112


def make_r50():
    model = parity.IResNet(parity.IBasicBlock, [3, 4, 14, 3], dropout=0, num_features=512)
    parity.randomize(model, he_conv=True)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.momentum = None
    model.train()
    faces = parity.normalize(parity.load_faces())
    with torch.no_grad():
        for i in range(4):
            model(torch.cat([faces.roll(i, 0), torch.rand(4, 3, 112, 112) - 0.5]))
    model.eval()
    return model


def write_crops(lfw, out):
    """Centre crops of images 1 and 2 of the first PEOPLE people with >= 2 images, as LFW keys."""
    people = [d.name for d in sorted(lfw.iterdir()) if (d / f"{d.name}_0002.jpg").exists()]
    if len(people) < PEOPLE:
        raise SystemExit(f'"{lfw}" has {len(people)} people with 2 images, need {PEOPLE}')
    people = people[:PEOPLE]
    keys = []
    for name in people:
        (out / name).mkdir(parents=True, exist_ok=True)
        for n in (1, 2):
            key = f"{name}/{name}_{n:04d}"
            img = Image.open(lfw / f"{key}.jpg").convert("RGB")
            x, y = (img.width - SIDE) // 2, (img.height - SIDE) // 2
            img.crop((x, y, x + SIDE, y + SIDE)).save(out / f"{key}.jpg", quality=100)
            keys.append(key)
    # 10 folds of 2 same + 2 different pairs (LFW's "F N" header); pair_keys in .npy row order.
    lines, pair_keys = ["10 2"], []
    for f in range(10):
        a, b = people[2 * f], people[2 * f + 1]
        lines += [f"{a} 1 2", f"{b} 1 2", f"{a} 1 {b} 2", f"{b} 1 {a} 2"]
        for p, q in ((a, a), (b, b), (a, b), (b, a)):
            pair_keys += [f"{p}/{p}_0001", f"{q}/{q}_0002"]
    (out / "pairs.txt").write_text("\n".join(lines) + "\n")
    return keys, pair_keys


def l2(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def compare(got, want):
    a, b = l2(got), l2(want)
    cos = (a * b).sum(axis=1)
    return {"min_cosine": float(cos.min()), "max_abs_diff_l2_normalized": float(np.abs(a - b).max()),
            "rows": len(cos), "ok": bool(cos.min() >= MIN_COSINE)}


def run(*args):
    subprocess.run(["deno", "task", *args], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", type=Path, default=Path("../shared/data/lfw/lfw-deepfunneled"))
    ap.add_argument("--work", type=Path, default=None)
    o = ap.parse_args()
    work = o.work or Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    crops = work / "crops"
    keys, pair_keys = write_crops(o.lfw, crops)
    pil = np.stack([np.asarray(Image.open(crops / f"{k}.jpg").convert("RGB")) for k in keys])
    ocv = np.stack([cv2.imread(str(crops / f"{k}.jpg"))[:, :, ::-1] for k in keys])

    model = make_r50()
    torch.save(model.state_dict(), work / "r50.pth")
    run("import-torch", str(work / "r50.pth"), "--out", str(work / "r50"), "--backend", "cpu")
    run("export-onnx", "--model", str(work / "r50" / "model.json"), "--out", str(work / "r50.onnx"))
    run("eval-lfw", "--aligned", "--data", str(crops), "--pairs", str(crops / "pairs.txt"),
        "--model", str(work / "r50" / "model.json"), "--out", str(work / "eval"),
        "--save-embeddings", str(work / "eval.npy"), "--quiet")
    report = json.loads((work / "eval" / "report.json").read_text())

    with torch.no_grad():
        x = parity.normalize(np.ascontiguousarray(pil))
        plain = torch.cat([model(x[i:i + 8]) for i in range(0, len(x), 8)]).numpy()
        mirror = torch.cat([model(x[i:i + 8].flip(3)) for i in range(0, len(x), 8)]).numpy()
    by_key = dict(zip(keys, l2(plain + mirror)))
    want_eval = np.stack([by_key[k] for k in pair_keys])

    net = cv2.dnn.readNetFromONNX(str(work / "r50.onnx"))
    net.setInput(np.ascontiguousarray(pil.transpose(0, 3, 1, 2)).astype(np.float32))
    result = {
        "model": "arcface_torch r50 (random weights, calibrated BN) -> import-torch",
        "faces": f"{len(keys)} centre {SIDE}x{SIDE} crops of {o.lfw.name}, PIL quality-100 JPEGs",
        "pil_vs_cv2_imread_max_level": int(np.abs(pil.astype(int) - ocv.astype(int)).max()),
        "normalize": "arcface_torch (x - 127.5) / 127.5 on both sides",
        "eval_lfw": {"normalize": report["model"].get("normalize"), "backend": report.get("backend"),
                     "flip_summed": True, **compare(np.load(work / "eval.npy"), want_eval)},
        "opencv_dnn": {"opencv": cv2.__version__, **compare(net.forward(), plain)},
        "torch": torch.__version__,
    }
    like = result["eval_lfw"]["normalize"] == "arcface_torch"
    result["ok"] = like and result["eval_lfw"]["ok"] and result["opencv_dnn"]["ok"]
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
