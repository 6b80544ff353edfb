#!/usr/bin/python3
"""Checks arcstream's ONNX export in OpenCV's DNN module against TF.js.

Run with Debian's Python (python3-opencv, python3-onnx, python3-numpy), from the repository root:

    /usr/bin/python3 scripts/check_onnx_opencv.py [work-dir]

It runs `deno run -A scripts/onnx_opencv_inputs.ts <work-dir>` (an r18 at full width, a small r50
and a MobileFaceNet, random BN statistics, exported by export-onnx's converter, with the TF.js
embeddings of 3 random images), then for each model: `onnx.checker.check_model(full_check=True)`,
`cv2.dnn.readNetFromONNX`, a forward pass on the same NCHW 0-255 pixels, and the max |diff| of the
L2-normalized rows against TF.js. Exit 0 when every model loads and agrees to 1e-5, else 1.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx

TOLERANCE = 1e-5
MODELS = ["r18", "r50_w0125", "mbf"]


def normalized(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def check(work, name):
    path = str(work / f"{name}.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    gemm = [n for n in model.graph.node if n.op_type == "Gemm"]
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    net = cv2.dnn.readNetFromONNX(path)
    pixels = np.load(work / f"{name}_input.npy")
    want = np.load(work / f"{name}_tfjs.npy")
    net.setInput(pixels)
    got = net.forward()
    diff = float(np.abs(normalized(got) - normalized(want)).max())
    cosine = float((normalized(got) * normalized(want)).sum(axis=1).min())
    return {
        "model": name,
        "onnx_checker": "ok",
        "opencv": cv2.__version__,
        "transposes": sum(n.op_type == "Transpose" for n in model.graph.node),
        "gemm_B": inits.get(gemm[0].input[1]) if gemm else None,
        "output": list(got.shape),
        "max_abs_diff_l2_normalized": diff,
        "min_cosine": cosine,
        "ok": diff <= TOLERANCE,
    }


def main():
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    subprocess.run(["deno", "run", "-A", "scripts/onnx_opencv_inputs.ts", str(work)], check=True)
    results = [check(work, name) for name in MODELS]
    for r in results:
        print(json.dumps(r))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
