#!/usr/bin/env python3
"""PyTorch peer of `deno task bench train`: times the same training step in PyTorch.

Run by bench/train.ts when a Python with torch is found (ARCSTREAM_PEER_PYTHON, else
python3, else /usr/bin/python3); also usable by hand:

    /usr/bin/python3 bench/train_peer.py --network r50 --batch 4 --steps 3

One step = forward of the backbone in training mode, ArcFace head (s=64, m=0.5) + softmax
cross-entropy, backward, momentum SGD (0.9, weight decay 5e-4) on a batch of random 112x112
images and random labels, as arcstream's bench does. Prints one JSON object on stdout.

Networks follow insightface's arcface_torch (recognition/arcface_torch/backbones): the IR-ResNet
(IBasicBlock: BN, conv3x3, BN, PReLU, conv3x3 with the stride, BN, + shortcut; output BN,
flatten, Dropout, FC from 512*7*7, BatchNorm1d) and MobileFaceNet "mbf" (blocks 1,4,6,2, scale 2,
GDC output), written out here so the bench needs nothing but torch.
"""
import argparse
import json
import math
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

IRESNET_UNITS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 14, 3], 100: [3, 13, 30, 3]}


class IRBlock(nn.Module):
    """IR block: BN, conv3x3, BN, PReLU, conv3x3 (stride), BN, + shortcut, no activation."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin, eps=1e-5),
            nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout, eps=1e-5),
            nn.PReLU(cout),
            nn.Conv2d(cout, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout, eps=1e-5),
        )
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5)
            )

    def forward(self, x):
        s = x if self.shortcut is None else self.shortcut(x)
        return self.body(x) + s


class IResNet(nn.Module):
    """arcface_torch's iresnet: stem conv3x3(64)+BN+PReLU, 4 stages (stride 2 each), "E" output."""

    def __init__(self, depth, embedding=512, dropout=0.4):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64, eps=1e-5), nn.PReLU(64)
        )
        layers, cin = [], 64
        for units, cout in zip(IRESNET_UNITS[depth], [64, 128, 256, 512]):
            for u in range(units):
                layers.append(IRBlock(cin, cout, 2 if u == 0 else 1))
                cin = cout
        self.body = nn.Sequential(*layers)
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(p=dropout, inplace=True)
        self.fc = nn.Linear(512 * 7 * 7, embedding)  # fc_scale = 7 * 7 at 112x112 input
        self.features = nn.BatchNorm1d(embedding, eps=1e-5)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)

    def forward(self, x):
        x = self.body(self.stem(x))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


def conv_bn(cin, cout, k=1, s=1, p=0, groups=1, act=True):
    """Conv (no bias) + BN (+ PReLU): MobileFaceNet's ConvBlock / LinearBlock."""
    mods = [nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        mods.append(nn.PReLU(cout))
    return nn.Sequential(*mods)


class DepthWise(nn.Module):
    """1x1 expand to `groups` + depthwise 3x3 (stride) + 1x1 linear projection (+ residual)."""

    def __init__(self, cin, cout, groups, stride, residual):
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(
            conv_bn(cin, groups),
            conv_bn(groups, groups, 3, stride, 1, groups=groups),
            conv_bn(groups, cout, act=False),
        )

    def forward(self, x):
        y = self.layers(x)
        return x + y if self.residual else y


class MobileFaceNet(nn.Module):
    """arcface_torch's get_mbf: blocks (1, 4, 6, 2), scale 2, GDC output (depthwise 7x7, FC, BN1d)."""

    def __init__(self, embedding=512, blocks=(1, 4, 6, 2), scale=2):
        super().__init__()
        c1, c2 = 64 * scale, 128 * scale
        mods = [conv_bn(3, c1, 3, 2, 1)]
        if blocks[0] == 1:
            mods.append(conv_bn(c1, c1, 3, 1, 1, groups=64))
        else:
            mods += [DepthWise(c1, c1, 128, 1, True) for _ in range(blocks[0])]
        mods.append(DepthWise(c1, c1, 128, 2, False))
        mods += [DepthWise(c1, c1, 128, 1, True) for _ in range(blocks[1])]
        mods.append(DepthWise(c1, c2, 256, 2, False))
        mods += [DepthWise(c2, c2, 256, 1, True) for _ in range(blocks[2])]
        mods.append(DepthWise(c2, c2, 512, 2, False))
        mods += [DepthWise(c2, c2, 256, 1, True) for _ in range(blocks[3])]
        mods.append(conv_bn(c2, 512))  # conv_sep
        self.body = nn.Sequential(*mods)
        self.gdc = conv_bn(512, 512, 7, 1, 0, groups=512, act=False)
        self.fc = nn.Linear(512, embedding, bias=False)
        self.features = nn.BatchNorm1d(embedding)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = torch.flatten(self.gdc(self.body(x)), 1)
        return self.features(self.fc(x))


class ArcFace(nn.Module):
    """s * cos(theta + m) on the label column (cos(theta) - sin(pi - m) * m past pi), then CE."""

    def __init__(self, embedding, classes, s=64.0, m=0.5):
        super().__init__()
        self.weight = nn.Parameter(torch.normal(0, 0.01, (classes, embedding)))
        self.s, self.m = s, m

    def forward(self, emb, labels):
        cos = F.linear(F.normalize(emb), F.normalize(self.weight)).clamp(-1, 1)
        target = cos.gather(1, labels[:, None])
        sin = torch.sqrt((1.0 - target * target).clamp_min(1e-9))
        margined = target * math.cos(self.m) - sin * math.sin(self.m)
        fallback = target - math.sin(math.pi - self.m) * self.m
        margined = torch.where(target > math.cos(math.pi - self.m), margined, fallback)
        logits = cos.scatter(1, labels[:, None], margined) * self.s
        return F.cross_entropy(logits, labels)


def build(network):
    if network == "mbf":
        return MobileFaceNet()
    depth = int(network.lstrip("r"))
    if depth not in IRESNET_UNITS:
        raise SystemExit(f"unknown network {network!r}: expected r18, r34, r50, r100 or mbf")
    return IResNet(depth)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", default="r50")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--input-size", type=int, default=112)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = build(a.network)
    head = ArcFace(512, a.classes)
    params = [q for q in list(net.parameters()) + list(head.parameters()) if q.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    net.train()
    # [B, 3, S, S] in [-1, 1] (PyTorch is NCHW; arcstream feeds the same shape as NHWC).
    x = torch.rand(a.batch, 3, a.input_size, a.input_size) * 2 - 1
    y = torch.randint(0, a.classes, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = head(net(x), y)
        loss.backward()
        opt.step()
        return float(loss)

    t0 = time.perf_counter()
    for _ in range(a.warmup):
        step()
    warm = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        loss = step()
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    json.dump({
        "network": a.network,
        "batch": a.batch,
        "classes": a.classes,
        "inputSize": a.input_size,
        "steps": a.steps,
        "warmupSteps": a.warmup,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "parameters": sum(q.numel() for q in net.parameters()),
        "secondsPerStep": round(secs / a.steps, 3),
        "imagesPerSec": round(a.batch * a.steps / secs, 3),
        "warmupSeconds": round(warm, 2),
        "cpuSecondsPerStep": round(cpu / a.steps, 3),
        "coresBusy": round(cpu / secs, 2),
        "lastLoss": round(loss, 4),
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
