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


def test_neighbouring_seeds_give_unrelated_latents():
    z = latents_from_seeds(range(5000), 64).numpy()
    # Correlation between the latents of seeds s and s + 1, and between any two latent dimensions:
    # 0 up to sampling noise (1/sqrt(5000 * 64) = 0.0018 and 1/sqrt(5000) = 0.014).
    assert abs(np.corrcoef(z[:-1].ravel(), z[1:].ravel())[0, 1]) < 0.01
    off_diagonal = np.corrcoef(z.T) - np.eye(64)
    assert np.abs(off_diagonal).max() < 0.07
    # Standard normal moments and tails.
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(np.abs(z) > 1.96) - 0.05) < 0.005


def test_mixing_has_no_fixed_point_and_keeps_every_value_in_range():
    from zoo.latents import SEED_LIMIT, mix, uniform_draws

    x = np.concatenate([np.arange(0, 100000), np.arange(SEED_LIMIT - 100000, SEED_LIMIT)]).astype(np.int32)
    mixed = mix(tf.constant(x)).numpy()
    assert not np.any(mixed == x) and mixed.min() >= 0
    draws = uniform_draws(tf.constant([0, 1, SEED_LIMIT - 1], tf.int32), 64).numpy()
    assert draws.min() >= 0 and draws.max() < 2**24
    assert len({tuple(row) for row in draws}) == 3


def test_tflite_makes_the_same_latents_from_builtin_ops():
    from ai_edge_litert.interpreter import Interpreter

    from zoo.latents import uniform_draws

    class Latents(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1], tf.int32, name="seed")])
        def draw(self, seed):
            return {"draws": uniform_draws(seed, 32), "z": latents_from_seeds(seed, 32, "truncated_normal")}

    module = Latents()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.draw.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    run = interpreter.get_signature_runner()
    for seed in [0, 1, 12345, 2**31 - 2]:
        out = run(seed=np.array([seed], np.int32))
        np.testing.assert_array_equal(out["draws"], uniform_draws(tf.constant([seed]), 32))  # exact
        np.testing.assert_allclose(out["z"], latents_from_seeds([seed], 32, "truncated_normal"), atol=1e-5)


def test_sample_refuses_seeds_outside_the_range():
    import pytest

    from tests.conftest import tiny_model

    model = tiny_model("dcgan")
    with pytest.raises(ValueError, match=r"seeds -1..0 leave \[0, 2147483647\)"):
        model.sample(2, seed=-1)
    with pytest.raises(ValueError, match=r"seeds 2147483646..2147483647 leave"):
        model.sample(2, seed=2**31 - 2)
    assert model.sample(1, seed=2**31 - 2).shape == (1, 16, 16, 1)
