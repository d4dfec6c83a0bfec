"""GAN family behaviour."""

import numpy as np
import pytest
import tensorflow as tf

import zoo
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


def test_ema_weights_equal_the_decayed_average_after_k_steps():
    import keras

    decay = 0.9
    model = tiny_model("dcgan", ema_decay=decay)
    assert model.generator is model.ema_generator
    expected = [w.numpy().copy() for w in model.generator_network.weights]  # ema_0 = w_0

    class Track(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for i, w in enumerate(model.generator_network.weights):
                expected[i] = decay * expected[i] + (1 - decay) * w.numpy()

    model.fit(tiny_images(model, n=12), batch_size=4, epochs=1, verbose=0, callbacks=[Track()])
    for average, want in zip(model.ema_generator.weights, expected):
        np.testing.assert_allclose(average.numpy(), want, rtol=1e-5, atol=1e-6)
    # The average lags the trained weights, and sampling uses it.
    assert any(not np.allclose(a.numpy(), b.numpy())
               for a, b in zip(model.ema_generator.weights, model.generator_network.weights))
    z = zoo.latents_from_seeds(range(3), model.latent_dim)
    np.testing.assert_array_equal(
        model.sample(3), zoo.images.to_uint8(model.ema_generator(z, training=False), model.pixel_range))


def test_ema_generator_round_trips_and_exports(tmp_path):
    from export import export_run

    model = tiny_model("dcgan", ema_decay=0.5)
    model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = zoo.load(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.sample(4), model.sample(4))
    manifest = export_run(str(tmp_path))
    assert manifest["parity"]["tflite_max_abs_diff"] <= 1
    with pytest.raises(ValueError, match="ema_decay=1"):
        tiny_model("dcgan", ema_decay=1)
