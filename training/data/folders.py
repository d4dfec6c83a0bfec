"""Image folders (`folder:PATH`): the JPEG and PNG files under a folder, checked and decoded."""

import os
import warnings

import tensorflow as tf

from training.data.tfds import DatasetUnavailableError

FOLDER_PREFIX = "folder:"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def folder_images(path, channels=3):
    """The JPEG/PNG files under `path` (recursive) that decode, sorted.

    Every file is decoded once (in parallel, with `tf.io.decode_image`) so
    that broken files are counted and reported here, in one warning naming
    them, instead of being dropped silently in the middle of training.

    Raises:
        DatasetUnavailableError: the folder is missing, or no file decodes.
    """
    if not os.path.isdir(path):
        raise DatasetUnavailableError(
            f"image folder {path!r} does not exist; pass --dataset folder:/path/to/images."
        )
    candidates = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(path)
        for name in names
        if name.lower().endswith(IMAGE_SUFFIXES)
    )
    if not candidates:
        raise DatasetUnavailableError(
            f"no .jpg/.jpeg/.png files under {path!r} (searched recursively); "
            "point --dataset folder:PATH at a folder of images."
        )
    checks = tf.data.Dataset.from_tensor_slices((tf.range(len(candidates), dtype=tf.int64), candidates))
    checks = checks.map(
        lambda i, f: (i, tf.reduce_prod(tf.shape(
            tf.io.decode_image(tf.io.read_file(f), channels=channels, expand_animations=False)))),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).ignore_errors()
    good = {int(i) for i, size in checks.as_numpy_iterator() if size > 0}
    bad = [f for i, f in enumerate(candidates) if i not in good]
    if len(bad) == len(candidates):
        raise DatasetUnavailableError(
            f"none of the {len(candidates)} image files under {path!r} decode as JPEG or PNG; "
            "check that the files are images and not damaged."
        )
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        warnings.warn(
            f"skipping {len(bad)} of {len(candidates)} image files in {path!r} that do not "
            f"decode (unreadable image file): {shown}", stacklevel=2)
    return [f for i, f in enumerate(candidates) if i in good]


def _crop_to_aspect(image, height, width):
    """Central crop of one decoded image to the aspect ratio height:width."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    target_w = tf.minimum(w, h * width // height)
    target_h = tf.minimum(h, w * height // width)
    top, left = (h - target_h) // 2, (w - target_w) // 2
    return image[top : top + target_h, left : left + target_w]


def decode_folder_image(filename, height, width, channels):
    """One image file -> uint8 `(height, width, channels)`: centre-cropped to the aspect ratio, resized with
    antialiasing."""
    image = tf.io.decode_image(tf.io.read_file(filename), channels=channels, expand_animations=False)
    image = _crop_to_aspect(image, height, width)
    image = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
