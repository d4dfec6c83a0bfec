"""DiffAugment: differentiable augmentations applied to real and fake images.

Every operation is a differentiable function of the images (additions,
multiplications and shift matrices), so the generator is trained through the
augmentation. Randomness comes from the model's seed generator.

References:
    Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
    Training", NeurIPS 2020.
"""

import keras
import tensorflow as tf

POLICIES = ("color", "translation", "cutout")


def parse_policy(text):
    """"color,translation" -> ("color", "translation"), rejecting unknown or repeated names."""
    use = f"a comma list of {', '.join(POLICIES)} ('' is off)"
    if not isinstance(text, str):
        raise ValueError(f"diffaugment={text!r}; use {use}, e.g. 'color,translation'.")
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(f"diffaugment={text!r}: unknown {unknown}; use {use}.")
    if len(set(names)) < len(names):
        raise ValueError(
            f"diffaugment={text!r} repeats an operation; use each of {', '.join(POLICIES)} once.")
    return names


def _color(x, seed):
    batch = tf.shape(x)[0]
    brightness = keras.random.uniform((batch, 1, 1, 1), -0.5, 0.5, seed=seed)
    x = x + brightness
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * keras.random.uniform((batch, 1, 1, 1), 0.0, 2.0, seed=seed) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * keras.random.uniform((batch, 1, 1, 1), 0.5, 1.5, seed=seed) + mean


def _shift_matrices(size, shifts):
    """`(batch, size, size)` matrices M with (M v)[i] = v[i - shift], zero-filled."""
    rows = tf.range(size)[None, :, None]
    cols = tf.range(size)[None, None, :]
    return tf.cast(rows - cols == shifts[:, None, None], tf.float32)


def _translation(x, seed, ratio=0.125):
    batch = tf.shape(x)[0]
    height, width = x.shape[1], x.shape[2]
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = keras.random.randint((batch,), -max_dy, max_dy + 1, seed=seed)
    dx = keras.random.randint((batch,), -max_dx, max_dx + 1, seed=seed)
    rows = _shift_matrices(height, dy)
    cols = _shift_matrices(width, dx)
    # (b, H, H) x (b, H, W, C) x (b, W, W)^T: shift rows, then columns.
    return tf.einsum("bij,bjkc,blk->bilc", rows, x, cols)


def _cutout(x, seed, ratio=0.5):
    batch = tf.shape(x)[0]
    height, width = x.shape[1], x.shape[2]
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = keras.random.randint((batch, 1, 1), 0, height - cut_h + 1, seed=seed)
    left = keras.random.randint((batch, 1, 1), 0, width - cut_w + 1, seed=seed)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (rows >= top) & (rows < top + cut_h) & (cols >= left) & (cols < left + cut_w)
    return x * tf.cast(~inside, x.dtype)[..., None]


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images, policy, seed_generator):
    """Applies the operations of `policy` (names from `POLICIES`) in order."""
    for name in policy:
        images = _OPS[name](images, seed_generator)
    return images
