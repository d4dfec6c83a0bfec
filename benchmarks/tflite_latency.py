"""LiteRT latency of an exported generator: milliseconds per image at batch 1.

    python benchmarks/tflite_latency.py runs/dcgan [--threads 2] [--runs 200]

Times `invoke()` of the `.tflite` file (input set once per call, as an app
does) after warm-up, and prints one JSON object with the median and the
10th/90th percentiles.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder with tflite/generator_float32.tflite")
    parser.add_argument("--file", default="tflite/generator_float32.tflite")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    path = os.path.join(args.run, args.file)
    interpreter = Interpreter(model_path=path, num_threads=args.threads)
    runner = interpreter.get_signature_runner("serving_default")
    latent_dim = int(runner.get_input_details()["z"]["shape"][-1])
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((args.warmup + args.runs, 1, latent_dim)).astype(np.float32)
    times_ms = []
    for i, z in enumerate(inputs):
        start = time.perf_counter()
        runner(z=z)
        if i >= args.warmup:
            times_ms.append((time.perf_counter() - start) * 1000)
    deciles = statistics.quantiles(times_ms, n=10)
    print(json.dumps({
        "benchmark": "tflite_latency",
        "file": path,
        "bytes": os.path.getsize(path),
        "threads": args.threads,
        "batch": 1,
        "runs": args.runs,
        "ms_per_image_median": round(statistics.median(times_ms), 3),
        "ms_p10": round(deciles[0], 3),
        "ms_p90": round(deciles[-1], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
