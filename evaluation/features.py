"""Feature extractors: uint8 images -> (features, class probabilities).

- `DomainExtractor`: the project's classifier for a dataset (shipped for
  Fashion-MNIST in `saved_models/`), the default and offline.
- `FIDInceptionExtractor`: the 2015 FID Inception graph from a local file,
  the only one whose FD is comparable with published FIDs.
- `KerasInceptionExtractor`: Keras's InceptionV3 2048-d pool features with
  its ImageNet weights (downloaded when online, or a local weights file), or
  random weights to test the plumbing. Not the FID network: its FD is not
  comparable with published FIDs.

Every extractor has a `name` and a `weights_sha256`, which key the cache of
real-data statistics and are written next to every result.
"""

import contextlib
import hashlib
import json
import os
import pathlib
import random
import zipfile

import keras
import numpy as np
import tensorflow as tf

from evaluation.classifier import CARD_FILE, FEATURE_LAYER, MODEL_FILE
from training.data import normalise_images
from zoo import card as cards
from zoo import shipped
from zoo.errors import ZooError
from zoo.files import sha256_file


class ExtractorUnavailableError(ZooError, RuntimeError):
    """The extractor's weights cannot be found or downloaded."""


class DomainExtractor:
    """Features from the project's domain classifier for one dataset."""

    def __init__(self, folder):
        folder = pathlib.Path(folder)
        model_path, card_path = folder / MODEL_FILE, folder / CARD_FILE
        if not model_path.is_file() or not card_path.is_file():
            raise ExtractorUnavailableError(
                f"no domain classifier in {str(folder)!r} (needs {MODEL_FILE} and "
                f"{CARD_FILE}); train one with `zoo train-classifier --dataset NAME "
                f"--out {folder}`."
            )
        try:
            self.card = cards.check_card(json.loads(card_path.read_text()), str(card_path))
            if self.card["kind"] != "classifier" or MODEL_FILE not in self.card["files"]:
                raise ValueError(f"not a classifier's card (kind {self.card['kind']!r})")
        except (ValueError, UnicodeDecodeError) as error:
            raise ExtractorUnavailableError(
                f"{str(card_path)!r} is damaged ({error}); train the classifier again."
            ) from None
        self.weights_sha256 = sha256_file(model_path)
        if self.card["files"][MODEL_FILE] != self.weights_sha256:
            raise ExtractorUnavailableError(
                f"{str(model_path)!r} does not match the sha256 in its card; "
                "it was modified or damaged: train it again."
            )
        try:
            _check_only_keras_layers(model_path)
            classifier = keras.models.load_model(model_path, safe_mode=True)
            self.image_shape = tuple(classifier.input_shape[1:])
            self.num_classes = int(self.card["num_classes"])
            self.name = f"domain:{self.card['dataset']['name']}"
            features = classifier.get_layer(FEATURE_LAYER).output
        except Exception as error:  # Keras raises many types for damaged archives
            raise ExtractorUnavailableError(
                f"cannot load the domain classifier {str(model_path)!r} with its card "
                f"({type(error).__name__}: {' '.join(str(error).split())[:200]}); it is damaged "
                f"or not a classifier written by `zoo train-classifier`: train it again."
            ) from None
        self._model = keras.Model(
            classifier.input, [features, classifier.output]
        )

    def __call__(self, images, batch_size=1000):
        """uint8 `(n, H, W, C)` -> features `(n, 128)`, probabilities `(n, classes)`."""
        features, probabilities = [], []
        for start in range(0, len(images), batch_size):
            batch = normalise_images(images[start : start + batch_size], self.image_shape, (0.0, 1.0))
            f, logits = self._model(batch, training=False)
            features.append(f.numpy())
            probabilities.append(tf.nn.softmax(logits).numpy())
        return np.concatenate(features), np.concatenate(probabilities)


def _check_only_keras_layers(path):
    """Refuses a `.keras` file that names any class outside Keras itself.

    `safe_mode` stops code embedded in the file; this allow-list also stops
    a file that names some other importable class (the classifier is a plain
    functional model of Keras layers).
    """
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    foreign = set()

    def walk(node):
        if isinstance(node, dict):
            module = node.get("module")
            if isinstance(module, str) and "class_name" in node and not module.startswith("keras"):
                foreign.add(f"{module}.{node['class_name']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    if foreign:
        raise ValueError(f"it names classes outside Keras ({', '.join(sorted(foreign))})")


def domain_extractor(dataset):
    """The domain classifier of `dataset`: the shipped one, else one trained by
    `zoo train-classifier` into `./saved_models/` (its default `--out`)."""
    name = f"{dataset}_classifier"
    shipped_folder = shipped.root() / name
    return DomainExtractor(shipped_folder if shipped_folder.is_dir() else pathlib.Path("saved_models") / name)


#: Keras's ImageNet InceptionV3 weights with the classifier top: file name,
#: address and md5, as `keras.applications.InceptionV3(weights="imagenet")`
#: fetches them. Fetched here so that the file that is loaded is the one
#: that is hashed.
IMAGENET_WEIGHTS = (
    "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    "9a0d58056eeedaa3f26cb7ebd46da564",
)
#: Seed of `KerasInceptionExtractor("random")`'s weights.
RANDOM_WEIGHTS_SEED = 0


def weights_sha256(model):
    """sha256 of a model's weight values: dtype, shape and bytes of each, in order.

    Names are left out: Keras numbers layers per process (`conv2d_7`), so a
    second copy of the same network has other names but the same hash.

    Example:
        >>> a = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> b = keras.models.clone_model(a)
        >>> b.set_weights(a.get_weights())
        >>> weights_sha256(a) == weights_sha256(b)
        True
    """
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{value.dtype.str}{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


@contextlib.contextmanager
def seeded_initialisers(seed):
    """Makes the unseeded Keras initialisers of models built inside reproducible.

    An initialiser without a seed draws one from Python's `random` module
    when it is created (`keras.random.make_default_seed`); that module is
    seeded here and its state restored afterwards, so nothing else in the
    process is reseeded.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


class KerasInceptionExtractor:
    """Keras InceptionV3 pool features at 299x299 (antialiased resize, gray -> RGB).

    `weights_sha256` is the sha256 of the weights file that was loaded (for
    "imagenet", the file Keras cached in `~/.keras/models`), or for "random"
    of the weight values (`weights_sha256`), which are seeded
    (`RANDOM_WEIGHTS_SEED`) so that the same Keras version builds the same
    network and its cached features stay valid.

    Args:
        weights: "imagenet" (Keras's download, needs network the first time),
            a path to a Keras InceptionV3 weights file, or "random" (plumbing
            tests only).

    Attributes:
        model: the Keras network, `[-1, 1]` RGB `(n, 299, 299, 3)` -> pool
            features `(n, 2048)` and class logits `(n, 1000)`.

    Example:
        >>> extractor = KerasInceptionExtractor("random")
        >>> features, probabilities = extractor(uint8_images)  # (n, 2048), (n, 1000)
    """

    def __init__(self, weights="imagenet"):
        if weights not in ("imagenet", "random") and not os.path.isfile(weights):
            raise ExtractorUnavailableError(
                f"no Inception weights file at {weights!r}; name an existing file, "
                "or use 'imagenet' when online."
            )
        path = None if weights == "random" else weights
        try:
            if weights == "imagenet":
                name, origin, md5 = IMAGENET_WEIGHTS
                # Downloads (md5-checked) on first use, then returns Keras's cached file.
                path = keras.utils.get_file(name, origin, cache_subdir="models", file_hash=md5)
            with seeded_initialisers(RANDOM_WEIGHTS_SEED):
                model = keras.applications.InceptionV3(
                    include_top=True, weights=path, classifier_activation=None,
                )
        except Exception as error:  # download failures come in many types
            raise ExtractorUnavailableError(
                f"could not get Keras's ImageNet InceptionV3 weights ({type(error).__name__}); "
                "connect to the internet once, or pass a local weights file."
            ) from None
        self.name = "inception_v3:keras_imagenet" if path else "inception_v3:random"
        self.weights_sha256 = sha256_file(path) if path else weights_sha256(model)
        self.num_classes = 1000
        pool = model.get_layer("avg_pool").output
        self.model = keras.Model(model.input, [pool, model.output])

    def __call__(self, images, batch_size=100):
        features, probabilities = [], []
        for start in range(0, len(images), batch_size):
            # Antialiased resize from float, no re-quantisation; Inception
            # expects [-1, 1] RGB.
            batch = normalise_images(images[start : start + batch_size], (299, 299, 3), (-1.0, 1.0))
            f, logits = self.model(batch, training=False)
            features.append(f.numpy())
            probabilities.append(tf.nn.softmax(logits).numpy())
        return np.concatenate(features), np.concatenate(probabilities)


class FIDInceptionExtractor:
    """The 2015 Inception network of the original FID code (TTUR), from a local file.

    The file is `classify_image_graph_def.pb` from TensorFlow's
    `inception-2015-12-05.tgz`. Its 2048-d `pool_3` features are the ones
    published FIDs use. Images are resized to 299x299 with antialiasing
    before they enter the graph (so its own resize is the identity), as
    clean-fid does; the legacy TF FID code fed smaller images to the graph's
    aliased resize, which shifts FID slightly.

    This network's class head is not exposed, so it gives no class
    probabilities (no IS or class coverage with it).

    Args:
        path: the `.pb` file.

    References:
        Heusel et al. 2017 (TTUR); Parmar et al., "On Aliased Resizing and
        Surprising Subtleties in GAN Evaluation", CVPR 2022.
    """

    INPUT = "ExpandDims:0"
    FEATURES = "pool_3:0"

    def __init__(self, path):
        if not os.path.isfile(path):
            raise ExtractorUnavailableError(
                f"no FID Inception graph at {path!r}; download inception-2015-12-05.tgz "
                "(the file the TTUR FID code uses) when online, extract "
                "classify_image_graph_def.pb and name it with --extractor fid:PATH."
            )
        graph_def = tf.compat.v1.GraphDef()
        try:
            with open(path, "rb") as f:
                graph_def.ParseFromString(f.read())
        except Exception as error:  # protobuf's DecodeError and friends
            raise ExtractorUnavailableError(
                f"{path!r} is not a TensorFlow GraphDef ({type(error).__name__})"
            ) from None

        def features(images):  # (batch, 299, 299, 3) float in [0, 255]
            (pool,) = tf.graph_util.import_graph_def(
                graph_def, input_map={self.INPUT: images}, return_elements=[self.FEATURES]
            )
            return tf.reshape(pool, (tf.shape(images)[0], -1))

        try:
            self._features = tf.compat.v1.wrap_function(
                features, [tf.TensorSpec([None, 299, 299, 3], tf.float32)]
            )
        except (ValueError, KeyError) as error:
            raise ExtractorUnavailableError(
                f"{path!r} has no {self.INPUT} / {self.FEATURES} tensors: is it "
                f"classify_image_graph_def.pb? ({error})"
            ) from None
        self.name = "inception_2015:fid"
        self.weights_sha256 = sha256_file(path)
        self.num_classes = None

    def __call__(self, images, batch_size=100):
        features = []
        for start in range(0, len(images), batch_size):
            batch = normalise_images(images[start : start + batch_size], (299, 299, 3), (0.0, 255.0))
            features.append(self._features(batch).numpy())
        return np.concatenate(features), None


def get_extractor(name, dataset):
    """`domain` (default), `fid:/path/classify_image_graph_def.pb`,
    `inception` / `inception:imagenet`, `inception:random`,
    `inception:/path/weights.h5`, a classifier folder, or a shipped
    classifier's name (`digits_classifier`)."""
    if name in (None, "domain"):
        if dataset.startswith("folder:"):
            raise ExtractorUnavailableError(
                f"{dataset!r} has no shipped domain classifier; train one on its training part, e.g. `zoo "
                f"train-classifier --dataset {dataset} --split 'train[:90%]' --test-split 'train[90%:]' "
                "--image-shape 28,28,1 --out CLASSIFIER`, and pass its folder (zoo train/evaluate --extractor "
                "CLASSIFIER).")
        return domain_extractor(dataset)
    if name.startswith("fid:"):
        return FIDInceptionExtractor(name.partition(":")[2])
    if name == "inception" or name.startswith("inception:"):
        return KerasInceptionExtractor(name.partition(":")[2] or "imagenet")
    if os.path.isdir(name):
        return DomainExtractor(name)
    if name.endswith("_classifier") and (shipped.root() / name).is_dir():  # a shipped one, by name
        return DomainExtractor(shipped.root() / name)
    raise ExtractorUnavailableError(
        f"unknown extractor {name!r}; use 'domain', 'fid:GRAPH.pb', 'inception[:imagenet|:random|:FILE]' "
        "a folder written by `zoo train-classifier`, or a shipped classifier's name (see saved_models/)."
    )
