"""A full-page screenshot of an HTML file (e.g. `zoo report`'s) in headless Chromium.

    python benchmarks/screenshot.py runs/dcgan/report.html report.png [--width 1200]
"""

import argparse
import os
import pathlib
import sys

# `export` imports TensorFlow, whose C++ start-up lines would otherwise fill the output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from export import browser  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", help="an HTML file")
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--width", type=int, default=1200)
    args = parser.parse_args()
    with browser.page(viewport=(args.width, 900)) as tab:
        tab.goto(pathlib.Path(args.page).resolve().as_uri())
        tab.wait_for_load_state("load")
        tab.screenshot(path=args.out, full_page=True)
        outside = [url for url in tab.requests if not url.startswith("file:")]
    print(f"{args.out} written; requests outside the file: {outside or 'none'}")


if __name__ == "__main__":
    main()
