#!/usr/bin/python3
"""How far two paired training runs have drifted apart, step by step.

    /usr/bin/python3 scripts/parity_divergence.py --arcstream runs/a/checkpoints --torch runs/t
    /usr/bin/python3 scripts/parity_divergence.py --torch runs/t1 --against runs/t2

Both runs started from one state (torch_run.py --init-from an arcstream checkpoint) and trained on
the same batches. At every step both saved (arcstream's ckpt-<step>.arcs, torch_run.py
--save-every's states/step-<N>.npz), prints one JSON line: the relative L2 distance
|a - b| / |a| over the trained backbone weights, the BN running statistics and the class weights.
Rounding alone makes two runs part, and the parting grows with the steps: `--against` measures
that growth between two PyTorch runs that differ only in summation order (1 and 2 threads), the
yardstick for arcstream's.
"""
import argparse
import glob
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_arcstream_weights as aw  # noqa: E402


def torch_states(folder):
    """{step: path} of states/step-<N>.npz."""
    out = {}
    for p in glob.glob(os.path.join(folder, "states", "step-*.npz")):
        out[int(re.search(r"step-(\d+)\.npz$", p).group(1))] = p
    return out


def arcstream_states(folder):
    out = {}
    for p in glob.glob(os.path.join(folder, "ckpt-*.arcs")):
        out[int(re.search(r"ckpt-(\d+)\.arcs$", p).group(1))] = p
    return out


def load_npz(path):
    z = np.load(path)
    return {k: z[k] for k in z.files if not k.startswith("slot/")}


def load_arcs(path):
    _, backbone, head, _ = aw.read_arcs(path)
    out = {k: v.numpy() for k, v in backbone.items()}
    out["head"] = head.numpy()
    return out


def distance(a, b, keys):
    num = sum(float(((a[k] - b[k]) ** 2).sum()) for k in keys)
    den = sum(float((a[k] ** 2).sum()) for k in keys)
    return (num / den) ** 0.5


def groups(state):
    stats = [k for k in state if k.endswith(("running_mean", "running_var"))]
    fixed = {"features.weight"}  # a fixed scale: not trained, not saved by arcstream
    weights = [k for k in state if k not in stats and k != "head" and k not in fixed]
    return {"weights": weights, "bnStatistics": stats, "classWeights": ["head"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch", required=True, help="torch_run.py --save-every output folder")
    p.add_argument("--arcstream", help="the paired arcstream run's checkpoints folder")
    p.add_argument("--against", help="a second torch_run.py output folder instead")
    a = p.parse_args()
    if bool(a.arcstream) == bool(a.against):
        p.error("give one of --arcstream and --against")
    mine = torch_states(a.torch)
    other = arcstream_states(a.arcstream) if a.arcstream else torch_states(a.against)
    for step in sorted(set(mine) & set(other)):
        t = load_npz(mine[step])
        o = load_arcs(other[step]) if a.arcstream else load_npz(other[step])
        if t["fc.weight"].shape != o["fc.weight"].shape:
            raise SystemExit(f"step {step}: the two runs' networks differ")
        row = {"step": step}
        row.update({name: distance(t, o, keys) for name, keys in groups(t).items()})
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
