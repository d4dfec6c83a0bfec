"""Keras callbacks for generative training runs."""

import json
import math
import os

import keras
import tensorflow as tf

from training.images import make_grid, write_png


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of samples from fixed latent seeds after every epoch.

    The same seeds are used each epoch, so the grids show one set of latents
    evolving. Also logs the grid to TensorBoard when `log_dir` is given.

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
        grid = make_grid(images)
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

    Appends to an existing file, so a resumed run keeps its earlier epochs.
    The file holds `{"epoch": [1, 2, ...], "<metric>": [...], ...}`.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        history = read_history(self.path)
        history.setdefault("epoch", []).append(epoch + 1)
        for key, value in (logs or {}).items():
            column = history.setdefault(key, [None] * (len(history["epoch"]) - 1))
            column.append(float(value))
        temporary = self.path + ".tmp"
        with open(temporary, "w") as f:
            json.dump(history, f, indent=2)
        os.replace(temporary, self.path)


def read_history(path):
    """The history written by `JSONHistory`, or an empty one."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


class TerminateOnNonFinite(keras.callbacks.Callback):
    """Stops training when any logged value is NaN or infinite.

    `keras.callbacks.TerminateOnNaN` checks only `logs["loss"]`; GANs log
    `d_loss` and `g_loss` instead.
    """

    def on_batch_end(self, batch, logs=None):
        bad = {k: v for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad:
            print(f"\nBatch {batch}: non-finite {bad}; terminating training.")
            self.model.stop_training = True
