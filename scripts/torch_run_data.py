"""Data side of scripts/torch_run.py: arcstream's decode rule, its exported batch order, and the
held-out verification (insightface's 10-fold LFW protocol), in numpy + OpenCV.

The decode is OpenCV's, which arcstream's is bit for bit (docs/pipeline.md, held by
tests/decode_opencv_test.ts): under the run's `dctScale` "auto" (the default) a JPEG is read at
the smallest DCT scale 1/d (d in 8, 4, 2) whose size ceil(side / d) still covers the input side S
in both dimensions (IMREAD_REDUCED_COLOR_d), whole otherwise or under "off" (IMREAD_COLOR); then
area-averaged down to S x S (INTER_AREA; bilinear when enlarging), mirrored when the batch says
so, normalized as (x - 127.5) / 128. Other formats (PNG) are read whole under both values.
A run with `--crop-scale`/`--jitter` crops the decoded image before the resize and tone-maps the
resized one, from the draws order.jsonl exports (pipeline/decode/augment.ts, the same integer
arithmetic and `floor(x + 0.5)` rounding): the same inputs as arcstream's.
"""
import json
import math
import os

import cv2
import numpy as np
from PIL import Image

REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
           8: cv2.IMREAD_REDUCED_COLOR_8}


def scale_for(w, h, size):
    """The DCT scale denominator: the smallest 1/d whose ceil(side / d) covers `size`."""
    return next(d for d in (8, 4, 2, 1) if math.ceil(w / d) >= size and math.ceil(h / d) >= size)


def read_rgb(path, size, dct_scale="auto"):
    """uint8 [H, W, 3] RGB as decoded before the resize (at the DCT scale covering `size`)."""
    d = 1
    if dct_scale == "auto" and path.lower().endswith((".jpg", ".jpeg")):
        with Image.open(path) as im:  # reads the header only
            w, h = im.size
        d = scale_for(w, h, size)
    bgr = cv2.imread(path, REDUCED[d])
    if bgr is None:
        raise SystemExit(f'Cannot decode "{path}"')
    return np.ascontiguousarray(bgr[:, :, ::-1])


def resize(rgb, size):
    """`rgb` at S x S: INTER_AREA when shrinking both sides, bilinear otherwise (resizeRgb)."""
    if rgb.shape[:2] != (size, size):
        shrink = rgb.shape[0] >= size and rgb.shape[1] >= size
        rgb = cv2.resize(rgb, (size, size),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return rgb


def decode(path, size, dct_scale="auto"):
    """uint8 [S, S, 3] RGB, made as arcstream's training and held-out decode makes it."""
    return resize(read_rgb(path, size, dct_scale), size)


def span(n, f, u):
    """A crop's side max(1, round(f * n)) and start in [0, n - side] on an axis of length n."""
    side = min(n, max(1, math.floor(f * n + 0.5)))
    return side, min(n - side, math.floor(u * (n - side + 1)))


def augmented(src, size, aug):
    """uint8 [S, S, 3]: `src` cropped by aug["crop"] = [f, u, v], resized, toned by aug["tone"]."""
    if "crop" in aug:
        f, u, v = aug["crop"]
        w, x0 = span(src.shape[1], f, u)
        h, y0 = span(src.shape[0], f, v)
        src = np.ascontiguousarray(src[y0:y0 + h, x0:x0 + w])
    img = resize(src, size)
    if "tone" in aug:
        gain, shift = aug["tone"]
        v = np.arange(256, dtype=np.float64)
        lut = np.clip(np.floor(gain * (v - 128) + 128 + 128 * shift + 0.5), 0, 255)
        img = lut.astype(np.uint8)[img]
    return img


class ImageCache:
    """Decoded images by path (each decoded once: 12 K faces at 64 px are 150 MB)."""

    def __init__(self, size, dct_scale="auto"):
        self.size, self.images, self.dct_scale = size, {}, dct_scale
        self.sources = {}  # decoded before the resize, for augmented batches

    def get(self, path):
        img = self.images.get(path)
        if img is None:
            img = self.images[path] = decode(path, self.size, self.dct_scale)
        return img

    def source(self, path):
        """The image as decoded before the resize (what an augmented batch crops), cached."""
        img = self.sources.get(path)
        if img is None:
            img = self.sources[path] = read_rgb(path, self.size, self.dct_scale)
        return img

    def batch(self, paths, flips, augments=None):
        """float32 [B, 3, S, S] in arcstream's (x - 127.5) / 128, augmented by augments[i] when
        given, mirrored where flips[i]."""
        if augments is None:
            imgs = [self.get(p) for p in paths]
        else:
            imgs = [augmented(self.source(p), self.size, a) for p, a in zip(paths, augments)]
        imgs = [m[:, ::-1] if f else m for m, f in zip(imgs, flips)]
        x = np.stack(imgs).astype(np.float32)
        return np.ascontiguousarray(((x - 127.5) / 128).transpose(0, 3, 1, 2))


def read_order(path):
    """`deno task train-order` output: (header, iterator over batches)."""
    f = open(path)
    header = json.loads(f.readline())

    def batches():
        with f:
            for line in f:
                if line.strip():
                    yield json.loads(line)
    return header, batches()


def read_pairs(path, image_dir):
    """LFW pairs.txt ("F N" header: F folds of N same + N different pairs) -> pairs, fold sizes."""
    lines = [ln.split() for ln in open(path) if ln.strip()]
    head = [int(v) for v in lines[0]]
    pairs = []
    for p in lines[1:]:
        same = len(p) == 3  # "Name i j" or "NameA i NameB j"
        a, b = (p[0], int(p[1])), ((p[0], int(p[2])) if same else (p[2], int(p[3])))
        pairs.append((lfw_path(image_dir, *a), lfw_path(image_dir, *b), same))
    folds = [2 * head[1]] * head[0] if len(head) == 2 else [len(pairs)]
    return pairs, folds


def lfw_path(root, name, index):
    return os.path.join(root, name, "%s_%04d.jpg" % (name, index))


def accuracy_10fold(dist, same, fold_sizes):
    """insightface calculate_roc's accuracy: thresholds 0..3.99, the first best on the other
    folds applied to each fold (dist < threshold = same); mean and population std."""
    thresholds = np.arange(0, 4, 0.01)
    pred = dist[None, :] < thresholds[:, None]  # [T, N]
    correct = pred == same[None, :]
    edges = np.cumsum([0] + list(fold_sizes))
    accs = []
    for k in range(len(fold_sizes)):
        test = np.zeros(len(dist), bool)
        test[edges[k]:edges[k + 1]] = True
        best = int(np.argmax(correct[:, ~test].mean(1)))
        accs.append(correct[best, test].mean())
    return float(np.mean(accs)), float(np.std(accs))


def verification(rows, same, fold_sizes):
    """eval-lfw's scores of [2N, D] unit rows (rows 2i, 2i+1 = pair i): the squared L2 distance of
    each pair; (accuracy, its std over the folds, AUC)."""
    dist = ((rows[0::2] - rows[1::2]) ** 2).sum(1)
    acc, std = accuracy_10fold(dist, same, fold_sizes)
    return acc, std, auc(dist, same)


def auc(dist, same):
    """Area under the ROC of "same when dist is small" (ties count one half)."""
    s, d = dist[same], dist[~same]
    order = np.sort(d)
    below = np.searchsorted(order, s, "left")
    ties = np.searchsorted(order, s, "right") - below
    return float(((len(d) - below - ties) + 0.5 * ties).sum() / (len(s) * len(d)))
