import numpy as np

import zoo
from tests.conftest import tiny_images, tiny_model
from zoo.layers import MinibatchStdDev


def test_minibatch_stddev_appends_the_mean_feature_std():
    x = np.random.default_rng(0).normal(size=(6, 3, 3, 2)).astype("float32")
    out = np.asarray(MinibatchStdDev()(x))
    assert out.shape == (6, 3, 3, 3)
    np.testing.assert_array_equal(out[..., :2], x)
    expected = np.sqrt(x.var(axis=0) + 1e-8).mean()
    np.testing.assert_allclose(out[..., 2], expected, rtol=1e-5)


def test_identical_batches_get_a_zero_statistic():
    x = np.repeat(np.random.default_rng(1).normal(size=(1, 2, 2, 4)), 5, axis=0).astype("float32")
    assert np.asarray(MinibatchStdDev()(x))[..., -1].max() < 1e-3


def test_gan_with_minibatch_stddev_round_trips(tmp_path):
    model = tiny_model("dcgan", minibatch_stddev=True)
    assert any(isinstance(layer, MinibatchStdDev) for layer in model.discriminator.layers)
    images = tiny_images(model, n=4)
    model.fit(images, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = zoo.load(tmp_path / "m.keras")
    assert loaded.minibatch_stddev
    np.testing.assert_allclose(loaded.discriminator(images), model.discriminator(images), rtol=1e-6)
