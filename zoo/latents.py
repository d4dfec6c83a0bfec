"""The one place where user seeds become latent vectors (and class labels).

`sample`, the training sample grids, evaluation and every exported
`generate` / `latents` signature (SavedModel and `.tflite` alike) call
`latents_from_seeds`, so the same seed gives the same latent everywhere: on a
server, on a phone and in Python.

The draw is a counter-based generator made only of int32 arithmetic that
never overflows, then float math, all of it TFLite builtins (FLOOR_DIV,
FLOOR_MOD, MUL, SUB, BITWISE_XOR, RIGHT_SHIFT, CAST, LOG, SQRT, COS, SELECT).
TensorFlow's
own stateless random ops cannot be used: they need
`StatelessRandomGetKeyCounter`, which TFLite does not have, and TFLite's
builtin RANDOM_STANDARD_NORMAL is seeded at conversion and changes on every
invoke. So this is written by hand, from the textbook parts:

- multiplication modulo the Mersenne prime 2^31 - 1 by Schrage's method
  (Park & Miller's "minimal standard" multiplier 48271), which keeps every
  intermediate inside int32;
- xorshifts (`x ^ (x >> 16)`, `x ^ (x >> 13)`) and a round constant around
  each multiplication, so the mix is not affine modulo the prime (an affine
  hash, and bit rotations are multiplications modulo 2^31 - 1, makes the
  latents of seed s + 1 a fixed shift of those of seed s) and 0 is not a
  fixed point;
- each uniform comes from mixing the seed's key with a mixed counter, so row
  `i` depends only on `seeds[i]` and element `k` only on `(seed, k)`;
- 24 bits of each draw make a float32 uniform in (0, 1) exactly; normals by
  Box-Muller (Box & Muller 1958), the truncated normal by rejection from a
  fixed number of normal candidates.

The integer part is bit-exact across TensorFlow and LiteRT; log/cos differ
in the last bits (about 1e-6).
"""

import keras
import numpy as np
import tensorflow as tf

#: Latent priors: standard normal, uniform on [-1, 1], and the standard
#: normal truncated to [-2, 2] (TensorFlow's truncated normal).
PRIORS = ("normal", "uniform", "truncated_normal")

#: Seeds are integers in [0, SEED_LIMIT): the residues modulo the prime.
SEED_LIMIT = 2**31 - 1
_PRIME = SEED_LIMIT
_MULTIPLIER = 48271  # Park, Miller & Stockmeyer 1993
_QUOTIENT, _REMAINDER = divmod(_PRIME, _MULTIPLIER)  # Schrage: r < q, so no overflow
#: Added in each mixing round (digits of the square roots of 2, 3 and 5, below the prime).
_ROUND_CONSTANTS = (1414213562, 1732050807, 2236067977 - _PRIME)
#: Normal candidates per truncated-normal draw: all of them fall outside
#: [-2, 2] with probability 0.0455^6 < 1e-8, and the last is then clipped.
_TRUNCATION_TRIES = 6
#: 2 pi as a sum of three float16 numbers: the float16 TFLite file stores
#: float constants in float16, and a single float16 2 pi (6.28125) would move
#: every latent by up to 0.005; these three are exact in float16 and sum to
#: 2 pi within 4e-9.
_TWO_PI_PARTS = (6.28125, 0.0019350051879882812, 2.980232238769531e-07)
#: Uniform draws per latent element, by prior.
_UNIFORMS = {"normal": 2, "uniform": 1, "truncated_normal": 2 * _TRUNCATION_TRIES}


def check_prior(prior):
    if not isinstance(prior, str) or prior not in PRIORS:
        raise ValueError(f"latent_prior={prior!r}; use one of {', '.join(PRIORS)}.")
    return prior


def check_seeds(first, n):
    """Raises a ValueError unless seeds `first .. first + n - 1` are all in `[0, SEED_LIMIT)`."""
    if first < 0 or first + n > SEED_LIMIT:
        raise ValueError(
            f"seeds {first}..{first + n - 1} leave [0, {SEED_LIMIT}); latent seeds are integers "
            f"from 0 to {SEED_LIMIT - 1}."
        )


def _add(x, y):
    """(x + y) mod p for int32 x, y in [0, p), without leaving int32."""
    return tf.math.floormod(x - (_PRIME - y), _PRIME)


def _multiply(x):
    """(48271 x) mod p for int32 x in [0, p), by Schrage's method."""
    high, low = tf.math.floordiv(x, _QUOTIENT), tf.math.floormod(x, _QUOTIENT)
    return tf.math.floormod(_MULTIPLIER * low - _REMAINDER * high, _PRIME)


def _xorshift(x, shift):
    """x XOR (x >> shift): brings high bits down; not affine modulo p."""
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift))


def mix(x):
    """Scrambles int32 values in [0, 2^31 - 1]: xorshifts between multiplications mod p.

    The building block of `uniform_draws`: seeds, counters and their sums
    all go through it. TFLite builtins only, never leaving int32; results
    stay in [0, 2^31 - 1], and the round constants keep 0 (seed 0) from
    being a fixed point.

    Args:
        x: int32 tensor of any shape, values in [0, 2^31 - 1].

    Returns:
        An int32 tensor of the same shape.

    Example:
        >>> mix(tf.constant([0, 1, 2], tf.int32)).numpy()  # three unrelated int32 values
    """
    for constant in _ROUND_CONSTANTS:
        x = _multiply(_add(_xorshift(x, 16), constant))
        x = _xorshift(x, 13)
    return x


def uniform_draws(seeds, count):
    """`count` int32 draws in [0, 2^24) per seed, `(n, count)`; exact in TF and TFLite."""
    keys = mix(tf.reshape(seeds, [-1, 1]))  # (n, 1)
    counters = mix(tf.range(1, count + 1, dtype=tf.int32))[tf.newaxis]  # (1, count)
    return tf.math.floordiv(mix(_add(keys, counters)), 128)


def latents_from_seeds(seeds, latent_shape, prior="normal"):
    """Draws one latent per integer seed from `prior`, with graph ops TFLite has.

    Row `i` depends only on `seeds[i]`, so image `i` of `sample(n, seed=s)`
    is the image of seed `s + i` whatever `n` is, and the exported
    `generate` signatures compute the same rows inside the graph. Seeds
    outside `[0, SEED_LIMIT)` give unspecified rows; callers check them.

    Args:
        seeds: int tensor or sequence, shape `(n,)`, values in `[0, 2^31 - 1)`.
        latent_shape: the shape of one latent, `(64,)` or `(2, 2, 4)`; an
            int is a vector's length. A latent of several dimensions is the
            vector of their product's length, reshaped (row-major).
        prior: one of `PRIORS`.

    Returns:
        float32 tensor of shape `(n, *latent_shape)`.

    Example:
        >>> z = latents_from_seeds([0, 1, 2], 64)
        >>> z.shape
        TensorShape([3, 64])
    """
    shape = (int(latent_shape),) if isinstance(latent_shape, (int, np.integer)) else tuple(map(int, latent_shape))
    per = _UNIFORMS[check_prior(prior)]
    seeds = tf.cast(tf.reshape(tf.convert_to_tensor(seeds), [-1]), tf.int32)
    # Shaped and sliced as integers: quantizing converters leave int32
    # tensors alone, so every float op below is one an int8 file can keep in
    # float32.
    draws = tf.reshape(uniform_draws(seeds, int(np.prod(shape)) * per), [-1, *shape, per])

    def uniform(k):
        # Exactly representable: (draw + 0.5) / 2^24 for draw < 2^24, never 0 or 1.
        return (tf.cast(draws[..., k], tf.float32) + 0.5) * (1.0 / 2**24)

    def normal(k):  # Box-Muller from draws k and k + 1, (n, *shape)
        angle = uniform(k + 1)
        angle = _TWO_PI_PARTS[0] * angle + _TWO_PI_PARTS[1] * angle + _TWO_PI_PARTS[2] * angle
        return tf.sqrt(-2.0 * tf.math.log(uniform(k))) * tf.math.cos(angle)

    if prior == "uniform":
        return 2.0 * uniform(0) - 1.0
    if prior == "normal":
        return normal(0)
    # The first candidate inside [-2, 2] (TensorFlow's truncated normal); the
    # last one clipped (by selects: MINIMUM/MAXIMUM are needed quantized
    # elsewhere in an int8 file, and these ops must stay float32 there).
    last = normal(2 * (_TRUNCATION_TRIES - 1))
    result = tf.where(last > 2.0, 2.0, tf.where(last < -2.0, -2.0, last))
    for attempt in reversed(range(_TRUNCATION_TRIES - 1)):
        candidate = normal(2 * attempt)
        result = tf.where(tf.abs(candidate) <= 2.0, candidate, result)
    return result


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
