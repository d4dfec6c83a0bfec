"""Stopping on NaN or infinity: `TerminateOnNonFinite` and the `NonFiniteError` it raises."""

import math

import keras
import numpy as np

from training.callbacks.state import training_state_variables


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
