"""Convolutional sub-networks shared by the model families.

All builders return functional `keras.Model`s, so they serialise, export and
plot like any Keras model. Spatial sizes follow one rule: an image of side `S`
is reached from a `S / 2**k` base by `k` stride-2 up-samplings, with `k` the
largest value keeping the base side an integer >= 4 (28 -> 7x7 base, k = 2;
32 -> 4x4, k = 3; 64 -> 4x4, k = 4).
"""

import keras
from keras import layers

from zoo.layers import MinibatchStdDev

NORMALIZATIONS = ("batch", "layer", "spectral", "none")


def _nearest_buildable_side(side):
    """The even side >= 8 nearest to `side`, the one with more factors of 2 on a tie (27 -> 28)."""
    if side <= 8 or side % 2 == 0:
        return max(side, 8)
    return max(side - 1, side + 1, key=lambda s: (s & -s, s))


def check_buildable(image_shape):
    """`image_shape` as a tuple if its sides can be reached from a 4+ pixel base by stride 2.

    That holds exactly when both sides are even and at least 8; otherwise the
    ValueError names the nearest shape that does.
    """
    height, width = image_shape[:2]
    if height % 2 or width % 2 or min(height, width) < 8:
        nearby = (_nearest_buildable_side(height), _nearest_buildable_side(width), *image_shape[2:])
        raise ValueError(
            f"image_shape={tuple(image_shape)} cannot be built by stride-2 up-sampling from a "
            f"base of at least 4x4: use even sides of at least 8, e.g. {nearby}."
        )
    return tuple(image_shape)


def num_resolution_steps(image_shape):
    """Number of stride-2 stages between a 4+ pixel base and `image_shape`."""
    height, width = check_buildable(image_shape)[:2]
    steps = 0
    while (
        height % 2 ** (steps + 1) == 0
        and width % 2 ** (steps + 1) == 0
        and min(height, width) // 2 ** (steps + 1) >= 4
    ):
        steps += 1
    return steps


def label_input():
    """The class-label input of conditional networks: int32 `(batch,)`."""
    return keras.Input((), dtype="int32", name="label")


def batch_normalization(synchronized):
    """Batch norm; `synchronized` computes the statistics over the global batch under tf.distribute."""
    return layers.BatchNormalization(synchronized=synchronized)


def conv_generator(
    image_shape, latent_dim, width, output_activation, num_classes=0, name="generator",
    synchronized=False,
):
    """DCGAN-style generator: Dense -> reshape -> stride-2 transposed convs.

    Channels halve at each up-sampling, from `width * 2**(k-1)` at the base to
    `width` before the last layer (DCGAN, Radford et al. 2016). With
    `num_classes` > 0 the model takes `[z, label]` and a learned embedding
    of the label (of `latent_dim` values) is concatenated to `z`.
    `synchronized`: batch-norm statistics over all replicas' examples.
    """
    steps = num_resolution_steps(image_shape)
    base_h = image_shape[0] // 2**steps
    base_w = image_shape[1] // 2**steps
    channels = width * 2 ** (steps - 1)

    z = keras.Input((latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        label = label_input()
        inputs = [z, label]
        embedded = layers.Embedding(num_classes, latent_dim, name="label_embedding")(label)
        x = layers.Concatenate()([z, embedded])
    x = layers.Dense(base_h * base_w * channels, use_bias=False)(x)
    x = batch_normalization(synchronized)(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((base_h, base_w, channels))(x)  # (batch, h0, w0, c0)
    for step in range(steps - 1):
        channels //= 2
        x = layers.Conv2DTranspose(
            channels, 4, strides=2, padding="same", use_bias=False
        )(x)
        x = batch_normalization(synchronized)(x)
        x = layers.ReLU()(x)
    images = layers.Conv2DTranspose(
        image_shape[2],
        4,
        strides=2,
        padding="same",
        activation=output_activation,
        dtype="float32",
        name="images",
    )(x)
    return keras.Model(inputs, images, name=name)


def _maybe_spectral(layer, normalization):
    """Wraps a layer in Keras's spectral normalisation when asked for."""
    if normalization == "spectral":
        return layers.SpectralNormalization(layer)
    return layer


def _downsampling_trunk(x, steps, width, normalization, minibatch_stddev=False, synchronized=False):
    """Stride-2 convolutions doubling channels; returns the flattened features."""
    channels = width
    for step in range(steps):
        x = _maybe_spectral(layers.Conv2D(channels, 4, strides=2, padding="same"), normalization)(x)
        # The first layer is never normalised (DCGAN), and a WGAN-GP critic
        # must not use batch norm: it couples the examples the penalty treats
        # independently (Gulrajani et al. 2017, section 4).
        if step > 0 and normalization == "batch":
            x = batch_normalization(synchronized)(x)
        elif step > 0 and normalization == "layer":
            x = layers.LayerNormalization(axis=[1, 2, 3])(x)
        x = layers.LeakyReLU(0.2)(x)
        channels *= 2
    if minibatch_stddev:
        x = MinibatchStdDev()(x)
    return layers.Flatten()(x)


def conv_discriminator(image_shape, width, normalization, minibatch_stddev=False,
                       num_classes=0, name="discriminator", synchronized=False):
    """Stride-2 conv classifier returning one unbounded logit/score per image.

    Args:
        normalization: "batch" or "layer" after each inner conv, "spectral"
            (every conv and the output layer spectrally normalised), or "none".
        minibatch_stddev: append the batch-variation channel before the
            output layer (`zoo.layers.MinibatchStdDev`).
        num_classes: > 0 makes it a projection discriminator taking
            `[images, label]`: score = w . phi(x) + embed(label) . phi(x), with
            phi the flattened features (Miyato & Koyama 2018).
        synchronized: batch-norm statistics over all replicas' examples.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization={normalization!r}; use one of {', '.join(NORMALIZATIONS)}."
        )
    images = keras.Input(tuple(image_shape), name="images")
    features = _downsampling_trunk(
        images, num_resolution_steps(image_shape), width, normalization, minibatch_stddev, synchronized
    )
    score = _maybe_spectral(layers.Dense(1, dtype="float32", name="score"), normalization)(features)
    if not num_classes:
        return keras.Model(images, score, name=name)
    label = label_input()
    projection = _maybe_spectral(
        layers.Embedding(num_classes, features.shape[-1], name="label_projection"), normalization
    )(label)
    matched = layers.Dot(axes=1, dtype="float32")([projection, features])
    return keras.Model([images, label], layers.Add(dtype="float32")([score, matched]), name=name)


def _padded_side(side):
    """The multiple of 16 at or above `side`: 4 stride-2 convolutions of the critic halve it evenly."""
    return -(-side // 16) * 16


def _refuse_options(architecture, num_classes=0, minibatch_stddev=False, normalization=None):
    unsupported = [text for text, used in (
        (f"num_classes={num_classes}", num_classes),
        ("minibatch_stddev=True", minibatch_stddev),
        ("spectral normalisation (sngan)", normalization == "spectral"),
    ) if used]
    if unsupported:
        raise ValueError(
            f"architecture={architecture!r} does not take {', '.join(unsupported)}; "
            "use architecture='dcgan' for them."
        )


def upsampling_generator(
    image_shape, latent_dim, width, output_activation, num_classes=0, name="generator",
    synchronized=False,
):
    """The keras.io WGAN-GP generator: Dense -> 3x (UpSampling2D + 3x3 conv + batch norm) -> crop.

    Dense to a `P / 8` square base of `4 * width` channels (no bias) with
    batch norm and LeakyReLU(0.2), then three blocks of nearest-neighbour
    up-sampling, a bias-free 3x3 convolution and batch norm (LeakyReLU after
    the first two, `output_activation` after the last) with `2 * width`,
    `width` and the image's channels; then cropped from `P` (each side
    rounded up to a multiple of 16) to the image size. With `width=64` and
    `latent_dim=128` at 28x28x1 it is the keras.io example's generator
    exactly: 910,660 parameters.

    References:
        keras.io, "WGAN-GP overriding `Model.train_step`" (A. K. Nain, 2020).
    """
    _refuse_options("keras_io", num_classes)
    height, width_px, channels = image_shape
    padded_h, padded_w = _padded_side(height), _padded_side(width_px)
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(padded_h // 8 * padded_w // 8 * 4 * width, use_bias=False)(z)
    x = batch_normalization(synchronized)(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((padded_h // 8, padded_w // 8, 4 * width))(x)
    for filters in (2 * width, width, channels):
        x = layers.UpSampling2D(2)(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = batch_normalization(synchronized)(x)
        if filters != channels:
            x = layers.LeakyReLU(0.2)(x)
    x = layers.Activation(output_activation, dtype="float32")(x)
    crop_h, crop_w = padded_h - height, padded_w - width_px
    images = layers.Cropping2D(
        ((crop_h // 2, crop_h - crop_h // 2), (crop_w // 2, crop_w - crop_w // 2)),
        dtype="float32", name="images",
    )(x)
    return keras.Model(z, images, name=name)


def dropout_critic(image_shape, width, normalization, minibatch_stddev=False,
                   num_classes=0, name="discriminator", synchronized=False):
    """The keras.io WGAN-GP critic: zero-pad, 4 strided 5x5 convs with dropout, Dense(1).

    The image is zero-padded to `P` (each side rounded up to a multiple of
    16), then 5x5 stride-2 convolutions of `width`, `2 * width`, `4 * width`
    and `8 * width` channels, each with LeakyReLU(0.2), dropout 0.3 after the
    middle two, and dropout 0.2 before the dense score. It normalises
    nothing, whatever the model's `normalization` ("batch", "layer" or
    "none"), so no statistic couples the examples of a batch. With
    `width=64` at 28x28x1 it is the keras.io example's critic exactly:
    4,305,409 parameters.

    References:
        keras.io, "WGAN-GP overriding `Model.train_step`" (A. K. Nain, 2020).
    """
    _refuse_options("keras_io", num_classes, minibatch_stddev, normalization)
    height, width_px = image_shape[:2]
    images = keras.Input(tuple(image_shape), name="images")
    pad_h, pad_w = _padded_side(height) - height, _padded_side(width_px) - width_px
    x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))(images)
    for filters, dropout in ((width, 0), (2 * width, 0.3), (4 * width, 0.3), (8 * width, 0)):
        x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    x = layers.Dropout(0.2)(layers.Flatten()(x))
    return keras.Model(images, layers.Dense(1, dtype="float32", name="score")(x), name=name)


#: GAN network pairs `(generator builder, discriminator builder)` by name;
#: both builders of a pair take the same arguments as `conv_generator` and
#: `conv_discriminator`.
GAN_ARCHITECTURES = {
    "dcgan": (conv_generator, conv_discriminator),
    "keras_io": (upsampling_generator, dropout_critic),
}


def gan_architecture(name):
    """`(generator builder, discriminator builder)` of a named architecture."""
    if not isinstance(name, str) or name not in GAN_ARCHITECTURES:
        raise ValueError(f"architecture={name!r}; use one of {', '.join(map(repr, GAN_ARCHITECTURES))}.")
    return GAN_ARCHITECTURES[name]


def conv_encoder(image_shape, latent_dim, width, num_classes=0, name="encoder"):
    """VAE encoder: image -> (z_mean, z_log_var), each `(batch, latent_dim)`.

    With `num_classes` > 0 it takes `[images, label]` and a label embedding
    joins the convolutional features (a conditional VAE's q(z | x, y)).
    """
    images = keras.Input(tuple(image_shape), name="images")
    inputs = images
    features = _downsampling_trunk(
        images, num_resolution_steps(image_shape), width, normalization="none"
    )
    if num_classes:
        label = label_input()
        inputs = [images, label]
        embedded = layers.Embedding(num_classes, latent_dim, name="label_embedding")(label)
        features = layers.Concatenate()([features, embedded])
    features = layers.Dense(4 * latent_dim, activation="relu")(features)
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(features)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(features)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def dense_encoder(input_dim, latent_dim, width, depth=2, name="second_encoder"):
    """MLP encoder of vectors: `(batch, input_dim)` -> (z_mean, z_log_var), each `(batch, latent_dim)`."""
    inputs = keras.Input((input_dim,), name="z")
    x = _relu_stack(inputs, width, depth)
    z_mean = layers.Dense(latent_dim, dtype="float32", name="u_mean")(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="u_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def dense_decoder(latent_dim, output_dim, width, depth=2, name="second_decoder"):
    """MLP decoder of vectors: `(batch, latent_dim)` -> `(batch, output_dim)` (linear output)."""
    inputs = keras.Input((latent_dim,), name="u")
    x = _relu_stack(inputs, width, depth)
    return keras.Model(inputs, layers.Dense(output_dim, dtype="float32", name="z")(x), name=name)


def _relu_stack(x, width, depth):
    """`depth` Dense(width) + ReLU layers: the hidden part of the dense encoder and decoder."""
    for _ in range(depth):
        x = layers.Dense(width, activation="relu")(x)
    return x


def chain(networks, name="generator"):
    """One functional model running `networks` (single-input chains) one after another.

    The layers are shared, not copied; the result is flat (no nested models),
    so its last layer is the last network's, as an exporter looks for it.
    """
    first = networks[0]
    inputs = keras.Input(tuple(first.inputs[0].shape[1:]), name=first.inputs[0].name.split(":")[0])
    x = inputs
    for network in networks:
        for layer in network.layers:
            if not isinstance(layer, layers.InputLayer):
                x = layer(x)
    return keras.Model(inputs, x, name=name)
