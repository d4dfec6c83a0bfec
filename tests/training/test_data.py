"""Data pipelines on the real, offline Fashion-MNIST."""

import socket

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import zoo
from tests.conftest import write_image_folder
from training import data


def test_fashion_mnist_has_the_tfds_splits_and_features():
    assert data.split_sizes("fashion_mnist") == {"train": 60000, "test": 10000}
    builder = data.prepare("fashion_mnist")
    features = builder.info.features
    assert features["image"].shape == (28, 28, 1) and features["image"].dtype == tf.uint8
    assert features["label"].num_classes == 10


def test_prepared_fashion_mnist_reads_with_plain_tfds():
    data.prepare("fashion_mnist")
    ds = tfds.load("fashion_mnist", split="test", shuffle_files=False)
    first = next(iter(ds))
    assert first["image"].shape == (28, 28, 1) and first["image"].dtype == tf.uint8
    labels = np.array([int(ex["label"]) for ex in ds.take(2000)])
    assert labels.min() == 0 and labels.max() == 9


@pytest.mark.parametrize("model_name", ["dcgan", "vae"])
def test_load_normalises_to_the_model_pixel_range(model_name):
    model = zoo.create(model_name)
    images, labels = next(iter(data.load("fashion_mnist", "test", model=model, batch_size=256)))
    assert images.shape == (256, 28, 28, 1) and images.dtype == tf.float32
    assert labels.shape == (256,) and labels.dtype == tf.int64
    low, high = model.pixel_range
    assert float(tf.reduce_min(images)) == pytest.approx(low)
    assert float(tf.reduce_max(images)) == pytest.approx(high)


def test_load_resizes_and_converts_channels():
    images, _ = next(iter(data.load(
        "fashion_mnist", "test", image_shape=(16, 16, 3), pixel_range=(-1.0, 1.0), batch_size=8
    )))
    assert images.shape == (8, 16, 16, 3)
    np.testing.assert_allclose(images[..., 0], images[..., 2])
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0


def test_training_split_is_shuffled_with_its_seed_and_test_split_is_not():
    first = lambda ds: next(iter(ds))[1].numpy()  # noqa: E731
    a = first(data.load("fashion_mnist", "train[:512]", batch_size=32, seed=1))
    b = first(data.load("fashion_mnist", "train[:512]", batch_size=32, seed=1))
    c = first(data.load("fashion_mnist", "train[:512]", batch_size=32, seed=2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    t1 = first(data.load("fashion_mnist", "test", batch_size=32))
    t2 = first(data.load("fashion_mnist", "test", batch_size=32))
    np.testing.assert_array_equal(t1, t2)


def test_test_split_keeps_every_example():
    ds = data.load("fashion_mnist", "test", batch_size=1000)
    assert sum(int(labels.shape[0]) for _, labels in ds) == 10000


def test_unknown_dataset_error_names_it_and_the_alternatives():
    with pytest.raises(data.DatasetUnavailableError, match=r"unknown dataset 'fashion_mnst'.*fashion_mnist"):
        data.load("fashion_mnst")


def test_offline_download_fails_at_once_with_a_how_to(monkeypatch, tmp_path):
    def no_dns(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(data.DatasetUnavailableError) as caught:
        data.load("mnist", data_dir=str(tmp_path))
    message = str(caught.value)
    assert "'mnist'" in message and "connect to the internet" in message
    assert "no network" in message


def test_a_flat_image_folder_loads_unlabelled_and_reports_bad_files(tmp_path):
    write_image_folder(tmp_path)
    with pytest.warns(UserWarning, match=r"skipping 2 of 10 image files .*broken.png.*truncated.png"):
        ds = data.load(f"folder:{tmp_path}", image_shape=(16, 16, 3), pixel_range=(-1.0, 1.0),
                       batch_size=4, seed=0)
    batches = list(ds)
    assert len(batches) == 2  # 8 good images, batches of 4
    images, labels = batches[0]
    assert images.shape == (4, 16, 16, 3) and images.dtype == tf.float32
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    assert set(labels.numpy()) == {-1}


def test_image_folder_errors_are_clear(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="does not exist"):
        data.load(f"folder:{tmp_path / 'missing'}", image_shape=(8, 8, 3))
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DatasetUnavailableError, match="no .jpg/.jpeg/.png files"):
        data.load(f"folder:{tmp_path / 'empty'}", image_shape=(8, 8, 3))
    (tmp_path / "all_broken").mkdir()
    for i in range(3):
        (tmp_path / "all_broken" / f"{i}.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(data.DatasetUnavailableError, match="none of the 3 image files"):
        data.load(f"folder:{tmp_path / 'all_broken'}", image_shape=(8, 8, 3))
    write_image_folder(tmp_path / "imgs")
    with pytest.raises(data.DatasetUnavailableError, match="one split, 'train'"):
        data.load(f"folder:{tmp_path / 'imgs'}", "test", image_shape=(8, 8, 3))


def test_faces_dcgan_trains_on_an_image_folder_at_64x64(tmp_path):
    write_image_folder(tmp_path)
    model_name, arguments = zoo.preset("dcgan_celeb_a")
    model = zoo.create(model_name, **{**arguments, "width": 8, "latent_dim": 16})
    model.compile(**model.default_optimizers(**zoo.preset_learning_rates("dcgan_celeb_a")))
    assert model.generator.output_shape == (None, 64, 64, 3)
    assert float(model.d_optimizer.learning_rate) == pytest.approx(2e-4)
    with pytest.warns(UserWarning):
        ds = data.load(f"folder:{tmp_path}", model=model, batch_size=4)
    history = model.fit(ds, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all()
