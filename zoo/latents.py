"""The one place where user seeds become latent vectors.

`sample`, the training sample grids, export parity checks and (later) an
exported `generate(seeds)` signature all call `latents_from_seeds`, so the same
seed gives the same latent everywhere.
"""

import tensorflow as tf


def latents_from_seeds(seeds, latent_dim):
    """Draws one standard-normal latent vector per integer seed.

    Row `i` depends only on `seeds[i]` (a stateless counter-based draw), so
    image `i` of `sample(n, seed=s)` is the same image whatever `n` is.

    Args:
        seeds: int tensor or sequence, shape `(n,)`.
        latent_dim: int, length of each latent vector.

    Returns:
        float32 tensor of shape `(n, latent_dim)`.

    Example:
        >>> z = latents_from_seeds([0, 1, 2], latent_dim=64)
        >>> z.shape
        TensorShape([3, 64])
    """
    seeds = tf.cast(tf.reshape(tf.convert_to_tensor(seeds), [-1]), tf.int64)

    def one(seed):
        return tf.random.stateless_normal(
            [latent_dim], seed=tf.stack([seed, tf.constant(0, tf.int64)])
        )

    return tf.map_fn(
        one, seeds, fn_output_signature=tf.TensorSpec([latent_dim], tf.float32)
    )
