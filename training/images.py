"""Sample grids: uint8 image batches -> one PNG."""

import math

import numpy as np
import tensorflow as tf

from training.files import atomic_write


def make_grid(images, columns=None, padding=2):
    """Tiles uint8 images `(n, H, W, C)` into one `(rows*H', cols*W', C)` image.

    Cells are separated by `padding` pixels of black; `columns` defaults to the
    smallest square that fits `n`.
    """
    images = np.asarray(images)
    n, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        dtype=np.uint8,
    )
    for i, image in enumerate(images):
        top = padding + (i // columns) * (height + padding)
        left = padding + (i % columns) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def write_png(path, image):
    """Writes a uint8 `(H, W, C)` image as PNG (atomically), creating parent folders."""
    atomic_write(path, tf.io.encode_png(image).numpy())
