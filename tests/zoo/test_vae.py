"""VAE family behaviour."""

import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import tiny_images, tiny_model


def test_reports_loss_reconstruction_and_kl_that_add_up():
    model = tiny_model("vae")
    history = model.fit(tiny_images(model, n=4), batch_size=4, epochs=1, verbose=0).history
    assert set(history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert history["loss"][0] == pytest.approx(
        history["reconstruction_loss"][0] + history["kl_loss"][0], rel=1e-5
    )


def test_reparameterisation_is_seeded_and_has_the_posterior_moments():
    a = zoo.VAE(image_shape=(16, 16, 1), latent_dim=4, width=4, seed=3)
    b = zoo.VAE(image_shape=(16, 16, 1), latent_dim=4, width=4, seed=3)
    mean = tf.fill((20000, 4), 2.0)
    log_var = tf.fill((20000, 4), np.log(0.25).astype("float32"))
    za, zb = a.reparameterize(mean, log_var), b.reparameterize(mean, log_var)
    np.testing.assert_array_equal(za, zb)
    assert float(tf.reduce_mean(za)) == pytest.approx(2.0, abs=0.02)
    assert float(tf.math.reduce_std(za)) == pytest.approx(0.5, abs=0.02)


def test_call_reconstructs_deterministically_in_zero_one():
    model = tiny_model("vae")
    images = tiny_images(model)
    out = model(images)
    np.testing.assert_array_equal(out, model(images))
    assert out.shape == images.shape
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0


def test_encoder_outputs_mean_and_log_variance():
    model = tiny_model("vae")
    z_mean, z_log_var = model.encoder(tiny_images(model, n=3))
    assert z_mean.shape == z_log_var.shape == (3, model.latent_dim)


def test_beta_scales_the_kl_term():
    plain = tiny_model("vae", seed=5)
    heavy = tiny_model("beta_vae", seed=5, beta=4.0)
    heavy.set_weights(plain.get_weights())
    images = tf.constant(tiny_images(plain, n=4))
    loss1, rec1, kl1 = plain.compute_losses(images, training=False)
    loss4, rec4, kl4 = heavy.compute_losses(images, training=False)
    # Same weights and seed: the same reparameterisation noise, so only beta differs.
    assert float(rec4) == pytest.approx(float(rec1), rel=1e-5)
    assert float(kl4) == pytest.approx(float(kl1), rel=1e-5)
    # Totals compared directly: their difference (~0.1 out of ~180) would
    # carry float32 cancellation error.
    assert float(loss1) == pytest.approx(float(rec1) + float(kl1), rel=1e-6)
    assert float(loss4) == pytest.approx(float(rec1) + 4.0 * float(kl1), rel=1e-6)


def test_beta_must_be_positive():
    with pytest.raises(ValueError, match="beta=0"):
        tiny_model("beta_vae", beta=0)
