"""Does the fast WGAN-GP step keep the exact step's FD? Same steps, several seeds each.

Trains the `wgan_gp_keras_io` preset with the exact step (the defaults) and
with the fast one (`--fast` constructor arguments) for `--steps` generator
steps at `--batch-size`, once per seed (model initialisation, noise and
data order all follow it), the variants' runs alternating; then
measures each model's FD with the project's evaluator (`--n` generated
images against the Fashion-MNIST test images, domain extractor). Prints one
JSON object with every FD, each variant's mean and standard deviation, and
whether each fast mean lies within 2 standard deviations of the exact one.

    python benchmarks/fast_step_fd.py [--steps 60] [--batch-size 512] [--seeds 0,1,2]
        [--fast gp_batch_shrink=2,joint_discriminator_pass=True]
        [--fast-precisions float32,mixed_bfloat16]

The fast step runs once per dtype policy in `--fast-precisions` (variants
`fast` for float32, `fast_<policy>` otherwise); the exact runs stay float32,
so the check covers every recipe that `versus_plain.py` times.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from environment import environment  # noqa: E402
from versus_plain import PRESET, parse_arguments  # noqa: E402

import zoo  # noqa: E402
from evaluation import evaluate as evaluation  # noqa: E402
from evaluation.features import get_extractor  # noqa: E402
from training import data  # noqa: E402
from training.train import dtype_policy  # noqa: E402


def train(seed, steps, batch_size, arguments, precision="float32"):
    keras.utils.set_random_seed(seed)
    with dtype_policy(precision):
        model = zoo.create("wgan_gp", **{**zoo.preset(PRESET)[1], "seed": seed, **arguments})
    model.compile(**model.default_optimizers(**zoo.preset_learning_rates(PRESET)))
    batches, _ = data.stream("fashion_mnist", "train", model=model, batch_size=batch_size, seed=seed)
    start = time.perf_counter()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    return model, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="generator steps per run")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--fast", default="gp_batch_shrink=2,joint_discriminator_pass=True")
    parser.add_argument("--fast-precisions", default="float32",
                        help="comma list of dtype policies for the fast step")
    parser.add_argument("--n", type=int, default=10000, help="images per set for FD")
    args = parser.parse_args()
    extractor = get_extractor("domain", "fashion_mnist")
    fast = parse_arguments(args.fast)
    variants = {"exact": ({}, "float32")}
    for precision in args.fast_precisions.split(","):
        variants["fast" if precision == "float32" else f"fast_{precision}"] = (fast, precision)
    runs = {name: [] for name in variants}
    for seed in (int(s) for s in args.seeds.split(",")):
        for name, (arguments, precision) in variants.items():
            model, seconds = train(seed, args.steps, args.batch_size, arguments, precision)
            fd = evaluation.evaluate(evaluation.model_generator(model), extractor, "fashion_mnist",
                                     metrics=("fd",), n=args.n)["fd"]
            runs[name].append({"seed": seed, "fd": round(fd, 3), "train_seconds": round(seconds, 1)})
            print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    summary = {}
    for name, results in runs.items():
        fds = [r["fd"] for r in results]
        summary[name] = {"fd_mean": round(statistics.mean(fds), 3),
                         "fd_std": round(statistics.stdev(fds), 3) if len(fds) > 1 else None}
    exact = summary["exact"]
    print(json.dumps({
        "benchmark": "fast_step_fd",
        "preset": PRESET,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "n": args.n,
        "fast_arguments": fast,
        "runs": runs,
        "summary": summary,
        "within_2_std_of_exact": {
            name: (abs(result["fd_mean"] - exact["fd_mean"]) <= 2 * exact["fd_std"]
                   if exact["fd_std"] is not None else None)
            for name, result in summary.items() if name != "exact"},
        **environment(),
    }, indent=2))


if __name__ == "__main__":
    main()
