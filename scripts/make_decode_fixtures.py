"""Writes fixtures/decode/: small JPEG/PNG files and the exact RGB pixels OpenCV (and PIL) give.

Run from the repository root with Debian's Python (OpenCV 4.6, Pillow):

    /usr/bin/python3 scripts/make_decode_fixtures.py

Inputs are files already committed: LFW photos from fixtures/pipeline/images (250x250, 4:2:0) and a
57x45 crop of one of them, re-saved by Pillow as baseline / progressive JPEGs at 4:2:0, 4:2:2 and
4:4:4, grayscale, CMYK, with each EXIF orientation 2-8, and as RGB / gray / RGBA / palette PNGs.

References (raw RGB, row-major, [height, width, 3] uint8, listed in manifest.json):
  - "imread": cv2.imread(path, IMREAD_COLOR) (applies EXIF orientation, OpenCV 4.x's default),
    BGR -> RGB. "pil_max_diff" records how far PIL (ImageOps.exif_transpose, convert("RGB")) is.
  - "reduced_area": cv2.imread(path, IMREAD_REDUCED_COLOR_k) then cv2.resize(INTER_AREA), k the
    largest of 8, 4, 2 whose decode ceil(side / k) still covers the target (else a full decode):
    arcstream's `--dct-scale auto`.
  - "area": full cv2.imread then cv2.resize(INTER_AREA): arcstream's `--dct-scale off`.
  - "linear": full cv2.imread then cv2.resize(INTER_LINEAR) (enlarging: bilinear, half-pixel
    centres, OpenCV's 11-bit fixed-point weights).
"""

import io
import json
import os

import cv2
import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "decode")
LFW = os.path.join(ROOT, "fixtures", "pipeline", "images")
PHOTO_A = os.path.join(LFW, "Aaron_Peirsol", "Aaron_Peirsol_0001.jpg")
PHOTO_B = os.path.join(LFW, "Adrien_Brody", "Adrien_Brody_0001.jpg")
REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}

entries = []


def rel(path):
    return os.path.relpath(path, ROOT)


def imread_rgb(path, flags=cv2.IMREAD_COLOR):
    bgr = cv2.imread(path, flags)
    assert bgr is not None, path
    return np.ascontiguousarray(bgr[:, :, ::-1])


def pil_rgb(path):
    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))


def save_ref(name, pixels, **info):
    raw = name + ".rgb"
    with open(os.path.join(OUT, raw), "wb") as f:
        f.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    entry = {"name": name, "pixels": raw, "height": int(pixels.shape[0]), "width": int(pixels.shape[1])}
    entry.update(info)
    entries.append(entry)


def reference_decode(path, name):
    """The full decode of `path` as OpenCV gives it, and how far PIL's is."""
    cv = imread_rgb(path)
    pil = pil_rgb(path)
    diff = int(np.abs(cv.astype(int) - pil.astype(int)).max()) if cv.shape == pil.shape else None
    save_ref(name, cv, op="imread", source=rel(path), pil_max_diff=diff)


def dct_k(h, w, size):
    for k in (8, 4, 2):
        if -(-h // k) >= size and -(-w // k) >= size:
            return k
    return 1


def reference_resizes(path, name, sizes):
    full = imread_rgb(path)
    h, w = full.shape[:2]
    for s in sizes:
        k = dct_k(h, w, s)
        reduced = imread_rgb(path, REDUCED[k]) if k > 1 else full
        auto = cv2.resize(reduced, (s, s), interpolation=cv2.INTER_AREA)
        save_ref(f"{name}_auto_{s}", auto, op="reduced_area", source=rel(path), size=s, k=k)
        off = cv2.resize(full, (s, s), interpolation=cv2.INTER_AREA)
        save_ref(f"{name}_off_{s}", off, op="area", source=rel(path), size=s)


def write_jpegs(crop):
    """The crop as Pillow JPEGs of every layout arcstream must decode like OpenCV."""
    im = Image.fromarray(crop)
    layouts = {
        "baseline_420": dict(subsampling=2),
        "baseline_422": dict(subsampling=1),
        "baseline_444": dict(subsampling=0),
        "progressive_420": dict(subsampling=2, progressive=True),
        "progressive_444": dict(subsampling=0, progressive=True),
    }
    for name, opts in layouts.items():
        im.save(os.path.join(OUT, name + ".jpg"), quality=90, **opts)
    im.convert("L").save(os.path.join(OUT, "gray.jpg"), quality=90)
    im.convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=90)
    for o in range(2, 9):
        exif = Image.Exif()
        exif[0x0112] = o  # Orientation
        im.save(os.path.join(OUT, f"exif_{o}.jpg"), quality=90, subsampling=2, exif=exif.tobytes())
    im.save(os.path.join(OUT, "rgb.png"))
    im.convert("L").save(os.path.join(OUT, "gray.png"))
    rgba = im.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(os.path.join(OUT, "rgba.png"))
    im.convert("P", palette=Image.ADAPTIVE, colors=32).save(os.path.join(OUT, "palette.png"))
    names = list(layouts) + ["gray", "cmyk"] + [f"exif_{o}" for o in range(2, 9)]
    return [n + ".jpg" for n in names] + ["rgb.png", "gray.png", "rgba.png", "palette.png"]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith((".jpg", ".png", ".rgb", ".json")):
            os.remove(os.path.join(OUT, f))
    # A 57 x 45 crop (odd sides: partial MCUs) of an LFW face, as OpenCV decodes it.
    crop = imread_rgb(PHOTO_A)[70:127, 100:145]
    for f in write_jpegs(crop):
        reference_decode(os.path.join(OUT, f), f.replace(".", "_"))
    # A 250 px LFW photo whole, and the resizes training does (250 -> 112, 64, 100 = non-integer).
    reference_decode(PHOTO_A, "lfw_a")
    reference_resizes(PHOTO_A, "lfw_a", [112, 64, 100])
    reference_resizes(PHOTO_B, "lfw_b", [112])
    # Enlarging: the 4:4:4 crop (57 x 45) to 112 x 112, bilinear.
    small = imread_rgb(os.path.join(OUT, "baseline_444.jpg"))
    up = cv2.resize(small, (112, 112), interpolation=cv2.INTER_LINEAR)
    save_ref("baseline_444_linear_112", up, op="linear", source=rel(os.path.join(OUT, "baseline_444.jpg")), size=112)
    manifest = {
        "made_by": f"scripts/make_decode_fixtures.py, OpenCV {cv2.__version__}, Pillow {Image.__version__}",
        "layout": "raw RGB uint8, row-major [height, width, 3]",
        "entries": entries,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(entries)} references, {total} bytes in {rel(OUT)}")
    for e in entries:
        if e.get("pil_max_diff"):
            print(f"  PIL differs from OpenCV on {e['name']}: max {e['pil_max_diff']}")


if __name__ == "__main__":
    main()
