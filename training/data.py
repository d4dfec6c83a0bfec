"""Image datasets -> normalised, shuffled, batched `tf.data` pipelines.

`load(name, split, model=...)` gives `(images, labels)` batches in the
model's image shape and pixel range. Names are TFDS dataset names
(`fashion_mnist`, `mnist`, `cifar10`, `celeb_a`, ...) or `folder:PATH`, a
folder searched recursively for JPEG and PNG files.

Fashion-MNIST also works offline from the Debian package
`dataset-fashion-mnist`: TFDS rejects those files by checksum (Debian
recompressed them; the IDX content is identical), so `prepare` writes the
TFDS dataset from them with TFDS's own `fashion_mnist` builder and example
generator. The result is the same dataset `tfds.load("fashion_mnist")` reads.
"""

import contextlib
import gzip
import os
import shutil
import socket
import tempfile
import urllib.parse
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.errors import ZooError
from zoo.images import from_uint8

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
#: Image datasets the presets and docs name; any TFDS image dataset works.
KNOWN_DATASETS = ("fashion_mnist", "mnist", "cifar10", "celeb_a")
#: Datasets cached in memory (as uint8) when smaller than this.
CACHE_LIMIT_BYTES = 2 * 1024**3


class DatasetUnavailableError(ZooError, RuntimeError):
    """A dataset is unknown, or cannot be downloaded or found locally."""


def _builder(name, data_dir=None):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        image_datasets = ", ".join(KNOWN_DATASETS)
        raise DatasetUnavailableError(
            f"unknown dataset {name!r}. Use a TFDS image dataset name such as "
            f"{image_datasets} (see `zoo list`)."
        ) from None


def _debian_fashion_mnist_builder(data_dir, extracted):
    """TFDS's fashion_mnist builder reading the Debian package's files.

    Args:
        extracted: an empty folder that receives the decompressed IDX files.
    """
    from tensorflow_datasets.image_classification import mnist

    class DebianFashionMNIST(mnist.FashionMNIST, skip_registration=True):
        name = "fashion_mnist"

        def _split_generators(self, dl_manager):
            del dl_manager  # The files are local; nothing is downloaded.
            # TFDS's generator reads decompressed IDX files, as its download
            # manager would have left them.
            paths = {}
            for key, filename in [
                ("train_data", "train-images-idx3-ubyte"),
                ("train_labels", "train-labels-idx1-ubyte"),
                ("test_data", "t10k-images-idx3-ubyte"),
                ("test_labels", "t10k-labels-idx1-ubyte"),
            ]:
                paths[key] = os.path.join(extracted, filename)
                source = os.path.join(DEBIAN_FASHION_MNIST, filename + ".gz")
                with gzip.open(source, "rb") as src, open(paths[key], "wb") as dst:
                    shutil.copyfileobj(src, dst)
            return [
                tfds.core.SplitGenerator(
                    name=split,
                    gen_kwargs=dict(
                        num_examples=count,
                        data_path=paths[f"{prefix}_data"],
                        label_path=paths[f"{prefix}_labels"],
                    ),
                )
                for split, prefix, count in [
                    (tfds.Split.TRAIN, "train", 60_000),
                    (tfds.Split.TEST, "test", 10_000),
                ]
            ]

    return DebianFashionMNIST(data_dir=data_dir)


def _debian_files_present():
    return all(
        os.path.isfile(os.path.join(DEBIAN_FASHION_MNIST, f))
        for f in (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        )
    )


def _check_download_hosts(builder):
    """Fails in milliseconds when no download host of `builder` resolves.

    Offline, TFDS retries each URL with back-off and gives up after minutes;
    a DNS look-up of the hosts in its registered checksums answers at once.
    """
    hosts = {urllib.parse.urlparse(url).hostname for url in (builder.url_infos or {})}
    hosts.discard(None)
    unresolved = []
    for host in sorted(hosts):
        try:
            socket.getaddrinfo(host, 443)
        except OSError:
            unresolved.append(host)
    if hosts and len(unresolved) == len(hosts):
        raise ConnectionError(f"cannot resolve {', '.join(unresolved)}: no network")


def prepare(name, data_dir=None):
    """Returns a prepared TFDS builder for `name`, downloading if needed.

    Raises:
        DatasetUnavailableError: unknown name, or the data cannot be had
            (offline, blocked download, missing manual files).
    """
    builder = _builder(name, data_dir)
    if builder.is_prepared():
        return builder
    if name == "fashion_mnist" and _debian_files_present():
        with tempfile.TemporaryDirectory(prefix="fashion_mnist_") as extracted:
            _debian_fashion_mnist_builder(data_dir, extracted).download_and_prepare()
        return _builder(name, data_dir)
    try:
        _check_download_hosts(builder)
        builder.download_and_prepare()
    except Exception as error:  # TFDS raises many types for failed downloads.
        hint = (
            "install the Debian package `dataset-fashion-mnist` or connect to "
            "the internet"
            if name == "fashion_mnist"
            else "connect to the internet and run again, or copy a prepared "
            f"TFDS dataset into {os.path.dirname(os.path.dirname(builder.data_dir))}"
        )
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        raise DatasetUnavailableError(
            f"dataset {name!r} is not prepared under {builder.data_dir} and could "
            f"not be downloaded ({type(error).__name__}: {reason}). To get it, {hint}."
        ) from None
    return builder


def check_split(builder, split):
    """Raises a clear error when `split` (e.g. "test[:10%]") is not in the dataset."""
    try:
        builder.info.splits[split]
    except (KeyError, ValueError, AssertionError):
        raise DatasetUnavailableError(
            f"dataset {builder.name!r} has no split {split!r}; its splits are "
            f"{', '.join(sorted(builder.info.splits))} (slices like 'train[:10%]' work too)."
        ) from None


class LabelMismatchError(ZooError, ValueError):
    """A conditional model was given data without (the right number of) class labels."""


def check_labels_for(model, name, builder=None):
    """Refuses data a conditional `model` cannot learn from; no-op if unconditional."""
    if not model.num_classes:
        return
    feature = None
    if builder is not None:
        _, label_key = image_and_label_keys(builder)
        feature = builder.info.features[label_key] if label_key else None
    classes = getattr(feature, "num_classes", None)
    if classes is None:
        raise LabelMismatchError(
            f"{model.registry_name!r} is conditional and needs class labels, but {name!r} has "
            "none; use a labelled TFDS dataset (fashion_mnist, mnist, cifar10) or an "
            "unconditional model."
        )
    if classes != model.num_classes:
        raise LabelMismatchError(
            f"{name!r} has {classes} classes but the model was built for "
            f"num_classes={model.num_classes}; pass --set num_classes={classes}."
        )


def image_and_label_keys(builder):
    """Feature keys of the image and (if any) the label of a TFDS dataset."""
    features = builder.info.features
    supervised = builder.info.supervised_keys
    if supervised and isinstance(features[supervised[0]], tfds.features.Image):
        return supervised[0], supervised[1]
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if not images:
        raise DatasetUnavailableError(
            f"dataset {builder.name!r} has no image feature; pick an image dataset."
        )
    return images[0], ("label" if "label" in features else None)


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


FOLDER_PREFIX = "folder:"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Shuffle buffer of datasets too large to hold in memory (encoded images).
SHUFFLE_BUFFER = 60_000


def folder_images(path, channels=3):
    """The JPEG/PNG files under `path` (recursive) that decode, sorted.

    Every file is decoded once (in parallel, with `tf.io.decode_image`) so
    that broken files are counted and reported here, in one warning naming
    them, instead of being dropped silently in the middle of training.

    Raises:
        DatasetUnavailableError: the folder is missing, or no file decodes.
    """
    if not os.path.isdir(path):
        raise DatasetUnavailableError(
            f"image folder {path!r} does not exist; pass --dataset folder:/path/to/images."
        )
    candidates = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(path)
        for name in names
        if name.lower().endswith(IMAGE_SUFFIXES)
    )
    if not candidates:
        raise DatasetUnavailableError(
            f"no .jpg/.jpeg/.png files under {path!r} (searched recursively); "
            "point --dataset folder:PATH at a folder of images."
        )
    checks = tf.data.Dataset.from_tensor_slices((tf.range(len(candidates), dtype=tf.int64), candidates))
    checks = checks.map(
        lambda i, f: (i, tf.reduce_prod(tf.shape(
            tf.io.decode_image(tf.io.read_file(f), channels=channels, expand_animations=False)))),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).ignore_errors()
    good = {int(i) for i, size in checks.as_numpy_iterator() if size > 0}
    bad = [f for i, f in enumerate(candidates) if i not in good]
    if len(bad) == len(candidates):
        raise DatasetUnavailableError(
            f"none of the {len(candidates)} image files under {path!r} decode as JPEG or PNG; "
            "check that the files are images and not damaged."
        )
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        warnings.warn(
            f"skipping {len(bad)} of {len(candidates)} image files in {path!r} that do not "
            f"decode (unreadable image file): {shown}", stacklevel=2)
    return [f for i, f in enumerate(candidates) if i in good]


def _crop_to_aspect(image, height, width):
    """Central crop of one decoded image to the aspect ratio height:width."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    target_w = tf.minimum(w, h * width // height)
    target_h = tf.minimum(h, w * height // width)
    top, left = (h - target_h) // 2, (w - target_w) // 2
    return image[top : top + target_h, left : left + target_w]


@contextlib.contextmanager
def damaged_files_reported(name):
    """Turns TensorFlow's read errors of a prepared dataset into one clear error."""
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise DatasetUnavailableError(
            f"the prepared files of dataset {name} are damaged or truncated ({type(error).__name__}: "
            f"{first}); delete that folder and run again to prepare it anew."
        ) from None


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
                for r, l in self._uncached.batch(4096).as_numpy_iterator():
                    if raw is None:
                        raw = np.empty((self.count, *r.shape[1:]), r.dtype)
                        labels = np.empty((self.count,), l.dtype)
                    raw[start : start + len(r)], labels[start : start + len(l)] = r, l
                    start += len(r)
            self._table = (tf.constant(raw[:start]), tf.constant(labels[:start]))
        return self._table

    @property
    def shuffle_buffer(self):
        return self.count if self.in_memory else min(self.count, SHUFFLE_BUFFER)


def _examples(name, split, image_shape, data_dir, model=None):
    if name.startswith(FOLDER_PREFIX):
        if model is not None:
            check_labels_for(model, name)
        if split != "train":
            raise DatasetUnavailableError(
                f"an image folder has one split, 'train'; got split {split!r}."
            )
        if image_shape is None:
            raise ValueError("folder datasets need an image_shape (or a model) to resize to")
        height, width, channels = image_shape
        files = folder_images(name[len(FOLDER_PREFIX):], channels)

        def decode(filename):
            image = tf.io.decode_image(tf.io.read_file(filename), channels=channels, expand_animations=False)
            image = _crop_to_aspect(image, height, width)
            image = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
            return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)

        labels = tf.fill([len(files)], tf.constant(-1, tf.int64))
        dataset = tf.data.Dataset.from_tensor_slices((files, labels))
        return _Examples(dataset, decode, len(files), in_memory=False, table=(tf.constant(files), labels))

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


def split_sizes(name, data_dir=None):
    """Number of examples of each split of a dataset, e.g. `{"train": 60000}`."""
    builder = prepare(name, data_dir)
    return {k: int(v.num_examples) for k, v in builder.info.splits.items()}



def availability(name, data_dir=None):
    """How a dataset can be had here: "prepared", "debian package" or "download"."""
    builder = _builder(name, data_dir)
    if builder.is_prepared():
        return "prepared"
    if name == "fashion_mnist" and _debian_files_present():
        return "debian package"
    return "download"


def load_images(name, split, n=None, data_dir=None):
    """The first `n` images and labels of a split, in order, as uint8 numpy.

    Returns:
        `(images (n, H, W, C) uint8, labels (n,) int64)`; fewer if the split
        is smaller.
    """
    if name.startswith(FOLDER_PREFIX):
        raise DatasetUnavailableError(
            "evaluating against an image folder is not supported; use a TFDS dataset."
        )
    builder = prepare(name, data_dir)
    image_key, label_key = image_and_label_keys(builder)
    check_split(builder, split)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if n is not None:
        ds = ds.take(n)
    images, labels = [], []
    with damaged_files_reported(f"{name} ({builder.data_dir})"):
        for batch in ds.batch(1000).as_numpy_iterator():
            images.append(batch[image_key])
            labels.append(batch[label_key] if label_key else np.full(len(batch[image_key]), -1))
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def class_names(name, data_dir=None):
    """The class names of a labelled TFDS dataset, or None (folders, unlabelled datasets)."""
    if name.startswith(FOLDER_PREFIX):
        return None
    builder = _builder(name, data_dir)
    _, label_key = image_and_label_keys(builder)
    names = getattr(builder.info.features[label_key], "names", None) if label_key else None
    return list(names) if names else None
