#!/usr/bin/python3
"""Evaluates a trained backbone in PyTorch on a run's held-out pairs: which side a parity gap is on.

    /usr/bin/python3 scripts/torch_cross_eval.py --like runs/a --weights runs/a/export/model.json
    /usr/bin/python3 scripts/torch_cross_eval.py --like runs/a --weights runs/a-torch/backbone.pth
    ... --recalibrate 200     # BN running statistics re-estimated over the run's first 200 batches

`--weights` is an arcstream export (model.json + its weight files) or checkpoint (.arcs), mapped
onto arcface_torch's IResNet by torch_arcstream_weights.py, or a `.pth` state dict. The network is
arcface_torch's at the run's widths (torch_run.py's), evaluated by torch_run.py's held-out code (flip test, L2-normalized, 10 folds): an arcstream model scored here
as arcstream scored it means the two forward passes agree and any gap is in the trained weights.
`--recalibrate N` replaces every BN layer's running mean and variance by their cumulative average
over the run's first N training batches (train-mode forward, no gradient), as make_parity.py
calibrates its fixture: a score that moves then points at the running statistics.
Prints one JSON line: {"weights", "recalibrated", "accuracy", "std", "auc", "pairs"}.
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_run as run  # noqa: E402
import torch_run_data as data  # noqa: E402
import torch_arcstream_weights as aw  # noqa: E402


def recalibrate(model, batches, cache, n):
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _, b in zip(range(n), batches):
            model(torch.from_numpy(cache.batch(b["paths"], b["flips"], b.get("augments"))))
    for m in bns:
        m.momentum = 0.1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--like", required=True, help="the arcstream run folder (its run.json)")
    p.add_argument("--weights", required=True, help="an arcstream model.json or .arcs, or a .pth")
    p.add_argument("--order", help="the run's order.jsonl (default LIKE/order.jsonl)")
    p.add_argument("--recalibrate", type=int, default=0, help="batches for BN statistics")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.like, "run.json")))["config"]
    net = cfg["network"]
    model = run.build_network(net, "arcface_torch", 0)
    torch.backends.mkldnn.enabled = True
    aw.load_backbone(model, aw.read_backbone(a.weights))
    cache = data.ImageCache(net["inputSize"], cfg.get("dctScale", "auto"))
    if a.recalibrate > 0:
        _, batches = data.read_order(a.order or os.path.join(a.like, "order.jsonl"))
        recalibrate(model, batches, cache, a.recalibrate)
    pairs, folds = data.read_pairs(
        cfg["evalPairs"], cfg.get("evalData") or os.path.dirname(cfg["evalPairs"]))
    r, _ = run.heldout(model, pairs, folds, cache)
    print(json.dumps({"weights": a.weights, "recalibrated": a.recalibrate, **r}))


if __name__ == "__main__":
    main()
