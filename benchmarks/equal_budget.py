"""Sample quality after the same wall-clock training budget, recipe by recipe, and FD against minutes.

A recipe is a preset (with its learning rates) plus overrides:
`PRESET[,batch_size=B][,ARGUMENT=VALUE...]`, e.g.
`wgan_gp_keras_io,batch_size=512,gp_interval=4`; `--models dcgan,...`
stands for the `<model>_fashion_mnist` presets. Each is trained with
`model.fit` on Fashion-MNIST until `--minutes` of wall-clock time have
passed (checked after every batch; graph tracing counts), its weights are
kept at each of `--checkpoints` minutes on the way, and afterwards each
kept state is evaluated with the project's own evaluator (`--n` images, the
domain extractor; conditional models also get class accuracy). Prints one
JSON object; the last point of each curve is the `--minutes` one.

    python benchmarks/equal_budget.py [--minutes 4] [--models dcgan,wgan_gp,lsgan,sngan,cgan,cvae]
        [--recipes "wgan_gp_keras_io,batch_size=512;dcgan_fashion_mnist"] [--checkpoints 5,10,15]
        [--lr X] [--out runs/equal_budget]
"""

import argparse
import inspect
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from environment import environment  # noqa: E402

import zoo  # noqa: E402
from commands.common import assignment  # noqa: E402
from evaluation import evaluate as evaluation  # noqa: E402
from evaluation.features import get_extractor  # noqa: E402
from reports.images import make_grid, write_png  # noqa: E402
from training import data  # noqa: E402


class WallClockBudget(keras.callbacks.Callback):
    """Stops `fit` after the batch during which `seconds` have passed since it began.

    Keeps the weights reached at each of `checkpoints` seconds (after the
    batch that crosses it), with the steps taken and the time.
    """

    def __init__(self, seconds, checkpoints=()):
        super().__init__()
        self.seconds, self.checkpoints = seconds, sorted(checkpoints)
        self.kept = []

    def on_train_begin(self, logs=None):
        self.start, self.batches = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        elapsed = time.perf_counter() - self.start
        if len(self.kept) < len(self.checkpoints) and elapsed >= self.checkpoints[len(self.kept)]:
            self.kept.append((elapsed, self.batches, self.model.get_weights()))
        if elapsed >= self.seconds:
            self.model.stop_training = True


def parse_recipe(text):
    """`PRESET[,key=value...]` -> (preset, batch size or None, constructor overrides)."""
    preset, *pairs = [part.strip() for part in text.split(",") if part.strip()]
    overrides = dict(assignment(pair) for pair in pairs)
    return preset, overrides.pop("batch_size", None), overrides


def train_for(recipe, seconds, batch_size, out, lr=None, checkpoints=()):
    preset, recipe_batch, overrides = parse_recipe(recipe)
    batch_size = recipe_batch or batch_size
    model_name, arguments = zoo.preset(preset)
    keras.utils.set_random_seed(0)
    model = zoo.create(model_name, **{**arguments, "seed": 0, **overrides})
    rates = zoo.preset_learning_rates(preset)
    if lr is not None:  # the same rate for each of the model's optimizers
        rates.update({name: lr for name in inspect.signature(model.default_optimizers).parameters
                      if name.endswith("lr")})
    optimizers = model.default_optimizers(**rates)
    model.compile(**optimizers)
    rates = {name: float(f"{float(o.learning_rate):.6g}") for name, o in optimizers.items()}
    dataset = data.load("fashion_mnist", "train", model=model, batch_size=batch_size, seed=0)
    budget = WallClockBudget(seconds, [minutes * 60 for minutes in checkpoints])
    model.fit(dataset, epochs=1000, verbose=0, callbacks=[budget], shuffle=False)
    elapsed = time.perf_counter() - budget.start
    os.makedirs(out, exist_ok=True)
    model.save(os.path.join(out, "model.keras"))
    write_png(os.path.join(out, "samples.png"),
              make_grid(model.sample(100, seed=0).numpy(), columns=10))
    kept = budget.kept + [(elapsed, budget.batches, model.get_weights())]
    return model, kept, {"preset": preset, "overrides": overrides, "batch_size": batch_size,
                         "learning_rates": rates, "train_seconds": round(elapsed, 1), "steps": budget.batches,
                         "images_seen": budget.batches * batch_size,
                         "epochs": round(budget.batches * batch_size / 60000, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--models", default="dcgan,wgan_gp,lsgan,sngan,cgan,cvae",
                        help="models trained at their <model>_fashion_mnist presets")
    parser.add_argument("--recipes", help="';'-separated recipes PRESET[,batch_size=B][,ARG=VALUE...] "
                        "(instead of --models)")
    parser.add_argument("--checkpoints", default="", help="minutes at which FD is also measured, e.g. 5,10,15")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, help="one learning rate for every optimizer "
                        "(default: each preset's own)")
    parser.add_argument("--n", type=int, default=10000, help="images per set for the metrics")
    parser.add_argument("--out", default="runs/equal_budget", help="folder for models and grids")
    args = parser.parse_args()
    recipes = (args.recipes.split(";") if args.recipes
               else [f"{name}_fashion_mnist" for name in args.models.split(",")])
    checkpoints = [float(m) for m in args.checkpoints.split(",") if m]
    extractor = get_extractor("domain", "fashion_mnist")
    results = {}
    for recipe in recipes:
        model, kept, training = train_for(recipe, args.minutes * 60, args.batch_size,
                                          os.path.join(args.out, recipe.replace(",", "_")), lr=args.lr,
                                          checkpoints=checkpoints)
        curve = []
        for seconds, steps, weights in kept:
            model.set_weights(weights)
            metrics = evaluation.evaluate(evaluation.model_generator(model), extractor, "fashion_mnist",
                                          metrics=("fd", "dc", "classes"), n=args.n)
            keep = ("fd", "coverage", "density", "classes_covered", "class_accuracy")
            curve.append({"minutes": round(seconds / 60, 2), "steps": steps,
                          **{k: round(metrics[k], 4) for k in keep if k in metrics}})
        results[recipe] = {**training, **{k: v for k, v in curve[-1].items() if k not in ("minutes", "steps")},
                           "curve": curve}
        print(recipe, json.dumps(results[recipe]), flush=True)
    print(json.dumps({
        "benchmark": "equal_budget",
        "minutes_each": args.minutes,
        "batch_size": args.batch_size,
        "checkpoints": checkpoints,
        "n": args.n,
        "extractor": extractor.name,
        **environment(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
