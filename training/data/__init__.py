"""Image datasets -> normalised, shuffled, batched `tf.data` pipelines.

`load(name, split, model=...)` gives `(images, labels)` batches in the
model's image shape and pixel range. Names are TFDS dataset names
(`fashion_mnist`, `mnist`, `cifar10`, `celeb_a`, ...) or `folder:PATH`, a
folder of JPEG and PNG files: one subfolder per class (labelled), or flat
(unlabelled); its one split `train` slices like a TFDS split. Fashion-MNIST also
works offline from the Debian package `dataset-fashion-mnist`.

One module per concern; this package re-exports their public names:
- `pipeline`: the training pipeline, `load` and the resumable `stream`,
  `normalise_images`, and the label check of conditional models
  (`check_labels_for`, `LabelMismatchError`).
- `tfds`: TFDS datasets: `prepare`, `check_split`, `image_and_label_keys`,
  `split_sizes`, `availability`, `damaged_files_reported`, and
  `DatasetUnavailableError`, the error of every dataset that cannot be had.
- `offline`: the Fashion-MNIST shim for Debian's files and the DNS probe
  that makes an offline download fail at once.
- `folders`: image folders (`FOLDER_PREFIX`, `read_folder`, `ImageFolder`,
  `check_held_out`, `short_name`).
- `evaluation`: the evaluation loader `load_images` (the first N images of
  a split as numpy) and `class_names`.
"""

from training.data.evaluation import class_names, load_images
from training.data.folders import (
    FOLDER_PREFIX,
    FOLDER_SPLIT,
    IMAGE_SUFFIXES,
    ImageFolder,
    check_held_out,
    read_folder,
    short_name,
)
from training.data.offline import DEBIAN_FASHION_MNIST
from training.data.pipeline import (
    CACHE_LIMIT_BYTES,
    SHUFFLE_BUFFER,
    LabelMismatchError,
    check_labels_for,
    load,
    normalise_images,
    stream,
)
from training.data.tfds import (
    KNOWN_DATASETS,
    DatasetUnavailableError,
    availability,
    check_split,
    damaged_files_reported,
    image_and_label_keys,
    prepare,
    split_sizes,
)

__all__ = [
    "CACHE_LIMIT_BYTES", "DEBIAN_FASHION_MNIST", "FOLDER_PREFIX", "FOLDER_SPLIT", "IMAGE_SUFFIXES",
    "KNOWN_DATASETS", "SHUFFLE_BUFFER", "DatasetUnavailableError", "ImageFolder", "LabelMismatchError",
    "availability", "check_held_out", "check_labels_for", "check_split", "class_names", "damaged_files_reported",
    "image_and_label_keys", "load", "load_images", "normalise_images", "prepare", "read_folder",
    "short_name", "split_sizes", "stream",
]
