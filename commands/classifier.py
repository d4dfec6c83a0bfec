"""`zoo train-classifier`: the domain classifier evaluation uses as its feature extractor."""

import argparse
import json
import os

from commands.common import positive


def image_shape(text):
    """`H,W,C` -> `(H, W, C)`: positive sizes, 1 or 3 channels."""
    parts = text.split(",")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1 or shape[2] not in (1, 3):
        raise argparse.ArgumentTypeError(f"expected height,width,channels such as 28,28,1 or 64,64,3, got {text!r}")
    return shape


def run(args):
    from evaluation.classifier import train_classifier
    from training import data
    from zoo.files import run_lock

    out = args.out or os.path.join("saved_models", f"{data.short_name(args.dataset)}_classifier")
    with run_lock(out, "zoo train-classifier", advice="wait for it to finish, or choose another --out"):
        card = train_classifier(
            args.dataset, out, epochs=args.epochs, batch_size=args.batch_size,
            seed=args.seed, data_dir=args.data_dir, command=["zoo", *args.argv],
            train_split=args.split, test_split=args.test_split, image_shape=args.image_shape,
        )
    print(json.dumps(card, indent=2))


def add_parser(commands):
    classifier = commands.add_parser(
        "train-classifier", help="train the domain classifier that evaluation uses as feature extractor",
        description="Train a small CNN on a labelled dataset; writes classifier.keras and "
        "model_card.json (with its test accuracy) to OUT.",
    )
    classifier.add_argument("--dataset", default="fashion_mnist",
                            help="labelled TFDS dataset, or folder:PATH with one subfolder per class "
                            "(default: fashion_mnist)")
    classifier.add_argument("--split", default="train", help="split to train on (default: train)")
    classifier.add_argument("--test-split",
                            help="split its accuracy is measured on (default: test; for a folder, a slice "
                            "of train that --split leaves out, e.g. train[90%%:])")
    classifier.add_argument("--image-shape", type=image_shape, metavar="H,W,C",
                            help="resize the images to this shape (default: the dataset's; needed for a folder)")
    classifier.add_argument("--epochs", type=positive, default=5, help="default: 5")
    classifier.add_argument("--batch-size", type=positive, default=128, help="default: 128")
    classifier.add_argument("--seed", type=int, default=0, help="default: 0")
    classifier.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own)")
    classifier.add_argument("--out", help="folder to write (default: saved_models/DATASET_classifier)")
    classifier.set_defaults(handler=run)
