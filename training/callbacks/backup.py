"""The training backup: `TrainingBackup` (kill and resume exactly), `BackupError`, `read_backup_position`."""

import json
import os

import keras
import numpy as np

from training.callbacks.nonfinite import NonFiniteError
from training.callbacks.state import model_optimizers, training_state_variables
from zoo.errors import ZooError
from zoo.files import atomic_path


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
        for optimizer in model_optimizers(model):
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


def _assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)
