import numpy as np
import tensorflow as tf

from zoo.images import from_uint8, to_uint8
from zoo.latents import latents_from_seeds


def test_each_row_depends_only_on_its_seed():
    a = latents_from_seeds([5, 6, 7], 16)
    b = latents_from_seeds([7], 16)
    np.testing.assert_array_equal(a[2], b[0])
    assert not np.array_equal(a[0], a[1])


def test_latents_are_standard_normal():
    z = latents_from_seeds(range(2000), 32).numpy()
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02


def test_uint8_round_trip_is_exact_for_both_ranges():
    pixels = tf.range(256, dtype=tf.int32)
    pixels = tf.cast(tf.reshape(pixels, (1, 16, 16, 1)), tf.uint8)
    for pixel_range in [(-1.0, 1.0), (0.0, 1.0)]:
        np.testing.assert_array_equal(to_uint8(from_uint8(pixels, pixel_range), pixel_range), pixels)


def test_to_uint8_clips_out_of_range_values():
    out = to_uint8(tf.constant([-3.0, 3.0]), (-1.0, 1.0))
    np.testing.assert_array_equal(out, [0, 255])


def test_priors_have_their_ranges_and_keep_rows_independent():
    import pytest

    from zoo.latents import check_prior

    uniform = latents_from_seeds(range(500), 16, "uniform").numpy()
    assert uniform.min() >= -1.0 and uniform.max() <= 1.0 and abs(uniform.mean()) < 0.03
    truncated = latents_from_seeds(range(500), 16, "truncated_normal").numpy()
    assert np.abs(truncated).max() <= 2.0 and 0.8 < truncated.std() < 0.95
    np.testing.assert_array_equal(latents_from_seeds([7], 16, "uniform")[0], uniform[7])
    with pytest.raises(ValueError, match="latent_prior='cauchy'"):
        check_prior("cauchy")
