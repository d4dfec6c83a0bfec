"""Every callback `keras.callbacks` exports, in a user's own `fit`, on every model family.

Each callback gets two short epochs (8 images, batch 4) and a check of its
effect, not only that it ran. One compiled model per family is shared by the
tests (tracing `train_step` is most of a tiny fit's cost) and reset to its
initial weights and optimizer states before each test. GANs are compiled
with a TTUR pair, so the learning-rate callbacks must keep its ratio.
"""

import csv
import glob
import http.server
import inspect
import json
import os
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import families, tiny_images, tiny_labels, tiny_model

D_LR, G_LR = 4e-4, 1e-4  # a GAN's two rates
VAE_LR = 1e-3  # a one-optimizer model's rate
EPOCHS, BATCHES = 2, 2  # per fit: 8 images in batches of 4

#: Every class `keras.callbacks` exports: a new Keras callback gets a case here for free.
CALLBACKS = sorted(name for name, value in vars(keras.callbacks).items() if isinstance(value, type))

SKIPPED = {
    "Callback": "the abstract base; LambdaCallback runs its hooks",
    "CallbackList": "the container `fit` builds from the callbacks it is given, not a callback to pass",
}


def _optimizers(model):
    """The optimizers that train `model`: those its `default_optimizers` compiles (a GAN's two, a VAE's one)."""
    return [getattr(model, key) for key in model.default_optimizers()]


def _rates(model):
    """`default_optimizers` learning-rate arguments: a GAN's two (TTUR), one model's one."""
    names = [name for name in inspect.signature(model.default_optimizers).parameters if name.endswith("lr")]
    return dict(zip(names, [D_LR, G_LR] if len(names) == 2 else [VAE_LR]))


class Family:
    """A compiled tiny model of one family, with its initial state to reset to."""

    _cache = {}

    def __init__(self, name):
        self.name = name
        self.model = zoo.create(name, **{**zoo.get(name).TINY_CONFIG, "seed": 1})
        self.gan = isinstance(self.model, zoo.GAN)  # the GAN-only checks: TTUR ratio, no optimizer EMA
        self.learning_rates = _rates(self.model)
        self.model.compile(**self.model.default_optimizers(**self.learning_rates))
        self.keys = [metric.name for metric in self.model.metrics]  # the losses `fit` logs
        self.x = tiny_images(self.model)
        self.y = tiny_labels(len(self.x))
        self._initial = [v.numpy() for v in self._state()]

    @classmethod
    def get(cls, name):
        if name not in cls._cache:
            cls._cache[name] = cls(name)
        family = cls._cache[name]
        family.reset()
        return family

    def _state(self):
        variables = list(self.model.variables) + [self.model.seed_generator.state]
        return variables + [v for o in _optimizers(self.model) for v in o.variables]

    def reset(self):
        for variable, value in zip(self._state(), self._initial):
            variable.assign(value)
        # BackupAndRestore leaves the epoch it resumed at on the model, and
        # Keras 3.15's `fit` starts every later fit there.
        self.model._initial_epoch = None

    def fit(self, callbacks, x=None, epochs=EPOCHS, verbose=0, **kwargs):
        return self.model.fit(
            self.x if x is None else x, self.y, batch_size=4, epochs=epochs, verbose=verbose,
            callbacks=callbacks, **kwargs,
        )

    def rates(self):
        return [float(o.learning_rate) for o in _optimizers(self.model)]

    def initial_rates(self):
        return list(self.learning_rates.values())

    def steps(self):
        return [int(o.iterations) for o in _optimizers(self.model)]

    def trainable(self):
        return [w.numpy() for w in self.model.trainable_weights]

    def sample(self, model=None):
        return (model or self.model).sample(4, seed=0).numpy()


@pytest.fixture(params=families())
def family(request):
    return Family.get(request.param)


def _assert_same(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


# One check per callback class: it builds the callback, fits, and asserts its effect.

def check_BackupAndRestore(family, tmp_path, capsys):
    backup_dir = str(tmp_path / "backup")

    class Crash(Exception):
        pass

    after_first = {}

    def first_epoch_end(epoch, logs):
        after_first.update(weights=family.trainable(), steps=family.steps())

    def crash(epoch, logs):
        if epoch == 1:
            raise Crash()

    probe = keras.callbacks.LambdaCallback(on_epoch_end=first_epoch_end, on_epoch_begin=crash)
    with pytest.raises(Crash):
        family.fit([keras.callbacks.BackupAndRestore(backup_dir), probe])

    family.reset()  # a restarted script builds its model afresh
    at_start = {}
    probe = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: at_start.update(weights=family.trainable(), steps=family.steps()))
    history = family.fit([keras.callbacks.BackupAndRestore(backup_dir), probe])
    assert history.epoch == [1], "training did not resume at the second epoch"
    assert at_start["steps"] == after_first["steps"] and min(after_first["steps"]) > 0
    _assert_same(at_start["weights"], after_first["weights"])
    assert not os.path.exists(backup_dir) or not os.listdir(backup_dir), "the backup outlived the training"


def check_CSVLogger(family, tmp_path, capsys):
    path = tmp_path / "log.csv"
    history = family.fit([keras.callbacks.CSVLogger(str(path))])
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == EPOCHS and [int(r["epoch"]) for r in rows] == [0, 1]
    for key in family.keys:
        np.testing.assert_allclose([float(r[key]) for r in rows], history.history[key], rtol=1e-6)


def check_EarlyStopping(family, tmp_path, capsys):
    after_first = {}
    probe = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epoch == 0 and after_first.update(weights=family.trainable()))
    # With this min_delta no epoch improves on the first: it stops as soon as it may (epoch 2 of 3).
    # `loss` with mode "auto": Keras knows a loss is minimised (for "d_loss" it would refuse to guess).
    stopper = keras.callbacks.EarlyStopping(
        monitor="loss", patience=0, min_delta=1e9, restore_best_weights=True)
    history = family.fit([probe, stopper], epochs=3)
    assert history.epoch == [0, 1] and stopper.stopped_epoch == 1
    _assert_same(family.trainable(), after_first["weights"])  # the first epoch's, restored


def check_History(family, tmp_path, capsys):
    mine = keras.callbacks.History()
    returned = family.fit([mine])
    assert returned is mine and mine.epoch == [0, 1]
    assert set(mine.history) == set(family.keys)
    assert all(len(v) == EPOCHS and np.isfinite(v).all() for v in mine.history.values())


def check_LambdaCallback(family, tmp_path, capsys):
    seen = {"batches": 0, "epochs": []}
    probe = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.update(batches=seen["batches"] + 1),
        on_epoch_end=lambda epoch, logs: seen["epochs"].append((epoch, sorted(logs))),
    )
    family.fit([probe])
    assert seen["batches"] == EPOCHS * BATCHES
    assert seen["epochs"] == [(e, sorted(family.keys)) for e in range(EPOCHS)]


def check_LearningRateScheduler(family, tmp_path, capsys):
    # A relative schedule scales the rate it is given: every rate halves per epoch.
    history = family.fit([keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    expected = [lr * 0.25 for lr in family.initial_rates()]
    np.testing.assert_allclose(family.rates(), expected, rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], [expected[0] * 2, expected[0]], rtol=1e-6)
    # An absolute schedule sets the discriminator's (or the VAE's) rate; G keeps the ratio.
    family.reset()
    family.fit([keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 / (epoch + 1))])
    expected = [5e-4 * lr / family.initial_rates()[0] for lr in family.initial_rates()]
    np.testing.assert_allclose(family.rates(), expected, rtol=1e-6)


def check_ModelCheckpoint(family, tmp_path, capsys):
    whole = str(tmp_path / "epoch{epoch}.keras")
    weights = str(tmp_path / "model.weights.h5")
    family.fit([keras.callbacks.ModelCheckpoint(whole),
                keras.callbacks.ModelCheckpoint(weights, save_weights_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["epoch1.keras", "epoch2.keras", "model.weights.h5"]

    loaded = zoo.load(tmp_path / "epoch2.keras")
    np.testing.assert_array_equal(family.sample(loaded), family.sample())
    assert [int(o.iterations) for o in _optimizers(loaded)] == family.steps()
    assert [float(o.learning_rate) for o in _optimizers(loaded)] == family.rates()
    if family.gan:
        assert loaded.optimizer.ratio == family.model.optimizer.ratio

    rebuilt = type(family.model).from_config(family.model.get_config())
    rebuilt.load_weights(weights)
    np.testing.assert_array_equal(family.sample(rebuilt), family.sample())

    # Keeping the best epoch by `loss`, mode "auto": the first epoch always improves on nothing.
    family.reset()
    best = tmp_path / "best.keras"
    saved = []
    probe = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: saved.append(best.exists()))
    checkpoint = keras.callbacks.ModelCheckpoint(str(best), monitor="loss", save_best_only=True)
    history = family.fit([checkpoint, probe])
    assert saved[0] and checkpoint.best == pytest.approx(min(history.history["loss"]))


def check_ProgbarLogger(family, tmp_path, capsys):
    capsys.readouterr()
    family.fit([keras.callbacks.ProgbarLogger()], verbose=2)
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    assert all(out.count(f" {key}: ") == EPOCHS for key in family.keys), out


def check_ReduceLROnPlateau(family, tmp_path, capsys):
    # min_delta makes epoch 2 no improvement over epoch 1: one reduction by `factor`.
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor=family.keys[0], mode="min", factor=0.5, patience=0, min_delta=1e9)
    history = family.fit([reduce])
    expected = [lr * 0.5 for lr in family.initial_rates()]
    np.testing.assert_allclose(family.rates(), expected, rtol=1e-6)
    # Logged before the reduction at each epoch's end.
    np.testing.assert_allclose(history.history["learning_rate"], [family.initial_rates()[0]] * 2, rtol=1e-6)
    # Clamped at min_lr, the rates still keep their ratio.
    family.reset()
    floor = 0.8 * family.initial_rates()[0]
    family.fit([keras.callbacks.ReduceLROnPlateau(
        monitor=family.keys[0], mode="min", factor=0.5, patience=0, min_delta=1e9, min_lr=floor)])
    expected = [0.8 * lr for lr in family.initial_rates()]
    np.testing.assert_allclose(family.rates(), expected, rtol=1e-6)


def check_RemoteMonitor(family, tmp_path, capsys):
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        root = f"http://127.0.0.1:{server.server_address[1]}"
        family.fit([keras.callbacks.RemoteMonitor(root=root, send_as_json=True)])
    finally:
        server.shutdown()
        server.server_close()
    assert [r["epoch"] for r in received] == [0, 1]
    assert all(set(family.keys) <= set(r) for r in received)


def check_SwapEMAWeights(family, tmp_path, capsys):
    if family.gan:
        with pytest.raises(ValueError, match=r"SwapEMAWeights cannot act on .*ema_decay"):
            family.fit([keras.callbacks.SwapEMAWeights()])
        assert family.steps() == [0, 0], "training started before the refusal"
        # Nor is there anything to swap in: GANs refuse optimizers with use_ema.
        model = zoo.create(family.name, **zoo.get(family.name).TINY_CONFIG)
        with pytest.raises(ValueError, match="g_optimizer has use_ema=True.*ema_decay"):
            model.compile(d_optimizer="adam", g_optimizer=keras.optimizers.Adam(use_ema=True))
        assert not model.compiled
        return
    # A VAE is a plain one-optimizer model: evaluation runs on the optimizer's EMA
    # weights. (Eager: a second trace of this family would double its cost.)
    model = zoo.create(family.name, **zoo.get(family.name).TINY_CONFIG)
    model.compile(optimizer=keras.optimizers.Adam(VAE_LR, use_ema=True, ema_momentum=0.5),
                  run_eagerly=True)
    seen = {}

    def weights():
        return [w.numpy() for w in model.trainable_weights]

    probe = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.update(trained=weights()),
        on_test_begin=lambda logs: seen.update(evaluated=weights()),
    )
    model.fit(family.x, family.y, batch_size=4, epochs=EPOCHS, verbose=0,
              validation_data=(family.x, family.y), callbacks=[keras.callbacks.SwapEMAWeights(), probe])
    assert any(not np.array_equal(a, b) for a, b in zip(seen["evaluated"], seen["trained"]))
    # `fit` ends by keeping the averages, the weights the last evaluation saw
    # (up to the rounding of Keras's in-place swap by additions).
    for final, evaluated in zip(model.trainable_weights, seen["evaluated"]):
        np.testing.assert_allclose(final.numpy(), evaluated, atol=1e-6)


def check_TensorBoard(family, tmp_path, capsys):
    family.fit([keras.callbacks.TensorBoard(str(tmp_path / "logs"))])
    tags = set()
    for path in glob.glob(str(tmp_path / "logs" / "train" / "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    assert {f"epoch_{key}" for key in family.keys} <= tags, tags


def check_TerminateOnNaN(family, tmp_path, capsys):
    broken = np.full_like(family.x, np.nan)
    history = family.fit([keras.callbacks.TerminateOnNaN()], x=broken)
    assert family.steps()[-1] == 1, "training went on after a NaN loss"  # the generator's (or VAE's) step
    assert history.epoch == [0] and family.model.stop_training
    assert np.isnan(history.history["loss"]).all()


def check_OrbaxCheckpoint(family, tmp_path, capsys):
    pytest.importorskip("orbax.checkpoint", reason="orbax-checkpoint is not installed here")
    directory = tmp_path / "orbax"
    family.fit([keras.callbacks.OrbaxCheckpoint(str(directory), save_on_background=False)])
    assert directory.is_dir() and any(directory.iterdir())


def check_unknown(name):
    """A callback this file does not know yet: built without arguments, it must not break `fit`."""

    def check(family, tmp_path, capsys):
        try:
            callback = getattr(keras.callbacks, name)()
        except TypeError as error:
            pytest.fail(f"keras.callbacks.{name} needs arguments ({error}): add a check_{name} to this file")
        history = family.fit([callback])
        assert family.steps()[-1] == EPOCHS * BATCHES
        assert all(np.isfinite(history.history[key]).all() for key in family.keys)

    return check


@pytest.mark.parametrize("name", CALLBACKS)
def test_every_keras_callback_does_its_job_on_every_family(name, family, tmp_path, capsys):
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    globals().get(f"check_{name}", check_unknown(name))(family, tmp_path, capsys)


def test_every_check_is_a_keras_callback():
    checks = {name[len("check_"):] for name in globals() if name.startswith("check_")} - {"unknown"}
    assert checks <= set(CALLBACKS), checks - set(CALLBACKS)


# The learning rate GANs show Keras.

def test_gan_learning_rate_moves_both_optimizers_at_the_compiled_ratio():
    model = zoo.create("dcgan", image_shape=(16, 16, 1), latent_dim=8, width=8)
    model.compile(**model.default_optimizers(d_lr=D_LR, g_lr=G_LR))
    assert not isinstance(model.optimizer, keras.optimizers.Optimizer)  # no hidden third optimizer
    assert float(model.optimizer.learning_rate) == pytest.approx(D_LR)
    model.optimizer.learning_rate = 0.0  # e.g. warm-up from 0: the ratio must survive it
    assert float(model.g_optimizer.learning_rate) == 0.0
    model.optimizer.learning_rate = 1e-3
    assert float(model.g_optimizer.learning_rate) == pytest.approx(1e-3 * G_LR / D_LR)


def test_gan_learning_rate_ratio_survives_a_keras_file_saved_at_rate_zero(tmp_path):
    model = zoo.create("dcgan", image_shape=(16, 16, 1), latent_dim=8, width=8)
    model.compile(**model.default_optimizers(d_lr=D_LR, g_lr=G_LR))
    model.optimizer.learning_rate = 0.0
    model.save(tmp_path / "model.keras")
    loaded = zoo.load(tmp_path / "model.keras")
    assert float(loaded.d_optimizer.learning_rate) == float(loaded.g_optimizer.learning_rate) == 0.0
    loaded.optimizer.learning_rate = 2e-4
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(2e-4 * G_LR / D_LR)


def test_gan_learning_rate_refuses_to_guess_a_ratio_to_a_zero_rate():
    model = zoo.create("dcgan", image_shape=(16, 16, 1), latent_dim=8, width=8)
    model.compile(d_optimizer=keras.optimizers.Adam(0.0), g_optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="discriminator's learning rate was 0"):
        model.optimizer.learning_rate = 1e-4


def test_gan_refuses_unsupported_callbacks_however_they_are_passed():
    model = tiny_model("dcgan")
    images = tiny_images(model)
    with pytest.raises(ValueError, match="SwapEMAWeights cannot act on DCGAN"):
        model.fit(images, None, 4, 1, 0, [keras.callbacks.SwapEMAWeights()])  # positional
    listed = keras.callbacks.CallbackList([keras.callbacks.SwapEMAWeights()], model=model)
    with pytest.raises(ValueError, match="SwapEMAWeights cannot act on DCGAN"):
        model.fit(images, batch_size=4, epochs=1, verbose=0, callbacks=listed)
    assert int(model.g_optimizer.iterations) == 0


# Every registered model logs `loss`, the one value Keras's TerminateOnNaN watches.

@pytest.mark.parametrize("raise_error", [False, True])
def test_terminate_on_nan_stops_every_registered_model_after_its_first_batch(model_name, raise_error):
    model = zoo.create(model_name, **zoo.get(model_name).TINY_CONFIG)
    # Eager: a step or two, which tracing would cost many times over.
    model.compile(**model.default_optimizers(), run_eagerly=True)
    broken = np.full_like(tiny_images(model), np.nan)  # every loss of the first step is NaN
    seen = []
    probe = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    callbacks = [keras.callbacks.TerminateOnNaN(raise_error=raise_error), probe]
    if raise_error:
        with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
            model.fit(broken, tiny_labels(), batch_size=4, epochs=2, verbose=0, callbacks=callbacks)
        assert seen == [], "a callback after TerminateOnNaN ran after the NaN"
    else:
        history = model.fit(broken, tiny_labels(), batch_size=4, epochs=2, verbose=0, callbacks=callbacks)
        assert model.stop_training and history.epoch == [0] and len(seen) == 1 and np.isnan(seen[0])
        assert np.isnan(history.history["loss"]).all()
    # The generator's (or the VAE's) optimizer took the one step.
    assert int(_optimizers(model)[-1].iterations) == 1
