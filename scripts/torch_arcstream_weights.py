"""arcstream's weights in PyTorch: an IR-ResNet export (model.json) or a training checkpoint
(ckpt-<step>.arcs: backbone, class weights, momentum slots) as arcface_torch tensors.

The inverse of model/io/torch_iresnet.ts's mapping: "s2u1_sc_conv/kernel" is
"layer2.0.downsample.0.weight"; conv kernels HWIO -> OIHW; PReLU [1, 1, C] -> [C]; the output FC's
kernel [S*S*C (rows (h*S + w)*C + c), E] -> fc.weight [E, C*S*S (columns c*S*S + h*S + w)];
gamma/beta/moving_mean/moving_variance -> weight/bias/running_mean/running_var. The class weights
are [D, C] in arcstream and [C, D] in torch. Used by torch_run.py --init-from and
torch_cross_eval.py.
"""
import hashlib
import json
import os
import struct

import numpy as np
import torch

PARAM = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
         "moving_mean": "running_mean", "moving_variance": "running_var", "alpha": "weight"}
FIXED = {"stem_conv": "conv1", "stem_bn": "bn1", "stem_prelu": "prelu", "out_bn1": "bn2",
         "out_fc": "fc", "out_bn2": "features"}


def torch_key(name):
    """'s2u1_sc_conv/kernel' -> 'layer2.0.downsample.0.weight' (torch_iresnet.ts's torchModule)."""
    layer, param = name.split("/")
    if layer in FIXED:
        module = FIXED[layer]
    else:
        stage, rest = layer[1], layer[3:]
        unit, part = rest.split("_", 1)
        part = {"sc_conv": "downsample.0", "sc_bn": "downsample.1"}.get(part, part)
        module = "layer%s.%d.%s" % (stage, int(unit) - 1, part)
    return module + "." + PARAM[param]


# The last stage's width C (the output FC's kernel has S*S*C rows): the size of this BN's statistics.
WIDTH_KEY = "out_bn1/moving_mean"


def to_torch(name, a, c4):
    """One weight from the LayersModel's layout to torch's; `c4` is the last stage's width."""
    if name.endswith("/kernel") and a.ndim == 4:
        return a.transpose(3, 2, 0, 1)
    if name.endswith("/kernel"):
        return a.reshape(-1, c4, a.shape[1]).transpose(2, 1, 0).reshape(a.shape[1], -1)
    if name.endswith("/alpha"):
        return a.reshape(-1)
    return a


def from_torch(name, a, c4):
    """to_torch's inverse: one torch weight in the LayersModel's layout."""
    if name.endswith("/kernel") and a.ndim == 4:
        return a.transpose(2, 3, 1, 0)
    if name.endswith("/kernel"):
        e = a.shape[0]
        return a.reshape(e, c4, -1).transpose(2, 1, 0).reshape(-1, e)
    if name.endswith("/alpha"):
        return a.reshape(1, 1, -1)
    return a


def tensor(name, a, c4):
    return torch.from_numpy(np.array(to_torch(name, a, c4), dtype=np.float32))


def read_export(path):
    """An arcstream model.json export -> {torch key: tensor}."""
    manifest = json.load(open(path))
    folder, arrays = os.path.dirname(path), {}
    for group in manifest["weightsManifest"]:
        blob = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            if w["dtype"] != "float32":
                raise SystemExit(f"{path}: {w['name']} is {w['dtype']}, not float32")
            n = int(np.prod(w["shape"]))
            arrays[w["name"]] = np.frombuffer(blob, "<f4", n, off).reshape(w["shape"])
            off += 4 * n
    c4 = arrays[WIDTH_KEY].shape[0]
    return {torch_key(name): tensor(name, a, c4) for name, a in arrays.items()}


def read_backbone(path):
    """{torch key: tensor} of a `.pth`/`.pt` state dict, an `.arcs` checkpoint or a model.json."""
    if path.endswith((".pth", ".pt")):
        return torch.load(path)
    if path.endswith(".arcs"):
        return read_arcs(path)[1]
    return read_export(path)


def split_arcs(path):
    """A ckpt-<step>.arcs (format 2) checked (magic, digest) -> (header bytes, header, data)."""
    raw = open(path, "rb").read()
    if raw[:8] != b"ARCSCKP2":
        raise SystemExit(f"{path}: not an arcstream checkpoint (format 2)")
    if hashlib.sha256(raw[:-32]).digest() != raw[-32:]:
        raise SystemExit(f"{path}: damaged (digest mismatch)")
    (hlen,) = struct.unpack("<I", raw[8:12])
    header_bytes = raw[12:12 + hlen]
    return header_bytes, json.loads(header_bytes), raw[12 + hlen:-32]


def arcs_width(header):
    """The last stage's width, from a checkpoint header's tensor list."""
    return next(e["shape"][0] for e in header["tensors"] if e["key"] == "model/" + WIDTH_KEY)


def read_arcs(path):
    """A ckpt-<step>.arcs (format 2, digest checked) -> (meta, backbone {torch key: tensor},
    head [C, D], momentum slots {torch key or "head": tensor})."""
    _, header, data = split_arcs(path)
    c4 = arcs_width(header)
    backbone, slots, head = {}, {}, None
    for e in header["tensors"]:
        a = np.frombuffer(data, "<f4" if e["dtype"] == "float32" else "<i4",
                          e["byteLength"] // 4, e["offset"]).reshape(e["shape"])
        key = e["key"]
        slot = key.startswith("slot/")
        key = key[5:] if slot else key
        if key == "head/weights":
            t = torch.from_numpy(a.T.copy())  # [D, C] -> [C, D]
            if slot:
                slots["head"] = t
            else:
                head = t
        elif key.startswith("model/"):
            (slots if slot else backbone)[torch_key(key[6:])] = tensor(key[6:], a, c4)
    return header["meta"], backbone, head, slots


def write_arcs(template, state, out):
    """Writes `state` (torch keys, "head" [C, D], "slot/<key>", "slot/head": numpy arrays) as an
    arcstream checkpoint with `template`'s meta and tensor list (a checkpoint of the same run at
    the same step: its data cursor, seeds and config), digest and all; atomically."""
    header_bytes, header, _ = split_arcs(template)
    c4 = arcs_width(header)
    parts = []
    for e in header["tensors"]:
        slot = e["key"].startswith("slot/")
        key = e["key"][5:] if slot else e["key"]
        if key == "head/weights":
            a = state["slot/head" if slot else "head"].T
        elif key == "model/out_bn2/gamma" and "features.weight" not in state:
            a = np.ones(e["shape"], np.float32)
        else:
            name = key[6:]
            src = ("slot/" if slot else "") + torch_key(name)
            if src not in state:
                raise SystemExit(f"{template}: {e['key']} has no counterpart ({src}) in the state")
            a = from_torch(name, state[src], c4)
        a = np.ascontiguousarray(a, dtype="<f4")
        if list(a.shape) != e["shape"] or a.nbytes != e["byteLength"]:
            raise SystemExit(f"{e['key']}: shape {list(a.shape)}, the template's {e['shape']}")
        parts.append(a.tobytes())
    body = b"ARCSCKP2" + struct.pack("<I", len(header_bytes)) + header_bytes + b"".join(parts)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(body + hashlib.sha256(body).digest())
    os.replace(tmp, out)


def load_backbone(model, sd):
    """Loads `sd` into arcface_torch's IResNet; a fixed output-BN scale (not saved) is 1."""
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if [k for k in missing if k != "features.weight"] or unexpected:
        raise SystemExit(f"weights do not fit the network: missing {missing}, unexpected "
                         f"{unexpected}")
    if "features.weight" in missing:
        with torch.no_grad():
            model.features.weight.fill_(1.0)

