#!/usr/bin/python3
"""Trains in PyTorch exactly the recipe of an arcstream training run, for whole-run parity.

    deno task train --preset lfw-fold --steps 300 --data fold1/train.lst ... --out runs/a
    deno task train-order --run runs/a                       # runs/a/order.jsonl
    /usr/bin/python3 scripts/torch_run.py --like runs/a --out runs/a-torch
    deno task plot runs/a runs/a-torch --out both.svg

Everything comes from the arcstream run: its run.json config (network, input size, embedding,
dropout, margin head, lr schedule, momentum, weight decay and its set, batch size, steps,
log/eval periods, held-out pairs) and its exported batch sequence (order.jsonl: the seeded
shuffle, wraparound batches and flips, made by arcstream's own code). Images are decoded by
OpenCV as arcstream decodes them (scripts/torch_run_data.py: IMREAD_REDUCED_COLOR_k + INTER_AREA,
or imread + INTER_AREA for a `--dct-scale off` run): bit-identical network inputs. Writes
log.jsonl, log.txt and heldout.jsonl in arcstream's formats (model/train/train_log.ts),
torch_run.json (what ran), and the held-out embeddings of the last evaluation
(heldout_embeddings.npy, [2N, D], for `deno task eval-lfw --embeddings`).

The network is arcface_torch's (fixtures/torch/make_parity.py's IResNet re-type, at the run's
widths; bench/train_peer.py's MobileFaceNet), with arcface_torch's initialisation,
symmetric padding, BN epsilon 1e-5 and a fixed output-BN scale (`--style arcface_torch`, the
default). `--style arcstream` makes the network arcstream's instead: BN epsilon 2e-5, TF "same"
padding of the stride-2 convolutions (0 before, 1 after), a trained and decayed output-BN scale,
Kaiming-normal fan-out convolutions (docs/parity.md lists these differences). An arcstream run
trained with `--net-style arcface_torch` has arcface_torch's details: `--style arcface_torch` then
builds the same network as arcstream's.

`--init-from runs/a/checkpoints/ckpt-00000050.arcs` makes a paired run: PyTorch starts at that
step from arcstream's exact state (weights, BN statistics, class weights, momentum; read by
torch_arcstream_weights.py), so the two runs differ only in their arithmetic from there on.
`--save-every N` writes states/step-<N>.npz for scripts/parity_divergence.py.
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import torch_run_data as data  # noqa: E402
import torch_arcstream_weights as aw  # noqa: E402
from torch_run_log import Logger, now  # noqa: E402


def load_module(name, *paths):
    """One of the repository's torch re-types of arcface_torch, by path (the first that exists)."""
    for p in paths:
        full = os.path.join(ROOT, p)
        if os.path.exists(full):
            spec = importlib.util.spec_from_file_location(name, full)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    raise SystemExit(f"torch_run: cannot find {paths[0]} in {ROOT}")


def build_network(net, style, seed):
    """The backbone for arcstream's network config (IResNet or MobileFaceNet), its initial weights
    drawn from torch seed `seed`."""
    size, emb = net["inputSize"], net["embeddingSize"]
    if net.get("arch") in ("mbf", "mbf-large"):
        peer = load_module("train_peer", "bench/train_peer.py")
        if size != 112:
            raise SystemExit("torch_run: MobileFaceNet's GDC output needs 112 px input")
        large = net["arch"] == "mbf-large"
        torch.manual_seed(seed)
        return peer.MobileFaceNet(emb, (2, 8, 12, 4) if large else (1, 4, 6, 2), 4 if large else 2)
    ir = load_module("make_parity", "fixtures/torch/make_parity.py")
    widths = [max(4, math.floor(b * net["width"] + 0.5)) for b in (64, 128, 256, 512)]
    units = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 14, 3], 100: [3, 13, 30, 3]}

    torch.manual_seed(seed)  # after the import: make_parity.py seeds torch when it loads

    class Net(ir.IResNet):
        fc_scale = (size // 16) ** 2  # 7 * 7 at 112, 4 * 4 at 64

    model = Net(ir.IBasicBlock, units[net["depth"]], dropout=net["dropout"],
                num_features=emb, widths=widths)
    if style == "arcstream":
        like_arcstream(model)
    return model


def like_arcstream(model):
    """arcstream's own IResNet details (model/nets/iresnet.ts) on arcface_torch's modules."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eps = 2e-5
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.stride == (2, 2) and m.kernel_size == (3, 3):
                m.padding = (0, 0)  # TF "same" on an even side: pad 0 before, 1 after
                m.register_forward_pre_hook(lambda _m, x: (F.pad(x[0], (0, 1, 0, 1)),))
    nn.init.xavier_normal_(model.fc.weight)
    nn.init.zeros_(model.fc.bias)
    model.features.weight.requires_grad = True


def margin_logits(cos, labels, mc):
    """arcstream's marginTarget (model/loss/arcface.ts) on the label column, times s."""
    m1, m2, m3 = mc["m1"], mc["m2"], mc["m3"]
    t = cos.gather(1, labels[:, None])
    if m1 == 1 and m2 == 0:
        target = t - m3
    else:
        if m1 == 1:
            sin = torch.sqrt((1 - t * t).clamp_min(1e-9))
            margined, thr = t * math.cos(m2) - sin * math.sin(m2), math.cos(math.pi - m2)
        else:
            theta = torch.acos(t.clamp(-1 + 1e-7, 1 - 1e-7))
            margined, thr = torch.cos(theta * m1 + m2), math.cos((math.pi - m2) / m1)
        fallback = t - math.sin(math.pi - m2) * m2
        target = torch.where(t > thr, margined, fallback) - m3
    return cos.scatter(1, labels[:, None], target) * mc["s"]


def margin_config(m):
    """arcstream's marginConfig defaults."""
    kind = m.get("type", "arcface")
    return {"s": m.get("s", 64), "m1": m.get("m1", 1) if kind == "combined" else 1,
            "m2": 0 if kind == "cosface" else m.get("m2", 0.5 if kind == "arcface" else 0.3),
            "m3": 0 if kind == "arcface" else m.get("m3", 0.35 if kind == "cosface" else 0.2),
            "warmupSteps": m.get("warmupSteps", 0)}


def margin_at(mc, step):
    """arcstream's MarginHead.marginAt: no margin during the softmax warm start (0-based step)."""
    return mc if step >= mc["warmupSteps"] else {**mc, "m1": 1, "m2": 0, "m3": 0}


def schedule(sc):
    """arcstream's makeSchedule (model/train/schedule.ts): 0-based step -> lr."""
    if sc["kind"] == "piecewise":
        return lambda s: sc["values"][sum(1 for b in sc["boundaries"] if s >= b)]
    base, warm, total, power = sc["base"], sc["warmupSteps"], sc["totalSteps"], sc.get("power", 2)
    return lambda s: base * s / warm if s < warm else \
        base * (1 - min(1, (s - warm) / (total - warm))) ** power


def decay_groups(model, head, wd, decay_on, head_wd):
    """arcstream's decay set: "seed" = conv/FC kernels, BN gammas, PReLU alphas, class weights
    (the class weights at their own `head_wd`); (param groups, [(param, wd)] of the decayed)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    seed = lambda n, p: p.dim() > 1 or n.endswith("weight")  # noqa: E731
    body = [p for n, p in named if decay_on == "all" or seed(n, p)]
    rest = [p for n, p in named if not (decay_on == "all" or seed(n, p))]
    groups = [{"params": body, "weight_decay": wd}, {"params": [head], "weight_decay": head_wd},
              {"params": rest, "weight_decay": 0.0}]
    return groups, [(p, wd) for p in body] + [(head, head_wd)]


def heldout(model, pairs, folds, cache, batch=64):
    """10-fold verification with the flip test; (entry fields, [2N, D] embeddings)."""
    model.eval()
    keys = sorted({p for a, b, _ in pairs for p in (a, b)})
    embs = {}
    with torch.no_grad():
        for i in range(0, len(keys), batch):
            ks = keys[i:i + batch]
            x = torch.from_numpy(cache.batch(ks, [False] * len(ks)))
            e = model(torch.cat([x, x.flip(3)])).numpy()
            e = e[:len(ks)] + e[len(ks):]
            e /= np.linalg.norm(e, axis=1, keepdims=True)
            embs.update(zip(ks, e))
    model.train()
    rows = np.stack([embs[k] for a, b, _ in pairs for k in (a, b)])
    same = np.array([s for _, _, s in pairs])
    acc, std, area = data.verification(rows, same, folds)
    return {"accuracy": acc, "std": std, "auc": area, "pairs": len(pairs)}, rows


def step_on(model, head, opt, batch, cache, mc, lr, decayed):
    """One SGD step; the window fields of its log entry."""
    for g in opt.param_groups:
        g["lr"] = lr
    x = torch.from_numpy(cache.batch(batch["paths"], batch["flips"], batch.get("augments")))
    y = torch.tensor(batch["labels"])
    cos = F.linear(F.normalize(model(x)), F.normalize(head)).clamp(-1, 1)
    logits = margin_logits(cos, y, margin_at(mc, batch["step"]))
    loss = F.cross_entropy(logits, y)
    with torch.no_grad():
        decay = sum(0.5 * wd * float((p * p).sum()) for p, wd in decayed)
        acc = float((logits.argmax(1) == y).float().mean())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if not math.isfinite(float(loss)):
        raise SystemExit(f"torch_run: loss is {float(loss)} at step {batch['step']}")
    opt.step()
    return float(loss), decay, acc


def start_from(path, model, head, opt):
    """Loads an arcstream checkpoint's full training state; returns its step (the next to run)."""
    meta, backbone, head_w, slots = aw.read_arcs(path)
    aw.load_backbone(model, backbone)
    with torch.no_grad():
        head.copy_(head_w)
    named = dict(model.named_parameters())
    for key, buf in slots.items():
        p = head if key == "head" else named[key]
        opt.state[p]["momentum_buffer"] = buf.clone()
    trained = [n for n, p in named.items() if p.requires_grad]
    if meta["step"] > 0 and len(slots) != len(trained) + 1:
        raise SystemExit(f"torch_run: {path} has {len(slots)} momentum slots, the network "
                         f"trains {len(trained) + 1} tensors")
    return meta["step"]


def save_state(path, model, head, opt):
    """Every backbone tensor (torch keys), the class weights ("head", [C, D]) and the momentum
    buffers ("slot/<key>", "slot/head")."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays = {k: v.detach().numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
    for k, p in [*model.named_parameters(), ("head", head)]:
        buf = opt.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            arrays["slot/" + k] = buf.numpy()
    np.savez(path + ".tmp.npz", head=head.detach().numpy(), **arrays)
    os.replace(path + ".tmp.npz", path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--like", required=True, help="the arcstream run folder (its run.json)")
    p.add_argument("--order", help="deno task train-order output (default LIKE/order.jsonl)")
    p.add_argument("--out", required=True, help="run folder to write (must not hold a log)")
    p.add_argument("--style", choices=["arcface_torch", "arcstream"], default="arcface_torch")
    p.add_argument("--steps", type=int, help="stop earlier than the run (default: its steps)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="torch seed of the initial weights")
    p.add_argument("--init-from", help="an arcstream ckpt-<step>.arcs of this run: start at its "
                   "step from its weights, class weights and momentum (a paired run)")
    p.add_argument("--save-every", type=int, default=0,
                   help="write states/step-<N>.npz (weights, BN statistics, class weights)")
    p.add_argument("--no-mkldnn", action="store_true",
                   help="native conv kernels (~10x slower; make_parity.py needs them)")
    a = p.parse_args()
    cfg = json.load(open(os.path.join(a.like, "run.json")))["config"]
    if cfg.get("microBatch", 0) not in (0, cfg["batchSize"]):
        raise SystemExit("torch_run: --micro-batch runs are not reproduced")
    header, batches = data.read_order(a.order or os.path.join(a.like, "order.jsonl"))
    if header["batchSize"] != cfg["batchSize"] or header["seed"] != cfg["seed"]:
        raise SystemExit("torch_run: the order file was made for another run")
    steps = min(a.steps or cfg["steps"], cfg["steps"], header["steps"])
    os.makedirs(a.out, exist_ok=True)
    if os.path.exists(os.path.join(a.out, "log.jsonl")):
        raise SystemExit(f'torch_run: "{a.out}" already holds a log.jsonl')
    torch.set_num_threads(a.threads)
    net = cfg["network"]
    model = build_network(net, a.style, a.seed)
    # Importing make_parity.py turns mkldnn off (its fixture's backward aborted with it); these
    # runs train with it on: measured ~10x faster here for the r18 x0.25 at 64 px, no abort.
    torch.backends.mkldnn.enabled = not a.no_mkldnn
    head = nn.Parameter(torch.empty(header["numClasses"], net["embeddingSize"]).normal_(0, 0.01))
    groups, decayed = decay_groups(model, head, cfg["weightDecay"], cfg.get("decayOn", "seed"),
                                   cfg.get("headWeightDecay", cfg["weightDecay"]))
    opt = torch.optim.SGD(groups, lr=0.0, momentum=cfg["momentum"])
    mc, lr_at = margin_config(cfg["margin"]), schedule(cfg["schedule"])
    dct_scale = cfg.get("dctScale", "auto")  # runs from before the flag decoded "auto"
    cache = data.ImageCache(net["inputSize"], dct_scale)
    pairs = folds = None
    if cfg.get("evalPairs"):
        pairs, folds = data.read_pairs(
            cfg["evalPairs"], cfg.get("evalData") or os.path.dirname(cfg["evalPairs"]))
    start = 0
    if a.init_from:
        start = start_from(a.init_from, model, head, opt)
    log = Logger(a.out)
    json.dump({"like": a.like, "style": a.style, "dctScale": dct_scale, "mkldnn": not a.no_mkldnn,
               "steps": steps, "threads": a.threads, "initFrom": a.init_from,
               "torch": torch.__version__, "seed": a.seed, "config": cfg},
              open(os.path.join(a.out, "torch_run.json"), "w"), indent=2)
    log.note(f"torch_run: {a.style} network like {a.like}, dct-scale {dct_scale}, {steps} steps, "
             f"{header['numClasses']} classes, torch {torch.__version__}, {a.threads} thread(s)")
    model.train()
    win = [0, 0.0, 0.0, 0.0, 0.0, 0]  # images, seconds, loss, decay, acc, n
    rows = None
    for step0, batch in zip(range(steps), batches):
        if step0 < start:
            continue
        t0 = time.perf_counter()
        lr = lr_at(step0)
        loss, decay, acc = step_on(model, head, opt, batch, cache, mc, lr, decayed)
        dt, step = time.perf_counter() - t0, step0 + 1
        for i, v in enumerate([len(batch["paths"]), dt, loss, decay, acc, 1]):
            win[i] += v
        if step % cfg["logEvery"] == 0 or step == steps or step == 1:
            n = win[5]
            log.entry({"time": now(), "epoch": batch["epoch"], "step": step,
                       "totalLoss": (win[2] + win[3]) / n, "inferenceLoss": win[2] / n,
                       "weightDecayLoss": win[3] / n, "accuracy": win[4] / n, "lr": lr,
                       "imagesPerSec": win[0] / win[1]})
            win = [0, 0.0, 0.0, 0.0, 0.0, 0]
        if a.save_every > 0 and step % a.save_every == 0:
            save_state(os.path.join(a.out, "states", "step-%d.npz" % step), model, head, opt)
        every = cfg.get("evalEvery", 0)
        if pairs and (step == steps or (every > 0 and step % every == 0)):
            r, rows = heldout(model, pairs, folds, cache)
            log.append("heldout.jsonl", json.dumps({"time": now(), "step": step, **r}))
            log.note("step %d: held-out verification %.2f%% +- %.2f on %d pairs (AUC %.3f)" % (
                step, 100 * r["accuracy"], 100 * r["std"], r["pairs"], r["auc"]))
    if rows is not None:
        np.save(os.path.join(a.out, "heldout_embeddings.npy"), rows.astype(np.float32))


if __name__ == "__main__":
    main()
