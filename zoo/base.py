"""The surface every zoo model shares."""

import keras

from zoo.images import to_uint8
from zoo.latents import latents_from_seeds, random_latents


class GenerativeModel(keras.Model):
    """Base of all zoo models: hyperparameters, latent draws and `sample`.

    Subclasses provide `generator` (an attribute or property), a functional model mapping
    `(batch, latent_dim)` latents to images in `pixel_range`.

    Args:
        image_shape: `(height, width, channels)` of the images.
        latent_dim: length of the latent vector.
        seed: seed of the training-time random draws (latents, noise); None
            draws one.
    """

    #: Value range of the images the model trains on and generates.
    pixel_range = (-1.0, 1.0)
    #: Distribution of the latents (see `zoo.latents.PRIORS`).
    latent_prior = "normal"

    def __init__(self, image_shape, latent_dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Sub-networks are functional models built in the constructor, so
        # the model is built as soon as it exists (no `build(input_shape)`).
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, latent_dim=self.latent_dim, seed=self.seed
        )
        return config

    # The seed generator's state is not a layer variable; save it so that a
    # reloaded model resumes the same stream of random draws.

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])
        if "seed_generator_state" in store.keys():
            self.seed_generator.state.assign(store["seed_generator_state"])

    def random_latents(self, batch_size):
        """Training-time latents, drawn from the model's seed generator."""
        return random_latents((batch_size, self.latent_dim), self.latent_prior, self.seed_generator)

    def sample(self, n, seed=0, truncation=1.0):
        """Generates `n` uint8 images; image `i` comes from latent seed `seed + i`.

        Args:
            n: number of images.
            seed: latent seed of the first image.
            truncation: psi in (0, 1]; latents are scaled by psi, trading
                variety for typical-looking samples. 1 is off.

        Returns:
            uint8 tensor `(n, H, W, C)`.

        Example:
            >>> images = model.sample(16, seed=0)
            >>> images.shape, images.dtype
            (TensorShape([16, 28, 28, 1]), tf.uint8)
        """
        if not 0.0 < truncation <= 1.0:
            raise ValueError(f"truncation={truncation}; use psi in (0, 1] (1 is off).")
        z = latents_from_seeds(range(seed, seed + n), self.latent_dim, self.latent_prior) * truncation
        return to_uint8(self.generator(z, training=False), self.pixel_range)
