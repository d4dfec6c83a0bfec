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
    model = tiny_model("sngan")
    wrapped = [l for l in model.discriminator.layers if isinstance(l, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two convolutions and the output layer (16x16 input)
    images = tiny_images(model, n=4)
    for _ in range(30):  # one power iteration per training call
        model.discriminator(images, training=True)
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert top == pytest.approx(1.0, abs=0.05), layer.name


def test_sngan_discriminator_has_no_batch_norm():
    kinds = {type(l).__name__ for l in tiny_model("sngan").discriminator.layers}
    assert "BatchNormalization" not in kinds
