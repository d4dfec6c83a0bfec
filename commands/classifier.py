"""`zoo train-classifier`: the domain classifier evaluation uses as its feature extractor."""

import json
import os

from commands.common import positive


def run(args):
    from evaluation.classifier import train_classifier
    from zoo.files import run_lock

    out = args.out or os.path.join("saved_models", f"{args.dataset}_classifier")
    with run_lock(out, "zoo train-classifier", advice="wait for it to finish, or choose another --out"):
        card = train_classifier(
            args.dataset, out, epochs=args.epochs, batch_size=args.batch_size,
            seed=args.seed, data_dir=args.data_dir, command=["zoo", *args.argv],
        )
    print(json.dumps(card, indent=2))


def add_parser(commands):
    classifier = commands.add_parser(
        "train-classifier", help="train the domain classifier that evaluation uses as feature extractor",
        description="Train a small CNN on a labelled dataset; writes classifier.keras and "
        "model_card.json (with its test accuracy) to OUT.",
    )
    classifier.add_argument("--dataset", default="fashion_mnist", help="labelled TFDS dataset (default: fashion_mnist)")
    classifier.add_argument("--epochs", type=positive, default=5, help="default: 5")
    classifier.add_argument("--batch-size", type=positive, default=128, help="default: 128")
    classifier.add_argument("--seed", type=int, default=0, help="default: 0")
    classifier.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own)")
    classifier.add_argument("--out", help="folder to write (default: saved_models/DATASET_classifier)")
    classifier.set_defaults(handler=run)
