"""`SampleGrid`: a grid of samples from fixed latent seeds after every epoch."""

import os

import keras
import tensorflow as tf

from reports.images import make_grid, write_png


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
