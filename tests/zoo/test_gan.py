"""GAN family behaviour."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import tiny_images, tiny_model


@pytest.mark.parametrize("critic_steps", [1, 3])
def test_critic_takes_exactly_n_steps_per_generator_step(critic_steps):
    model = tiny_model("wgan_gp", critic_steps=critic_steps)
    model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0)  # 2 batches
    assert int(model.g_optimizer.iterations) == 2
    assert int(model.d_optimizer.iterations) == 2 * critic_steps


def test_dcgan_alternates_one_discriminator_and_one_generator_step():
    model = tiny_model("dcgan")
    model.fit(tiny_images(model, n=12), batch_size=4, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 3


def test_generator_step_changes_only_generator_and_discriminator_step_only_discriminator():
    model = tiny_model("dcgan")
    g_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    model.fit(tiny_images(model, n=4), batch_size=4, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(g_before, model.generator.trainable_weights))
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(d_before, model.discriminator.trainable_weights))


def test_compile_without_optimizers_installs_no_hidden_default():
    model = tiny_model("dcgan")
    assert model.optimizer is None
    with pytest.raises(TypeError):
        model.compile()


def test_wgan_gp_rejects_zero_critic_steps():
    with pytest.raises(ValueError, match="critic_steps=0"):
        tiny_model("wgan_gp", critic_steps=0)


def test_wgan_gp_critic_has_no_batch_norm():
    model = tiny_model("wgan_gp")
    kinds = {type(layer).__name__ for layer in model.discriminator.layers}
    assert "BatchNormalization" not in kinds


def test_pack_samples_stacks_consecutive_images_on_channels():
    from zoo.gan import pack_samples

    images = np.arange(5 * 2 * 2 * 3, dtype="float32").reshape(5, 2, 2, 3)
    packed = pack_samples(tf.constant(images), 2).numpy()
    assert packed.shape == (2, 2, 2, 6)  # the fifth image is dropped
    for i in range(2):
        for j in range(2):
            np.testing.assert_array_equal(packed[i, ..., 3 * j : 3 * j + 3], images[2 * i + j])
    np.testing.assert_array_equal(pack_samples(tf.constant(images), 1), images)


def test_pacgan_discriminator_sees_packed_samples_and_trains():
    model = tiny_model("dcgan", pack=2)
    assert model.discriminator.input_shape == (None, 16, 16, 2)
    history = model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    scores = model.discriminate(tf.constant(tiny_images(model, n=6)), training=False)
    assert scores.shape == (3, 1)
    with pytest.raises(ValueError, match="pack=0"):
        tiny_model("dcgan", pack=0)
