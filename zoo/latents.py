"""The one place where user seeds become latent vectors.

`sample`, the training sample grids, export parity checks and evaluation of
exported artifacts all call `latents_from_seeds`, so the same seed gives the
same latent everywhere.
"""

import keras
import tensorflow as tf

#: Latent priors: standard normal, uniform on [-1, 1], and the standard
#: normal truncated to [-2, 2] (TensorFlow's truncated normal).
PRIORS = ("normal", "uniform", "truncated_normal")


def check_prior(prior):
    if prior not in PRIORS:
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


def random_latents(shape, prior, seed_generator):
    """Training-time latents from `prior`, drawn with a Keras seed generator."""
    if check_prior(prior) == "uniform":
        return keras.random.uniform(shape, -1.0, 1.0, seed=seed_generator)
    if prior == "truncated_normal":
        return keras.random.truncated_normal(shape, seed=seed_generator)
    return keras.random.normal(shape, seed=seed_generator)
