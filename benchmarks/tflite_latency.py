"""LiteRT latency of every exported TFLite variant: milliseconds per image at batch 1, in one run.

    python benchmarks/tflite_latency.py runs/dcgan [--version N] [--threads 2] [--rounds 20] [--runs 50]

Loads each batch-1 variant of an export, then times `serving_default` and
`generate` invokes round-robin (one block of `--runs` invokes per variant per
round, after warm-up), so every variant sees the same machine load, and
prints one JSON object: the median and 10th/90th percentiles per variant
and signature, and each variant's median as a ratio of float32's.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from environment import environment  # noqa: E402

from export import read_manifest  # noqa: E402
from export.tflite import interpreter  # noqa: E402


def round_robin_ms(runners, rounds, runs):
    """`{key: [ms per invoke]}` of `runners` (`{key: (runner, inputs)}`), `runs` invokes of each in turn
    per round after a warm-up round, so every runner sees the same machine load."""
    times = {key: [] for key in runners}
    for round_number in range(rounds + 1):  # round 0 warms up
        for key, (runner, inputs) in runners.items():
            for _ in range(runs):
                start = time.perf_counter()
                runner(**inputs)
                if round_number:
                    times[key].append((time.perf_counter() - start) * 1000)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder with an export (zoo export RUN)")
    parser.add_argument("--version", type=int, help="export version (default: the latest)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=50, help="invokes per variant per round")
    args = parser.parse_args()

    manifest = read_manifest(args.run, args.version)
    runners = {}
    for name, entry in manifest["tflite"].items():
        if entry["written"] and entry.get("batch_size") == 1:
            instance = interpreter(os.path.join(args.run, entry["path"]), num_threads=args.threads)
            for signature in ("serving_default", "generate"):
                runner = instance.get_signature_runner(signature)
                inputs = {key: np.zeros(detail["shape"], detail["dtype"])
                          for key, detail in runner.get_input_details().items()}
                runners[(name, signature)] = (runner, inputs)
    times = round_robin_ms(runners, args.rounds, args.runs)
    results = {}
    for (name, signature), measured in times.items():
        deciles = statistics.quantiles(measured, n=10)
        results.setdefault(name, {"bytes": manifest["tflite"][name]["bytes"]})[signature] = {
            "ms_median": round(statistics.median(measured), 4), "ms_p10": round(deciles[0], 4),
            "ms_p90": round(deciles[-1], 4)}
    for name, entry in results.items():
        entry["serving_default_median_vs_float32"] = round(
            entry["serving_default"]["ms_median"] / results["float32"]["serving_default"]["ms_median"], 3)
    print(json.dumps({
        "benchmark": "tflite_latency",
        "run": args.run,
        "version": manifest["version"],
        "threads": args.threads,
        "batch": 1,
        "invokes_per_variant": args.rounds * args.runs,
        "variants": results,
        "environment": environment(),
    }, indent=2))


if __name__ == "__main__":
    main()
