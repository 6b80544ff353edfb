#!/usr/bin/python3
"""An arcface_torch r50 through import-torch and export-onnx, run by OpenCV's DNN, against PyTorch.

Run from the repository root with Debian's Python (torch, python3-opencv, PIL, numpy):

    /usr/bin/python3 scripts/check_onnx_torch_opencv.py [work-dir]

Builds arcface_torch's IResNet-50 (the class re-typed in fixtures/torch/make_parity.py: layers
[3, 4, 14, 3], widths 64..512, embedding 512, 112 px) with random weights, non-trivial BN affine
and PReLU values and BN statistics calibrated on faces; saves its state_dict as r50.pth, then
`deno task import-torch r50.pth --out <dir>/r50` and `deno task export-onnx` (the graph takes RGB
0-255 and applies arcface_torch's (x - 127.5) / 127.5 itself). OpenCV DNN runs the .onnx on the
4 PIL-decoded fixture faces; PyTorch (eval mode) runs the state_dict on the same pixels. Prints
the cosine of each pair of embeddings and the max |diff| of the L2-normalized rows; exit 0 when
every cosine >= 0.99999, else 1.
"""
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

spec = importlib.util.spec_from_file_location("make_parity", "fixtures/torch/make_parity.py")
parity = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parity)  # the IResNet class and the faces; seeds torch with 2024


def make_r50():
    model = parity.IResNet(parity.IBasicBlock, [3, 4, 14, 3], dropout=0, num_features=512)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("prelu.weight"):
                p.uniform_(0.05, 0.4)
            elif name == "features.weight":
                continue
            elif p.dim() == 1 and name.endswith("weight"):
                p.uniform_(0.6, 1.4)
            elif p.dim() == 1:
                p.normal_(0, 0.1)
            elif p.dim() == 4:
                # He init keeps a 50-layer stack's activations finite.
                p.normal_(0, (2 / (p.shape[1] * p.shape[2] * p.shape[3])) ** 0.5)
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


def run(*args):
    subprocess.run(["deno", "task", *args], check=True, stdout=subprocess.DEVNULL)


def main():
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    model = make_r50()
    torch.save(model.state_dict(), work / "r50.pth")
    run("import-torch", str(work / "r50.pth"), "--out", str(work / "r50"), "--backend", "cpu")
    run("export-onnx", "--model", str(work / "r50" / "model.json"), "--out", str(work / "r50.onnx"))
    u8 = parity.load_faces()  # [4, 112, 112, 3] RGB, PIL-decoded
    with torch.no_grad():
        want = model(parity.normalize(u8)).numpy()
    net = cv2.dnn.readNetFromONNX(str(work / "r50.onnx"))
    net.setInput(np.ascontiguousarray(u8.transpose(0, 3, 1, 2)).astype(np.float32))
    got = net.forward()
    a = got / np.linalg.norm(got, axis=1, keepdims=True)
    b = want / np.linalg.norm(want, axis=1, keepdims=True)
    cosines = (a * b).sum(axis=1)
    result = {
        "model": "arcface_torch r50 (random weights) -> import-torch -> export-onnx",
        "opencv": cv2.__version__,
        "torch": torch.__version__,
        "cosines": [float(c) for c in cosines],
        "max_abs_diff_l2_normalized": float(np.abs(a - b).max()),
        "ok": bool(cosines.min() >= 0.99999),
    }
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
