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


def _shifted(image, dy, dx):
    """`image` moved down `dy` and right `dx` pixels, zero-filled."""
    out = np.zeros_like(image)
    height, width = image.shape[:2]
    out[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        image[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def test_translation_shifts_each_image_by_whole_pixels_with_zero_fill():
    # 16 x 24: at most round(0.125 * side) pixels, 2 rows and 3 columns.
    x = np.random.default_rng(3).uniform(0.5, 1.0, (64, 16, 24, 2)).astype("float32")
    y = augment.diff_augment(tf.constant(x), ("translation",), keras.random.SeedGenerator(1)).numpy()
    shifts = []
    for image, moved in zip(x, y):
        # Pixel values are kept exactly, only moved: exactly one shift explains the output.
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-3, 4)
                 if np.array_equal(moved, _shifted(image, dy, dx))]
        assert len(found) == 1, "output is not a zero-filled shift of at most (2, 3) pixels"
        shifts.append(found[0])
    dys, dxs = zip(*shifts)
    # Each image draws its own shift, over the whole range on both axes.
    assert set(dys) == {-2, -1, 0, 1, 2} and set(dxs) == {-3, -2, -1, 0, 1, 2, 3}
    assert sum(shift != (0, 0) for shift in shifts) > 48


def _colour_parameters(x, y):
    """Brightness b, saturation s and contrast c with y = colour(x), per image.

    The colour op computes x + b, then scales each pixel's deviation from its
    channel mean by s, then the image's deviation from its mean by c:
    y = c s (x - m(x)) + c (m(x) - M(x)) + M(x) + b, with m the per-pixel
    channel mean and M the image mean.
    """
    m_x, m_y = x.mean(axis=-1, keepdims=True), y.mean(axis=-1, keepdims=True)
    big_x, big_y = x.mean(), y.mean()
    b = big_y - big_x
    c = np.sum((m_y - big_y) * (m_x - big_x)) / np.sum((m_x - big_x) ** 2)
    s = np.sum((y - m_y) * (x - m_x)) / np.sum((x - m_x) ** 2) / c
    model = c * s * (x - m_x) + c * (m_x - big_x) + big_x + b
    return b, s, c, np.abs(model - y).max()


def test_colour_draws_brightness_saturation_and_contrast_per_image_in_their_ranges():
    x = np.random.default_rng(4).uniform(-1, 1, (64, 8, 8, 3)).astype("float32")
    y = augment.diff_augment(tf.constant(x), ("color",), keras.random.SeedGenerator(2)).numpy()
    found = np.array([_colour_parameters(a.astype("float64"), b.astype("float64")) for a, b in zip(x, y)])
    brightness, saturation, contrast, misfit = found.T
    assert misfit.max() < 1e-4  # every output is exactly such a colour change
    # Zhao et al.'s ranges: brightness in [-0.5, 0.5], saturation in [0, 2], contrast in [0.5, 1.5].
    assert brightness.min() >= -0.5 - 1e-5 and brightness.max() <= 0.5 + 1e-5
    assert saturation.min() >= -1e-4 and saturation.max() <= 2 + 1e-4
    assert contrast.min() >= 0.5 - 1e-4 and contrast.max() <= 1.5 + 1e-4
    # Not the identity (b = 0, s = c = 1), and drawn per image over most of each range.
    for values, low, high in ((brightness, -0.5, 0.5), (saturation, 0, 2), (contrast, 0.5, 1.5)):
        assert values.min() < low + 0.2 * (high - low) and values.max() > high - 0.2 * (high - low)


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
