"""Feature extractors: the sha256 that keys cached real-data features names the weights used."""

import hashlib
import random

import keras
import numpy as np
import pytest

from evaluation import evaluate as evaluation
from evaluation import features
from evaluation.features import KerasInceptionExtractor, seeded_initialisers, weights_sha256
from zoo.files import sha256_file


def _small_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                             keras.layers.Dense(2)])


def test_weights_sha256_hashes_the_values_not_the_layer_names():
    model = _small_model()
    copy = _small_model()  # other layer names (dense_2, ...) and other random values
    assert weights_sha256(copy) != weights_sha256(model)
    copy.set_weights(model.get_weights())
    assert [w.path for w in copy.weights] != [w.path for w in model.weights]
    assert weights_sha256(copy) == weights_sha256(model)
    # Every value counts, the non-trainable batch-norm statistics too.
    for index in (0, len(model.weights) - 3):
        changed = [w.copy() for w in model.get_weights()]
        changed[index].flat[0] = np.nextafter(changed[index].flat[0], np.float32(np.inf))
        copy.set_weights(changed)
        assert weights_sha256(copy) != weights_sha256(model)
    # The digest is sha256 over each weight's dtype, shape and bytes, in order.
    expected = hashlib.sha256()
    for value in model.get_weights():
        expected.update(f"{value.dtype.str}{value.shape};".encode() + np.ascontiguousarray(value).tobytes())
    assert weights_sha256(model) == expected.hexdigest()


def test_seeded_initialisers_build_the_same_weights_and_restore_pythons_random_state():
    random.seed(123)
    expected_next = random.random()
    random.seed(123)
    with seeded_initialisers(5):
        first = _small_model()
    assert random.random() == expected_next  # the caller's random stream is untouched
    with seeded_initialisers(5):
        second = _small_model()
    with seeded_initialisers(6):
        other = _small_model()
    assert weights_sha256(first) == weights_sha256(second) != weights_sha256(other)


# InceptionV3 has 24M weights: each build takes a few seconds, so one random
# network is built for the module and reused.
@pytest.fixture(scope="module")
def random_inception():
    return KerasInceptionExtractor("random")


def test_inception_plumbing_with_random_weights_resizes_gray_to_299_rgb(random_inception):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    found, probabilities = random_inception(images)
    assert found.shape == (3, 2048) and probabilities.shape == (3, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert random_inception.name == "inception_v3:random"


def test_random_inception_weights_are_seeded_and_their_values_are_hashed(random_inception):
    assert random_inception.weights_sha256 == weights_sha256(random_inception.model)
    again = KerasInceptionExtractor("random")  # a second build in the same process
    assert again.weights_sha256 == random_inception.weights_sha256


@pytest.mark.parametrize("source", ["file", "imagenet"])
def test_inception_from_a_weights_file_records_the_files_sha256(random_inception, tmp_path, monkeypatch, source):
    path = tmp_path / "inception_v3.weights.h5"
    random_inception.model.save_weights(path)
    requested = []
    if source == "imagenet":
        # Offline here: stand in for Keras's cache, which holds the downloaded file.
        def cached_file(fname, origin, **kwargs):
            requested.append((fname, origin, kwargs.get("file_hash")))
            return str(path)

        monkeypatch.setattr(keras.utils, "get_file", cached_file)
    extractor = KerasInceptionExtractor(str(path) if source == "file" else "imagenet")
    assert extractor.weights_sha256 == sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    # The hashed file is the one loaded.
    assert weights_sha256(extractor.model) == random_inception.weights_sha256
    if source == "imagenet":
        assert requested == [features.IMAGENET_WEIGHTS]
        assert extractor.name == "inception_v3:keras_imagenet"


class _Stub:
    """An extractor of 2-d features that counts its calls."""

    num_classes = None

    def __init__(self, weights_sha256, name="stub"):
        self.weights_sha256, self.name, self.calls = weights_sha256, name, 0

    def __call__(self, images):
        self.calls += 1
        return images.reshape(len(images), -1)[:, :2].astype("float32"), None


def test_features_are_cached_under_the_weights_sha256_and_without_probabilities(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path))
    stub = _Stub(hashlib.sha256(b"weights").hexdigest())
    first, probabilities = evaluation.real_features(stub, "fashion_mnist", "test", 20)
    (cached,) = tmp_path.iterdir()
    assert stub.weights_sha256[:16] in cached.name and probabilities is None
    # A feature extractor without class probabilities (the FID graph) is read back from the cache.
    again, probabilities = evaluation.real_features(stub, "fashion_mnist", "test", 20)
    assert stub.calls == 1 and probabilities is None
    np.testing.assert_array_equal(again, first)


def test_an_extractor_without_a_weights_hash_is_never_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path))
    stub = _Stub("random")  # names no particular weights
    evaluation.real_features(stub, "fashion_mnist", "test", 20)
    evaluation.real_features(stub, "fashion_mnist", "test", 20)
    assert stub.calls == 2 and not list(tmp_path.iterdir())
