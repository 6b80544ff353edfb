"""torch_run.py's log files, line for line as model/train/train_log.ts writes them: log.jsonl,
log.txt and heldout.jsonl."""
import datetime
import json
import os


class Logger:
    """log.jsonl / log.txt / heldout.jsonl lines as model/train/train_log.ts writes them."""

    def __init__(self, out):
        self.out = out

    def append(self, name, text):
        with open(os.path.join(self.out, name), "a") as f:
            f.write(text + "\n")

    def entry(self, e):
        line = ("epoch %d, step %d, total loss %.4f, inference loss %.4f, weight decay loss %.4f, "
                "training accuracy %.4f, lr %s, %.2f images/s") % (
            e["epoch"], e["step"], e["totalLoss"], e["inferenceLoss"], e["weightDecayLoss"],
            e["accuracy"], js_exponential(e["lr"]), e["imagesPerSec"])
        print(line, flush=True)
        self.append("log.txt", line)
        self.append("log.jsonl", json.dumps(e))

    def note(self, line):
        print(line, flush=True)
        self.append("log.txt", line)


def js_exponential(v):
    """JavaScript's toExponential(3): 1.000e-1."""
    m, e = ("%.3e" % v).split("e")
    return "%se%+d" % (m, int(e))


def now():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.isoformat(timespec="milliseconds")[:-6] + "Z"
