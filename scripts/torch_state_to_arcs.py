#!/usr/bin/python3
"""A PyTorch training state as an arcstream checkpoint, to continue a run in arcstream.

    /usr/bin/python3 scripts/torch_run.py --like runs/a --steps 50 --save-every 50 --out runs/t
    /usr/bin/python3 scripts/torch_state_to_arcs.py --state runs/t/states/step-50.npz \\
        --template runs/a/checkpoints/ckpt-00000050.arcs --out runs/b/checkpoints/ckpt-00000050.arcs
    deno task train --resume --out runs/b        # runs/b: a copy of runs/a up to that checkpoint

The reverse of torch_run.py --init-from: PyTorch's weights, BN statistics, class weights and
momentum buffers at a step, in arcstream's layouts, under the meta of arcstream's own checkpoint of
the same run at the same step (data cursor, seeds, config). A paired run the other way round.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_arcstream_weights as aw  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--state", required=True, help="torch_run.py --save-every's step-<N>.npz")
    p.add_argument("--template", required=True, help="arcstream's ckpt-<N>.arcs of the run")
    p.add_argument("--out", required=True, help="the checkpoint to write")
    a = p.parse_args()
    z = np.load(a.state)
    aw.write_arcs(a.template, {k: z[k] for k in z.files}, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
