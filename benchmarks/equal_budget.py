"""Sample quality after the same wall-clock training budget, model by model.

Each model is built from its `<model>_fashion_mnist` preset (with the
preset's learning rates), trained with `model.fit` on Fashion-MNIST until
`--minutes` of wall-clock time have passed (checked after every batch; graph
tracing counts), saved, and evaluated with the project's own evaluator (the
domain extractor; conditional models also get class accuracy). Prints one
JSON object.

    python benchmarks/equal_budget.py [--minutes 4] [--models dcgan,wgan_gp,lsgan,sngan,cgan,cvae]
        [--lr X] [--out runs/equal_budget]
"""

import argparse
import inspect
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import zoo  # noqa: E402
from training import data  # noqa: E402
from training.images import make_grid, write_png  # noqa: E402
from training.metrics import evaluate as evaluation  # noqa: E402
from training.metrics.features import get_extractor  # noqa: E402

from environment import environment  # noqa: E402


class WallClockBudget(keras.callbacks.Callback):
    """Stops `fit` after the batch during which `seconds` have passed since it began."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start, self.batches = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True


def train_for(model_name, seconds, batch_size, out, lr=None):
    preset = f"{model_name}_fashion_mnist"
    keras.utils.set_random_seed(0)
    model = zoo.create(model_name, **zoo.preset(preset)[1], seed=0)
    rates = zoo.preset_learning_rates(preset)
    if lr is not None:  # the same rate for each of the model's optimizers
        rates = {name: lr for name in inspect.signature(model.default_optimizers).parameters}
    optimizers = model.default_optimizers(**rates)
    model.compile(**optimizers)
    rates = {name: float(f"{float(o.learning_rate):.6g}") for name, o in optimizers.items()}
    dataset = data.load("fashion_mnist", "train", model=model, batch_size=batch_size, seed=0)
    budget = WallClockBudget(seconds)
    model.fit(dataset, epochs=1000, verbose=0, callbacks=[budget], shuffle=False)
    elapsed = time.perf_counter() - budget.start
    os.makedirs(out, exist_ok=True)
    model.save(os.path.join(out, "model.keras"))
    write_png(os.path.join(out, "samples.png"),
              make_grid(model.sample(100, seed=0).numpy(), columns=10))
    return model, {"learning_rates": rates, "train_seconds": round(elapsed, 1), "steps": budget.batches,
                   "images_seen": budget.batches * batch_size,
                   "epochs": round(budget.batches * batch_size / 60000, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--models", default="dcgan,wgan_gp,lsgan,sngan,cgan,cvae")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, help="one learning rate for every optimizer "
                        "(default: each preset's own)")
    parser.add_argument("--n", type=int, default=10000, help="images per set for the metrics")
    parser.add_argument("--out", default="runs/equal_budget", help="folder for models and grids")
    args = parser.parse_args()
    extractor = get_extractor("domain", "fashion_mnist")
    results = {}
    for name in args.models.split(","):
        model, training = train_for(name, args.minutes * 60, args.batch_size,
                                    os.path.join(args.out, name), lr=args.lr)
        metrics = evaluation.evaluate(evaluation.model_generator(model), extractor, "fashion_mnist",
                                      metrics=("fd", "dc", "classes"), n=args.n)
        keep = ("fd", "coverage", "density", "classes_covered", "class_accuracy")
        results[name] = {**training, **{k: round(metrics[k], 4) for k in keep if k in metrics}}
        print(name, json.dumps(results[name]), flush=True)
    print(json.dumps({
        "benchmark": "equal_budget",
        "minutes_each": args.minutes,
        "batch_size": args.batch_size,
        "n": args.n,
        "extractor": extractor.name,
        **environment(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
