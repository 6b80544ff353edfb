#!/usr/bin/python3
"""PyTorch-side check of a `deno task pack` folder (docs/cluster.md): reads train.rec / train.idx
with a Dataset written the way insightface's arcface_torch `MXFaceDataset` reads (record 0's
IRHeader gives the image keys 1..header.label[0]-1; each image record's IRHeader label, its first
element when it is an array; the JPEG decoded to RGB; (x / 255 - 0.5) / 0.5), without MXNet: the
RecordIO reader below follows MXNet's python/mxnet/recordio.py (MXIndexedRecordIO.read_idx, unpack
with struct 'IfQQ'). Then trains one CPU SGD step of arcface_torch's IResNet (re-typed in
fixtures/torch/make_parity.py, imported from there) with the ArcFace head on a batch of it and
saves the backbone's state_dict for `deno task import-torch`.

    /usr/bin/python3 scripts/check_pack_torch.py PACK_DIR OUT.pth [--batch 8]

Prints a JSON summary. Needs torch, numpy and PIL (no torchvision, no mxnet).
"""
import importlib.util
import io
import json
import numbers
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "make_parity", os.path.join(HERE, "..", "fixtures", "torch", "make_parity.py"))
arc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(arc)  # IResNet, IBasicBlock, ArcFace; sets mkldnn off and the seeds

_MAGIC = 0xCED7230A
_IR_FORMAT = "IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)


class IndexedRecordIO:
    """MXNet's MXIndexedRecordIO, read only: `.idx` is "key\\toffset" lines."""

    def __init__(self, idx_path, rec_path):
        self.idx = {}
        self.keys = []
        with open(idx_path) as f:
            for line in f:
                k, o = line.strip().split("\t")
                self.idx[int(k)] = int(o)
                self.keys.append(int(k))
        self.f = open(rec_path, "rb")

    def read_idx(self, key):
        self.f.seek(self.idx[key])
        parts = []
        while True:
            magic, lrec = struct.unpack("<II", self.f.read(8))
            assert magic == _MAGIC, "bad RecordIO magic"
            cflag, length = lrec >> 29, lrec & ((1 << 29) - 1)
            if cflag in (2, 3):
                parts.append(struct.pack("<I", _MAGIC))
            parts.append(self.f.read(length))
            self.f.read((4 - length % 4) % 4)
            if cflag in (0, 3):
                return b"".join(parts)


def unpack(s):
    """mx.recordio.unpack: (IRHeader(flag, label, id, id2), payload)."""
    flag, label, id_, id2 = struct.unpack(_IR_FORMAT, s[:_IR_SIZE])
    s = s[_IR_SIZE:]
    if flag > 0:
        label = np.frombuffer(s, np.float32, flag)
        s = s[flag * 4:]
    return (flag, label, id_, id2), s


class MXFaceDataset(torch.utils.data.Dataset):
    """As arcface_torch/dataset.py MXFaceDataset (no random flip: one deterministic step)."""

    def __init__(self, root_dir):
        self.imgrec = IndexedRecordIO(os.path.join(root_dir, "train.idx"),
                                      os.path.join(root_dir, "train.rec"))
        header, _ = unpack(self.imgrec.read_idx(0))
        if header[0] > 0:
            self.header0 = (int(header[1][0]), int(header[1][1]))
            self.imgidx = np.array(range(1, int(header[1][0])))
        else:
            self.imgidx = np.array(list(self.imgrec.keys))

    def __getitem__(self, index):
        header, img = unpack(self.imgrec.read_idx(int(self.imgidx[index])))
        label = header[1]
        if not isinstance(label, numbers.Number):
            label = label[0]
        sample = np.asarray(Image.open(io.BytesIO(img)).convert("RGB"))
        x = torch.from_numpy(sample.copy()).permute(2, 0, 1).float().div(255).sub(0.5).div(0.5)
        return x, torch.tensor(label, dtype=torch.long)

    def __len__(self):
        return len(self.imgidx)


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if args and args[0] in ("-h", "--help") else 2)
    root, out = args[0], args[1]
    batch = int(args[args.index("--batch") + 1]) if "--batch" in args else 8
    ds = MXFaceDataset(root)
    classes = int(open(os.path.join(root, "property")).read().split(",")[0])
    a, b = ds.header0
    assert b - a == classes, f"header0 {ds.header0} vs property {classes} classes"
    # Identity records a..b-1: label [first, end) covers exactly that class's images.
    labels = [int(unpack(ds.imgrec.read_idx(int(k)))[0][1]) for k in ds.imgidx]
    for c, key in enumerate(range(a, b)):
        (flag, rng, _, _), _ = unpack(ds.imgrec.read_idx(key))
        first, end = int(rng[0]), int(rng[1])
        assert flag == 2 and all(labels[k - 1] == c for k in range(first, end)), f"identity {c}"
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    x, y = next(iter(loader))
    model = arc.IResNet(arc.IBasicBlock, [2, 2, 2, 2], dropout=0, num_features=arc.EMB,
                        widths=arc.WIDTHS)
    head = torch.nn.Parameter(torch.randn(classes, arc.EMB) * 0.01)
    opt = torch.optim.SGD([{"params": list(model.parameters()) + [head]}], lr=0.1, momentum=0.9,
                          weight_decay=5e-4)
    model.train()
    logits = F.linear(F.normalize(model(x)), F.normalize(head)).clamp(-1, 1)
    loss = F.cross_entropy(arc.ArcFace(64.0, 0.5)(logits, y), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    torch.save(model.state_dict(), out)
    print(json.dumps({
        "images": len(ds), "classes": classes, "header0": [a, b], "batch": list(x.shape),
        "batchLabels": y.tolist(), "loss": round(loss.item(), 4), "saved": out,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
