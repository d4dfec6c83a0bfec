"""What evaluation and model cards read: the first images of a split as numpy, a dataset's class names."""

import numpy as np

from training.data.folders import FOLDER_PREFIX
from training.data.tfds import (
    DatasetUnavailableError,
    builder_of,
    check_split,
    damaged_files_reported,
    image_and_label_keys,
    prepare,
)


def load_images(name, split, n=None, data_dir=None):
    """The first `n` images and labels of a split, in order, as uint8 numpy.

    Returns:
        `(images (n, H, W, C) uint8, labels (n,) int64)`; fewer if the split
        is smaller.
    """
    if name.startswith(FOLDER_PREFIX):
        raise DatasetUnavailableError(
            "evaluating against an image folder is not supported; use a TFDS dataset."
        )
    builder = prepare(name, data_dir)
    image_key, label_key = image_and_label_keys(builder)
    check_split(builder, split)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if n is not None:
        ds = ds.take(n)
    images, labels = [], []
    with damaged_files_reported(f"{name} ({builder.data_dir})"):
        for batch in ds.batch(1000).as_numpy_iterator():
            images.append(batch[image_key])
            labels.append(batch[label_key] if label_key else np.full(len(batch[image_key]), -1))
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def class_names(name, data_dir=None):
    """The class names of a labelled TFDS dataset, or None (folders, unlabelled datasets)."""
    if name.startswith(FOLDER_PREFIX):
        return None
    builder = builder_of(name, data_dir)
    _, label_key = image_and_label_keys(builder)
    names = getattr(builder.info.features[label_key], "names", None) if label_key else None
    return list(names) if names else None
