"""Trained models shipped with the package, in `saved_models/`.

Each shipped model is a folder named after it (`saved_models/NAME/`) laid
out like a run folder after `zoo export`: `model.keras`, `config.json`,
`history.json`, `saved_model/1/`, `tflite/1/`, `exports/1/model_card.json`
and a `samples.png` grid, with a `model_card.json` at the top that records
the metrics, how the model was trained, and the sha256 of every file. The
folders are package data (the `saved_models` package), so they are found
after a plain `pip install` as well as in a source checkout.

Every file is checked against its card's sha256 before it is used: a
damaged or edited shipped model is refused, never loaded.

Example:
    >>> import zoo
    >>> zoo.shipped.names()
    ['cgan_fashion_mnist', 'cvae_fashion_mnist', 'dcgan_fashion_mnist', 'two_stage_vae_fashion_mnist']
    >>> model = zoo.load("dcgan_fashion_mnist")
    >>> images = model.sample(16, seed=0)
"""

import importlib.resources
import json
import os
import pathlib

from zoo.errors import ZooError
from zoo.files import sha256_file
from zoo.run_folder import RunFolder


class ShippedModelError(ZooError, ValueError):
    """A shipped model's name is unknown, or its files differ from its card."""


def root():
    """The folder holding the shipped models (the `saved_models` package)."""
    return pathlib.Path(str(importlib.resources.files("saved_models")))


def _cards():
    found = {}
    for folder in sorted(root().iterdir()):
        path = folder / RunFolder.CARD
        if path.is_file():
            with open(path) as f:
                found[folder.name] = json.load(f)
    return found


def names(kind="generator"):
    """Names of the shipped models of `kind` ("generator", "classifier" or None for all)."""
    return [name for name, card in _cards().items() if kind is None or card.get("kind") == kind]


def card(name):
    """The model card of the shipped model `name`."""
    return json.loads((folder(name, verify=False) / RunFolder.CARD).read_text())


def folder(name, verify=True):
    """The folder of the shipped model `name`, its files checked against the card first.

    Raises:
        ShippedModelError: no shipped model has that name, or a file is
            missing or differs from the sha256 its card records.
    """
    path = root() / str(name)
    if os.sep in str(name) or "/" in str(name) or not (path / RunFolder.CARD).is_file():
        shipped = ", ".join(names(kind=None)) or "none"
        raise ShippedModelError(
            f"{name!r} is neither a path nor a shipped model (shipped: {shipped}); "
            "see `zoo list`."
        )
    if verify:
        check_files(name)
    return path


def check_files(name, files=None):
    """Checks the files of shipped model `name` (all of its card's, or `files`) by sha256.

    Raises:
        ShippedModelError: a file is missing, or its sha256 differs from the card's.
    """
    base = root() / name
    recorded = card(name).get("files", {})
    for relative in files if files is not None else sorted(recorded):
        path = base / relative
        if relative not in recorded:
            raise ShippedModelError(f"{path} is not listed in {base / RunFolder.CARD}; reinstall the package.")
        if not path.is_file():
            raise ShippedModelError(f"{path} is missing; reinstall the package.")
        if sha256_file(path) != recorded[relative]:
            raise ShippedModelError(
                f"{path} differs from the sha256 in {base / RunFolder.CARD}: the file is damaged or "
                "was edited; reinstall the package (pip install --force-reinstall keras-gen-zoo)."
            )


def resolve(name_or_path):
    """A run folder: `name_or_path` itself if it exists, else the checked folder of a shipped model."""
    if os.path.exists(os.fspath(name_or_path)):
        return os.fspath(name_or_path)
    return str(folder(name_or_path))


def is_shipped(path):
    """True when `path` is (inside) a shipped model's folder: commands write elsewhere."""
    try:
        resolved = pathlib.Path(path).resolve()
        return resolved != root().resolve() and root().resolve() in resolved.parents
    except OSError:
        return False
