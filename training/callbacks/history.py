"""The run's `history.json`: `JSONHistory` writes it; `read_history`, `record_stop` and `best_of_history`
read or amend it."""

import json
import math
import os

import keras

from zoo.files import atomic_write_json


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


def best_of_history(history, key="val_fd", mode="min"):
    """The best recorded `key` value of a `JSONHistory` history, or None."""
    values = [v for v in history.get(key, []) if v is not None and math.isfinite(v)]
    if not values:
        return None
    return min(values) if mode == "min" else max(values)
