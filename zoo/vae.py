"""VAE family."""

import keras
import tensorflow as tf
from keras import ops

from zoo import losses, networks
from zoo.base import GenerativeModel, check_integer, check_number, images_and_labels, replica_draw, replica_share
from zoo.registry import register


@register("vae")
class VAE(GenerativeModel):
    """Convolutional variational autoencoder with a Bernoulli decoder.

    Loss per example = reconstruction (binary cross-entropy summed over
    pixels) + `kl_weight()` x KL(q(z|x) || N(0, I)); logged (batch means)
    as `reconstruction_loss`, `kl_loss` (unweighted) and `loss`, the whole
    objective the optimizer minimises, which Keras's own callbacks watch
    (`TerminateOnNaN`, `EarlyStopping`, ...). Calling the model
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
    encodes = True
    TINY_CONFIG = {"image_shape": (16, 16, 1), "latent_dim": 8, "width": 8}
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
            synchronized=self.synchronized_batch_norm,
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

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def kl_weight(self):
        """Weight of the KL term; 1 is the evidence lower bound."""
        return 1.0

    def reparameterize(self, z_mean, z_log_var):
        """z = mean + sigma * eps, eps ~ N(0, I) from the model's seed generator."""
        eps = replica_draw(lambda n: keras.random.normal((n, *z_mean.shape[1:]), seed=self.seed_generator),
                           ops.shape(z_mean)[0])
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def encode(self, images, labels=None, training=False):
        """`(z_mean, z_log_var)` of q(z | x), or q(z | x, y) for conditional models."""
        inputs = [images, labels] if self.num_classes else images
        return self.encoder(inputs, training=training)

    def call(self, inputs, training=False):
        """Reconstructs `images` (or `(images, labels)`) from the posterior mean."""
        images, labels = images_and_labels(inputs, self)
        z_mean, _ = self.encode(images, labels, training=training)
        return self.decode(z_mean, labels, training=training)

    def image_network(self, decoding=False):
        if decoding:
            return self.decoder
        return super().image_network()

    def decode(self, z, labels=None, training=False):
        """p(x | z) (and y): the posterior's latents -> images. The same as `generate`
        unless sampling maps the prior's latents elsewhere first (`TwoStageVAE`)."""
        return self._apply(self.decoder, z, labels, training)

    def compute_losses(self, images, training, labels=None):
        z_mean, z_log_var = self.encode(images, labels, training=training)
        z = self.reparameterize(z_mean, z_log_var)
        reconstructions = self.decode(z, labels, training=training)
        reconstruction = ops.mean(
            losses.bernoulli_reconstruction_loss(images, reconstructions)
        )
        kl = ops.mean(losses.gaussian_kl_divergence(z_mean, z_log_var))
        return reconstruction + self.kl_weight() * kl, reconstruction, kl

    def train_step(self, data):
        images, labels = images_and_labels(data, self)
        with tf.GradientTape() as tape:
            terms = self.compute_losses(images, training=True, labels=labels)  # (loss, ...)
            scaled = self.optimizer.scale_loss(replica_share(terms[0]))
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        return self._update_metrics(*terms)

    def test_step(self, data):
        images, labels = images_and_labels(data, self)
        return self._update_metrics(*self.compute_losses(images, training=False, labels=labels))

    def _update_metrics(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return self.metric_results()


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


@register("two_stage_vae")
class TwoStageVAE(VAE):
    """Two-stage VAE: a second, small VAE learns where the first one's latents lie.

    A VAE's encoder leaves its aggregate posterior q(z) = E_x q(z | x) far
    from the N(0, I) prior it samples from, so prior samples land where the
    decoder saw little and come out blurred or malformed. Here the first
    stage is a VAE with a Gaussian decoder whose variance `gamma` is learned
    (it falls as reconstructions sharpen, Dai & Wipf 2019), and a second,
    dense VAE learns q(z): sampling draws `u ~ N(0, I)`, maps it through the
    second decoder to a `z` like the encoder's, and decodes that.

    Both stages train together in one `fit` step, the second on the first's
    posterior samples behind a stop-gradient (each stage's loss moves only
    its own weights), so the pair stays one Keras model with one optimizer.
    The paper trains them one after the other; jointly, the second stage
    keeps following the first as it moves.

    `generator` (prior latent -> image, what `sample` and the exports use)
    is the second decoder chained with the first; `decoder` and `encoder`
    are the first stage's, so `encode`/`reconstruct` work on images as for
    any VAE. Logs `reconstruction_loss` and `kl_loss` of the first stage,
    `second_loss` (the second stage's negative ELBO), `gamma`, and `loss` =
    `reconstruction_loss` + `kl_loss` + `second_loss`, the whole objective
    the one optimizer minimises.

    Args:
        second_width: units of the second stage's hidden layers.
        second_depth: hidden layers in each of its encoder and decoder.
        **kwargs: `VAE` arguments.

    References:
        Dai & Wipf, "Diagnosing and Enhancing VAE Models", ICLR 2019.
    """

    def __init__(self, *args, second_width=256, second_depth=2, **kwargs):
        super().__init__(*args, **kwargs)
        self.second_width = check_integer("second_width", second_width, 1, "an integer >= 1, e.g. 256")
        self.second_depth = check_integer("second_depth", second_depth, 1, "an integer >= 1, e.g. 2")
        self.second_encoder = networks.dense_encoder(
            self.latent_dim, self.latent_dim, self.second_width, self.second_depth)
        self.second_decoder = networks.dense_decoder(
            self.latent_dim, self.latent_dim, self.second_width, self.second_depth)
        self.sampler = networks.chain([self.second_decoder, self.decoder], name="generator")
        self.log_gamma = self.add_weight(shape=(), initializer="zeros", name="log_gamma")
        self.second_log_gamma = self.add_weight(shape=(), initializer="zeros", name="second_log_gamma")
        self.second_tracker = keras.metrics.Mean(name="second_loss")
        self.gamma_tracker = keras.metrics.Mean(name="gamma")

    @property
    def generator(self):
        """Prior latent u -> the second decoder's z -> image."""
        return self.sampler

    def get_config(self):
        config = super().get_config()
        config.update(second_width=self.second_width, second_depth=self.second_depth)
        return config

    @property
    def metrics(self):
        return [*super().metrics, self.second_tracker, self.gamma_tracker]

    def compute_losses(self, images, training, labels=None):
        z_mean, z_log_var = self.encode(images, training=training)
        z = self.reparameterize(z_mean, z_log_var)
        reconstruction = ops.mean(losses.gaussian_reconstruction_loss(
            images, self.decode(z, training=training), self.log_gamma))
        kl = ops.mean(losses.gaussian_kl_divergence(z_mean, z_log_var))

        z = ops.stop_gradient(z)
        u_mean, u_log_var = self.second_encoder(z, training=training)
        u = self.reparameterize(u_mean, u_log_var)
        second = ops.mean(
            losses.gaussian_reconstruction_loss(z, self.second_decoder(u, training=training),
                                                self.second_log_gamma)
            + losses.gaussian_kl_divergence(u_mean, u_log_var))
        return reconstruction + kl + second, reconstruction, kl, second

    def _update_metrics(self, loss, reconstruction, kl, second):
        self.second_tracker.update_state(second)
        self.gamma_tracker.update_state(ops.exp(self.log_gamma))
        return super()._update_metrics(loss, reconstruction, kl)
