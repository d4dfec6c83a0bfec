"""Keras callbacks for generative training runs."""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from training.images import make_grid, write_png
from zoo.errors import ZooError
from zoo.files import atomic_path, atomic_write_json


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of samples from fixed latent seeds after every epoch.

    The same seeds are used each epoch, so the grids show one set of latents
    evolving; a conditional model's grid has one class per column. Also logs
    the grid to TensorBoard when `log_dir` is given.

    Args:
        directory: folder of the PNGs (`epoch_000.png` is before training).
        n: number of samples in the grid.
        seed: first latent seed; sample `i` uses seed `seed + i`.
        log_dir: TensorBoard log folder, or None.
    """

    def __init__(self, directory, n=64, seed=0, log_dir=None):
        super().__init__()
        self.directory = directory
        self.n = n
        self.seed = seed
        self.log_dir = log_dir
        self._writer = None

    def _write(self, epoch):
        images = self.model.sample(self.n, seed=self.seed).numpy()
        # Conditional models' default labels cycle through the classes: one class per column.
        grid = make_grid(images, columns=self.model.num_classes or None)
        write_png(os.path.join(self.directory, f"epoch_{epoch:03d}.png"), grid)
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(
                    os.path.join(self.log_dir, "samples")
                )
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch)
            self._writer.flush()

    def on_train_begin(self, logs=None):
        if not os.path.exists(os.path.join(self.directory, "epoch_000.png")):
            self._write(0)

    def on_epoch_end(self, epoch, logs=None):
        self._write(epoch + 1)


class JSONHistory(keras.callbacks.Callback):
    """Keeps `history.json` current after every epoch (survives a crash).

    The file holds `{"epoch": [1, 2, ...], "<metric>": [...], ...}`. Rows
    are keyed by epoch: a resumed run keeps its earlier epochs, and an epoch
    that is finished again after a crash replaces its row instead of adding
    a second one. Written atomically.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        history = read_history(self.path)
        history.pop("stopped", None)
        epochs = history.setdefault("epoch", [])
        keep = sum(1 for e in epochs if e <= epoch)  # rows of earlier epochs
        for key, column in history.items():
            if isinstance(column, list):
                del column[keep:]
        epochs.append(epoch + 1)
        for key, value in (logs or {}).items():
            column = history.setdefault(key, [])
            column.extend([None] * (len(epochs) - 1 - len(column)))
            column.append(float(value))
        atomic_write_json(self.path, history)


def read_history(path):
    """The history written by `JSONHistory`, or an empty one.

    Raises:
        ValueError: the file exists but is not a history (damaged).
    """
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            history = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path!r} is not valid JSON ({error}); restore it or remove it") from None
    if not isinstance(history, dict) or not isinstance(history.get("epoch", []), list):
        raise ValueError(f"{path!r} is not a training history (no 'epoch' list); restore it or remove it")
    return history


def record_stop(path, reason):
    """Adds `"stopped": reason` (a dict) to the history at `path`, atomically.

    Non-finite numbers are written as the strings "nan", "inf", "-inf", so the
    file stays strict JSON.
    """
    def finite(value):
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value

    history = read_history(path)
    history["stopped"] = finite(reason)
    atomic_write_json(path, history, allow_nan=False)


class NonFiniteError(RuntimeError):
    """A loss or a weight became NaN or infinite; training was stopped.

    Attributes:
        details: dict with `epoch`, `batch`, `step` and the non-finite
            `values` (or `weights`).
    """

    def __init__(self, message, details):
        super().__init__(message)
        self.details = details


class TerminateOnNonFinite(keras.callbacks.Callback):
    """Stops training at once when a logged value or a weight is NaN or infinite.

    `keras.callbacks.TerminateOnNaN` watches only `loss` (every zoo model
    logs one: a GAN's is `d_loss` + `g_loss`). This callback watches every
    logged value (`gamma`, validation values, ...) and the weights (checked
    at each epoch end), and it raises `NonFiniteError` instead of setting
    `stop_training`: Keras still runs `on_epoch_end` after a stop, so a
    `ModelCheckpoint` would overwrite the last good model with the
    non-finite weights. Raising ends `fit` before any other callback runs.
    List it first.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._check(None, logs)
        bad = [v.path for variables in training_state_variables(self.model).values() for v in variables
               if v.dtype.startswith("float") and not np.isfinite(keras.ops.convert_to_numpy(v)).all()]
        if bad:
            self._stop(None, {"weights": bad[:5]}, f"non-finite weights in {', '.join(bad[:3])}")

    def _check(self, batch, logs):
        bad = {}
        for key, value in (logs or {}).items():
            try:
                if not math.isfinite(float(value)):
                    bad[key] = float(value)
            except (TypeError, ValueError):
                continue  # not a scalar (e.g. a histogram)
        if bad:
            named = ", ".join(f"{k}={v}" for k, v in bad.items())
            self._stop(batch, {"values": bad}, named)

    def _stop(self, batch, found, named):
        epoch = getattr(self, "_epoch", 0)
        steps = (self.params or {}).get("steps")
        done = steps if batch is None else batch + 1
        step = epoch * steps + done if steps else None
        where = f"epoch {epoch + 1}, " + (f"batch {batch + 1}" if batch is not None else "end")
        if step is not None:
            where += f" (step {step})"
        details = {"epoch": epoch + 1, "batch": None if batch is None else batch + 1, "step": step, **found}
        raise NonFiniteError(
            f"training stopped at {where}: {named}; the files saved before it are kept. "
            "Lower the learning rate, or resume from the last backup.", details)


class _AtomicSaving:
    """A model whose `save`/`save_weights` write a temporary file, then rename."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def save(self, filepath, *args, **kwargs):
        with atomic_path(filepath) as temporary:
            self._model.save(temporary, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs):
        with atomic_path(filepath) as temporary:
            self._model.save_weights(temporary, *args, **kwargs)


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` whose files appear complete or not at all.

    Keras writes `.keras` and `.weights.h5` files in place, so a crash during
    the save destroys the previous good file. This writes to a temporary
    file beside it and renames it over the old one. Same arguments as
    `ModelCheckpoint`.
    """

    def set_model(self, model):
        super().set_model(_AtomicSaving(model))


class BestModelCheckpoint(AtomicModelCheckpoint):
    """Keeps the model of the epoch with the best `monitor` value (atomically).

    `ModelCheckpoint(save_best_only=True)` for metrics measured only on some
    epochs (`GeneratorMetrics(every=K)`): epochs without the value are
    skipped quietly instead of warning. A resumed run passes the best value
    of its history as `initial_value_threshold`, so a worse model never
    replaces the kept one.
    """

    def __init__(self, filepath, monitor="val_fd", mode="min", **kwargs):
        super().__init__(filepath, monitor=monitor, mode=mode, save_best_only=True, verbose=0, **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        if logs and self.monitor in logs:
            super().on_epoch_end(epoch, logs)


def best_of_history(history, key="val_fd", mode="min"):
    """The best recorded `key` value of a `JSONHistory` history, or None."""
    values = [v for v in history.get(key, []) if v is not None and math.isfinite(v)]
    if not values:
        return None
    return min(values) if mode == "min" else max(values)


class TrainingBackup(keras.callbacks.Callback):
    """Backs up the whole training state so a killed run continues exactly.

    The state is every variable of the model (both networks, batch-norm
    statistics, EMA weights, random-number generator states), every
    optimizer's variables (step counts, moments, learning rates), the loss
    trackers, and the position: epoch, batches done in it and the global
    step. It is written to one `.npz` file every `every` steps and after
    each epoch (when the next one begins, so that every other callback has
    finished the epoch), atomically: a crash during the write keeps the
    previous backup.

    On `fit`, an existing backup is restored and `fit` continues where it
    was written: from that epoch (`initial_epoch`) and, inside the epoch,
    after the batches already done, which are passed over without a
    training step (`keras.callbacks.BackupAndRestore` restarts the epoch from
    its first batch instead). For the data to continue in the same order,
    feed `training.data.stream(..., start_step=backup.step)`, whose batch
    `j` depends only on the seed and `j`; with deterministic ops
    (`tf.config.experimental.enable_op_determinism()`) the final weights are
    then bitwise identical to an uninterrupted run. A backup whose loss
    trackers are not the model's (written before GANs logged `loss`)
    restores all the rest; the resumed epoch's means then cover only the
    steps after the resume.

    Args:
        path: the backup file (`.npz`).
        every: also back up every `every` training steps; 0 or None: only
            after epochs.

    Example:
        >>> backup = TrainingBackup("run/backup.npz", every=500)
        >>> train, steps = data.stream("fashion_mnist", model=model, start_step=backup.step)
        >>> model.fit(train, epochs=10, steps_per_epoch=steps, callbacks=[backup])
    """

    def __init__(self, path, every=500):
        super().__init__()
        if every is not None and (isinstance(every, bool) or int(every) != every or every < 0):
            raise ValueError(f"every={every!r}; use a number of steps >= 1, or 0 for epoch ends only.")
        self.path = os.fspath(path)
        self.every = int(every or 0)
        self._position, self._restored = None, False

    @property
    def position(self):
        """`{"epoch", "batch", "step"}` of the backup (read from the file once), or None."""
        if self._position is None and not self._restored:
            self._position = read_backup_position(self.path)
        return self._position

    @position.setter
    def position(self, value):
        self._position = value

    @property
    def step(self):
        """Training steps done when the backup was written (0 without one)."""
        return self.position["step"] if self.position else 0

    # Saving.

    def on_train_begin(self, logs=None):
        self._stop_skipping()  # a previous fit of this model that raised while skipping
        if not self._restored:
            self.restore(self.model)
        position = self.position or {"epoch": 0, "batch": 0, "step": 0}
        self._epoch, self._step = position["epoch"], position["step"]
        self._epoch_start_step = self._step - position["batch"]
        self._skip_until = position["batch"] or None
        self._epoch_done = False
        if not os.path.exists(self.path):
            # A first backup at once: a run killed before its first periodic
            # backup restarts from here, not from some later file (model.keras).
            self._write(batch=position["batch"])

    def on_epoch_begin(self, epoch, logs=None):
        if self._epoch_done:  # the previous epoch's callbacks have all run
            self._write()
        self._epoch, self._epoch_done = epoch, False
        self._epoch_start_step = self._step
        if self._skip_until and self.position and epoch == self.position["epoch"]:
            # fit reset the loss trackers; put back their values mid-epoch.
            if self._restored_metrics is not None:
                _assign(self.model.metrics_variables, self._restored_metrics)
            self._train_function = self.model.train_function
            self._epoch_start_step = self.position["step"] - self.position["batch"]
        else:
            self._skip_until = None

    def on_train_batch_begin(self, batch, logs=None):
        if self._skip_until is None:
            return
        if batch < self._skip_until:
            # Already trained before the backup: pass over it without a step.
            self.model.train_function = self._no_step
        else:
            self._stop_skipping()

    def on_train_batch_end(self, batch, logs=None):
        if self._skip_until is not None:
            return
        step = self._epoch_start_step + batch + 1
        crossed = self.every and step // self.every > self._step // self.every
        self._step = step
        if crossed:
            self._write(batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._stop_skipping()  # the backup was written at the epoch's last batch
        self._epoch_done = True

    def on_train_end(self, logs=None):
        if self._epoch_done:
            self._write()
        self.end_fit()

    def end_fit(self):
        """Gives the model back its own training step and forgets the epoch `restore` set for `fit`.

        `on_train_end` calls it; Keras skips `on_train_end` when `fit` ends by
        an exception, so call it after a `fit` that may raise (`zoo train`
        does, in a `finally`): else a model interrupted while passing over
        already trained batches would keep passing over them, and its next
        `fit` would start at the restored epoch.

        Example:
            >>> try:
            ...     model.fit(train, epochs=10, steps_per_epoch=steps, callbacks=[backup])
            ... finally:
            ...     backup.end_fit()
        """
        self._stop_skipping()
        if self.model is not None:
            self.model._initial_epoch = None  # noqa: SLF001 (see `restore`)

    def _stop_skipping(self):
        if getattr(self, "_skip_until", None) is not None:
            if getattr(self, "_train_function", None) is not None:
                self.model.train_function = self._train_function
            self._skip_until = None

    def _no_step(self, iterator):
        return {m.name: m.result() for m in self.model.metrics}

    def _write(self, batch=None):
        """Writes the state; `batch=None` means the current epoch is finished."""
        model = self.model
        epoch = self._epoch if batch is not None else self._epoch + 1
        position = {"epoch": epoch, "batch": batch or 0, "step": self._step}
        arrays = {}
        for group, variables in training_state_variables(model).items():
            for i, variable in enumerate(variables):
                arrays[f"{group}/{i}"] = keras.ops.convert_to_numpy(variable)
        bad = [k for k, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]
        if bad:
            raise NonFiniteError(
                f"refusing to back up non-finite weights at step {self._step} ({', '.join(bad[:3])}); "
                "the previous backup is kept.", {"step": self._step, "weights": bad[:5]})
        meta = {**position, "format": 1, "shapes": {k: list(a.shape) for k, a in arrays.items()}}
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        with atomic_path(self.path) as temporary:
            with open(temporary, "wb") as f:
                np.savez(f, **arrays)
        self.position = position

    # Restoring.

    def restore(self, model):
        """Loads the backup into `model` (if there is one); returns its position or None.

        Raises:
            BackupError: the file is damaged or belongs to another model.
        """
        self._restored = True
        if not os.path.exists(self.path):
            self.position = None
            return None
        self._train_function = None
        for optimizer in _optimizers(model):
            if not optimizer.built:  # Keras skips loading an unbuilt optimizer (keras#19389)
                optimizer.build(model.trainable_variables)
        try:
            with np.load(self.path) as stored:
                arrays = {k: stored[k] for k in stored.files}
            meta = json.loads(arrays.pop("__meta__").tobytes())
        except Exception as error:  # zip, pickle and JSON errors all mean "damaged"
            raise BackupError(
                f"backup {self.path!r} is damaged ({type(error).__name__}: {error}); delete it "
                "to restart from the last model.keras, or start over with --overwrite."
            ) from None
        groups = training_state_variables(model)
        expected = {f"{g}/{i}": list(v.shape) for g, vs in groups.items() for i, v in enumerate(vs)}
        shapes = meta.get("shapes") or {}

        def training_state(table):
            return {k: v for k, v in table.items() if not k.startswith("metrics/")}

        if training_state(shapes) != training_state(expected) or set(training_state(arrays)) != set(
                training_state(expected)):
            raise BackupError(
                f"backup {self.path!r} holds the state of a different model or optimizer "
                "(variables do not match); start over with --overwrite or use another folder."
            )
        # Loss trackers shape only the resumed epoch's logged means, so a
        # backup written before the model logged another value (GANs' `loss`)
        # still resumes training exactly; those means then start at the resume.
        same_trackers = shapes == expected and set(arrays) == set(expected)
        self._restored_metrics = None
        for group, variables in groups.items():
            if group == "metrics" and not same_trackers:
                continue
            values = [arrays[f"{group}/{i}"] for i in range(len(variables))]
            if group == "metrics":
                self._restored_metrics = values
            _assign(variables, values)
        self.position = {k: int(meta[k]) for k in ("epoch", "batch", "step")}
        # `fit` reads the epoch to start at from here right after
        # `on_train_begin` (Keras has no public way; BackupAndRestore does
        # the same), so a plain `fit(callbacks=[backup])` resumes without
        # being told `initial_epoch`; `end_fit` clears it. This callback is
        # the one place that sets or clears it.
        model._initial_epoch = self.position["epoch"]  # noqa: SLF001
        return self.position


class BackupError(ZooError, ValueError):
    """A training backup is damaged or does not match the model."""


def read_backup_position(path):
    """`{"epoch", "batch", "step"}` of the backup at `path`, or None if there is none.

    Raises:
        BackupError: the file exists but cannot be read.
    """
    if not os.path.exists(path):
        return None
    try:
        with np.load(path) as stored:
            meta = json.loads(stored["__meta__"].tobytes())
        return {k: int(meta[k]) for k in ("epoch", "batch", "step")}
    except Exception as error:  # zip, JSON and key errors all mean "damaged"
        raise BackupError(
            f"backup {path!r} is damaged ({type(error).__name__}); delete it to restart "
            "from the last model.keras, or start over with --overwrite."
        ) from None


def _optimizers(model):
    """The model's optimizers, in attribute-name order (`optimizer`, `d_optimizer`, ...)."""
    found = []
    for name in sorted(vars(model)):
        value = vars(model)[name]
        if isinstance(value, keras.optimizers.Optimizer) and all(value is not f for f in found):
            found.append(value)
    return found


def training_state_variables(model):
    """Every variable training state consists of, by group, in a fixed order per group.

    What `TrainingBackup` saves and restores and `TerminateOnNonFinite`
    checks: `{"model": model.variables, "metrics": the loss trackers'
    variables, "optimizer0": ..., "optimizer1": ...}`, the optimizers in
    attribute-name order (`d_optimizer` before `g_optimizer`).

    Example:
        >>> state = {f"{group}/{i}": keras.ops.convert_to_numpy(v)
        ...          for group, variables in training_state_variables(model).items()
        ...          for i, v in enumerate(variables)}
    """
    groups = {"model": list(model.variables), "metrics": list(model.metrics_variables)}
    for i, optimizer in enumerate(_optimizers(model)):
        groups[f"optimizer{i}"] = list(optimizer.variables)
    return groups


def _assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


class GeneratorMetrics(keras.callbacks.Callback):
    """Computes generator metrics every `every` epochs into the epoch logs.

    Keys are prefixed `val_` (`val_fd`, `val_coverage`, ...), so
    `ModelCheckpoint(monitor="val_fd", mode="min")` and `EarlyStopping` can
    use them: list this callback before them in `callbacks`.

    Args:
        dataset: TFDS name of the real data.
        metrics: metric names of `training.metrics.evaluate.METRICS`.
        n: generated (and real) images per evaluation.
        every: evaluate after every `every`-th epoch.
        extractor: an extractor, or a name for `features.get_extractor`.
        seed: first latent seed (the same images' latents every time).
        split: real reference split.

    Example:
        >>> model.fit(ds, epochs=20, callbacks=[
        ...     GeneratorMetrics("fashion_mnist", ["fd", "dc"], n=2000),
        ...     keras.callbacks.ModelCheckpoint("best.keras", monitor="val_fd",
        ...                                     mode="min", save_best_only=True)])
    """

    def __init__(self, dataset, metrics=("fd",), n=2000, every=1, extractor="domain",
                 seed=0, split="test", data_dir=None, verbose=1):
        super().__init__()
        from training.metrics.evaluate import METRICS

        unknown = [m for m in metrics if m not in METRICS or m == "reconstruction"]
        if unknown:
            raise ValueError(f"GeneratorMetrics cannot compute {unknown}; use {sorted(set(METRICS) - {'reconstruction'})}")
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
        from training.metrics.evaluate import METRICS, evaluate, model_generator
        from training.metrics.features import get_extractor

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
            raise ValueError("monitor='class_accuracy' needs a conditional model (cgan, cvae).")
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
