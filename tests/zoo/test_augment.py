import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import tiny_images, tiny_model
from zoo import augment


@pytest.mark.parametrize("policy", [("color",), ("translation",), ("cutout",), augment.POLICIES])
def test_diffaugment_keeps_shapes_and_is_differentiable(policy):
    x = tf.Variable(np.random.default_rng(0).uniform(-1, 1, (4, 16, 12, 3)).astype("float32"))
    seed = keras.random.SeedGenerator(0)
    with tf.GradientTape() as tape:
        y = augment.diff_augment(x, policy, seed)
        loss = tf.reduce_sum(y * y)
    assert y.shape == x.shape
    grad = tape.gradient(loss, x)
    assert grad is not None and np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0


def test_translation_shifts_each_image_by_whole_pixels():
    x = np.zeros((8, 16, 16, 1), "float32")
    x[:, 8, 8, 0] = 1.0
    y = augment.diff_augment(tf.constant(x), ("translation",), keras.random.SeedGenerator(1)).numpy()
    for image in y:
        (rows, cols, _), = [np.nonzero(image)]
        assert len(rows) == 1 and abs(rows[0] - 8) <= 2 and abs(cols[0] - 8) <= 2
        assert image.sum() == pytest.approx(1.0)


def test_cutout_zeroes_a_half_size_square():
    x = np.ones((4, 16, 16, 2), "float32")
    y = augment.diff_augment(tf.constant(x), ("cutout",), keras.random.SeedGenerator(2)).numpy()
    for image in y:
        assert (image == 0).sum() == 8 * 8 * 2


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown \\['flip'\\]"):
        augment.parse_policy("color,flip")


def test_gan_with_diffaugment_trains_and_round_trips(tmp_path):
    import zoo

    model = tiny_model("dcgan", diffaugment="color,translation,cutout")
    history = model.fit(tiny_images(model), batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all()
    model.save(tmp_path / "m.keras")
    assert zoo.load(tmp_path / "m.keras").diffaugment == "color,translation,cutout"
    # Augmentation is for training only: inference scores are deterministic.
    images = tf.constant(tiny_images(model, n=4))
    np.testing.assert_array_equal(model.discriminate(images, False), model.discriminate(images, False))
