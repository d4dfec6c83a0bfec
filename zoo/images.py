"""Conversions between uint8 images and a model's pixel range.

Used by the data pipeline (uint8 -> model range), by `sample` and by the
exported serving graph (model range -> uint8), so the two directions are
defined once and are exact inverses on the uint8 grid.
"""

import tensorflow as tf


def from_uint8(images, pixel_range):
    """Maps uint8 `[0, 255]` images linearly onto `pixel_range` as float32."""
    low, high = pixel_range
    images = tf.cast(images, tf.float32)
    return images * ((high - low) / 255.0) + low


def to_uint8(images, pixel_range):
    """Maps float images in `pixel_range` to uint8, clipping and rounding."""
    low, high = pixel_range
    scaled = (tf.cast(images, tf.float32) - low) * (255.0 / (high - low))
    return tf.cast(tf.round(tf.clip_by_value(scaled, 0.0, 255.0)), tf.uint8)
