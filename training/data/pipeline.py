"""The training pipeline: image datasets -> normalised, shuffled, batched `tf.data`.

`load(name, split, model=...)` gives `(images, labels)` batches in the
model's image shape and pixel range, one pass per iteration; `stream` gives
endless batches that can start at any step, for runs that resume.
"""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from training.data.folders import FOLDER_PREFIX, decode_folder_image, read_folder
from training.data.tfds import (
    DatasetUnavailableError,
    check_split,
    damaged_files_reported,
    image_and_label_keys,
    prepare,
)
from zoo.errors import ZooError
from zoo.images import from_uint8

#: Datasets cached in memory (as uint8) when smaller than this.
CACHE_LIMIT_BYTES = 2 * 1024**3
#: Shuffle buffer of datasets too large to hold in memory (encoded images).
SHUFFLE_BUFFER = 60_000


class LabelMismatchError(ZooError, ValueError):
    """A conditional model was given data without (the right number of) class labels."""


def check_labels_for(model, name, builder=None, folder=None):
    """Refuses data a conditional `model` cannot learn from; no-op if unconditional.

    Args:
        model: a zoo model.
        name: the dataset's name, for the message.
        builder: its TFDS builder, or
        folder: its `training.data.folders.ImageFolder`.
    """
    if not model.num_classes:
        return
    classes = None
    if folder is not None:
        classes = len(folder.class_names) if folder.class_names else None
        if classes == 1:
            raise LabelMismatchError(
                f"{name!r} has one class folder, {folder.class_names[0]!r}, and {model.registry_name!r} is "
                "conditional: it needs two classes or more, each in a subfolder of its own.")
    elif builder is not None:
        _, label_key = image_and_label_keys(builder)
        classes = getattr(builder.info.features[label_key] if label_key else None, "num_classes", None)
    if classes is None:
        raise LabelMismatchError(
            f"{model.registry_name!r} is conditional and needs class labels, but {name!r} has "
            "none; use a folder with one subfolder per class, a labelled TFDS dataset (fashion_mnist, "
            "mnist, cifar10) or an unconditional model."
        )
    if classes != model.num_classes:
        raise LabelMismatchError(
            f"{name!r} has {classes} classes but the model was built for "
            f"num_classes={model.num_classes}; pass --set num_classes={classes}."
        )


def normalise_images(images, image_shape, pixel_range):
    """uint8 batch -> float32 batch in `image_shape` and `pixel_range`."""
    images = from_uint8(images, pixel_range)
    channels = images.shape[-1]
    if image_shape is not None:
        height, width, target_channels = image_shape
        if channels == 1 and target_channels == 3:
            images = tf.image.grayscale_to_rgb(images)
        elif channels == 3 and target_channels == 1:
            images = tf.image.rgb_to_grayscale(images)
        elif channels != target_channels:
            raise ValueError(
                f"cannot convert {channels}-channel images to {target_channels}"
            )
        if tuple(images.shape[1:3]) != (height, width):
            # Antialiased, from float: aliasing would show up in samples and metrics.
            images = tf.image.resize(images, (height, width), antialias=True)
            images = tf.clip_by_value(images, *pixel_range)
    return images


class _Examples:
    """The unshuffled examples of a split, before decoding and batching.

    `dataset` yields `(raw, label)`; `decode(raw)` gives the uint8 image.
    Small datasets are decoded once and cached in memory (`raw` is the
    image); large ones and folders stay encoded until after the shuffle, so
    the shuffle buffer holds compressed bytes and skipped examples are never
    decoded.
    """

    def __init__(self, dataset, decode, count, in_memory, table=None, name="", uncached=None):
        self.dataset, self.decode, self.count, self.in_memory = dataset, decode, count, in_memory
        self._table, self.name = table, name
        self._uncached = dataset if uncached is None else uncached

    @property
    def table(self):
        """`(raw, labels)` tensors for access by index, or None (too large).

        Built on first use: the whole split, decoded if in memory (file
        names for folders).
        """
        if self._table is None and self.in_memory:
            raw = labels = None
            start = 0
            with damaged_files_reported(self.name):  # filled in place: one copy, then the tensor
                for r, batch_labels in self._uncached.batch(4096).as_numpy_iterator():
                    if raw is None:
                        raw = np.empty((self.count, *r.shape[1:]), r.dtype)
                        labels = np.empty((self.count,), batch_labels.dtype)
                    raw[start : start + len(r)], labels[start : start + len(batch_labels)] = r, batch_labels
                    start += len(r)
            self._table = (tf.constant(raw[:start]), tf.constant(labels[:start]))
        return self._table

    @property
    def shuffle_buffer(self):
        return self.count if self.in_memory else min(self.count, SHUFFLE_BUFFER)


def _examples(name, split, image_shape, data_dir, model=None):
    if name.startswith(FOLDER_PREFIX):
        if image_shape is None:
            raise ValueError("folder datasets need an image_shape (or a model) to resize to")
        folder = read_folder(name[len(FOLDER_PREFIX):])
        if model is not None:
            check_labels_for(model, name, folder=folder)
        files, labels = folder.split(split)
        height, width, channels = image_shape

        def decode(filename):
            return decode_folder_image(filename, height, width, channels)

        count, files, labels = len(files), tf.constant(files), tf.constant(labels, tf.int64)
        dataset = tf.data.Dataset.from_tensor_slices((files, labels))
        return _Examples(dataset, decode, count, in_memory=False, table=(files, labels))

    builder = prepare(name, data_dir)
    image_key, label_key = image_and_label_keys(builder)
    if model is not None:
        check_labels_for(model, name, builder)
    check_split(builder, split)
    count = int(builder.info.splits[split].num_examples)
    image_feature = builder.info.features[image_key]
    image_bytes = 1
    for dim in image_feature.shape:
        image_bytes *= dim or 256
    in_memory = count * image_bytes < CACHE_LIMIT_BYTES
    decoders = None if in_memory else {image_key: tfds.decode.SkipDecoding()}
    dataset = builder.as_dataset(split=split, shuffle_files=False, decoders=decoders)

    def to_pair(example):
        label = example[label_key] if label_key else tf.constant(-1, tf.int64)
        return example[image_key], tf.cast(label, tf.int64)

    dataset = dataset.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)
    if in_memory:
        return _Examples(dataset.cache(), lambda image: image, count, in_memory=True,
                         name=f"{name} ({builder.data_dir})", uncached=dataset)
    return _Examples(dataset, image_feature.decode_example, count, in_memory=False,
                     name=f"{name} ({builder.data_dir})")


def load(
    name,
    split="train",
    model=None,
    *,
    image_shape=None,
    pixel_range=(0.0, 1.0),
    batch_size=128,
    shuffle=None,
    seed=0,
    drop_remainder=None,
    data_dir=None,
):
    """Loads an image dataset as batches of `(images, labels)`.

    One iteration is one pass over the split; a shuffled dataset draws a new
    order on each iteration, as `model.fit(ds, epochs=...)` expects. For
    training that must resume mid-epoch in the same order, use `stream`.

    Args:
        name: TFDS dataset name, e.g. "fashion_mnist", or "folder:PATH".
        split: TFDS split, e.g. "train", "test", "train[:10%]".
        model: a zoo model; sets `image_shape` and `pixel_range` from it.
        image_shape: `(H, W, C)` to resize and convert channels to; None
            keeps the dataset's own.
        pixel_range: value range of the float32 images.
        batch_size: images per batch.
        shuffle: shuffle examples (default: only for splits starting "train").
        seed: seed of the shuffle order.
        drop_remainder: drop a last, smaller batch (default: when shuffling).
        data_dir: TFDS data directory (default: TFDS's, `~/tensorflow_datasets`).

    Returns:
        `tf.data.Dataset` of `(images, labels)`: float32 `(batch, H, W, C)` and
        int64 `(batch,)` (-1 where the dataset has no labels).

    Example:
        >>> model = zoo.DCGAN()
        >>> ds = load("fashion_mnist", "train", model=model, batch_size=128)
    """
    if model is not None:
        image_shape, pixel_range = model.image_shape, model.pixel_range
    shuffle = split.startswith("train") if shuffle is None else shuffle
    drop_remainder = shuffle if drop_remainder is None else drop_remainder
    examples = _examples(name, split, image_shape, data_dir, model)
    ds = examples.dataset
    if shuffle:
        ds = ds.shuffle(examples.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return _decode_and_batch(ds, examples, batch_size, drop_remainder, image_shape, pixel_range)


def stream(name, split="train", model=None, *, image_shape=None, pixel_range=(0.0, 1.0),
           batch_size=128, seed=0, start_step=0, data_dir=None):
    """Endless shuffled training batches that can start at any step.

    Batch `j` depends only on `seed` and `j`: pass `p = j // per_pass` over
    the split is a permutation drawn from `(seed, p)`, and batch `j` is its
    `j % per_pass`-th batch (the last, smaller batch of a pass is dropped).
    So a run restarted with `start_step=j` sees exactly the batches an
    uninterrupted run saw from step `j` on, also from the middle of an
    epoch. Datasets held in memory and image folders are permuted by index
    with `tf.random.experimental.index_shuffle` (stateless: no global seed
    enters, nothing before `j` is read); larger TFDS datasets are shuffled
    through a buffer, so starting at pass `p` reads, undecoded, the `p`
    passes before it.

    Args:
        name, split, model, image_shape, pixel_range, data_dir: as `load`.
        batch_size: images per batch.
        seed: seed of every pass's order.
        start_step: index of the first batch to yield.

    Returns:
        `(dataset, per_pass)`: an infinite `tf.data.Dataset` of `(images,
        labels)` as `load` gives them, and the number of batches per pass
        (the natural `steps_per_epoch`).

    Example:
        >>> train, steps = stream("fashion_mnist", model=model, batch_size=128)
        >>> model.fit(train, epochs=5, steps_per_epoch=steps)
    """
    if model is not None:
        image_shape, pixel_range = model.image_shape, model.pixel_range
    if isinstance(start_step, bool) or int(start_step) != start_step or start_step < 0:
        raise ValueError(f"start_step={start_step!r}; use an integer step >= 0.")
    examples = _examples(name, split, image_shape, data_dir, model)
    per_pass = examples.count // batch_size
    if per_pass < 1:
        raise DatasetUnavailableError(
            f"{name!r} split {split!r} has {examples.count} examples, fewer than one batch "
            f"of {batch_size}; use a smaller --batch-size or a larger split."
        )
    per_pass_examples = per_pass * batch_size
    first = int(start_step) * batch_size  # index of the first example to yield
    if examples.table is not None:
        raw, labels = examples.table
        last_index = tf.constant(examples.count - 1, tf.int64)
        seed_part = tf.constant(int(seed) % 2**63, tf.int64)

        def gather(positions):  # (batch,) global example positions, all in one pass
            pass_index = positions[0] // per_pass_examples
            index = tf.random.experimental.index_shuffle(
                positions % per_pass_examples, tf.stack([seed_part, pass_index]), last_index)
            return tf.gather(raw, index), tf.gather(labels, index)

        positions = tf.data.Dataset.range(first, 2**62).batch(batch_size)
        if examples.in_memory:  # whole batches at once: no per-example work
            ds = positions.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            return _normalised(ds, image_shape, pixel_range), per_pass
        ds = positions.map(gather).unbatch()  # file names, decoded one by one below
    else:
        shuffled = examples.dataset.shuffle(examples.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        # Each pass is a new iteration of `shuffled`: the next order in its seeded sequence.
        ds = tf.data.Dataset.range(2**62).flat_map(lambda _: shuffled.take(per_pass_examples)).skip(first)
    return _decode_and_batch(ds, examples, batch_size, True, image_shape, pixel_range), per_pass


def _decode_and_batch(ds, examples, batch_size, drop_remainder, image_shape, pixel_range):
    """Decoded, batched, normalised `(images, labels)`, prefetched."""
    if not examples.in_memory:
        ds = ds.map(lambda raw, label: (examples.decode(raw), label), num_parallel_calls=tf.data.AUTOTUNE)
    return _normalised(ds.batch(batch_size, drop_remainder=drop_remainder), image_shape, pixel_range)


def _normalised(ds, image_shape, pixel_range):
    """uint8 batches -> the model's shape and range, prefetched."""
    ds = ds.map(
        lambda images, labels: (normalise_images(images, image_shape, pixel_range), labels),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
