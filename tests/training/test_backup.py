"""`TrainingBackup` in a user's own `fit` script: interrupted runs continue bit for bit."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from training import data
from training.callbacks import BackupError, TrainingBackup, training_state_variables

TINY = {"image_shape": (16, 16, 1), "latent_dim": 8, "width": 8, "seed": 1}


class Interrupt(Exception):
    pass


class InterruptAfter(keras.callbacks.Callback):
    """Raises after `n` training steps, as a crash would end the process."""

    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.n:
            raise Interrupt


def _fit(name, path, epochs=3, every=4, interrupt_after=None, overrides=None):
    keras.utils.set_random_seed(0)
    model = zoo.create(name, **{**TINY, **(overrides or {})})
    if name == "vae":  # a plain Keras compile: the optimizer is built lazily
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    else:
        model.compile(**model.default_optimizers())
    backup = TrainingBackup(path, every=every)
    train, steps = data.stream("fashion_mnist", "train[:320]", model=model, batch_size=32, seed=2,
                               start_step=backup.step)
    callbacks = [backup] + ([InterruptAfter(interrupt_after)] if interrupt_after else [])
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=0)
    return model, history.history


def _state(model):
    return {f"{g}/{i}": keras.ops.convert_to_numpy(v)
            for g, vs in training_state_variables(model).items() for i, v in enumerate(vs)}


@pytest.fixture(autouse=True)
def deterministic_ops():
    from tensorflow.python.framework import config  # the only way back (no public disable)

    was_enabled = config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:  # Keras turns jit_compile off under determinism: leave other tests as they were
        config.disable_op_determinism()


@pytest.mark.parametrize("name, overrides", [
    ("dcgan", {"ema_decay": 0.9, "diffaugment": "translation"}),
    pytest.param("wgan_gp", {"critic_steps": 2}, marks=pytest.mark.slow),  # the slow tier: the other games
    pytest.param("vae", None, marks=pytest.mark.slow),
    ("cgan", None),
])
def test_interrupted_fit_resumes_mid_epoch_to_identical_state(tmp_path, name, overrides):
    reference, reference_history = _fit(name, tmp_path / "reference.npz", overrides=overrides)
    with pytest.raises(Interrupt):  # step 17: the backup of step 16 is mid-epoch 2 (10 steps each)
        _fit(name, tmp_path / "backup.npz", interrupt_after=17, overrides=overrides)
    position = TrainingBackup(tmp_path / "backup.npz").position
    assert position == {"epoch": 1, "batch": 6, "step": 16}
    resumed, history = _fit(name, tmp_path / "backup.npz", overrides=overrides)
    expected, found = _state(reference), _state(resumed)
    assert expected.keys() == found.keys() and len(found) > 10
    # Weights, batch-norm statistics, EMA, RNG and optimizer states: bit for bit.
    training_state = [k for k in expected if not k.startswith("metrics/")]
    assert [k for k in training_state if not np.array_equal(expected[k], found[k])] == []
    # Loss trackers: the VAE's summed loss varies by a few ulp between uninterrupted fits
    # in one process (measured: 1-2 ulp over three runs; weights bit-identical), so not a resume effect.
    for key in expected.keys() - set(training_state):
        np.testing.assert_array_max_ulp(expected[key], found[key], maxulp=16)
    # The resumed fit ran epochs 2-3; epoch 2's logged means include the steps before the kill.
    assert history.keys() == reference_history.keys()
    for key, values in history.items():
        np.testing.assert_allclose(values, reference_history[key][1:], rtol=1e-6)


def test_backup_is_written_after_epochs_and_every_n_steps(tmp_path):
    path = tmp_path / "backup.npz"
    _fit("dcgan", path, epochs=1, every=3)
    with np.load(path) as stored:
        meta = json.loads(stored["__meta__"].tobytes())
    assert (meta["epoch"], meta["batch"], meta["step"]) == (1, 0, 10)


def test_a_backup_of_another_model_is_refused(tmp_path):
    path = tmp_path / "backup.npz"
    _fit("dcgan", path, epochs=1)
    with pytest.raises(BackupError, match="different model"):
        _fit("dcgan", path, epochs=2, overrides={"latent_dim": 16})


def test_a_damaged_backup_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "backup.npz"
    path.write_bytes(b"PK\x03\x04 not an archive")
    backup = TrainingBackup(path)  # read when first needed, so --overwrite can replace it
    with pytest.raises(BackupError, match="damaged.*--overwrite"):
        backup.step


def test_a_backup_written_before_gans_logged_loss_still_resumes_to_identical_state(tmp_path):
    reference, reference_history = _fit("dcgan", tmp_path / "reference.npz", epochs=2)
    path = tmp_path / "backup.npz"
    with pytest.raises(Interrupt):  # the backup of step 16: mid-epoch 2
        _fit("dcgan", path, epochs=2, interrupt_after=17)
    # Rewrite it as the old code wrote it: trackers d_loss and g_loss only
    # (`loss`'s total and count come first in the model's metrics).
    with np.load(path) as stored:
        arrays = {k: stored[k] for k in stored.files}
    meta = json.loads(arrays.pop("__meta__").tobytes())
    assert [m.name for m in reference.metrics] == ["loss", "d_loss", "g_loss"]
    old = {k: v for k, v in arrays.items() if not k.startswith("metrics/")}
    old.update({f"metrics/{i}": arrays[f"metrics/{i + 2}"] for i in range(4)})
    meta["shapes"] = {k: list(v.shape) for k, v in old.items()}
    np.savez(path, **old, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))

    resumed, history = _fit("dcgan", path, epochs=2)
    expected, found = _state(reference), _state(resumed)
    training_state = [k for k in expected if not k.startswith("metrics/")]
    assert [k for k in training_state if not np.array_equal(expected[k], found[k])] == []
    # Epoch 2's means cover the 4 steps after the resume only, so they differ.
    assert history["loss"][0] != pytest.approx(reference_history["loss"][1])
    np.testing.assert_allclose(np.add(history["d_loss"], history["g_loss"]), history["loss"], rtol=1e-6)
