"""Evaluation on real Fashion-MNIST with the shipped domain classifier."""

import numpy as np
import pytest

from evaluation import evaluate as evaluation
from evaluation.features import domain_extractor
from training import data

N = 2000


@pytest.fixture(scope="module")
def extractor():
    return domain_extractor("fashion_mnist")


@pytest.fixture(scope="module")
def train_images():
    return data.load_images("fashion_mnist", "train", N)[0]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "feature-cache"))


def _from(images):
    return lambda n, seed: images[seed : seed + n]


def _noisy(images, sigma, seed=0):
    noise = np.random.default_rng(seed).normal(0.0, sigma * 255.0, images.shape)
    return np.clip(images + noise, 0, 255).round().astype(np.uint8)


def test_shipped_classifier_card_records_its_accuracy(extractor):
    assert extractor.card["dataset"]["name"] == "fashion_mnist" and extractor.card["kind"] == "classifier"
    assert extractor.card["metrics"]["test_accuracy"] > 0.88
    assert extractor.card["files"]["classifier.keras"] == extractor.weights_sha256


@pytest.mark.slow  # seven evaluations of 2,000 images
def test_fd_grows_monotonically_with_noise_and_uniform_noise_is_far(extractor, train_images):
    fds = []
    for sigma in (0.0, 0.05, 0.1, 0.2, 0.4):
        result = evaluation.evaluate(_from(_noisy(train_images, sigma)), extractor, "fashion_mnist",
                                     metrics=["fd"], n=N)
        fds.append(result["fd"])
    assert fds == sorted(fds) and fds[0] < fds[1]
    uniform = np.random.default_rng(1).integers(0, 256, train_images.shape, dtype=np.uint8)
    far = evaluation.evaluate(_from(uniform), extractor, "fashion_mnist", metrics=["fd", "kid"], n=N)
    assert fds[0] < 0.05 * far["fd"]
    assert far["fd"] > fds[-1]
    clean = evaluation.evaluate(_from(train_images), extractor, "fashion_mnist", metrics=["kid"], n=N)
    # Not 0: the classifier was trained on these images, so they sit a little
    # apart from the test images in its feature space.
    assert abs(clean["kid"]) < 0.05 * far["kid"]


def test_real_training_images_score_like_real_data(extractor, train_images):
    result = evaluation.evaluate(_from(train_images), extractor, "fashion_mnist",
                                 metrics=["fd", "kid", "is", "pr", "dc", "classes"], n=N)
    assert result["classes_covered"] == 10 and result["kl_uniform"] < 0.05
    assert result["precision"] > 0.6 and result["recall"] > 0.6 and result["coverage"] > 0.8
    assert result["is"] > 5
    assert result["extractor"] == "domain:fashion_mnist" and result["n"] == result["n_real"] == N


@pytest.mark.slow  # memorisation against the whole training split
def test_a_collapsed_generator_is_caught(extractor):
    # Every sample is one of 20 training images of two classes.
    images, labels = data.load_images("fashion_mnist", "train", N)
    few = images[np.isin(labels, [1, 7])][:20]
    collapsed = np.repeat(few, N // 20, axis=0)
    result = evaluation.evaluate(_from(collapsed), extractor, "fashion_mnist",
                                 metrics=["pr", "dc", "classes", "memorisation"], n=N)
    assert result["coverage"] < 0.1 and result["recall"] < 0.1
    assert result["classes_covered"] <= 3 and result["kl_uniform"] > 1.0
    assert result["memorisation"] == 1.0  # copies of training images
    # Measured on the 1,000 test images that did not set the threshold: near
    # the 5% quantile, up to sampling noise (standard error ~0.007).
    assert abs(result["memorisation_baseline"] - 0.05) < 0.03


def test_results_are_deterministic_for_a_seed(extractor, train_images):
    generate = _from(_noisy(train_images, 0.1))
    a = evaluation.evaluate(generate, extractor, "fashion_mnist", metrics=["fd", "kid"], n=500)
    b = evaluation.evaluate(generate, extractor, "fashion_mnist", metrics=["fd", "kid"], n=500)
    assert a == b


def test_real_features_are_cached_per_extractor_and_count(extractor, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path))
    first = evaluation.real_features(extractor, "fashion_mnist", "test", 300)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and "domain_fashion_mnist" in files[0].name and files[0].name.endswith("-300.npz")
    np.testing.assert_array_equal(evaluation.real_features(extractor, "fashion_mnist", "test", 300)[0], first[0])
    evaluation.real_features(extractor, "fashion_mnist", "test", 200)
    assert len(list(tmp_path.iterdir())) == 2


def test_reconstruction_metrics_are_perfect_for_identity_and_drop_with_noise(extractor, train_images):
    images = data.load_images("fashion_mnist", "test", 200)[0]
    perfect = evaluation.evaluate(_from(images), extractor, "fashion_mnist", metrics=["reconstruction"],
                                  n=200, reconstruct=lambda x, labels: (x, x))
    assert perfect["ssim"] == pytest.approx(1.0) and perfect["ms_ssim"] == pytest.approx(1.0)
    noisy = evaluation.evaluate(_from(images), extractor, "fashion_mnist", metrics=["reconstruction"],
                                n=200, reconstruct=lambda x, labels: (x, _noisy(x, 0.1)))
    assert noisy["ssim"] < 0.9 and 15 < noisy["psnr"] < 30 and noisy["ms_ssim_scales"] == 4


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="unknown metric 'fid'"):
        evaluation.parse_metrics("fd,fid")


def _synthetic_fid_graph(path, weights):
    """A GraphDef with the FID graph's tensor names and a batch of 1 baked in.

    `pool_3` is the centre pixel of the 0-255 image times `weights` (3, 2048).
    """
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name="ExpandDims")
        pooled = images[:, 149, 149, :]  # (1, 3); 149 is the centre of 299
        tf.reshape(tf.matmul(pooled, tf.constant(weights, tf.float32)), [-1, 1, 1, 2048], name="pool_3")
    path.write_bytes(graph.as_graph_def().SerializeToString())


def test_fid_inception_plumbing_feeds_batches_at_299_in_0_255(tmp_path):
    from evaluation.features import FIDInceptionExtractor, get_extractor

    weights = np.random.default_rng(0).normal(size=(3, 2048)).astype("float32")
    graph = tmp_path / "classify_image_graph_def.pb"
    _synthetic_fid_graph(graph, weights)
    extractor = get_extractor(f"fid:{graph}", "fashion_mnist")
    assert isinstance(extractor, FIDInceptionExtractor) and extractor.name == "inception_2015:fid"
    # Constant grayscale images: the resize is exact and gray tiles to RGB.
    values = np.array([0, 64, 200, 255], np.uint8)
    images = np.broadcast_to(values[:, None, None, None], (4, 28, 28, 1)).copy()
    features, probabilities = extractor(images, batch_size=3)
    assert probabilities is None and features.shape == (4, 2048)
    expected = values[:, None].astype("float32").repeat(3, axis=1) @ weights
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-2)


def test_fid_extractor_refuses_class_metrics_and_bad_files(tmp_path, extractor):
    from evaluation.features import ExtractorUnavailableError, FIDInceptionExtractor

    graph = tmp_path / "g.pb"
    _synthetic_fid_graph(graph, np.ones((3, 2048), "float32"))
    fid = FIDInceptionExtractor(str(graph))
    assert evaluation.default_metrics(fid) == ("fd", "kid", "pr", "dc")
    with pytest.raises(evaluation.MetricUnavailableError, match="no class probabilities"):
        evaluation.evaluate(lambda n, s: np.zeros((n, 28, 28, 1), np.uint8), fid, "fashion_mnist",
                            metrics=["fd", "is"], n=10)
    with pytest.raises(ExtractorUnavailableError, match="no FID Inception graph"):
        FIDInceptionExtractor(str(tmp_path / "missing.pb"))
    (tmp_path / "junk.pb").write_bytes(b"\x00junk")
    with pytest.raises(ExtractorUnavailableError):
        FIDInceptionExtractor(str(tmp_path / "junk.pb"))


def test_class_accuracy_of_a_conditional_generator(extractor):
    # A "conditional generator" that returns real test images for the labels it
    # was asked for scores the classifier's accuracy; one ignoring labels ~0.1.
    images, labels = data.load_images("fashion_mnist", "test", 1000)
    honest = lambda n, seed: (images[seed : seed + n], labels[seed : seed + n])  # noqa: E731
    shuffled = np.random.default_rng(0).permutation(labels)
    ignoring = lambda n, seed: (images[seed : seed + n], shuffled[seed : seed + n])  # noqa: E731
    good = evaluation.evaluate(honest, extractor, "fashion_mnist", metrics=["classes"], n=1000)
    bad = evaluation.evaluate(ignoring, extractor, "fashion_mnist", metrics=["classes"], n=1000)
    assert good["class_accuracy"] > 0.88
    assert bad["class_accuracy"] < 0.2
    unconditional = evaluation.evaluate(lambda n, s: images[s : s + n], extractor, "fashion_mnist",
                                        metrics=["classes"], n=100)
    assert "class_accuracy" not in unconditional


def test_a_shipped_classifier_is_an_extractor_by_its_name(extractor):
    from evaluation.features import ExtractorUnavailableError, get_extractor

    by_name = get_extractor("fashion_mnist_classifier", "mnist")
    assert by_name.weights_sha256 == extractor.weights_sha256 and by_name.name == extractor.name
    with pytest.raises(ExtractorUnavailableError, match="has no shipped domain classifier; train one"):
        get_extractor("domain", "folder:/some/photos")
    with pytest.raises(ExtractorUnavailableError, match="unknown extractor 'nothing_classifier'"):
        get_extractor("nothing_classifier", "mnist")
