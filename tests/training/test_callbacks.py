import json

import keras
import numpy as np
import pytest

from reports.images import make_grid
from tests.conftest import tiny_images, tiny_model
from training.callbacks import AtomicModelCheckpoint, JSONHistory, NonFiniteError, SampleGrid, TerminateOnNonFinite


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


def test_terminate_on_non_finite_raises_on_any_logged_value_before_other_callbacks_run():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = TerminateOnNonFinite()
    callback.set_model(model)
    callback.set_params({"steps": 10})
    callback.on_epoch_begin(2)
    callback.on_train_batch_end(0, {"d_loss": 0.5, "g_loss": 1.0})
    with pytest.raises(NonFiniteError, match=r"epoch 3, batch 5 \(step 25\): g_loss=nan") as caught:
        callback.on_train_batch_end(4, {"d_loss": 0.5, "g_loss": float("nan")})
    details = caught.value.details
    assert (details["epoch"], details["batch"], details["step"]) == (3, 5, 25)
    assert list(details["values"]) == ["g_loss"] and np.isnan(details["values"]["g_loss"])


def test_nan_in_fit_keeps_the_last_good_checkpoint(tmp_path):
    model = tiny_model("dcgan")
    images = tiny_images(model)
    path = tmp_path / "model.keras"
    checkpoint = AtomicModelCheckpoint(str(path))
    model.fit(images, batch_size=4, epochs=1, verbose=0, callbacks=[TerminateOnNonFinite(), checkpoint])
    good = path.read_bytes()
    kernel = model.generator_network.trainable_weights[0]
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    with pytest.raises(NonFiniteError):
        model.fit(images, batch_size=4, epochs=2, initial_epoch=1, verbose=0,
                  callbacks=[TerminateOnNonFinite(), checkpoint])
    assert path.read_bytes() == good


def test_generator_metrics_feed_model_checkpoint_and_history(tmp_path):
    from evaluation.callbacks import GeneratorMetrics

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
    # The logged values are the metrics of the final generator's samples (seeds
    # 0..99) against the first 100 test images, computed here independently.
    from evaluation import distribution
    from evaluation.features import domain_extractor
    from training.data import load_images

    extractor = domain_extractor("fashion_mnist")
    real, _ = extractor(load_images("fashion_mnist", "test", 100)[0])
    fake, _ = extractor(model.sample(100, seed=0).numpy())
    coverage = distribution.precision_recall_density_coverage(real, fake)["coverage"]
    fd = distribution.frechet_distance(*distribution.feature_statistics(real), *distribution.feature_statistics(fake))
    assert history.history["val_coverage"][-1] == pytest.approx(coverage, abs=1e-9)
    assert history.history["val_fd"][-1] == pytest.approx(fd, rel=1e-6)
    assert best.is_file()


def test_generator_metrics_rejects_reconstruction():
    import pytest

    from evaluation.callbacks import GeneratorMetrics

    with pytest.raises(ValueError, match="cannot compute"):
        GeneratorMetrics("fashion_mnist", ["reconstruction"])


def test_collapse_guard_stops_and_restores_the_best_weights(capsys):
    from evaluation.callbacks import CollapseGuard

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

    from evaluation.callbacks import CollapseGuard

    with pytest.raises(ValueError, match="monitor='fd'"):
        CollapseGuard("fashion_mnist", monitor="fd")


def test_generator_metrics_report_class_accuracy_of_conditional_models():
    from evaluation.callbacks import CollapseGuard
    from tests.conftest import tiny_labels

    model = tiny_model("cgan")
    guard = CollapseGuard("fashion_mnist", monitor="class_accuracy", n=100, verbose=0)
    history = model.fit(tiny_images(model, n=8), tiny_labels(8), batch_size=4, epochs=1,
                        verbose=0, callbacks=[guard])
    # The share of samples (seeds 0..99, class i % 10 asked for image i) that
    # the domain classifier puts in the requested class, computed independently.
    from evaluation.features import domain_extractor

    requested = np.arange(100) % 10
    _, probabilities = domain_extractor("fashion_mnist")(model.sample(100, seed=0, labels=requested).numpy())
    expected = float((probabilities.argmax(axis=1) == requested).mean())
    assert history.history["val_class_accuracy"][0] == pytest.approx(expected, abs=1e-9)
    assert guard.decisions[0]["action"] == "new best"


def test_class_accuracy_guard_needs_a_conditional_model():
    import pytest

    from evaluation.callbacks import CollapseGuard

    model = tiny_model("dcgan")
    with pytest.raises(ValueError, match="needs a conditional model"):
        model.fit(tiny_images(model, n=4), batch_size=4, epochs=1, verbose=0,
                  callbacks=[CollapseGuard("fashion_mnist", monitor="class_accuracy")])


def test_best_model_checkpoint_keeps_the_lowest_fd_skips_unmeasured_epochs_and_resumes_its_threshold(tmp_path):
    import zoo
    from training.callbacks import BestModelCheckpoint, best_of_history

    model = tiny_model("dcgan")
    path = tmp_path / "best.keras"
    keeper = BestModelCheckpoint(str(path))
    keeper.set_model(model)
    kernel = model.generator_network.weights[0]

    def epoch(index, logs, mark):
        kernel.assign(np.full(kernel.shape, mark, "float32"))
        keeper.on_epoch_end(index, logs)

    epoch(0, {"val_fd": 5.0}, 1.0)
    epoch(1, {"d_loss": 0.3}, 2.0)  # not measured: skipped, no warning needed
    epoch(2, {"val_fd": 3.0}, 3.0)
    epoch(3, {"val_fd": 4.0}, 4.0)
    kept = zoo.load(str(path)).generator_network.weights[0].numpy()
    assert np.all(kept == 3.0)
    history = {"epoch": [1, 2, 3, 4], "val_fd": [5.0, None, 3.0, 4.0]}
    assert best_of_history(history) == 3.0 and best_of_history({"epoch": []}) is None
    # A resumed run starts from the history's best: a worse epoch does not replace the file.
    resumed = BestModelCheckpoint(str(path), initial_value_threshold=best_of_history(history))
    resumed.set_model(model)
    kernel.assign(np.full(kernel.shape, 5.0, "float32"))
    resumed.on_epoch_end(4, {"val_fd": 3.5})
    assert np.all(zoo.load(str(path)).generator_network.weights[0].numpy() == 3.0)
