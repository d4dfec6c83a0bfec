"""The exported generator in a browser: page load to first image, and ms per image, against LiteRT in Python.

    python benchmarks/web_page.py NAME_OR_RUN [--variant float32] [--loads 5] [--rounds 5] [--runs 100]
                                  [--screenshot page.png]

Writes the page of the run's latest export (`zoo export --web`) to a
temporary folder, serves it on 127.0.0.1 and opens it `--loads` times in
headless Chromium (a fresh browser each time), reading the page's own
timings: LiteRT.js and the model loaded, and the first image drawn. Then,
in one page, `--rounds` blocks of `--runs` `generate` invokes (seed -> image,
timed inside the page) alternate with the same number of invokes of the
same file's `generate` signature in Python's LiteRT (1 thread, as the page's
WebAssembly build runs single-threaded). Prints one JSON object with medians.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from environment import environment  # noqa: E402

import zoo  # noqa: E402
from export import browser, read_manifest, read_tflite  # noqa: E402
from export.tflite import interpreter  # noqa: E402
from export.web import write_web  # noqa: E402

TIME_INVOKES = """async ([first, runs]) => {
  const start = performance.now();
  for (let k = 0; k < runs; k++) await window.zoo.generate(first + k, 0);
  return (performance.now() - start) / runs;
}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="shipped model name or run folder with an export")
    parser.add_argument("--variant", default="float32")
    parser.add_argument("--loads", type=int, default=5, help="fresh page loads timed")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=100, help="invokes per round and runtime")
    parser.add_argument("--screenshot", help="also save a screenshot of the page here")
    args = parser.parse_args()

    run = zoo.shipped.resolve(args.run)
    manifest = read_manifest(run)
    with tempfile.TemporaryDirectory() as folder:
        page_dir = os.path.join(folder, "web")
        card = write_web(run, page_dir, manifest, name=os.path.basename(os.path.normpath(run)),
                         variant=args.variant)
        size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(page_dir) for f in files)
        loads = []
        with browser.serve(page_dir) as url:
            for _ in range(args.loads):
                with browser.page() as tab:
                    tab.goto(url + "index.html")
                    tab.wait_for_function("document.body.dataset.ready === 'true'", timeout=120_000)
                    loads.append(tab.evaluate("window.zoo.timings"))
            lite = interpreter(read_tflite(run, manifest, args.variant), 1)
            generate = lite.get_signature_runner("generate")
            extra = {"label": np.zeros(1, np.int32)} if card["num_classes"] else {}
            browser_ms, python_ms = [], []
            with browser.page() as tab:
                tab.goto(url + "index.html")
                tab.wait_for_function("document.body.dataset.ready === 'true'", timeout=120_000)
                tab.evaluate(TIME_INVOKES, [0, 20])  # warm-up
                for _ in range(20):
                    generate(seed=np.zeros(1, np.int32), **extra)
                for round_ in range(args.rounds):
                    browser_ms.append(tab.evaluate(TIME_INVOKES, [round_ * args.runs, args.runs]))
                    start = time.perf_counter()
                    for k in range(args.runs):
                        generate(seed=np.asarray([round_ * args.runs + k], np.int32), **extra)
                    python_ms.append((time.perf_counter() - start) * 1000 / args.runs)
                if args.screenshot:
                    tab.fill("#seed", "7")
                    tab.eval_on_selector("#walk", "e => { e.value = 40; e.dispatchEvent(new Event('input')); }")
                    tab.wait_for_timeout(500)
                    tab.screenshot(path=args.screenshot, full_page=True)
    median = statistics.median
    print(json.dumps({
        "model": args.run,
        "variant": args.variant,
        "file_bytes": manifest["tflite"][args.variant]["bytes"],
        "page_folder_bytes": size,
        "runtime": card["runtime"],
        "page_load_to_model_ready_ms": median(t["load_ms"] for t in loads),
        "page_load_to_first_image_ms": median(t["first_image_ms"] for t in loads),
        "loads": args.loads,
        "browser_ms_per_image": median(browser_ms),
        "python_litert_1_thread_ms_per_image": median(python_ms),
        "browser_over_python": median(browser_ms) / median(python_ms),
        "rounds": args.rounds,
        "runs_per_round": args.runs,
        "browser": browser.CHROMIUM,
        "environment": environment(),
    }, indent=2))


if __name__ == "__main__":
    main()
