"""Quality against sampling steps: FD and coverage of a multi-step sampler at each step count and solver.

    python benchmarks/sampling_steps.py runs/flow [--steps 1,2,4,8,16,32] [--solvers euler,heun] [-n 10000]
        [--out rows.jsonl]

Loads the run's `model.keras` (any model whose contract has the sampler
option `steps`), and for every solver and step count samples `-n` images
(seeds 0 .. n - 1) with `model.with_sampling(steps=..., solver=...)` and
measures them with the project's evaluator (`zoo evaluate`'s: the domain
extractor against the test split), and the seconds per image Keras took at
batch 256, beside the run's training record (epochs, batches, wall time).
Prints one JSON object; a row is appended to `--out` as it is measured, so
an interrupted run keeps what it finished.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from environment import environment  # noqa: E402

import zoo  # noqa: E402
from commands.ship import training_record  # noqa: E402
from evaluation import evaluate as evaluation  # noqa: E402
from evaluation.features import get_extractor  # noqa: E402
from training.callbacks import read_history  # noqa: E402
from training.train import load_run_config  # noqa: E402
from zoo.explore import Generator, seeded  # noqa: E402
from zoo.run_folder import RunFolder  # noqa: E402


def integers(text):
    return [int(part) for part in text.split(",")]


def trained(run_dir, run):
    """How much training the measured weights had: epochs, batches per epoch and batch size, wall time."""
    record = training_record(run_dir, run, read_history(RunFolder(run_dir).history))
    return {"epochs": record["epochs"], "steps_per_epoch": run.steps_per_epoch, "batch_size": run.batch_size,
            "wall_time_seconds": record["wall_time_seconds"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder of a model whose sampler takes steps")
    parser.add_argument("--steps", type=integers, default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--solvers", default="euler,heun")
    parser.add_argument("-n", type=int, default=10000, help="images per measurement (default: the protocol's 10,000)")
    parser.add_argument("--metrics", default="fd,dc", help="evaluator metrics (default: fd,dc)")
    parser.add_argument("--trained-weights", action="store_true",
                        help="sample from the trained weights instead of their average (model.without_average())")
    parser.add_argument("--out", help="JSON lines file the rows are appended to as they are measured")
    args = parser.parse_args()

    run = load_run_config(args.run)
    model = zoo.load(RunFolder(args.run).model)
    if args.trained_weights:
        model = model.without_average() or model
    if "steps" not in model.contract.sampling_options:
        parser.error(f"{args.run}: {type(model).__name__}'s sampler takes no steps (its contract's sampling_options: "
                     f"{model.contract.sampling_options})")
    extractor = get_extractor("domain", run.dataset)
    metrics = evaluation.parse_metrics(args.metrics)
    if model.num_classes:
        metrics = [*metrics, "classes"]
    rows = []
    for solver in args.solvers.split(","):
        for steps in args.steps:
            sampler = model.with_sampling(steps=steps, solver=solver)
            generate = seeded(Generator.from_model(sampler))
            generate(256, 10**7)  # warm-up
            start = time.perf_counter()
            generate(256, 10**7)  # timed apart from the evaluation: one batch of the sampler alone
            seconds = time.perf_counter() - start
            result = evaluation.evaluate(generate, extractor, run.dataset, metrics=metrics, n=args.n,
                                         data_dir=run.data_dir)
            row = {"run": args.run, "weights": "trained" if args.trained_weights else "average",
                   "solver": solver, "steps": steps, "network_calls": steps * (2 if solver == "heun" else 1),
                   "ms_per_image_keras_batch256": round(1000 * seconds / 256, 3),
                   **{key: result[key] for key in ("fd", "coverage", "density", "class_accuracy") if key in result}}
            print(json.dumps(row), flush=True)
            rows.append(row)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print(json.dumps({"benchmark": "sampling_steps", "run": args.run, "model": model.registry_name,
                      "config": model.get_config() | {"name": None}, "n": args.n,
                      "trained": trained(args.run, run), "rows": rows,
                      "environment": environment()}, indent=2, default=str))


if __name__ == "__main__":
    main()
