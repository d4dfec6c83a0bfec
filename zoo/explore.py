"""Latent walks, class morphs, traversals and reconstructions on any generator.

The functions here take a `Generator`: the handful of numpy functions they
need, made either from a zoo model (`Generator.from_model`) or from the
signatures of an export (`Generator.from_signatures`: `latents`,
`serving_default`, `encode`, `reconstruct`), so the same walk runs on a
`.keras` model, a SavedModel and a `.tflite` file, and the exported files
alone are enough to draw it.

Every function returns uint8 frames `(n, H, W, C)`; writing them as a grid,
a strip or a GIF is the caller's business.
"""

import dataclasses
from typing import Callable, Optional

import keras
import numpy as np

from zoo.images import from_uint8, to_uint8
from zoo.latents import check_labels, check_seeds, labels_from_seeds

#: Rows per call of a signature (a SavedModel accepts at most 1,024).
CHUNK = 256


@dataclasses.dataclass(frozen=True)
class Generator:
    """What the image tools use of a generator, as numpy functions.

    Attributes:
        latent_shape: shape of one latent the generator samples from, `(64,)`
            or `(2, 2, 4)` (the model contract's).
        num_classes: classes of a conditional generator; 0 otherwise.
        latents: int seeds `(n,)` -> float32 `(n, *latent_shape)`, the draw of
            `zoo.latents_from_seeds` (the `latents` signature).
        decode: `(z, labels or None)` -> uint8 images (`serving_default`).
        generate: `(int seeds, labels or None)` -> uint8 images: the seeds'
            images as `model.sample` makes them (the `generate` signature,
            which computes the latents in its own graph).
        encode: autoencoders: `(uint8 images, labels or None)` -> posterior
            means `(n, *latent_shape)` (the `encode` signature); None otherwise.
        reconstruct: autoencoders: `(uint8 images, labels or None)` -> uint8
            images decoded from the posterior means; None otherwise.
        mix_classes: conditional Keras models only: `(z, class_weights
            (n, num_classes))` -> uint8 images, the label embedding replaced
            by the weighted mean of the classes' embeddings. Exported
            signatures take integer labels, so it is None for them.
        image_shape: `(H, W, C)` of the images it makes, where known.
    """

    latent_shape: tuple
    num_classes: int
    latents: Callable
    decode: Callable
    generate: Callable
    encode: Optional[Callable] = None
    reconstruct: Optional[Callable] = None
    mix_classes: Optional[Callable] = None
    image_shape: Optional[tuple] = None

    @property
    def latent_size(self):
        """Numbers in one latent: the dimensions `traverse` can sweep."""
        return int(np.prod(self.latent_shape))

    @classmethod
    def from_model(cls, model):
        """The functions of a zoo model, read through its contract (`model.contract`)."""
        to_images = lambda x: to_uint8(x, model.pixel_range).numpy()  # noqa: E731

        @_in_chunks
        def encode(images, labels=None):
            z_mean, _ = model.encode(from_uint8(images, model.pixel_range), _tensor(labels))
            return keras.ops.convert_to_numpy(z_mean)

        @_in_chunks
        def reconstruct(images, labels=None):
            return to_images(model.decode(encode(images, labels), _tensor(labels)))

        @_in_chunks
        def decode(z, labels=None):
            return to_images(model.generate(_tensor(z), _tensor(labels)))

        contract = model.contract
        is_autoencoder = contract.encodes

        mix_classes = None
        if contract.num_classes and model.mixes_classes():
            mix_classes = _in_chunks(lambda z, weights: to_images(model.generate_mixed(_tensor(z), _tensor(weights))))
        return cls(
            latent_shape=contract.latent_shape,
            num_classes=contract.num_classes,
            latents=lambda seeds: model.latents(seeds).numpy(),
            decode=decode,
            generate=lambda seeds, labels=None: decode(model.latents(seeds).numpy(), labels),
            encode=encode if is_autoencoder else None,
            reconstruct=reconstruct if is_autoencoder else None,
            mix_classes=mix_classes,
            image_shape=tuple(model.image_shape),
        )

    @classmethod
    def from_signatures(cls, signatures, latent_shape, num_classes=0, image_shape=None):
        """The functions of an export's signatures, `{name: (**inputs) -> {output: array}}`.

        As `export.open_saved_model(...).signatures` and
        `export.open_tflite(...).signatures` give them; the other arguments
        as the export's manifest states them (`export.reading.contract`); an
        int `latent_shape` is a vector's length.
        """
        def call(name, output, **inputs):
            inputs = {key: value for key, value in inputs.items() if value is not None}
            return _in_chunks(lambda **chunk: np.asarray(signatures[name](**chunk)[output]))(**inputs)

        def label(labels):
            return None if labels is None else np.asarray(labels, np.int32)

        encode = reconstruct = None
        if "encode" in signatures:
            encode = lambda images, labels=None: call("encode", "z_mean", images=images, label=label(labels))  # noqa: E731
            reconstruct = lambda images, labels=None: call(  # noqa: E731
                "reconstruct", "images", images=images, label=label(labels))
        if isinstance(latent_shape, (int, np.integer)):
            latent_shape = (int(latent_shape),)
        return cls(
            latent_shape=tuple(latent_shape),
            num_classes=num_classes,
            latents=lambda seeds: call("latents", "z", seed=np.asarray(seeds, np.int32)),
            decode=lambda z, labels=None: call(
                "serving_default", "images", z=np.asarray(z, np.float32), label=label(labels)),
            generate=lambda seeds, labels=None: call(
                "generate", "images", seed=np.asarray(seeds, np.int32), label=label(labels)),
            encode=encode,
            reconstruct=reconstruct,
            image_shape=None if image_shape is None else tuple(image_shape),
        )


def _in_chunks(function):
    """`function` applied `CHUNK` rows at a time and concatenated: memory of one chunk plus the result.

    Every array argument is cut along its first axis; None stays None.
    """
    def chunked(*args, **kwargs):
        n = len(next(value for value in (*args, *kwargs.values()) if value is not None))
        if n <= CHUNK:
            return function(*args, **kwargs)

        def rows(value, start):
            return None if value is None else value[start : start + CHUNK]

        return np.concatenate([
            function(*(rows(a, start) for a in args), **{k: rows(v, start) for k, v in kwargs.items()})
            for start in range(0, n, CHUNK)])

    return chunked


def _tensor(value):
    return None if value is None else keras.ops.convert_to_tensor(value)


def slerp(a, b, t):
    """Spherical interpolation between latents `a` and `b` (of any one shape) at fractions `t` `(k,)`.

    Walks the great circle between the two directions and interpolates the
    norms linearly, so every frame keeps the norm a Gaussian latent has
    (a straight line through the middle of a high-dimensional Gaussian passes
    where the prior has almost no mass). Nearly parallel latents fall back
    to a straight line.

    Returns:
        float32 `(k, *a.shape)`; a latent of several dimensions is walked as
        the vector of its numbers.

    References:
        Shoemake, "Animating rotation with quaternion curves", SIGGRAPH 1985;
        White, "Sampling Generative Networks", 2016.
    """
    shape = np.shape(a)
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    t = np.asarray(t, np.float64)[:, None]
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    cosine = np.clip(a @ b / max(norm_a * norm_b, 1e-12), -1.0, 1.0)
    omega = np.arccos(cosine)
    if np.sin(omega) < 1e-6:
        path = (1 - t) * a + t * b
    else:
        unit_a, unit_b = a / norm_a, b / norm_b
        direction = (np.sin((1 - t) * omega) * unit_a + np.sin(t * omega) * unit_b) / np.sin(omega)
        path = direction * ((1 - t) * norm_a + t * norm_b)
    return path.reshape(len(t), *shape).astype(np.float32)


def path_frames(points, steps):
    """How many frames `interpolate` and `morph_classes` make for `points` seeds or classes."""
    return steps * (points if points > 2 else 1) + (1 if points == 2 else 0)


def _path(points, steps, mix):
    """`steps` frames per leg between consecutive points; a closed loop when there are more than two.

    An open path ends on its last point (`steps + 1` frames for two
    points); a loop returns to just before its first point, so a GIF of it
    repeats without a doubled frame.
    """
    if steps < 1:
        raise ValueError(f"steps={steps}; use an integer >= 1.")
    legs = list(zip(points, points[1:] + points[:1] if len(points) > 2 else points[1:]))
    t = np.arange(steps) / steps
    frames = [mix(a, b, t) for a, b in legs]
    if len(points) == 2:
        frames.append(mix(points[1], points[1], np.zeros(1)))
    return np.concatenate(frames)


def interpolate(generator, seeds, steps=32, label=None):
    """Frames of a spherical walk through the latents of `seeds`.

    Args:
        generator: a `Generator`.
        seeds: two or more latent seeds; with more than two the walk is a
            closed loop back to the first.
        steps: frames from one seed to the next.
        label: conditional generators: the class of every frame (default:
            the first seed's class, `seed % num_classes`, as `sample` draws it).

    Returns:
        uint8 `(frames, H, W, C)`; frame `k * steps` is exactly the image of
        seed `k` (`model.sample(1, seed=seeds[k])` for an unconditional model).

    Example:
        >>> frames = interpolate(Generator.from_model(model), [1, 2, 3], steps=16)
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"seeds={seeds}; name at least two seeds to walk between.")
    for seed in seeds:
        check_seeds(seed, 1)
    latents = list(generator.latents(np.asarray(seeds)))
    z = _path(latents, steps, slerp)
    return generator.decode(z, _one_label(generator, label, seeds[0], len(z)))


def morph_classes(generator, labels, seed=0, steps=32):
    """Frames of a conditional generator morphing class to class at one latent.

    The label embedding moves linearly from class to class (`mix_classes`);
    the latent of `seed` stays fixed, so what changes is the class alone.

    Args:
        generator: a `Generator` of a conditional Keras model.
        labels: two or more classes; with more than two the morph is a
            closed loop back to the first.
        seed: latent seed of every frame.
        steps: frames from one class to the next.

    Returns:
        uint8 `(frames, H, W, C)`; frame `k * steps` is exactly class `labels[k]`.
    """
    if generator.mix_classes is None:
        raise ValueError(
            "class-to-class morphs need a conditional Keras model (model.keras): exported "
            "signatures take integer labels only.")
    labels = list(check_labels(list(labels), generator.num_classes, len(labels)))
    if len(labels) < 2:
        raise ValueError(f"labels={labels}; name at least two classes to morph between.")
    check_seeds(seed, 1)
    one_hot = list(np.eye(generator.num_classes, dtype=np.float32)[labels])
    weights = _path(one_hot, steps, lambda a, b, t: ((1 - t[:, None]) * a + t[:, None] * b).astype(np.float32))
    z = np.repeat(generator.latents(np.asarray([seed])), len(weights), axis=0)
    return generator.mix_classes(z, weights)


def traverse(generator, dims, value_range=3.0, steps=9, seed=0, label=None):
    """One row per latent number: that number swept, the others held at a seed's latent.

    Dimension `d` of the latent of `seed` is set to `steps` evenly spaced
    values in `[-value_range, value_range]` (as in Higgins et al. 2017's
    traversals), so each row shows what that dimension controls.

    Args:
        generator: a `Generator`.
        dims: positions in the latent, each in `[0, latent_size)`; a latent
            of several dimensions counts its numbers row-major.
        value_range: the sweep's end, in prior standard deviations.
        steps: images per row.
        seed: the seed whose latent the other dimensions keep.
        label: conditional generators: the class (default `seed % num_classes`).

    Returns:
        uint8 `(len(dims) * steps, H, W, C)`, row by row.

    References:
        Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
        Constrained Variational Framework", ICLR 2017.
    """
    dims = [int(d) for d in dims]
    outside = [d for d in dims if not 0 <= d < generator.latent_size]
    if not dims or outside:
        raise ValueError(f"dims={dims}; use latent dimensions in [0, {generator.latent_size}).")
    if not value_range > 0:
        raise ValueError(f"range={value_range}; use a positive number of standard deviations, e.g. 3.")
    if steps < 2:
        raise ValueError(f"steps={steps}; use at least 2 images per row.")
    check_seeds(seed, 1)
    base = generator.latents(np.asarray([seed]))[0]
    values = np.linspace(-value_range, value_range, steps, dtype=np.float32)
    z = np.repeat(base.reshape(1, -1), len(dims) * steps, axis=0)
    for row, d in enumerate(dims):
        z[row * steps : (row + 1) * steps, d] = values
    z = z.reshape(len(z), *generator.latent_shape)
    return generator.decode(z, _one_label(generator, label, seed, len(z)))


def reconstruct(generator, images, labels=None):
    """Real uint8 images and their reconstructions from the posterior means.

    Args:
        generator: a `Generator` of a VAE.
        images: uint8 `(n, H, W, C)` in the model's image shape.
        labels: conditional VAEs: the class of each image.

    Returns:
        uint8 `(2 * n, H, W, C)`: rows of up to 8 inputs, each followed by
        the row of their reconstructions (see `pairs_layout`).
    """
    if generator.reconstruct is None:
        raise ValueError("reconstructions need a VAE: this generator has no encoder.")
    images = np.asarray(images, np.uint8)
    if generator.num_classes:
        labels = check_labels(labels, generator.num_classes, len(images))
    outputs = generator.reconstruct(images, labels)
    return pairs_layout(images, outputs)


def pairs_layout(originals, reconstructions, columns=8):
    """Interleaves rows: `columns` originals, then their reconstructions, then the next ones."""
    columns = min(columns, len(originals))
    rows = []
    for start in range(0, len(originals), columns):
        rows += [_padded(originals[start : start + columns], columns),
                 _padded(reconstructions[start : start + columns], columns)]
    return np.concatenate(rows)


def _padded(images, columns):
    missing = columns - len(images)
    if missing == 0 or len(images) == 0:
        return images
    return np.concatenate([images, np.zeros((missing, *images.shape[1:]), images.dtype)])


def _one_label(generator, label, seed, n):
    """`n` copies of a conditional generator's class (default: the seed's), None otherwise."""
    if not generator.num_classes:
        if label is not None:
            raise ValueError("this generator is unconditional; drop the label.")
        return None
    if label is None:
        label = labels_from_seeds([seed], generator.num_classes)[0]
    return check_labels(int(label), generator.num_classes, n)


def sample(generator, n, seed=0, truncation=1.0, labels=None):
    """`n` uint8 images from seeds `seed .. seed + n - 1`, as `model.sample` draws them.

    The latents are scaled by `truncation` (psi in (0, 1]); conditional
    generators take `labels` (one int, or one per image; default
    `(seed + i) % num_classes`).
    """
    if not 0.0 < truncation <= 1.0:
        raise ValueError(f"truncation={truncation}; use psi in (0, 1] (1 is off).")
    check_seeds(seed, n)
    seeds = np.arange(seed, seed + n)
    if generator.num_classes:
        labels = labels_from_seeds(seeds, generator.num_classes) if labels is None else check_labels(
            labels, generator.num_classes, n)
    elif labels is not None:
        raise ValueError("this generator is unconditional; drop the labels.")
    if truncation == 1.0:
        return generator.generate(seeds, labels)
    return generator.decode(generator.latents(seeds) * np.float32(truncation), labels)


def seeded(generator):
    """`generate(n, seed)` as evaluation and export's FD gate take it.

    Returns uint8 images of seeds `seed .. seed + n - 1`; a conditional
    generator returns `(images, labels)`, image `i` asked for its seed's
    default class `(seed + i) % num_classes`, so every class is asked for
    equally.
    """
    def generate(n, seed):
        labels = labels_from_seeds(range(seed, seed + n), generator.num_classes)
        images = sample(generator, n, seed=seed, labels=labels)
        return images if labels is None else (images, labels)

    return generate
