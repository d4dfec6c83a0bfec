"""Two model families that exist only in the tests, to prove the model contract.

Neither is in `zoo/`, and nothing outside `tests/` knows them: registering
them (`register`, which `tests/conftest.py` calls) puts them in every battery
that takes its models from the registry, and each battery must pass on them
as on the zoo's own families. They differ from those where a family can:

- `toy_grid`: the latent is a 2 x 2 x C grid, not a vector, and one layer
  (a transposed convolution) makes the image from it. It learns by matching
  the per-pixel mean and spread of the data (moment matching, the simplest
  generative objective that needs no second network).
- `toy_steps`: the latent is a noise image, and sampling is 3 Euler steps of
  a tiny velocity network from it (rectified flow: Liu et al. 2023, "Flow
  Straight and Fast"), so `sampling_steps` is 3 and there is no one network
  whose output is the image.
"""

import keras
import tensorflow as tf
from keras import ops

from zoo import registry
from zoo.base import GenerativeModel, check_integer, images_and_labels, replica_draw, replica_share


class MomentGridToy(GenerativeModel):
    """A one-layer generator from a `(2, 2, latent_dim)` grid of latents (`latent_dim` is the grid's depth)."""

    TINY_CONFIG = {"image_shape": (16, 16, 1), "latent_dim": 4}

    def __init__(self, image_shape=(16, 16, 1), latent_dim=4, seed=None, **kwargs):
        super().__init__(image_shape, latent_dim, seed=seed, **kwargs)
        height, width, channels = self.image_shape
        self.generator = keras.Sequential([
            keras.Input(self.latent_shape),
            keras.layers.Conv2DTranspose(channels, (height // 2, width // 2), strides=(height // 2, width // 2),
                                         activation="tanh"),
        ], name="generator")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def latent_shape(self):
        return (2, 2, self.latent_dim)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def compute_loss_of(self, images):
        fakes = self.generate(self.random_latents(ops.shape(images)[0]), training=True)
        mean_gap = ops.mean(images, axis=0) - ops.mean(fakes, axis=0)
        spread_gap = ops.std(images, axis=0) - ops.std(fakes, axis=0)
        return ops.mean(mean_gap**2) + ops.mean(spread_gap**2)

    def train_step(self, data):
        images, _ = images_and_labels(data, self)
        with tf.GradientTape() as tape:
            loss = self.compute_loss_of(images)
            scaled = self.optimizer.scale_loss(replica_share(loss))
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        self.loss_tracker.update_state(loss)
        return self.metric_results()

    def test_step(self, data):
        images, _ = images_and_labels(data, self)
        self.loss_tracker.update_state(self.compute_loss_of(images))
        return self.metric_results()


class FlowStepsToy(GenerativeModel):
    """Rectified flow from a noise image in `sampling_steps` Euler steps of a two-layer velocity network."""

    sampling_steps = 3
    TINY_CONFIG = {"image_shape": (16, 16, 1), "latent_dim": 1}

    def __init__(self, image_shape=(16, 16, 1), latent_dim=1, width=8, seed=None, **kwargs):
        # The latent is the noise image; `latent_dim` stays for the shared
        # constructor and is not used.
        super().__init__(image_shape, latent_dim, seed=seed, **kwargs)
        self.width = check_integer("width", width, 1)
        height, width_, channels = self.image_shape
        self.velocity = keras.Sequential([
            keras.Input((height, width_, channels + 1)),  # the image and the time as a channel
            keras.layers.Conv2D(self.width, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(channels, 3, padding="same"),
        ], name="velocity")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def latent_shape(self):
        return tuple(self.image_shape)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def get_config(self):
        return {**super().get_config(), "width": self.width}

    def _velocity(self, x, t, training):
        return self.velocity(ops.concatenate([x, x[..., :1] * 0.0 + t], axis=-1), training=training)

    def generate(self, z, labels=None, training=False):
        if labels is not None:
            raise ValueError(f"{type(self).__name__} is unconditional; do not pass labels.")
        x = ops.convert_to_tensor(z, "float32")
        for step in range(self.sampling_steps):  # unrolled: every export holds the 3 steps
            x = x + self._velocity(x, step / self.sampling_steps, training) * (1.0 / self.sampling_steps)
        return ops.clip(x, *self.pixel_range)

    def compute_loss_of(self, images):
        n = ops.shape(images)[0]
        noise = self.random_latents(n)
        t = replica_draw(lambda k: keras.random.uniform((k, 1, 1, 1), seed=self.seed_generator), n)
        between = (1.0 - t) * noise + t * images
        return ops.mean((self._velocity(between, t, training=True) - (images - noise)) ** 2)

    train_step = MomentGridToy.train_step
    test_step = MomentGridToy.test_step


TOYS = {"toy_grid": MomentGridToy, "toy_steps": FlowStepsToy}


def register():
    """Registers the toy families (once per process)."""
    for name, cls in TOYS.items():
        if name not in registry.names():
            registry.register(name)(cls)
