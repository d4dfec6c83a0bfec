"""LiteRT milliseconds per image of a multi-step sampler against its size and step count, before training.

    python benchmarks/sampler_latency.py --model flow --widths 8,16,32 --steps 1,2,8 [--set attention=False]
        [--vary attention=True,False] [--quantizations float32,int8] [--threads 2] [--rounds 10] [--runs 20]

Builds the model at each `width` (seeded, untrained: latency depends on the
graph, not on the weights), converts its TFLite `generate` at batch 1 with
each step count unrolled (and each value of a `--vary` option), the way `zoo export` does (`export.signatures`,
builtin ops only; int8 calibrated on 100 seeds), and times the files'
`generate` invokes round-robin (`--runs` invokes per file per round, after a
warm-up round), so every file sees the same machine load. Prints one JSON
object: the median and 10th/90th percentile ms per image of every file, its
size, and the network's parameters.
"""

import argparse
import json
import os
import statistics
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from environment import environment  # noqa: E402
from tflite_latency import round_robin_ms  # noqa: E402

import zoo  # noqa: E402
from commands.common import assignment, option_value  # noqa: E402
from export.saved_model import write_saved_model  # noqa: E402
from export.signatures import TFLITE  # noqa: E402
from export.tflite import convert_saved_model, interpreter  # noqa: E402
from zoo.latents import labels_from_seeds  # noqa: E402

CALIBRATION_SEEDS = range(10**6, 10**6 + 100)


def convert(model, quantization):
    """The `.tflite` bytes of `model`'s `generate` signature at batch 1."""
    with tempfile.TemporaryDirectory() as folder:
        write_saved_model(model, folder, TFLITE, batch_size=1)

        def rows():
            labels = labels_from_seeds(CALIBRATION_SEEDS, model.num_classes)
            for i, seed in enumerate(CALIBRATION_SEEDS):
                inputs = {"seed": np.array([seed], np.int32)}
                if labels is not None:
                    inputs["label"] = labels[i : i + 1]
                yield "generate", inputs

        return convert_saved_model(folder, ["generate"], None if quantization == "float32" else quantization,
                                   rows if quantization == "int8" else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="flow")
    parser.add_argument("--widths", default="8,16,32")
    parser.add_argument("--steps", default="1,2,8")
    parser.add_argument("--quantizations", default="float32,int8")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--vary", metavar="KEY=V1,V2", help="one option whose values are compared in the same run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=20, help="invokes per file per round")
    args = parser.parse_args()
    overrides = dict(assignment(item) for item in args.set)

    varied, values = None, [None]
    if args.vary:
        varied, listed = args.vary.split("=", 1)
        values = [option_value(value) for value in listed.split(",")]

    files, rows = {}, []
    for value in values:
        options = {**overrides, **({varied: value} if varied else {})}
        for width in map(int, args.widths.split(",")):
            model = zoo.create(args.model, **{**options, "width": width, "seed": 0})
            # The weights the sampler runs: one network's (no average copy, no frozen teacher).
            parameters = sum(int(np.prod(w.shape)) for w in (model.average_only() or model).trainable_weights)
            for steps in map(int, args.steps.split(",")):
                sampler = model.with_sampling(steps=steps)
                for quantization in args.quantizations.split(","):
                    content = convert(sampler, quantization)
                    runner = interpreter(content, num_threads=args.threads).get_signature_runner("generate")
                    inputs = {name: np.zeros(detail["shape"], detail["dtype"])
                              for name, detail in runner.get_input_details().items()}
                    row = {"width": width, "steps": steps, "quantization": quantization,
                           "parameters": parameters, "bytes": len(content)}
                    if varied:
                        row[varied] = value
                    files[len(rows)] = (runner, inputs)
                    rows.append(row)
    times = round_robin_ms(files, args.rounds, args.runs)
    for index, row in enumerate(rows):
        samples = times[index]
        deciles = statistics.quantiles(samples, n=10)
        row.update(ms_median=round(statistics.median(samples), 3), ms_p10=round(deciles[0], 3),
                   ms_p90=round(deciles[-1], 3))
    print(json.dumps({"benchmark": "sampler_latency", "model": args.model, "overrides": overrides, "varied": varied,
                      "threads": args.threads, "rounds": args.rounds, "runs": args.runs, "rows": rows,
                      "environment": environment()}, indent=2))


if __name__ == "__main__":
    main()
