"""Model cards: one JSON format for every model the project ships or exports.

A card says what a file is, how it was made and how good it is, and holds
the sha256 of every file it describes, so an app can check a file before
loading it (TFLite's parser has had memory-safety bugs; a SavedModel is a
program). Generators' exports and the evaluation classifier use the same
format; `kind` tells them apart.

Keys (all cards): `schema_version`, `kind` ("generator" or "classifier"),
`name`, `version`, `dataset` (`name`, `licence`, `class_names`),
`training` (`command`, `config`), `metrics`, `files` (`{path: sha256}`,
paths relative to the folder the card describes), `frameworks`.
Generator cards (`zoo export`) add `model`, `latent`, `image`,
`signatures`, `limits`, `parity` (on the quality seeds), `held_out` (the
seeds the LiteRT thresholds are stated on, disjoint from every seed the
export tuned or checked anything on, and how they are measured),
`saved_model`, `tflite` and `serving`. Each `tflite` entry holds the file's
size, speed and ops, `quality` on the quality seeds, `held_out` (the
percentiles and maximum of per-image max pixel difference from Keras and
the PSNR over the held-out seeds) and `thresholds` (the numbers it was
gated on and a `statement` of them in words, each with its sample size).
Classifier cards add `image`, `num_classes` and `feature_layer`.
"""

import copy

import keras
import tensorflow as tf

SCHEMA_VERSION = 1
CARD_FILE = "model_card.json"
KINDS = ("generator", "classifier")

#: Licences of the datasets the project knows (from their TFDS pages).
DATASET_LICENCES = {
    "fashion_mnist": "MIT (Zalando Research)",
    "mnist": "CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
    "cifar10": "unspecified; see https://www.cs.toronto.edu/~kriz/cifar.html",
    "celeb_a": "non-commercial research only (CelebA agreement)",
}


def dataset_entry(name, class_names=None):
    """`{"name", "licence", "class_names"}` of a training dataset."""
    if name.startswith("folder:"):
        licence = "the image folder's own licence (not recorded)"
    else:
        licence = DATASET_LICENCES.get(name, "see the dataset's TFDS page")
    return {"name": name, "licence": licence, "class_names": list(class_names) if class_names else None}


def frameworks():
    return {"tensorflow": tf.__version__, "keras": keras.__version__}


def new_card(kind, name, version, dataset, training, metrics, files, **fields):
    """A card dict with every common key; `fields` adds the kind's own keys."""
    if kind not in KINDS:
        raise ValueError(f"card kind {kind!r}; use one of {', '.join(KINDS)}")
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "name": name,
        "version": version,
        "dataset": dataset,
        "training": training,
        "metrics": metrics,
        **fields,
        "files": dict(sorted(files.items())),
        "frameworks": frameworks(),
    }


def without_files(card, paths):
    """A copy of `card` whose `files` leave out `paths` (for a copy embedded in one of them)."""
    embedded = copy.deepcopy(card)
    embedded["files"] = {path: digest for path, digest in card["files"].items() if path not in paths}
    embedded["embedded"] = True
    return embedded


def check_card(card, where):
    """Raises a ValueError naming `where` unless `card` has this schema's common keys."""
    if not isinstance(card, dict):
        raise ValueError(f"{where}: a model card is a JSON object, got {type(card).__name__}")
    if card.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{where}: schema_version {card.get('schema_version')!r}; this version of the project "
            f"reads schema_version {SCHEMA_VERSION}"
        )
    missing = [key for key in ("kind", "name", "dataset", "files") if key not in card]
    if missing:
        raise ValueError(f"{where}: the card lacks {', '.join(missing)}")
    if not isinstance(card["files"], dict):
        raise ValueError(f"{where}: files must be {{path: sha256}}")
    return card
