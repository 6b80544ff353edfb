#!/usr/bin/python3
"""Writes fixtures/augment: training inputs with a random crop and tone made by OpenCV 4.6 through
scripts/torch_run_data.py (what scripts/torch_run.py feeds PyTorch), for tests/augment_test.ts
to hold arcstream's pipeline/decode/augment.ts to. Run with Debian's Python (python3-opencv):

    /usr/bin/python3 scripts/make_augment_fixtures.py

Each entry: `source` (a fixture JPEG), input `size`, the draws `augment` ({"crop": [f, u, v],
"tone": [gain, shift]}, as `deno task train-order` exports them), `flip`, and `pixels`: the raw
uint8 [size, size, 3] RGB input before normalization.
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import torch_run_data as data  # noqa: E402

OUT = os.path.join(ROOT, "fixtures", "augment")
SOURCES = [
    "fixtures/pipeline/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg",  # 250 px, decoded at 1/2
    "fixtures/lfw_faces/train/Andre_Agassi/Andre_Agassi_0001.jpg",  # 112 px aligned face
]
# (size, augment, flip): shrinking crops (area resize), an enlarging one, tones that clip.
CASES = [
    (64, {"crop": [0.85, 0.0, 0.0]}, False),
    (64, {"crop": [0.9137, 0.5, 0.999]}, True),
    (64, {"crop": [0.97, 0.31, 0.77], "tone": [1.2, 0.1]}, False),
    (64, {"tone": [0.75, -0.25]}, True),
    (64, {"tone": [1.9, 0.6]}, False),
    (112, {"crop": [0.8, 0.4, 0.6], "tone": [1.05, -0.02]}, False),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    entries = []
    for s_i, source in enumerate(SOURCES):
        for c_i, (size, aug, flip) in enumerate(CASES):
            src = data.read_rgb(os.path.join(ROOT, source), size)
            img = data.augmented(src, size, aug)
            if flip:
                img = img[:, ::-1]
            name = f"case_{s_i}_{c_i}.rgb"
            np.ascontiguousarray(img).tofile(os.path.join(OUT, name))
            enlarges = "crop" in aug and data.span(src.shape[0], aug["crop"][0], 0)[0] < size
            entries.append({"source": source, "size": size, "augment": aug, "flip": flip,
                            "pixels": name, "resize": "linear" if enlarges else "area"})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"made_by": "scripts/make_augment_fixtures.py", "entries": entries}, f, indent=1)
        f.write("\n")
    print(f"{len(entries)} references -> {OUT}")


if __name__ == "__main__":
    main()
