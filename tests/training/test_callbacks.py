import json

import keras
import numpy as np

from tests.conftest import tiny_images, tiny_model
from training.callbacks import JSONHistory, SampleGrid, TerminateOnNonFinite
from training.images import make_grid


def test_make_grid_places_images_row_major_with_padding():
    images = np.stack([np.full((2, 3, 1), i, np.uint8) for i in range(1, 6)])
    grid = make_grid(images, columns=3, padding=1)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1, 1)
    assert grid[1, 1, 0] == 1 and grid[1, 5, 0] == 2 and grid[4, 1, 0] == 4
    assert grid[0, 0, 0] == 0 and grid[4, 9, 0] == 0  # padding and the empty sixth cell


def test_sample_grid_uses_the_same_latents_every_epoch(tmp_path):
    model = tiny_model("dcgan")
    model.fit(tiny_images(model), batch_size=4, epochs=2, verbose=0,
              callbacks=[SampleGrid(str(tmp_path), n=4, seed=0)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_000.png", "epoch_001.png", "epoch_002.png"]
    expected = make_grid(model.sample(4, seed=0).numpy())
    import tensorflow as tf
    written = tf.io.decode_png(tf.io.read_file(str(tmp_path / "epoch_002.png"))).numpy()
    np.testing.assert_array_equal(written, expected)


def test_json_history_appends_across_fits(tmp_path):
    path = str(tmp_path / "history.json")
    model = tiny_model("vae")
    images = tiny_images(model)
    model.fit(images, batch_size=4, epochs=2, verbose=0, callbacks=[JSONHistory(path)])
    model.fit(images, batch_size=4, epochs=3, initial_epoch=2, verbose=0, callbacks=[JSONHistory(path)])
    history = json.load(open(path))
    assert history["epoch"] == [1, 2, 3]
    assert len(history["loss"]) == 3 and all(np.isfinite(history["loss"]))


def test_terminate_on_non_finite_watches_every_logged_value():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = TerminateOnNonFinite()
    callback.set_model(model)
    callback.on_batch_end(0, {"d_loss": 0.5, "g_loss": 1.0})
    assert not model.stop_training
    callback.on_batch_end(1, {"d_loss": 0.5, "g_loss": float("nan")})
    assert model.stop_training


def test_generator_metrics_feed_model_checkpoint_and_history(tmp_path):
    from training.callbacks import GeneratorMetrics

    model = tiny_model("dcgan")
    best = tmp_path / "best.keras"
    history = model.fit(
        tiny_images(model, n=8), batch_size=4, epochs=2, verbose=0,
        callbacks=[
            GeneratorMetrics("fashion_mnist", ["fd", "dc"], n=100, verbose=0),
            keras.callbacks.ModelCheckpoint(str(best), monitor="val_fd", mode="min", save_best_only=True),
        ],
    )
    assert len(history.history["val_fd"]) == 2 and all(v > 0 for v in history.history["val_fd"])
    assert 0.0 <= history.history["val_coverage"][-1] <= 1.0
    assert best.is_file()


def test_generator_metrics_rejects_reconstruction():
    import pytest

    from training.callbacks import GeneratorMetrics

    with pytest.raises(ValueError, match="cannot compute"):
        GeneratorMetrics("fashion_mnist", ["reconstruction"])


def test_collapse_guard_stops_and_restores_the_best_weights(capsys):
    from training.callbacks import CollapseGuard

    model = tiny_model("dcgan")
    coverage = iter([0.30, 0.50, 0.45, 0.20, 0.60, 0.70])
    guard = CollapseGuard("fashion_mnist", monitor="coverage", patience=2, verbose=0)
    guard.measure = lambda: {"val_density": 1.0, "val_coverage": next(coverage)}
    snapshots = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.setdefault(epoch + 1, [w.copy() for w in self.model.get_weights()])

    history = model.fit(tiny_images(model, n=4), batch_size=4, epochs=6, verbose=0,
                        callbacks=[Snapshot(), guard])
    assert len(history.history["val_coverage"]) == 4  # stopped after epoch 4
    assert [d["action"] for d in guard.decisions] == [
        "new best", "new best", "no improvement (1/2)", "stop; restored the weights of epoch 2"]
    for restored, best in zip(model.get_weights(), snapshots[2]):
        np.testing.assert_array_equal(restored, best)
    assert "restored the weights of epoch 2" in capsys.readouterr().out


def test_collapse_guard_rejects_an_unknown_monitor():
    import pytest

    from training.callbacks import CollapseGuard

    with pytest.raises(ValueError, match="monitor='fd'"):
        CollapseGuard("fashion_mnist", monitor="fd")


def test_generator_metrics_report_class_accuracy_of_conditional_models():
    from tests.conftest import tiny_labels
    from training.callbacks import CollapseGuard

    model = tiny_model("cgan")
    guard = CollapseGuard("fashion_mnist", monitor="class_accuracy", n=100, verbose=0)
    history = model.fit(tiny_images(model, n=8), tiny_labels(8), batch_size=4, epochs=1,
                        verbose=0, callbacks=[guard])
    assert 0.0 <= history.history["val_class_accuracy"][0] <= 1.0
    assert guard.decisions[0]["action"] == "new best"


def test_class_accuracy_guard_needs_a_conditional_model():
    import pytest

    from training.callbacks import CollapseGuard

    model = tiny_model("dcgan")
    with pytest.raises(ValueError, match="needs a conditional model"):
        model.fit(tiny_images(model, n=4), batch_size=4, epochs=1, verbose=0,
                  callbacks=[CollapseGuard("fashion_mnist", monitor="class_accuracy")])
