"""Training curves of runs side by side: the `val_fd` each measured after every epoch.

    python benchmarks/run_curves.py RUN [RUN ...] [--epochs 15]

Reads each run folder's `history.json` (the `val_fd` that `zoo train
--metrics fd` measured after every epoch) and its model: per run, the model
and its whole config, the sampling network's parameters, the batch size and
steps per epoch, and the curve up to `--epochs`. Prints one JSON object.
The runs' wall times are not compared here: a run paused or sharing the
machine has long epochs; `train_throughput.py` compares speed.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from environment import environment  # noqa: E402

import zoo  # noqa: E402
from training.callbacks import read_history  # noqa: E402
from zoo.run_folder import RunFolder  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--epochs", type=int, help="compare up to this epoch (default: all)")
    args = parser.parse_args()

    runs = []
    for path in args.runs:
        folder = RunFolder(path)
        with open(folder.config) as f:
            config = json.load(f)
        history = read_history(folder.history)
        epochs = history["epoch"][: args.epochs]
        model = zoo.load(folder.model)
        sampler = model.average_only() or model
        runs.append({"run": path, "model": config["model"], "model_config": model.get_config(),
                     "preset": config.get("preset"), "batch_size": config["batch_size"],
                     "steps_per_epoch": config["steps_per_epoch"],
                     "parameters": sum(int(np.prod(w.shape)) for w in sampler.trainable_weights),
                     "epochs": epochs, "val_fd": [round(v, 2) for v in history["val_fd"][: len(epochs)]],
                     "metrics_samples": config["metrics_samples"]})
    print(json.dumps({"benchmark": "run_curves", "runs": runs, "environment": environment()}, indent=2))


if __name__ == "__main__":
    main()
