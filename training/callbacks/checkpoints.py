"""Checkpoints whose files appear complete or not at all: `AtomicModelCheckpoint`, `BestModelCheckpoint`."""

import keras

from zoo.files import atomic_path


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
