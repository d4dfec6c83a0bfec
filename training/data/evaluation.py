"""What evaluation and model cards read: the first images of a split as numpy, a dataset's class names."""

import numpy as np

from training.data.folders import FOLDER_PREFIX, read_folder
from training.data.pipeline import load
from training.data.tfds import (
    builder_of,
    check_split,
    damaged_files_reported,
    image_and_label_keys,
    prepare,
)


def load_images(name, split, n=None, data_dir=None, image_shape=None):
    """The first `n` images and labels of a split, in order, as uint8 numpy.

    Args:
        name, split, data_dir: as `training.data.load`.
        n: images to read (None: the whole split).
        image_shape: `(H, W, C)` an image folder's files are cropped and
            resized to (needed for folders; TFDS images keep their own).

    Returns:
        `(images (n, H, W, C) uint8, labels (n,) int64)`; fewer if the split
        is smaller.
    """
    if name.startswith(FOLDER_PREFIX):
        if image_shape is None:
            raise ValueError("an image folder's images need an image_shape to be resized to")
        # Pixel range (0, 255): the images come back resized, still on the uint8 scale.
        batches = load(name, split, image_shape=tuple(image_shape), pixel_range=(0.0, 255.0), batch_size=1000,
                       shuffle=False)
        if n is not None:
            batches = batches.unbatch().take(n).batch(1000)
        images, labels = zip(*((np.round(b).astype(np.uint8), y) for b, y in batches.as_numpy_iterator()))
        return np.concatenate(images), np.concatenate(labels).astype(np.int64)
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
    """The class names of a labelled dataset (TFDS, or a folder of class subfolders), or None."""
    if name.startswith(FOLDER_PREFIX):
        names = read_folder(name[len(FOLDER_PREFIX):]).class_names
        return list(names) if names else None
    builder = builder_of(name, data_dir)
    _, label_key = image_and_label_keys(builder)
    names = getattr(builder.info.features[label_key], "names", None) if label_key else None
    return list(names) if names else None
