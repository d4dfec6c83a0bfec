"""Training throughput (images/s) of each registered model at its preset.

Runs `model.fit` on real Fashion-MNIST batches, times each epoch of
`--steps` batches with a callback after a warm-up epoch (tracing, caches),
and prints one JSON object: per model the median images/s and all samples.

    python benchmarks/train_throughput.py [--batch-size 128] [--steps 20] [--repeats 5]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import zoo  # noqa: E402
from training import data  # noqa: E402

from environment import environment  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def measure(model_name, batch_size, steps, repeats):
    preset = f"{model_name}_fashion_mnist"
    arguments = zoo.preset(preset)[1] if preset in zoo.PRESETS else {}
    keras.utils.set_random_seed(0)
    model = zoo.create(model_name, **arguments)
    model.compile(**model.default_optimizers())
    dataset = data.load("fashion_mnist", "train", model=model, batch_size=batch_size).repeat()
    timer = EpochTimer()
    # Epoch 1 is warm-up (graph tracing); epochs 2.. are measured.
    model.fit(dataset, epochs=repeats + 1, steps_per_epoch=steps, verbose=0, callbacks=[timer],
              shuffle=False)
    rates = [batch_size * steps / s for s in timer.seconds[1:]]
    return {"images_per_s_median": round(statistics.median(rates), 1),
            "images_per_s": [round(r, 1) for r in rates]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default=",".join(zoo.names()))
    args = parser.parse_args()
    results = {
        name: measure(name, args.batch_size, args.steps, args.repeats)
        for name in args.models.split(",")
    }
    print(json.dumps({
        "benchmark": "train_throughput",
        "batch_size": args.batch_size,
        "steps_per_sample": args.steps,
        **environment(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
