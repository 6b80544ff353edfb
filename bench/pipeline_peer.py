"""Peer for `deno task bench pipeline`: the same job with OpenCV on one thread.

list -> shuffle -> cv2.imread (libjpeg-turbo, accurate ISLOW IDCT) -> RGB -> cv2.resize
INTER_AREA to 112 -> float32 (x - 127.5) / 128 into a [B, 112, 112, 3] batch, twice:
  - "reduced": IMREAD_REDUCED_COLOR_k, k the largest of 8, 4, 2 whose decode still covers 112 (2
    for LFW's 250 px), then INTER_AREA: the same work as arcstream's default `--dct-scale auto`
    (bit-identical pixels, tests/decode_opencv_test.ts);
  - "full": IMREAD_COLOR, then INTER_AREA: the same work as arcstream's `--dct-scale off`.
Also times decode + resize alone both ways. Prints one JSON object. Run by bench/pipeline.ts
when a Python with cv2 is found.
"""
import argparse
import json
import os
import random
import time

import cv2
import numpy as np


def jpeg_size(path):
    """(height, width) from a JPEG's SOF marker (what TurboJPEG's header read gives)."""
    with open(path, "rb") as f:
        data = f.read(65536)
    p = 2
    while p + 9 < len(data) and data[p] == 0xFF:
        marker = data[p + 1]
        length = int.from_bytes(data[p + 2 : p + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            return int.from_bytes(data[p + 5 : p + 7], "big"), int.from_bytes(data[p + 7 : p + 9], "big")
        p += 2 + length
    return 0, 0


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

    reduced_flags = [(8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                     (2, cv2.IMREAD_REDUCED_COLOR_2)]

    def load_reduced(path):
        # arcstream's --dct-scale auto: the smallest DCT scale whose decode, ceil(side / k), still
        # covers the target (LFW's 250 px: k = 2); the header read picks k, as arcstream's does.
        if path.lower().endswith((".jpg", ".jpeg")):
            h, w = jpeg_size(path)
            for k, flag in reduced_flags:
                if -(-h // k) >= s and -(-w // k) >= s:
                    img = cv2.imread(path, flag)
                    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                    if img.shape[0] != s or img.shape[1] != s:
                        img = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
                    return img
        return load(path)

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

    def end_to_end(loader):
        t = time.perf_counter()
        c = time.process_time()
        batch = np.empty((b, s, s, 3), np.float32)
        n = 0
        for i in range(0, len(paths) - b + 1, b):
            for j, path in enumerate(paths[i : i + b]):
                batch[j] = (loader(path).astype(np.float32) - 127.5) / 128.0
            n += b
        return n, time.perf_counter() - t, time.process_time() - c

    n, e2e_s, cpu_s = end_to_end(load_reduced)
    _, full_s, full_cpu_s = end_to_end(load)
    print(json.dumps({
        "peer": "opencv",
        "opencv": cv2.__version__,
        "threads": a.threads,
        "images": n,
        "images_per_s": round(n / e2e_s),
        "cpu_ms_per_image": round(1000 * cpu_s / max(1, n), 3),
        "full_decode_images_per_s": round(n / full_s),
        "full_decode_cpu_ms_per_image": round(1000 * full_cpu_s / max(1, n), 3),
        "decode_resize_only_images_per_s": round(len(paths) / decode_s),
        "reduced_decode_resize_only_images_per_s": round(len(paths) / reduced_s),
        "list_s": round(list_s, 3),
    }))


if __name__ == "__main__":
    main()
