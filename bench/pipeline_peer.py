"""Peer for `deno task bench pipeline`: the same job with OpenCV on one thread.

list -> shuffle -> cv2.imread (libjpeg-turbo) -> RGB -> cv2.resize INTER_AREA to 112 ->
float32 (x - 127.5) / 128 into a [B, 112, 112, 3] batch, as arcstream's pipeline does. Also times
decode + resize alone, with the full decode and with IMREAD_REDUCED_COLOR_2 (the 1/2 DCT scale).
Prints one JSON object. Run by bench/pipeline.ts when a Python with cv2 is found.
"""
import argparse
import json
import os
import random
import time

import cv2
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--limit", type=int, default=4096)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    cv2.setNumThreads(a.threads)
    t = time.perf_counter()
    paths = []
    for name in sorted(os.listdir(a.data)):
        d = os.path.join(a.data, name)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.lower().endswith((".jpg", ".jpeg", ".png")):
                paths.append(os.path.join(d, f))
    list_s = time.perf_counter() - t
    random.Random(7).shuffle(paths)
    paths = paths[: a.limit]
    s, b = a.size, a.batch_size

    def load(path):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError(f"cannot decode {path}")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        if img.shape[0] != s or img.shape[1] != s:
            img = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
        return img

    def load_reduced(path):
        # IMREAD_REDUCED_COLOR_2: libjpeg-turbo's 1/2 DCT scale (arcstream's reduceTo), when the
        # half-size image still covers the target; otherwise the full decode.
        img = cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_2)
        if img is None or img.shape[0] < s or img.shape[1] < s:
            return load(path)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        if img.shape[0] != s or img.shape[1] != s:
            img = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
        return img

    for path in paths[:8]:  # warm the page cache and OpenCV's code paths
        load(path)
        load_reduced(path)
    t = time.perf_counter()
    for path in paths:
        load(path)
    decode_s = time.perf_counter() - t
    t = time.perf_counter()
    for path in paths:
        load_reduced(path)
    reduced_s = time.perf_counter() - t
    t = time.perf_counter()
    c = time.process_time()
    batch = np.empty((b, s, s, 3), np.float32)
    n = 0
    for i in range(0, len(paths) - b + 1, b):
        for j, path in enumerate(paths[i : i + b]):
            batch[j] = (load(path).astype(np.float32) - 127.5) / 128.0
        n += b
    e2e_s = time.perf_counter() - t
    cpu_s = time.process_time() - c
    print(json.dumps({
        "peer": "opencv",
        "opencv": cv2.__version__,
        "threads": a.threads,
        "images": n,
        "images_per_s": round(n / e2e_s),
        "cpu_ms_per_image": round(1000 * cpu_s / max(1, n), 3),
        "decode_resize_only_images_per_s": round(len(paths) / decode_s),
        "reduced_decode_resize_only_images_per_s": round(len(paths) / reduced_s),
        "list_s": round(list_s, 3),
    }))


if __name__ == "__main__":
    main()
