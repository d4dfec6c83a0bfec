"""Training throughput (images/s) of each registered model at its preset.

Runs `model.fit` on real Fashion-MNIST batches, times each epoch of
`--steps` batches with a callback after a warm-up epoch (tracing, caches),
and prints one JSON object: per model (and dtype policy) the median
images/s and all samples. With several `--precisions` the model is built
once per policy and their epochs alternate, so the machine's drift hits
them alike.

    python benchmarks/train_throughput.py [--batch-size 128] [--steps 20] [--repeats 5]
        [--models dcgan,vae] [--precisions float32,mixed_bfloat16] [--set width=16 ...]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from environment import environment  # noqa: E402

import zoo  # noqa: E402
from commands.common import assignment  # noqa: E402
from training import data  # noqa: E402
from training.train import dtype_policy  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Seconds of every epoch it sees, across `fit` calls."""

    def __init__(self):
        super().__init__()
        self.history = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.history.append(time.perf_counter() - self._start)


def measure(model_name, batch_size, steps, repeats, precisions, overrides=None):
    """Median images/s of `model_name` (its preset, then `overrides`) under each dtype policy, epochs alternating."""
    preset = f"{model_name}_fashion_mnist"
    arguments = {**(zoo.preset(preset)[1] if preset in zoo.PRESETS else {}), **(overrides or {})}
    keras.utils.set_random_seed(0)
    models = {}
    for precision in precisions:
        with dtype_policy(precision):
            models[precision] = zoo.create(model_name, **arguments)
            models[precision].compile(**models[precision].default_optimizers())
    dataset = data.load("fashion_mnist", "train", model=models[precisions[0]], batch_size=batch_size).repeat()
    timers = {precision: EpochTimer() for precision in precisions}
    for repeat in range(repeats + 1):  # repeat 0 is warm-up (graph tracing)
        for precision, model in models.items():
            model.fit(dataset, initial_epoch=repeat, epochs=repeat + 1, steps_per_epoch=steps, verbose=0,
                      callbacks=[timers[precision]], shuffle=False)
    results = {}
    for precision, timer in timers.items():
        rates = [batch_size * steps / s for s in timer.history[1:]]
        results[precision] = {"images_per_s_median": round(statistics.median(rates), 1),
                              "images_per_s": [round(r, 1) for r in rates]}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default=",".join(zoo.names()))
    parser.add_argument("--precisions", default="float32",
                        help="comma list of Keras dtype policies, alternated epoch by epoch "
                        "(e.g. float32,mixed_bfloat16)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a constructor argument over the preset's (a Python literal, else a string), "
                        "e.g. width=16")
    args = parser.parse_args()
    overrides = dict(assignment(item) for item in args.set)
    results = {
        name: measure(name, args.batch_size, args.steps, args.repeats, args.precisions.split(","), overrides)
        for name in args.models.split(",")
    }
    print(json.dumps({
        "benchmark": "train_throughput",
        "batch_size": args.batch_size,
        "steps_per_sample": args.steps,
        **({"overrides": overrides} if overrides else {}),
        **environment(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
