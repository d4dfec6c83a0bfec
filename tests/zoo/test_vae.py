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


def test_call_decodes_the_posterior_mean_not_a_sample():
    model = tiny_model("vae")
    images = tf.constant(tiny_images(model))
    out = model(images)
    z_mean, z_log_var = model.encoder(images)
    np.testing.assert_array_equal(out, model.decoder(z_mean))
    np.testing.assert_array_equal(out, model(images))  # deterministic
    sampled = model.decoder(model.reparameterize(z_mean, z_log_var))
    assert float(tf.reduce_max(tf.abs(sampled - out))) > 1e-3
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0


def _set_posterior(model, mean, log_var):
    """Makes the encoder output `(mean, log_var)` for every image: zero kernels, constant biases."""
    for name, value in (("z_mean", mean), ("z_log_var", log_var)):
        kernel, bias = model.encoder.get_layer(name).weights
        kernel.assign(np.zeros(kernel.shape, "float32"))
        bias.assign(np.full(bias.shape, value, "float32"))


@pytest.mark.parametrize("mean, variance", [(0.0, 1.0), (1.0, 1.0), (0.0, 4.0), (-0.5, 0.25)])
def test_kl_term_of_the_loss_is_the_closed_form_and_zero_for_a_standard_normal_posterior(mean, variance):
    model = tiny_model("vae")
    _set_posterior(model, mean, np.log(variance))
    images = tf.constant(tiny_images(model, n=4))
    z_mean, z_log_var = model.encoder(images)
    np.testing.assert_allclose(z_mean, np.full((4, model.latent_dim), mean), atol=1e-7)
    np.testing.assert_allclose(np.exp(z_log_var), np.full((4, model.latent_dim), variance), rtol=1e-6)
    loss, reconstruction, kl = model.compute_losses(images, training=False)
    # KL(N(m, v) || N(0, 1)) = (v + m^2 - 1 - log v) / 2 per latent dimension.
    expected = 0.5 * model.latent_dim * (variance + mean**2 - 1.0 - np.log(variance))
    assert float(kl) == pytest.approx(expected, abs=1e-6)
    assert float(loss) == pytest.approx(float(reconstruction) + expected, rel=1e-6)
    if mean == 0.0 and variance == 1.0:
        assert float(kl) == 0.0


def test_training_on_a_fixed_batch_improves_its_reconstruction():
    import keras

    from zoo import losses

    model = tiny_model("vae")
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    images = np.zeros((4, 16, 16, 1), "float32")  # four bars and boxes
    images[0, 2:8, 2:14] = images[1, 8:14, 4:12] = images[2, :, 6:10] = images[3, 4:12, 4:12] = 1.0

    def reconstruction_error():  # from the posterior mean: no sampling noise
        return float(tf.reduce_mean(losses.bernoulli_reconstruction_loss(images, model(images))))

    before = reconstruction_error()
    model.fit(np.tile(images, (40, 1, 1, 1)), batch_size=4, epochs=1, verbose=0, shuffle=False)  # 40 steps
    assert reconstruction_error() < 0.9 * before


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
