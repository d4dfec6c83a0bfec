"""Wall time of `zoo evaluate`-style FD at 10k samples with the domain extractor.

    python benchmarks/evaluate_speed.py runs/dcgan [--n 10000] [--repeats 3]

Times the whole evaluation (generating n images with the Keras model,
extracting features, FD) with the real-data statistics cached (the usual
case) and once with an empty cache. Prints one JSON object.
"""

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from environment import environment  # noqa: E402

import zoo  # noqa: E402
from evaluation import evaluate as evaluation  # noqa: E402
from evaluation.features import get_extractor  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metrics", default="fd")
    parser.add_argument("--extractor", default="domain",
                        help="as zoo evaluate's; inception:random measures Inception's cost without its weights")
    args = parser.parse_args()

    model = zoo.load(os.path.join(args.run, "model.keras"))
    extractor = get_extractor(args.extractor, "fashion_mnist")
    metrics = evaluation.parse_metrics(args.metrics)
    generate = lambda n, seed: model.sample(n, seed=seed).numpy()  # noqa: E731
    os.environ["ZOO_CACHE_DIR"] = tempfile.mkdtemp(prefix="zoo-bench-cache-")

    def timed():
        start = time.perf_counter()
        result = evaluation.evaluate(generate, extractor, "fashion_mnist", metrics=metrics, n=args.n)
        return time.perf_counter() - start, result

    cold, result = timed()
    warm = [timed()[0] for _ in range(args.repeats)]
    print(json.dumps({
        "benchmark": "evaluate_speed",
        "run": args.run,
        "n": args.n,
        "metrics": list(metrics),
        "extractor": extractor.name,
        **environment(),
        "seconds_cold_cache": round(cold, 2),
        "seconds_warm_cache_median": round(statistics.median(warm), 2),
        "seconds_warm_cache": [round(s, 2) for s in warm],
        "generated_images_per_s_warm": round(args.n / statistics.median(warm), 1),
        "result": {k: v for k, v in result.items() if isinstance(v, (int, float, str))},
    }, indent=2))


if __name__ == "__main__":
    main()
