"""Generator metrics during training: `GeneratorMetrics` (into the epoch logs) and `CollapseGuard` (acts on them)."""

import math

import keras

import zoo
from training.callbacks import BestModelCheckpoint


class GeneratorMetrics(keras.callbacks.Callback):
    """Computes generator metrics every `every` epochs into the epoch logs.

    Keys are prefixed `val_` (`val_fd`, `val_coverage`, ...), so
    `ModelCheckpoint(monitor="val_fd", mode="min")` and `EarlyStopping` can
    use them: list this callback before them in `callbacks`.

    Args:
        dataset: TFDS name of the real data, or `folder:PATH`.
        metrics: metric names of `evaluation.evaluate.METRICS`.
        n: generated (and real) images per evaluation.
        every: evaluate after every `every`-th epoch.
        extractor: an extractor, or a name for `features.get_extractor`.
        seed: first latent seed (the same images' latents every time).
        split: real reference split, held out from training (a slice of an
            image folder's `train`, e.g. "train[90%:]").

    Example:
        >>> model.fit(ds, epochs=20, callbacks=[
        ...     GeneratorMetrics("fashion_mnist", ["fd", "dc"], n=2000),
        ...     keras.callbacks.ModelCheckpoint("best.keras", monitor="val_fd",
        ...                                     mode="min", save_best_only=True)])
    """

    def __init__(self, dataset, metrics=("fd",), n=2000, every=1, extractor="domain",
                 seed=0, split="test", data_dir=None, verbose=1):
        super().__init__()
        from evaluation.evaluate import METRICS

        unknown = [m for m in metrics if m not in METRICS or m == "reconstruction"]
        if unknown:
            computable = sorted(set(METRICS) - {"reconstruction"})
            raise ValueError(f"GeneratorMetrics cannot compute {unknown}; use {computable}")
        if not split:
            raise ValueError(f"GeneratorMetrics on {dataset!r} needs a split held out from training, e.g. "
                             "split='train[90%:]' (`zoo train`: --validation-split).")
        self.dataset, self.metrics, self.n, self.every = dataset, tuple(metrics), n, every
        self.extractor, self.seed, self.split, self.data_dir = extractor, seed, split, data_dir
        self.verbose = verbose

    def on_epoch_end(self, epoch, logs=None):
        self.measure_into(epoch, logs)

    def measure_into(self, epoch, logs):
        """On scheduled epochs, measures and adds the values to `logs`; else None."""
        if (epoch + 1) % self.every:
            return None
        values = self.measure()
        if logs is not None:
            logs.update(values)
        return values

    def measure(self):
        """Computes the metrics for the current model; returns `{"val_<key>": value}`."""
        from evaluation.evaluate import METRICS, evaluate, model_generator
        from evaluation.features import get_extractor

        if isinstance(self.extractor, str):
            self.extractor = get_extractor(self.extractor, self.dataset)
        progress = keras.utils.Progbar(2 + len(self.metrics), verbose=self.verbose, unit_name="stage")
        done = []

        def advance(stage):
            done.append(stage)
            progress.update(len(done))

        result = evaluate(
            model_generator(self.model), self.extractor,
            self.dataset, metrics=self.metrics, n=self.n, seed=self.seed,
            split=self.split, data_dir=self.data_dir, progress=advance,
        )
        values = {f"val_{key}": float(result[key]) for m in self.metrics for key in METRICS[m]}
        if "class_accuracy" in result:  # conditional models
            values["val_class_accuracy"] = float(result["class_accuracy"])
        if self.verbose:
            print("Generator metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
        return values


class CollapseGuard(GeneratorMetrics):
    """Watches coverage (or recall, or classes covered) and acts when it drops.

    Every `every` epochs it computes the monitored metric (logged as
    `val_<monitor>`), remembers the best weights, and after `patience`
    evaluations without improvement stops training and, with
    `restore_best_weights`, puts the best weights back. Each decision is
    printed and kept in `decisions` (epoch, value, best, action).

    Args:
        dataset: TFDS name of the real data.
        monitor: "coverage", "recall", "classes_covered", or for conditional
            models "class_accuracy" (higher is better).
        patience: evaluations without improvement before stopping.
        min_delta: smallest rise that counts as an improvement.
        restore_best_weights: restore the best weights when stopping.
        **kwargs: `GeneratorMetrics` arguments (`n`, `every`, `extractor`, ...).

    Example:
        >>> model.fit(ds, epochs=50, callbacks=[
        ...     CollapseGuard("fashion_mnist", monitor="coverage", patience=2)])
    """

    GROUPS = {"coverage": "dc", "recall": "pr", "classes_covered": "classes",
              "class_accuracy": "classes"}

    def __init__(self, dataset, monitor="coverage", patience=2, min_delta=0.0,
                 restore_best_weights=True, **kwargs):
        if monitor not in self.GROUPS:
            raise ValueError(f"monitor={monitor!r}; use one of {', '.join(self.GROUPS)}")
        super().__init__(dataset, metrics=(self.GROUPS[monitor],), **kwargs)
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        if self.monitor == "class_accuracy" and not self.model.num_classes:
            raise ValueError("monitor='class_accuracy' needs a conditional model "
                             f"({', '.join(zoo.registry.conditional_names())}).")
        self.best, self.best_epoch, self.best_weights, self.wait = -math.inf, None, None, 0
        self.decisions = []

    def on_epoch_end(self, epoch, logs=None):
        values = self.measure_into(epoch, logs)
        if values is None:
            return
        value = values[f"val_{self.monitor}"]
        if value > self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch + 1, 0
            self.best_weights = self.model.get_weights()
            action = "new best"
        else:
            self.wait += 1
            action = f"no improvement ({self.wait}/{self.patience})"
            if self.wait >= self.patience:
                self.model.stop_training = True
                action = "stop"
                if self.restore_best_weights and self.best_weights is not None:
                    self.model.set_weights(self.best_weights)
                    action = f"stop; restored the weights of epoch {self.best_epoch}"
        self.decisions.append({"epoch": epoch + 1, self.monitor: value, "best": self.best, "action": action})
        print(f"CollapseGuard: epoch {epoch + 1} {self.monitor}={value:.4g} "
              f"(best {self.best:.4g} at epoch {self.best_epoch}): {action}")


def metric_callbacks(run, folder, best):
    """The callbacks `zoo train` measures `run.metrics` with: `GeneratorMetrics`, and with FD the keeper of
    `best.keras`.

    Args:
        run: the `training.config.RunConfig`.
        folder: the `zoo.run_folder.RunFolder` the run writes.
        best: the best FD of the history a resumed run continues, or None.
    """
    callbacks = [GeneratorMetrics(run.dataset, run.metrics, n=run.metrics_samples, every=run.metrics_every,
                                  extractor=run.extractor, split=run.held_out_split, data_dir=run.data_dir,
                                  verbose=0)]
    if "fd" in run.metrics:
        callbacks.append(BestModelCheckpoint(folder.best, monitor="val_fd", mode="min",
                                             initial_value_threshold=best))
    return callbacks
