"""Does a metric learned on the training people's embeddings help on unseen people?

The question behind docs/benchmarks.md's learned-metric paragraph (issue 21): an lfw-fold model's
embeddings of its own training images (people with two or more images) give a within-person
covariance Sw and a between-person covariance Sb; WCCN (x -> Sw^-1/2 x), PCA whitening of all
training embeddings and LDA (the top k directions of Sw^-1/2 Sb Sw^-1/2) are the classic post-hoc
metrics of small-data face verification (DeepID's era). Each is scored on the fold's own pairs with
the same 10-fold protocol as eval-lfw (scripts/torch_run_data.py, so Debian's Python with
python3-opencv, as the other scripts).

  # 1. a pairs file whose first N pairs are the training images, each paired with itself
  /usr/bin/python3 scripts/lfw_metric_probe.py pairs FOLD/split/train.lst train_pairs.txt
  # 2. embeddings of those images and of the fold's pairs (rows 2i, 2i+1 = pair i)
  deno task eval-lfw --pairs train_pairs.txt --data ALIGNED --aligned \
    --model RUN/export/model.json --out tmp_train --save-embeddings train.npy --quiet
  deno task eval-lfw --pairs FOLD/split/pairs.txt --data ALIGNED --aligned \
    --model RUN/export/model.json --out tmp_test --save-embeddings test.npy --quiet
  # 3. accuracy and AUC of each metric on the fold's pairs
  /usr/bin/python3 scripts/lfw_metric_probe.py score train.npy train_pairs.txt.labels test.npy \
    FOLD/split/pairs.txt
"""
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_run_data import read_pairs, verification  # noqa: E402


def write_pairs(train_list, out):
    """Every image of a person with >= 2 images in the list, paired with itself ("N" header: N same
    pairs, then N different ones, each image against the next person's first image)."""
    people = collections.OrderedDict()
    for line in open(train_list):
        if not line.strip():
            continue
        path = line.split()[0]
        name = path.split("/")[0]
        people.setdefault(name, []).append(int(path.rsplit("_", 1)[1].split(".")[0]))
    kept = [(k, v) for k, v in people.items() if len(v) >= 2]
    images = [(k, n) for k, v in kept for n in v]
    firsts = {k: (kept[(i + 1) % len(kept)][0], kept[(i + 1) % len(kept)][1][0])
              for i, (k, _) in enumerate(kept)}
    with open(out, "w") as f:
        f.write("%d\n" % len(images))
        for k, n in images:
            f.write("%s\t%d\t%d\n" % (k, n, n))
        for k, n in images:
            f.write("%s\t%d\t%s\t%d\n" % (k, n, *firsts[k]))
    with open(out + ".labels", "w") as f:
        f.writelines(k + "\n" for k, _ in images)
    print("%d images of %d people -> %s" % (len(images), len(kept), out))


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def inv_sqrt(cov, eps):
    w, v = np.linalg.eigh(cov)
    return v @ np.diag(1 / np.sqrt(np.maximum(w, 0) + eps)) @ v.T


def score(test, same, folds, transform):
    mean, _, area = verification(unit(transform(test)), same, folds)
    return 100 * mean, area


def main_score(train_npy, labels_path, test_npy, pairs_path):
    labels = [ln.strip() for ln in open(labels_path) if ln.strip()]
    x = unit(np.load(train_npy)[0:2 * len(labels):2].astype(np.float64))  # [M, D]
    test = np.load(test_npy).astype(np.float64)  # [2P, D]
    pairs, folds = read_pairs(pairs_path, "")
    same = np.array([p[2] for p in pairs])
    ids = {k: i for i, k in enumerate(sorted(set(labels)))}
    lab = np.array([ids[k] for k in labels])
    mu = x.mean(0)
    centres = np.stack([x[lab == c].mean(0) for c in range(len(ids))])
    within = (x - centres[lab]).T @ (x - centres[lab]) / len(x)
    between = np.cov((centres - mu).T, bias=True)
    total = np.cov(x.T, bias=True)
    rows = [("plain cosine", lambda t: t)]
    for eps in (1e-3, 1e-2, 1e-1):
        w = inv_sqrt(within, eps)
        rows.append(("WCCN eps %g" % eps, lambda t, w=w: (t - mu) @ w))
        rows.append(("PCA whitening eps %g" % eps, lambda t, w=inv_sqrt(total, eps): (t - mu) @ w))
        _, vecs = np.linalg.eigh(w @ between @ w)  # ascending eigenvalues
        for k in (32, 64):
            p = w @ vecs[:, ::-1][:, :k]
            rows.append(("LDA eps %g, %d dims" % (eps, k), lambda t, p=p: (t - mu) @ p))
    print("%d training images of %d people, %d pairs" % (len(x), len(ids), len(pairs)))
    for name, f in rows:
        acc, area = score(test, same, folds, f)
        print("%-26s accuracy %6.2f%%  AUC %.4f" % (name, acc, area))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "pairs":
        write_pairs(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 6 and sys.argv[1] == "score":
        main_score(*sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
