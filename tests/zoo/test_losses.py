"""Losses and penalties against hand-computed values."""

import math

import numpy as np
import pytest
import tensorflow as tf

from zoo import losses


def test_nonsaturating_losses_match_log_sigmoid_formulas():
    real = tf.constant([[2.0], [-1.0]])
    fake = tf.constant([[0.5], [-3.0]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected_d = -np.mean([math.log(sig(2.0)), math.log(sig(-1.0))]) - np.mean(
        [math.log(1 - sig(0.5)), math.log(1 - sig(-3.0))]
    )
    expected_g = -np.mean([math.log(sig(0.5)), math.log(sig(-3.0))])
    assert float(losses.nonsaturating_discriminator_loss(real, fake)) == pytest.approx(expected_d, rel=1e-6)
    assert float(losses.nonsaturating_generator_loss(fake)) == pytest.approx(expected_g, rel=1e-6)


def test_wasserstein_losses_are_differences_of_means():
    real = tf.constant([[1.0], [3.0]])
    fake = tf.constant([[-2.0], [0.0]])
    assert float(losses.wasserstein_critic_loss(real, fake)) == pytest.approx(-1.0 - 2.0)
    assert float(losses.wasserstein_generator_loss(fake)) == pytest.approx(1.0)


@pytest.mark.parametrize("w_scale", [0.0, 0.3, 1.0, 2.5])
def test_gradient_penalty_of_linear_critic_is_squared_norm_gap(w_scale):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4, 2)).astype("float32")
    w *= w_scale / max(np.linalg.norm(w), 1e-12)
    critic = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])[:, None]  # noqa: E731
    real = tf.constant(rng.normal(size=(6, 4, 4, 2)), tf.float32)
    fake = tf.constant(rng.normal(size=(6, 4, 4, 2)), tf.float32)
    alpha = tf.constant(rng.uniform(size=(6, 1, 1, 1)), tf.float32)
    penalty = losses.gradient_penalty(critic, real, fake, alpha)
    assert np.isfinite(float(penalty))
    assert float(penalty) == pytest.approx((w_scale - 1.0) ** 2, abs=1e-5)


def test_gradient_penalty_has_finite_gradient_where_critic_gradient_is_zero():
    real = tf.zeros((2, 2, 2, 1))
    fake = tf.ones((2, 2, 2, 1))
    scale = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(
            lambda x: scale * tf.reduce_sum(x, axis=[1, 2, 3]), real, fake, tf.fill((2, 1, 1, 1), 0.5)
        )
    assert np.isfinite(tape.gradient(penalty, scale).numpy())


def test_kl_is_zero_for_the_standard_normal_posterior():
    kl = losses.gaussian_kl_divergence(tf.zeros((3, 5)), tf.zeros((3, 5)))
    np.testing.assert_allclose(kl, np.zeros(3), atol=1e-7)


def test_kl_matches_closed_form_for_one_dimension():
    mean, log_var = 1.5, math.log(0.25)
    expected = 0.5 * (0.25 + mean**2 - 1.0 - math.log(0.25))
    kl = losses.gaussian_kl_divergence(tf.constant([[mean]]), tf.constant([[log_var]]))
    assert float(kl[0]) == pytest.approx(expected, rel=1e-6)


def test_bernoulli_reconstruction_sums_pixelwise_cross_entropy():
    images = tf.constant([[[[1.0], [0.0]]]])  # (1, 1, 2, 1)
    recon = tf.constant([[[[0.8], [0.3]]]])
    expected = -(math.log(0.8) + math.log(0.7))
    assert float(losses.bernoulli_reconstruction_loss(images, recon)[0]) == pytest.approx(expected, rel=1e-4)


def test_least_squares_losses_match_hand_computed_values():
    real = tf.constant([[0.5], [2.0]])
    fake = tf.constant([[1.0], [-1.0]])
    # D: 1/2 mean((0.5-1)^2, (2-1)^2) + 1/2 mean(1^2, (-1)^2) = 1/2 * 0.625 + 1/2 * 1
    assert float(losses.least_squares_discriminator_loss(real, fake)) == pytest.approx(0.8125)
    # G: 1/2 mean((1-1)^2, (-1-1)^2) = 1/2 * 2
    assert float(losses.least_squares_generator_loss(fake)) == pytest.approx(1.0)


def test_hinge_losses_match_hand_computed_values():
    real = tf.constant([[0.5], [2.0]])
    fake = tf.constant([[-2.0], [0.5]])
    # D: mean(relu(0.5), relu(-1)) + mean(relu(-1), relu(1.5)) = 0.25 + 0.75
    assert float(losses.hinge_discriminator_loss(real, fake)) == pytest.approx(1.0)
    assert float(losses.hinge_generator_loss(fake)) == pytest.approx(0.75)


def test_r1_of_a_linear_discriminator_is_the_squared_norm_of_w():
    w = np.random.default_rng(1).normal(size=(3, 3, 2)).astype("float32")
    critic = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])[:, None]  # noqa: E731
    real = tf.constant(np.random.default_rng(2).normal(size=(5, 3, 3, 2)), tf.float32)
    assert float(losses.r1_penalty(critic, real)) == pytest.approx(float(np.sum(w**2)), rel=1e-5)


def test_one_sided_label_smoothing_is_cross_entropy_against_the_smoothed_target():
    real, fake = tf.constant([[2.0]]), tf.constant([[-1.0]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -(0.9 * math.log(sig(2.0)) + 0.1 * math.log(1 - sig(2.0))) - math.log(1 - sig(-1.0))
    got = losses.nonsaturating_discriminator_loss(real, fake, real_label=0.9)
    assert float(got) == pytest.approx(expected, rel=1e-6)
