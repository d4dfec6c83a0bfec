"""TFDS datasets: preparing them (downloaded, or from the Debian shim), their splits, keys and errors."""

import contextlib
import os
import tempfile

import tensorflow as tf
import tensorflow_datasets as tfds

from training.data.offline import (
    check_download_hosts,
    debian_fashion_mnist_builder,
    debian_files_present,
)
from zoo.errors import ZooError

#: Image datasets the presets and docs name; any TFDS image dataset works.
KNOWN_DATASETS = ("fashion_mnist", "mnist", "cifar10", "celeb_a")


class DatasetUnavailableError(ZooError, RuntimeError):
    """A dataset is unknown, or cannot be downloaded or found locally."""


def builder_of(name, data_dir=None):
    """The TFDS builder of `name`, prepared or not.

    Raises:
        DatasetUnavailableError: TFDS knows no dataset of that name.
    """
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        image_datasets = ", ".join(KNOWN_DATASETS)
        raise DatasetUnavailableError(
            f"unknown dataset {name!r}. Use a TFDS image dataset name such as "
            f"{image_datasets} (see `zoo list`)."
        ) from None


def prepare(name, data_dir=None):
    """Returns a prepared TFDS builder for `name`, downloading if needed.

    Raises:
        DatasetUnavailableError: unknown name, or the data cannot be had
            (offline, blocked download, missing manual files).
    """
    builder = builder_of(name, data_dir)
    if builder.is_prepared():
        return builder
    if name == "fashion_mnist" and debian_files_present():
        with tempfile.TemporaryDirectory(prefix="fashion_mnist_") as extracted:
            debian_fashion_mnist_builder(data_dir, extracted).download_and_prepare()
        return builder_of(name, data_dir)
    try:
        check_download_hosts(builder)
        builder.download_and_prepare()
    except Exception as error:  # TFDS raises many types for failed downloads.
        hint = (
            "install the Debian package `dataset-fashion-mnist` or connect to "
            "the internet"
            if name == "fashion_mnist"
            else "connect to the internet and run again, or copy a prepared "
            f"TFDS dataset into {os.path.dirname(os.path.dirname(builder.data_dir))}"
        )
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        raise DatasetUnavailableError(
            f"dataset {name!r} is not prepared under {builder.data_dir} and could "
            f"not be downloaded ({type(error).__name__}: {reason}). To get it, {hint}."
        ) from None
    return builder


def check_split(builder, split):
    """Raises a clear error when `split` (e.g. "test[:10%]") is not in the dataset."""
    try:
        builder.info.splits[split]
    except (KeyError, ValueError, AssertionError):
        raise DatasetUnavailableError(
            f"dataset {builder.name!r} has no split {split!r}; its splits are "
            f"{', '.join(sorted(builder.info.splits))} (slices like 'train[:10%]' work too)."
        ) from None


def image_and_label_keys(builder):
    """Feature keys of the image and (if any) the label of a TFDS dataset."""
    features = builder.info.features
    supervised = builder.info.supervised_keys
    if supervised and isinstance(features[supervised[0]], tfds.features.Image):
        return supervised[0], supervised[1]
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if not images:
        raise DatasetUnavailableError(
            f"dataset {builder.name!r} has no image feature; pick an image dataset."
        )
    return images[0], ("label" if "label" in features else None)


@contextlib.contextmanager
def damaged_files_reported(name):
    """Turns TensorFlow's read errors of a prepared dataset into one clear error."""
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise DatasetUnavailableError(
            f"the prepared files of dataset {name} are damaged or truncated ({type(error).__name__}: "
            f"{first}); delete that folder and run again to prepare it anew."
        ) from None


def split_sizes(name, data_dir=None):
    """Number of examples of each split of a dataset, e.g. `{"train": 60000}`."""
    builder = prepare(name, data_dir)
    return {k: int(v.num_examples) for k, v in builder.info.splits.items()}


def availability(name, data_dir=None):
    """How a dataset can be had here: "prepared", "debian package" or "download"."""
    if builder_of(name, data_dir).is_prepared():
        return "prepared"
    if name == "fashion_mnist" and debian_files_present():
        return "debian package"
    return "download"
