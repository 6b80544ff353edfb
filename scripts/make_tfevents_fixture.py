#!/usr/bin/python3
"""Writes fixtures/tensorboard/: an event file made by a third-party writer, tensorboardX.

The TensorBoard reader of tests/tensorboard_writer_test.ts is written from the record format's
spec; this file checks that reader on bytes arcstream did not write. tensorboardX is not vendored:
fetch it (https://github.com/lanpa/tensorboardX), then run with Debian's python3-protobuf:

    /usr/bin/python3 scripts/make_tfevents_fixture.py /path/to/tensorboardX-checkout fixtures/tensorboard

Only tensorboardX's pure-Python event writer (event_file_writer.py -> record_writer.py ->
crc32c.py) and its compiled proto modules (proto/*_pb2.py) are imported: the package's __init__
(which pulls in numpy-heavy summary code) is bypassed by registering an empty package object.
Writes `tensorboardx.tfevents` (renamed from events.out.tfevents.<time>.<host>) and
`tensorboardx.json`: the scalars written, by step, as float32 values (what simple_value holds).
"""
import json
import os
import shutil
import struct
import sys
import tempfile
import types


def import_tensorboardx(root):
    package = types.ModuleType("tensorboardX")
    package.__path__ = [os.path.join(root, "tensorboardX")]
    sys.modules["tensorboardX"] = package
    sys.path.insert(0, root)
    from tensorboardX import event_file_writer
    from tensorboardX.proto import event_pb2, summary_pb2
    return event_file_writer, event_pb2, summary_pb2


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


# (step, wall_time, {tag: value}): several tags per event, a step above 2^32 (int64 varint), a
# negative value, a value float32 rounds, and a step written twice (TensorBoard keeps both).
EVENTS = [
    (0, 1796600000.25, {"loss": 13.1897, "learning_rate": 0.0}),
    (10, 1796600010.5, {"loss": 12.58, "learning_rate": 0.09, "train/accuracy": 0.0208}),
    (20, 1796600020.75, {"lfw": 0.67, "cfp_fp": 0.7, "agedb_30": 0.64}),
    (20, 1796600021.0, {"loss": 9.872}),
    (5000000000, 1796600030.0, {"negative": -2.5, "tiny": 1e-30, "big": 3.0e38}),
]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, out = sys.argv[1], sys.argv[2]
    event_file_writer, event_pb2, summary_pb2 = import_tensorboardx(root)
    os.makedirs(out, exist_ok=True)
    logdir = tempfile.mkdtemp()
    try:
        writer = event_file_writer.EventFileWriter(logdir)
        for step, wall_time, values in EVENTS:
            summary = summary_pb2.Summary(value=[
                summary_pb2.Summary.Value(tag=tag, simple_value=v) for tag, v in values.items()
            ])
            writer.add_event(event_pb2.Event(wall_time=wall_time, step=step, summary=summary))
        writer.close()
        (name,) = os.listdir(logdir)
        shutil.copyfile(os.path.join(logdir, name), os.path.join(out, "tensorboardx.tfevents"))
    finally:
        shutil.rmtree(logdir)
    expected = {
        "written_as": name.split(".")[0:3],
        "file_version": "brain.Event:2",
        "events": [
            {"step": s, "wall_time": w, "values": {t: f32(v) for t, v in vals.items()}}
            for s, w, vals in EVENTS
        ],
    }
    with open(os.path.join(out, "tensorboardx.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"wrote {out}/tensorboardx.tfevents ({name}) and tensorboardx.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
