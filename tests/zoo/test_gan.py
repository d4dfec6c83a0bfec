"""GAN family behaviour."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import tiny_images, tiny_model


def test_dcgan_alternates_one_discriminator_and_one_generator_step():
    model = tiny_model("dcgan")
    model.fit(tiny_images(model, n=12), batch_size=4, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 3


@pytest.mark.parametrize("name, critic_steps", [("dcgan", 1), ("wgan_gp", 2)])
def test_discriminator_step_changes_only_the_discriminator_and_generator_step_only_the_generator(
        name, critic_steps, monkeypatch):
    model = tiny_model(name, **({"critic_steps": critic_steps} if name == "wgan_gp" else {}))
    model.compile(**model.default_optimizers(), run_eagerly=True)  # snapshots need eager steps
    networks = {"d": model.discriminator, "g": model.generator_network}

    def snapshot():
        return {k: [w.numpy().copy() for w in net.trainable_weights] for k, net in networks.items()}

    # The state after each update, in order; a step is everything from the end
    # of the previous update (fakes, losses, gradients) to the end of its own.
    states, players = [snapshot()], []
    for player in networks:
        optimizer = getattr(model, f"{player}_optimizer")

        def apply_and_record(grads_and_vars, player=player, apply=optimizer.apply_gradients):
            result = apply(grads_and_vars)
            players.append(player)
            states.append(snapshot())
            return result

        monkeypatch.setattr(optimizer, "apply_gradients", apply_and_record)
    model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0)  # 2 batches
    assert players == (["d"] * critic_steps + ["g"]) * 2
    for player, before, after in zip(players, states, states[1:]):
        other = "g" if player == "d" else "d"
        # Trainable weights only: batch-norm moving statistics follow the
        # batches either network sees in training mode, by design.
        for unchanged, now in zip(before[other], after[other]):
            np.testing.assert_array_equal(now, unchanged)
        assert any(not np.array_equal(a, b) for a, b in zip(before[player], after[player]))


def test_compile_without_optimizers_installs_no_hidden_default():
    model = tiny_model("dcgan")
    # No hidden RMSprop: model.optimizer is the view of the two that LR callbacks use.
    assert not isinstance(model.optimizer, keras.optimizers.Optimizer)
    assert model.optimizer.variables == model.d_optimizer.variables + model.g_optimizer.variables
    with pytest.raises(TypeError):
        model.compile()


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
    from export.artifacts import QUALITY_SEEDS
    from export.saved_model import run_saved_model

    model = tiny_model("dcgan", ema_decay=0.5)
    model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0)
    # Two steps barely move the weights; move the trained network far from
    # its average so that serving the wrong one shows.
    for weight in model.generator_network.trainable_weights:
        weight.assign(weight * 3.0 + 0.1)
    model.save(tmp_path / "model.keras")
    loaded = zoo.load(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.sample(4), model.sample(4))
    manifest = export_run(str(tmp_path), variants=("float32",), latency_runs=5)
    # The SavedModel serves the average, not the network being trained, and
    # the manifest records the difference measured on the quality seeds.
    z = zoo.latents_from_seeds(QUALITY_SEEDS, model.latent_dim).numpy()
    served = run_saved_model(str(tmp_path / "saved_model" / "1"), z).astype(int)
    average = zoo.images.to_uint8(model.ema_generator(z, training=False), model.pixel_range).numpy()
    trained = zoo.images.to_uint8(model.generator_network(z, training=False), model.pixel_range).numpy()
    assert manifest["parity"]["saved_model"]["max_abs_diff"] == np.abs(served - average.astype(int)).max()
    assert np.abs(served - trained.astype(int)).max() > 10
    with pytest.raises(ValueError, match="ema_decay=1"):
        tiny_model("dcgan", ema_decay=1)


def test_keras_io_preset_reproduces_the_keras_io_networks_parameter_for_parameter():
    name, arguments = zoo.preset("wgan_gp_keras_io")
    model = zoo.create(name, **arguments)
    assert model.generator.count_params() == 910_660
    assert model.discriminator.count_params() == 4_305_409
    kinds = [type(layer).__name__ for layer in model.generator.layers]
    assert kinds.count("UpSampling2D") == 3 and kinds.count("BatchNormalization") == 4
    assert "Conv2DTranspose" not in kinds
    assert [type(layer).__name__ for layer in model.discriminator.layers].count("Dropout") == 3
    assert model.generate(np.zeros((2, 128), "float32")).shape == (2, 28, 28, 1)
    optimizers = model.default_optimizers(**zoo.preset_learning_rates("wgan_gp_keras_io"))
    for optimizer in optimizers.values():
        assert (float(optimizer.learning_rate), optimizer.beta_1, optimizer.beta_2) == pytest.approx((2e-4, 0.5, 0.9))


@pytest.mark.parametrize("name, options, refused", [
    ("cgan", {}, "num_classes=10"),
    ("sngan", {}, "spectral"),
    ("dcgan", {"minibatch_stddev": True}, "minibatch_stddev"),
])
def test_keras_io_architecture_refuses_options_its_networks_lack(name, options, refused):
    with pytest.raises(ValueError, match=refused):
        zoo.create(name, image_shape=(16, 16, 1), latent_dim=8, width=8, architecture="keras_io", **options)


def test_unknown_architecture_is_refused_by_name():
    with pytest.raises(ValueError, match="architecture='stylegan'.*'dcgan', 'keras_io'"):
        tiny_model("dcgan", architecture="stylegan")


def test_keras_io_architecture_trains_and_round_trips_a_keras_file(tmp_path):
    model = tiny_model("wgan_gp", architecture="keras_io", critic_steps=2, gp_interval=2,
                       gp_batch_shrink=2, joint_discriminator_pass=True)
    history = model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    model.save(tmp_path / "model.keras")
    loaded = zoo.load(tmp_path / "model.keras")
    assert loaded.get_config()["architecture"] == "keras_io" and loaded.gp_interval == 2
    assert loaded.gp_batch_shrink == 2
    np.testing.assert_array_equal(loaded.sample(4, seed=3), model.sample(4, seed=3))


def test_joint_discriminator_pass_scores_real_and_fake_as_two_passes_do():
    real, fake = (tf.constant(tiny_images(tiny_model("wgan_gp"), n=4, seed=s)) for s in (1, 2))
    two = tiny_model("wgan_gp")
    joint = tiny_model("wgan_gp", joint_discriminator_pass=True)
    joint.set_weights(two.get_weights())
    for separate, together in zip(two.discriminate_pair(real, fake, training=True),
                                  joint.discriminate_pair(real, fake, training=True)):
        np.testing.assert_allclose(together, separate, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, options, named", [
    ("dcgan", {}, "batch-norm discriminator"),
    ("wgan_gp", {"minibatch_stddev": True}, "minibatch_stddev"),
    ("wgan_gp", {"pack": 2}, "pack=2"),
])
def test_joint_discriminator_pass_is_refused_where_batch_statistics_would_mix_real_and_fake(name, options, named):
    with pytest.raises(ValueError, match=named):
        tiny_model(name, joint_discriminator_pass=True, **options)


def test_without_average_samples_from_the_trained_generator():
    model = tiny_model("dcgan", ema_decay=0.5)
    model.fit(tiny_images(model), batch_size=4, epochs=1, verbose=0)
    raw = model.without_average()
    assert raw.ema_generator is None and raw.get_config()["ema_decay"] == 0.0
    z = model.latents(range(4))
    np.testing.assert_array_equal(raw.generate(z), model.generator_network(z))
    assert np.abs(raw.generate(z) - model.generate(z)).max() > 0  # the average differs from it
    assert tiny_model("dcgan").without_average() is None and tiny_model("vae").without_average() is None


def test_average_only_samples_what_the_average_does_from_one_generator():
    model = tiny_model("dcgan", ema_decay=0.5)
    model.fit(tiny_images(model), batch_size=4, epochs=1, verbose=0)
    average = model.average_only()
    assert average.ema_generator is None and average.get_config()["ema_decay"] == 0.0
    z = model.latents(range(4))
    np.testing.assert_array_equal(average.generate(z), model.generate(z))
    assert np.abs(average.generate(z) - model.generator_network(z)).max() > 0  # not the trained weights
    assert len(average.weights) < len(model.weights)
    assert tiny_model("dcgan").average_only() is None and tiny_model("vae").average_only() is None
