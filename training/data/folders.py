"""Image folders (`folder:PATH`): the JPEG and PNG files under a folder, their classes and splits.

A folder is read the way Keras's `image_dataset_from_directory` reads one:
- one subfolder per class (`cats/`, `dogs/`, each searched recursively) gives
  labels, the class names sorted; hidden folders (`.git`, `.ipynb_checkpoints`)
  are not classes;
- image files at the top level only: a flat folder, unlabelled.
A folder mixing the two, or with a class subfolder that holds no image that
decodes, is refused with one message saying how to lay it out.

A folder has one split, `train`, which slices like a TFDS split
(`train[:90%]`, `train[90%:]`, `train[:1000]`). The order the slices cut is
fixed by each file's path within the folder (its sha256), so a file stays in
the same slice on every machine and classes mix evenly across slices.
"""

import dataclasses
import hashlib
import os
import warnings

import tensorflow as tf
import tensorflow_datasets as tfds

from training.data.tfds import DatasetUnavailableError

FOLDER_PREFIX = "folder:"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: The one split of a folder; slices of it hold images out.
FOLDER_SPLIT = "train"
_SPLIT_ADVICE = ("an image folder has one split, 'train', which slices like a TFDS split: "
                 "e.g. --split 'train[:90%]' to train on and 'train[90%:]' to hold out")


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """An image folder as training reads it.

    Attributes:
        path: the folder.
        files: the image files that decode, in split order (see the module's docstring).
        labels: each file's class index, or None for a flat folder.
        class_names: the class subfolders' names, sorted, or None for a flat folder.
    """

    path: str
    files: tuple
    labels: tuple | None
    class_names: tuple | None

    def split(self, split):
        """`(files, labels)` of a split (`train`, `train[:90%]`, ...); labels are -1 in a flat folder.

        Raises:
            DatasetUnavailableError: the split is not a slice of `train`, or it is empty.
        """
        try:
            instructions = tfds.core.ReadInstruction.from_spec(split).to_absolute({
                FOLDER_SPLIT: tfds.core.SplitInfo(name=FOLDER_SPLIT, shard_lengths=[len(self.files)],
                                                  num_bytes=0, filename_template=None)})
        except (ValueError, AssertionError):
            raise DatasetUnavailableError(f"split {split!r} of image folder {self.path!r}: {_SPLIT_ADVICE}.") from None
        labels = self.labels or (-1,) * len(self.files)
        files, chosen = [], []
        for instruction in instructions:
            part = slice(instruction.from_, instruction.to)
            files += self.files[part]
            chosen += labels[part]
        if not files:
            raise DatasetUnavailableError(
                f"split {split!r} of image folder {self.path!r} holds none of its {len(self.files)} images; "
                "choose a larger slice.")
        return files, chosen


def check_held_out(name, train_split, held_out_split):
    """Refuses two splits of the image folder `name` (`folder:PATH`) that share images.

    Raises:
        DatasetUnavailableError: naming how many images the two share.
    """
    folder = read_folder(name[len(FOLDER_PREFIX):])
    both = set(folder.split(train_split)[0]) & set(folder.split(held_out_split)[0])
    if both:
        raise DatasetUnavailableError(
            f"splits {train_split!r} and {held_out_split!r} of {name!r} share {len(both)} images, so the "
            "held-out figures would flatter; slice the folder in two, e.g. 'train[:90%]' and 'train[90%:]'.")


def short_name(name):
    """A dataset's name fit for file names: a TFDS name as it is, a folder's last path part."""
    if name.startswith(FOLDER_PREFIX):
        return os.path.basename(os.path.normpath(name[len(FOLDER_PREFIX):])) or "folder"
    return name


def _image_files(folder):
    return [os.path.join(root, name) for root, _, names in os.walk(folder)
            for name in names if name.lower().endswith(IMAGE_SUFFIXES)]


def _layout(path):
    """`(files, class of each file or None, class names or None)` from the folder's layout alone."""
    if not os.path.isdir(path):
        raise DatasetUnavailableError(
            f"image folder {path!r} does not exist; pass --dataset folder:/path/to/images."
        )
    entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    top = [e.path for e in entries if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)]
    subfolders = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    nested = {e.name: _image_files(e.path) for e in subfolders}
    with_images = [name for name, files in nested.items() if files]
    if top and with_images:
        raise DatasetUnavailableError(
            f"image folder {path!r} mixes {len(top)} image files at its top level with images in the "
            f"subfolders {', '.join(map(repr, with_images[:5]))}{' ...' if len(with_images) > 5 else ''}; "
            "put every image in a class subfolder (labelled), or all of them at the top level (unlabelled).")
    if top:
        return top, None, None
    if not with_images:
        raise DatasetUnavailableError(
            f"no .jpg/.jpeg/.png files under {path!r} (searched recursively); "
            "point --dataset folder:PATH at a folder of images, or of class subfolders of images."
        )
    empty = [name for name, files in nested.items() if not files]
    if empty:
        raise DatasetUnavailableError(
            f"class folder {empty[0]!r} of {path!r} holds no .jpg/.jpeg/.png files"
            f"{f' (nor do {len(empty) - 1} more)' if len(empty) > 1 else ''}; add its images or remove it.")
    names = sorted(nested)  # sorted as Keras sorts class names
    files = [(f, index) for index, name in enumerate(names) for f in nested[name]]
    return [f for f, _ in files], [index for _, index in files], names


def _decodes(files):
    """Which of `files` decode as images: each is decoded once, in parallel, with `tf.io.decode_image`."""
    checks = tf.data.Dataset.from_tensor_slices((tf.range(len(files), dtype=tf.int64), files))
    checks = checks.map(
        lambda i, f: (i, tf.reduce_prod(tf.shape(
            tf.io.decode_image(tf.io.read_file(f), expand_animations=False)))),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).ignore_errors()
    good = {int(i) for i, size in checks.as_numpy_iterator() if size > 0}
    return [i in good for i in range(len(files))]


def _split_key(path, file):
    """The file's place in split order: the sha256 of its path within the folder."""
    return hashlib.sha256(os.path.relpath(file, path).replace(os.sep, "/").encode()).hexdigest()


_read = {}  # path -> (listing, ImageFolder): the decode check runs once per state of the folder


def read_folder(path):
    """The `ImageFolder` at `path`: its layout checked, every image file decoded once.

    Files that do not decode are named in one warning and left out, instead
    of failing in the middle of training. The result is kept for the process
    while no file under the folder is added, removed or changed.

    Raises:
        DatasetUnavailableError: the folder is missing, holds no image that
            decodes, mixes flat and class-folder images, or has an empty class.
    """
    files, labels, names = _layout(path)
    listing = tuple((f, stat.st_size, stat.st_mtime_ns) for f in files for stat in [os.stat(f)])
    known = _read.get(path)
    if known is not None and known[0] == listing:
        return known[1]
    decodes = _decodes(files)
    bad = [f for f, ok in zip(files, decodes) if not ok]
    if len(bad) == len(files):
        raise DatasetUnavailableError(
            f"none of the {len(files)} image files under {path!r} decode as JPEG or PNG; "
            "check that the files are images and not damaged."
        )
    if bad:
        shown = ", ".join(sorted(bad)[:5]) + (" ..." if len(bad) > 5 else "")
        warnings.warn(
            f"skipping {len(bad)} of {len(files)} image files in {path!r} that do not "
            f"decode (unreadable image file): {shown}", stacklevel=2)
    if names is not None:
        found = {labels[i] for i, ok in enumerate(decodes) if ok}
        if len(found) < len(names):
            empty = names[min(set(range(len(names))) - found)]
            raise DatasetUnavailableError(
                f"class folder {empty!r} of {path!r} holds no image that decodes; add its images or remove it.")
    kept = sorted((i for i, ok in enumerate(decodes) if ok), key=lambda i: _split_key(path, files[i]))
    folder = ImageFolder(path, tuple(files[i] for i in kept),
                         None if names is None else tuple(labels[i] for i in kept),
                         None if names is None else tuple(names))
    _read[path] = (listing, folder)
    return folder


def _crop_to_aspect(image, height, width):
    """Central crop of one decoded image to the aspect ratio height:width."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    target_w = tf.minimum(w, h * width // height)
    target_h = tf.minimum(h, w * height // width)
    top, left = (h - target_h) // 2, (w - target_w) // 2
    return image[top : top + target_h, left : left + target_w]


def decode_folder_image(filename, height, width, channels):
    """One image file -> uint8 `(height, width, channels)`: centre-cropped to the aspect ratio, resized with
    antialiasing."""
    image = tf.io.decode_image(tf.io.read_file(filename), channels=channels, expand_animations=False)
    image = _crop_to_aspect(image, height, width)
    image = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
