"""The battery every registered model gets for free."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import tiny_images, tiny_labels, tiny_model
from zoo.latents import labels_from_seeds


def _optimizers(model):
    """The optimizers that train `model` (a GAN's `optimizer` only links their learning rates)."""
    return {
        name: getattr(model, name)
        for name in ("optimizer", "d_optimizer", "g_optimizer")
        if isinstance(getattr(model, name, None), keras.optimizers.Optimizer)
    }


def _fit_one_step(model, images):
    dataset = tf.data.Dataset.from_tensor_slices((images, tiny_labels(len(images))))
    return model.fit(dataset.batch(len(images)), epochs=1, verbose=0)


def test_one_fit_step_gives_finite_losses(model_name):
    model = tiny_model(model_name)
    history = _fit_one_step(model, tiny_images(model))
    assert history.history, "fit logged nothing"
    for key, values in history.history.items():
        assert np.isfinite(values).all(), (key, values)


def test_validation_data_is_evaluated(model_name):
    model = tiny_model(model_name)
    images = tiny_images(model)
    labels = tiny_labels(len(images))
    history = model.fit(images, labels, validation_data=(images, labels), batch_size=4, epochs=1,
                        verbose=0)
    val_keys = [k for k in history.history if k.startswith("val_")]
    assert val_keys and all(np.isfinite(history.history[k]).all() for k in val_keys)


def test_get_config_round_trips(model_name):
    model = tiny_model(model_name)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == model.count_params()


def test_keras_file_round_trips_outputs_and_optimizer_states(model_name, tmp_path):
    model = tiny_model(model_name)
    _fit_one_step(model, tiny_images(model))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)

    assert type(loaded) is type(model)
    z = model.latents(range(4))
    labels = labels_from_seeds(range(4), model.num_classes)
    np.testing.assert_array_equal(loaded.generate(z, labels), model.generate(z, labels))
    np.testing.assert_array_equal(loaded.sample(4, seed=7), model.sample(4, seed=7))
    for name, optimizer in _optimizers(model).items():
        restored = getattr(loaded, name)
        assert int(restored.iterations) == int(optimizer.iterations) > 0
        assert len(restored.variables) == len(optimizer.variables)
        for a, b in zip(optimizer.variables, restored.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{name}/{a.path}")


def test_training_resumed_from_file_matches_uninterrupted_training(model_name, tmp_path):
    model = tiny_model(model_name)
    images = tiny_images(model)
    _fit_one_step(model, images)
    model.save(tmp_path / "model.keras")
    resumed = zoo.load(tmp_path / "model.keras")
    _fit_one_step(model, images)
    _fit_one_step(resumed, images)
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_model_checkpoint_callback_saves_a_loadable_model(model_name, tmp_path):
    model = tiny_model(model_name)
    path = str(tmp_path / "best.keras")
    images = tiny_images(model)
    model.fit(images, tiny_labels(len(images)), batch_size=4, epochs=1, verbose=0,
              callbacks=[keras.callbacks.ModelCheckpoint(path)])
    assert type(zoo.load(path)) is type(model)


def test_sample_is_uint8_in_shape_and_deterministic(model_name):
    model = tiny_model(model_name)
    images = model.sample(5, seed=3)
    assert images.dtype == tf.uint8 and tuple(images.shape) == (5, *model.image_shape)
    np.testing.assert_array_equal(images, model.sample(5, seed=3))
    # Image i comes from seed + i, whatever n is.
    np.testing.assert_array_equal(images[2:], model.sample(3, seed=5))


def test_generator_maps_latents_to_the_declared_pixel_range(model_name):
    model = tiny_model(model_name)
    z = model.latents(range(8)) * 10.0
    out = model.generate(z, labels_from_seeds(range(8), model.num_classes))
    low, high = model.pixel_range
    assert out.shape == (8, *model.image_shape)
    assert float(tf.reduce_min(out)) >= low and float(tf.reduce_max(out)) <= high


def test_models_build_at_the_supported_image_sizes(model_name):
    for shape in [(28, 28, 1), (32, 32, 3), (64, 64, 3)]:
        model = zoo.create(model_name, **{**zoo.get(model_name).TINY_CONFIG, "image_shape": shape})
        assert tuple(model.sample(2).shape) == (2, *shape)


def test_compile_passes_jit_compile_and_steps_per_execution_through_to_keras(model_name):
    model = tiny_model(model_name)
    model.compile(**model.default_optimizers(), jit_compile=True, steps_per_execution=3)
    assert model.jit_compile is True and model.steps_per_execution == 3
    # Trained without XLA: it is very slow on this CPU (see PITFALLS).
    model.compile(**model.default_optimizers(), jit_compile=False, steps_per_execution=2)
    assert model.jit_compile is False and model.steps_per_execution == 2
    ends = []
    dataset = tf.data.Dataset.from_tensor_slices((tiny_images(model, n=24), tiny_labels(24))).batch(4)
    model.fit(dataset, epochs=1, verbose=0,  # 6 batches
              callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: ends.append(batch))])
    assert len(ends) == 3  # two steps per execution
    # A GAN's critic takes critic_steps updates per step, its generator one; another model's optimizer one.
    expected = {name: 6 * (getattr(model, "critic_steps", 1) if name == "d_optimizer" else 1)
                for name in model.default_optimizers()}
    assert {name: int(optimizer.iterations) for name, optimizer in _optimizers(model).items()} == expected


def _terms_of_loss(model, logs):
    """The logged values whose sum `loss` is, as the model's family documents it."""
    if isinstance(model, zoo.GAN):
        return [logs["d_loss"], logs["g_loss"]]
    if isinstance(model, zoo.TwoStageVAE):
        return [logs["reconstruction_loss"], logs["kl_loss"], logs["second_loss"]]
    if isinstance(model, zoo.VAE):
        return [logs["reconstruction_loss"], model.kl_weight() * logs["kl_loss"]]
    if [metric.name for metric in model.metrics] == ["loss"]:
        return [logs["loss"]]  # one term
    raise AssertionError(f"{type(model).__name__}: say here what its `loss` sums")


def test_logged_loss_is_the_sum_of_the_logged_parts_in_training_and_evaluation(model_name):
    model = zoo.create(model_name, **zoo.get(model_name).TINY_CONFIG)
    model.compile(**model.default_optimizers(), run_eagerly=True)  # one step each: not worth a trace
    images = tiny_images(model)
    labels = tiny_labels(len(images))
    trained = {k: v[0] for k, v in model.fit(images, labels, batch_size=8, verbose=0).history.items()}
    evaluated = model.evaluate(images, labels, batch_size=8, verbose=0, return_dict=True)
    for logs in (trained, evaluated):
        terms = _terms_of_loss(model, logs)
        # float32 sums of terms that may cancel (a critic's loss is often negative).
        assert logs["loss"] == pytest.approx(sum(terms), rel=0, abs=1e-6 * sum(map(abs, terms)) + 1e-7)


def test_the_contract_describes_what_the_model_does(model_name):
    model = tiny_model(model_name)
    contract = model.contract
    seeds = np.arange(3)
    z = model.latents(seeds)
    assert tuple(z.shape) == (3, *contract.latent_shape)
    labels = labels_from_seeds(seeds, contract.num_classes)
    images = model.generate(z, labels)
    assert tuple(images.shape) == (3, *contract.image_shape)
    low, high = contract.pixel_range
    assert low <= float(keras.ops.min(images)) and float(keras.ops.max(images)) <= high
    np.testing.assert_array_equal(model.sample(3, seed=0).numpy().shape, (3, *contract.image_shape))
    if contract.encodes:
        z_mean, z_log_var = model.encode(images, None if labels is None else keras.ops.convert_to_tensor(labels))
        assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (3, *contract.latent_shape)
    else:
        with pytest.raises(NotImplementedError, match="does not encode"):
            model.encode(images)
    if contract.sampling_steps is None:  # one network call: its output is the image, and export's int8 tail uses it
        assert tuple(model.image_network().output_shape) == (None, *contract.image_shape)
    else:
        assert contract.sampling_steps >= 1 and model.image_network() is None
    assert contract.to_json()["image_shape"] == list(contract.image_shape)


def test_the_tiny_config_makes_a_small_model(model_name):
    model = zoo.create(model_name, **zoo.get(model_name).TINY_CONFIG)
    assert model.count_params() < 200_000, model.count_params()
