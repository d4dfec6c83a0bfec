"""GAN variants that override one hook: losses and the discriminator's normalisation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import tiny_images, tiny_model
from zoo import losses


@pytest.mark.parametrize("name, d_loss, g_loss", [
    ("dcgan", losses.nonsaturating_discriminator_loss, losses.nonsaturating_generator_loss),
    ("lsgan", losses.least_squares_discriminator_loss, losses.least_squares_generator_loss),
    ("sngan", losses.hinge_discriminator_loss, losses.hinge_generator_loss),
    ("wgan_gp", losses.wasserstein_critic_loss, losses.wasserstein_generator_loss),
])
def test_each_gan_plays_its_own_game(name, d_loss, g_loss):
    model = tiny_model(name)
    real, fake = tf.constant([[0.3], [-1.2]]), tf.constant([[2.0], [0.1]])
    assert float(model.discriminator_loss(real, fake)) == pytest.approx(float(d_loss(real, fake)))
    assert float(model.generator_loss(fake)) == pytest.approx(float(g_loss(fake)))


def test_spectral_norm_brings_top_singular_values_to_one():
    keras.utils.set_random_seed(0)  # initial kernels and power-iteration vectors: not test-order dependent
    model = tiny_model("sngan")
    wrapped = [layer for layer in model.discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two convolutions and the output layer (16x16 input)
    images = tiny_images(model, n=4)
    for _ in range(100):  # one power iteration per training call; close top values converge slowly
        model.discriminator(images, training=True)
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert top == pytest.approx(1.0, abs=0.05), layer.name


def test_sngan_discriminator_has_no_batch_norm():
    kinds = {type(layer).__name__ for layer in tiny_model("sngan").discriminator.layers}
    assert "BatchNormalization" not in kinds


def test_r1_weight_adds_half_gamma_times_r1_to_the_discriminator_loss():
    model = tiny_model("dcgan", r1_weight=4.0)
    real = tf.constant(tiny_images(model, n=4))
    critic = lambda x: model.discriminator(x, training=True)  # noqa: E731
    expected = 2.0 * float(losses.r1_penalty(critic, real))
    assert float(model.discriminator_penalty(real, real)) == pytest.approx(expected, rel=1e-4)
    assert tiny_model("dcgan").discriminator_penalty(real, real) == 0.0


def test_wgan_gp_adds_r1_on_top_of_its_gradient_penalty():
    plain, both = tiny_model("wgan_gp", seed=3), tiny_model("wgan_gp", seed=3, r1_weight=2.0)
    both.set_weights(plain.get_weights())
    real = tf.constant(tiny_images(plain, n=4))
    fake = tf.constant(tiny_images(plain, n=4, seed=1))
    critic = lambda x: both.discriminator(x, training=True)  # noqa: E731
    r1 = float(losses.r1_penalty(critic, real))
    gp = float(plain.discriminator_penalty(real, fake))
    assert float(both.discriminator_penalty(real, fake)) == pytest.approx(gp + r1, rel=1e-4)


def test_label_smoothing_is_refused_for_other_games_and_bad_values():
    with pytest.raises(ValueError, match="label_smoothing applies to the non-saturating loss"):
        tiny_model("lsgan", label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"label_smoothing=1.0"):
        tiny_model("dcgan", label_smoothing=1.0)
    with pytest.raises(ValueError, match="r1_weight=-1"):
        tiny_model("dcgan", r1_weight=-1)


def test_smoothed_dcgan_discriminator_loss_uses_the_smoothed_target():
    model = tiny_model("dcgan", label_smoothing=0.1)
    real, fake = tf.constant([[2.0]]), tf.constant([[-1.0]])
    expected = losses.nonsaturating_discriminator_loss(real, fake, real_label=0.9)
    assert float(model.discriminator_loss(real, fake)) == pytest.approx(float(expected))


def test_truncation_scales_the_latents():
    model = tiny_model("dcgan")
    z = zoo.latents_from_seeds(range(3, 7), model.latent_dim)
    expected = zoo.images.to_uint8(model.generator(0.5 * z, training=False), model.pixel_range)
    np.testing.assert_array_equal(model.sample(4, seed=3, truncation=0.5), expected)
    with pytest.raises(ValueError, match="truncation=0"):
        model.sample(2, truncation=0)


@pytest.mark.parametrize("prior", ["uniform", "truncated_normal"])
def test_latent_prior_is_honoured_by_training_sample_and_config(prior):
    model = tiny_model("dcgan", latent_prior=prior)
    assert type(model).from_config(model.get_config()).latent_prior == prior
    z = model.random_latents(2000).numpy()
    bound = 1.0 if prior == "uniform" else 2.0
    assert np.abs(z).max() <= bound
    expected = zoo.images.to_uint8(
        model.generator(zoo.latents_from_seeds(range(4), model.latent_dim, prior), training=False),
        model.pixel_range,
    )
    np.testing.assert_array_equal(model.sample(4, seed=0), expected)


def test_unknown_latent_prior_is_refused():
    with pytest.raises(ValueError, match="latent_prior='laplace'"):
        tiny_model("dcgan", latent_prior="laplace")
