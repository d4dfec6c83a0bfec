"""VAE family."""

import keras
import tensorflow as tf
from keras import ops

from zoo import losses, networks
from zoo.base import GenerativeModel, check_integer, check_number, images_and_labels
from zoo.registry import register


@register("vae")
class VAE(GenerativeModel):
    """Convolutional variational autoencoder with a Bernoulli decoder.

    Loss per example = reconstruction (binary cross-entropy summed over
    pixels) + `kl_weight()` x KL(q(z|x) || N(0, I)); logged as `loss`,
    `reconstruction_loss` and `kl_loss` (batch means). Calling the model
    reconstructs deterministically from the posterior mean.

    Args:
        image_shape: `(height, width, channels)`: even sides of at least 8,
            1 or 3 channels.
        latent_dim: length of the latent vector.
        width: channels of the first encoder / last decoder layer.
        seed: seed of the reparameterisation noise.

    Example:
        >>> model = VAE(image_shape=(28, 28, 1), latent_dim=16)
        >>> model.compile(**model.default_optimizers())
        >>> model.fit(training.data.load("fashion_mnist", model=model), epochs=1)

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """

    pixel_range = (0.0, 1.0)
    learning_rate = 1e-3

    def __init__(
        self, image_shape=(28, 28, 1), latent_dim=16, width=32, seed=None, **kwargs
    ):
        super().__init__(image_shape, latent_dim, seed=seed, **kwargs)
        self.width = check_integer("width", width, 1, "an integer >= 1, e.g. 32")
        self.encoder = networks.conv_encoder(
            self.image_shape, self.latent_dim, self.width, num_classes=self.num_classes
        )
        self.decoder = networks.conv_generator(
            self.image_shape,
            self.latent_dim,
            self.width,
            output_activation="sigmoid",
            num_classes=self.num_classes,
            name="decoder",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def generator(self):
        """The decoder: latent -> image."""
        return self.decoder

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width)
        return config

    def compile(self, optimizer="adam", **kwargs):
        """`keras.Model.compile`, with the optimizer built at once.

        Built now, as `GAN.compile` does: a model saved before `fit` then
        round-trips its optimizer state (an unbuilt optimizer skips loading
        it, keras#19389), and a resumed run builds it the same way as a new
        one, so their graphs, and so their numbers, are the same.
        """
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips compiling an overridden `compile` on load unless this exists.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def default_optimizers(self, lr=None):
        """Adam with this model's recommended learning rate."""
        return {"optimizer": keras.optimizers.Adam(lr or self.learning_rate)}

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def kl_weight(self):
        """Weight of the KL term; 1 is the evidence lower bound."""
        return 1.0

    def reparameterize(self, z_mean, z_log_var):
        """z = mean + sigma * eps, eps ~ N(0, I) from the model's seed generator."""
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def encode(self, images, labels=None, training=False):
        """`(z_mean, z_log_var)` of q(z | x), or q(z | x, y) for conditional models."""
        inputs = [images, labels] if self.num_classes else images
        return self.encoder(inputs, training=training)

    def call(self, inputs, training=False):
        """Reconstructs `images` (or `(images, labels)`) from the posterior mean."""
        images, labels = images_and_labels(inputs, self)
        z_mean, _ = self.encode(images, labels, training=training)
        return self.generate(z_mean, labels, training=training)

    def compute_losses(self, images, training, labels=None):
        z_mean, z_log_var = self.encode(images, labels, training=training)
        z = self.reparameterize(z_mean, z_log_var)
        reconstructions = self.generate(z, labels, training=training)
        reconstruction = ops.mean(
            losses.bernoulli_reconstruction_loss(images, reconstructions)
        )
        kl = ops.mean(losses.gaussian_kl_divergence(z_mean, z_log_var))
        return reconstruction + self.kl_weight() * kl, reconstruction, kl

    def train_step(self, data):
        images, labels = images_and_labels(data, self)
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self.compute_losses(images, training=True, labels=labels)
            scaled = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        return self._update_metrics(loss, reconstruction, kl)

    def test_step(self, data):
        images, labels = images_and_labels(data, self)
        return self._update_metrics(*self.compute_losses(images, training=False, labels=labels))

    def _update_metrics(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}


@register("beta_vae")
class BetaVAE(VAE):
    """VAE whose KL term is weighted by `beta`.

    `beta > 1` pushes the posterior towards the prior, which tends to give
    more disentangled latents at the cost of blurrier reconstructions;
    `beta < 1` sharpens reconstructions and leaves more of the latent space
    unused by the prior, so samples get worse.

    Args:
        beta: weight of the KL term (1 is the plain VAE).
        **kwargs: `VAE` arguments.

    References:
        Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
        Constrained Variational Framework", ICLR 2017.
    """

    def __init__(self, *args, beta=4.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.beta = check_number("beta", beta, lambda b: b > 0, "a positive weight (1 is the plain VAE)")

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.beta)
        return config

    def kl_weight(self):
        return self.beta
