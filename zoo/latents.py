"""The one place where user seeds become latent vectors (and class labels).

`sample`, the training sample grids, export parity checks and evaluation of
exported artifacts all call `latents_from_seeds` (and, for conditional models,
`labels_from_seeds`), so the same seed gives the same input everywhere.
"""

import keras
import numpy as np
import tensorflow as tf

#: Latent priors: standard normal, uniform on [-1, 1], and the standard
#: normal truncated to [-2, 2] (TensorFlow's truncated normal).
PRIORS = ("normal", "uniform", "truncated_normal")


def check_prior(prior):
    if not isinstance(prior, str) or prior not in PRIORS:
        raise ValueError(f"latent_prior={prior!r}; use one of {', '.join(PRIORS)}.")
    return prior


def latents_from_seeds(seeds, latent_dim, prior="normal"):
    """Draws one latent vector per integer seed from `prior`.

    Row `i` depends only on `seeds[i]` (a stateless counter-based draw), so
    image `i` of `sample(n, seed=s)` is the same image whatever `n` is.

    Args:
        seeds: int tensor or sequence, shape `(n,)`.
        latent_dim: int, length of each latent vector.
        prior: one of `PRIORS`.

    Returns:
        float32 tensor of shape `(n, latent_dim)`.

    Example:
        >>> z = latents_from_seeds([0, 1, 2], latent_dim=64)
        >>> z.shape
        TensorShape([3, 64])
    """
    draw = {
        "normal": tf.random.stateless_normal,
        "uniform": lambda shape, seed: tf.random.stateless_uniform(shape, seed, -1.0, 1.0),
        "truncated_normal": tf.random.stateless_truncated_normal,
    }[check_prior(prior)]
    seeds = tf.cast(tf.reshape(tf.convert_to_tensor(seeds), [-1]), tf.int64)

    def one(seed):
        return draw([latent_dim], seed=tf.stack([seed, tf.constant(0, tf.int64)]))

    return tf.map_fn(
        one, seeds, fn_output_signature=tf.TensorSpec([latent_dim], tf.float32)
    )


def labels_from_seeds(seeds, num_classes):
    """Default class label of each seed, `seed % num_classes`; None if unconditional.

    Consecutive seeds cycle through the classes, so any `num_classes`
    consecutive images of a conditional model cover every class once.

    Returns:
        int32 numpy array `(n,)`, or None when `num_classes` is 0.
    """
    if not num_classes:
        return None
    return (np.asarray(seeds, np.int64).reshape(-1) % num_classes).astype(np.int32)


def check_labels(labels, num_classes, n=None):
    """int32 labels `(n,)`, each in `[0, num_classes)`; a clear ValueError otherwise."""
    labels = np.asarray(labels)
    if labels.ndim == 0 and n is not None:
        labels = np.full(n, labels)
    if labels.ndim != 1 or (n is not None and len(labels) != n):
        raise ValueError(f"labels of shape {labels.shape}; expected one class per image ({n}).")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        bad = labels
    else:
        bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ValueError(
            f"label {bad[0].item()!r} is not a class of this model; use integers in [0, {num_classes})."
        )
    return labels.astype(np.int32)


def random_latents(shape, prior, seed_generator):
    """Training-time latents from `prior`, drawn with a Keras seed generator."""
    if check_prior(prior) == "uniform":
        return keras.random.uniform(shape, -1.0, 1.0, seed=seed_generator)
    if prior == "truncated_normal":
        return keras.random.truncated_normal(shape, seed=seed_generator)
    return keras.random.normal(shape, seed=seed_generator)
