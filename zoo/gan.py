"""GAN family: one training loop, variants override a loss or a penalty hook.

The Wasserstein variants, which add a critic penalty and several critic
updates per step, are in `zoo.wgan`.
"""

import inspect

import keras
import tensorflow as tf
from keras import ops

from zoo import augment, losses, networks
from zoo.base import GenerativeModel, check_flag, check_integer, check_number, images_and_labels, replica_share
from zoo.latents import check_prior
from zoo.optimizers import UNSUPPORTED_CALLBACKS, JointLearningRate
from zoo.registry import register


def pack_samples(images, pack):
    """PacGAN packing: `(b, H, W, C)` -> `(b // pack, H, W, C * pack)`.

    Consecutive images `i * pack ... i * pack + pack - 1` become the channels
    of packed sample `i`; a trailing remainder of fewer than `pack` images is
    dropped.
    """
    if pack == 1:
        return images
    shape = tf.shape(images)
    usable = (shape[0] // pack) * pack
    grouped = tf.reshape(images[:usable], [-1, pack, shape[1], shape[2], shape[3]])
    grouped = tf.transpose(grouped, [0, 2, 3, 1, 4])  # (b / pack, H, W, pack, C)
    return tf.reshape(grouped, [-1, shape[1], shape[2], pack * shape[3]])


class GAN(GenerativeModel):
    """Adversarial training loop shared by every GAN in the zoo.

    Each `train_step` runs `critic_steps` discriminator updates, each on the
    batch's real images and freshly drawn fakes, then one generator update.
    Subclasses change the game by overriding `discriminator_loss`,
    `generator_loss` and `discriminator_penalty`.

    Logs (batch means) `d_loss`, the discriminator's (critic's) objective
    of the step's last update with its penalty terms (R1, the gradient
    penalty), `g_loss`, the generator's, and `loss` = `d_loss` + `g_loss`.
    `loss` is what Keras's own callbacks watch (`TerminateOnNaN`; and
    `EarlyStopping`, `ModelCheckpoint`, `ReduceLROnPlateau` with
    `monitor="loss"`, or their default `"val_loss"` with validation data),
    so they work on a GAN; but the sum of two opponents' losses says when
    training broke (NaN), not when samples got better: monitor a sample
    metric (`val_fd`) for that.

    Args:
        image_shape: `(height, width, channels)`: even sides of at least 8
            (reached by stride-2 up-sampling from a base of at least 4: 28,
            32, 64, ...) and 1 or 3 channels.
        latent_dim: length of the latent vector `z`.
        width: channels of the first discriminator / last generator layer;
            the other layers scale with it.
        seed: seed of the training-time random draws.
        r1_weight: gamma of the R1 penalty `gamma / 2 * E||grad D(x)||^2` on
            real images; helps when the discriminator overfits or training
            oscillates (Mescheder et al. 2018). 0 turns it off.
        label_smoothing: one-sided label smoothing, real targets `1 - s`
            (non-saturating loss only); stops an over-confident discriminator
            from giving the generator vanishing gradients (Salimans et al.
            2016). 0 turns it off.
        latent_prior: "normal" (default), "uniform" on [-1, 1] or
            "truncated_normal" (within 2 standard deviations); the choice of
            noise is one of the classic levers against mode collapse.
        minibatch_stddev: give the discriminator a minibatch
            standard-deviation channel, so batches of near-identical fakes
            are easy to reject; helps against mode collapse (Karras et al.
            2018).
        pack: PacGAN packing degree m: the discriminator judges m samples
            at once (stacked on channels), all real or all fake, which
            penalises a generator that covers few modes (Lin et al. 2018).
            Batch sizes should be multiples of m. 1 is off.
        ema_decay: keep an exponential moving average of the generator's
            weights with this decay (e.g. 0.999); `generator`, and so
            sampling, evaluation and export, then use the average, which
            smooths out the oscillation of adversarial training (Yazici et
            al. 2019). 0 is off.
        diffaugment: comma list of "color", "translation", "cutout":
            differentiable augmentations of everything the discriminator
            sees in training, real and fake; helps most with little data,
            where the discriminator memorises the training set (Zhao et al.
            2020). "" is off.
        architecture: the networks: "dcgan" (transposed-convolution
            generator, strided-convolution discriminator with the model's
            normalisation; `networks.conv_generator`) or "keras_io" (the
            keras.io WGAN-GP example's up-sampling generator and dropout
            critic; `networks.upsampling_generator`).
        joint_discriminator_pass: score real and fake images in one
            discriminator call on the concatenated batch instead of two.
            Fewer, larger kernels (faster on CPU); the same function only
            when no layer sees batch statistics, so it is refused with batch
            norm, `minibatch_stddev` or `pack` > 1. Dropout then draws other
            masks than two calls would. False is the exact two-call step.
    """

    pixel_range = (-1.0, 1.0)
    TINY_CONFIG = {"image_shape": (16, 16, 1), "latent_dim": 8, "width": 8}
    #: Normalisation inside the discriminator: "batch", "layer" or "none".
    discriminator_normalization = "batch"
    #: Adam settings of `default_optimizers` (shared by D and G unless overridden).
    learning_rate = 2e-4
    adam_beta_1 = 0.5
    adam_beta_2 = 0.999
    critic_steps = 1

    def __init__(
        self, image_shape=(28, 28, 1), latent_dim=64, width=64, seed=None,
        r1_weight=0.0, label_smoothing=0.0, latent_prior="normal",
        minibatch_stddev=False, pack=1, ema_decay=0.0, diffaugment="", architecture="dcgan",
        joint_discriminator_pass=False, **kwargs
    ):
        super().__init__(image_shape, latent_dim, seed=seed, **kwargs)
        self.width = check_integer("width", width, 1, "an integer >= 1, e.g. 64")
        self.r1_weight = check_number("r1_weight", r1_weight, lambda w: w >= 0, "a weight >= 0 (0 is off)")
        self.label_smoothing = check_number(
            "label_smoothing", label_smoothing, lambda s: 0 <= s < 1, "a value in [0, 1) (0 is off)")
        self.latent_prior = check_prior(latent_prior)
        self.minibatch_stddev = check_flag("minibatch_stddev", minibatch_stddev)
        self.pack = check_integer("pack", pack, 1, "an integer >= 1 (1 is off)")
        self.ema_decay = check_number(
            "ema_decay", ema_decay, lambda d: 0 <= d < 1, "a decay in [0, 1) (0 is off), e.g. 0.999")
        self.diffaugment = ",".join(augment.parse_policy(diffaugment))
        build_generator, build_discriminator = networks.gan_architecture(architecture)
        self.architecture = architecture
        self.joint_discriminator_pass = check_flag("joint_discriminator_pass", joint_discriminator_pass)
        self._check_options()

        self.generator_network = build_generator(
            self.image_shape, self.latent_dim, self.width, output_activation="tanh",
            num_classes=self.num_classes, synchronized=self.synchronized_batch_norm,
        )
        height, width_px, channels = self.image_shape
        self.discriminator = build_discriminator(
            (height, width_px, channels * self.pack), self.width,
            self.discriminator_normalization, minibatch_stddev=self.minibatch_stddev,
            num_classes=self.num_classes, synchronized=self.synchronized_batch_norm,
        )
        self.ema_generator = None
        if self.ema_decay:
            self.ema_generator = keras.models.clone_model(self.generator_network)
            self.ema_generator.name = "ema_generator"
            self.ema_generator.set_weights(self.generator_network.get_weights())
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def _check_options(self):
        """Checks of arguments that depend on the game or on each other."""
        if self.label_smoothing and type(self).discriminator_loss is not GAN.discriminator_loss:
            raise ValueError(
                f"label_smoothing applies to the non-saturating loss (dcgan); "
                f"{type(self).__name__} plays another game: leave it at 0."
            )
        batch_norm = self.discriminator_normalization == "batch" and self.architecture == "dcgan"
        coupled = [text for text, used in (("its batch-norm discriminator", batch_norm),
                                           ("minibatch_stddev=True", self.minibatch_stddev),
                                           (f"pack={self.pack}", self.pack > 1)) if used]
        if self.joint_discriminator_pass and coupled:
            raise ValueError(
                f"joint_discriminator_pass=True would let real and fake images share batch "
                f"statistics through {' and '.join(coupled)} ({type(self).__name__}); leave it False, "
                "or use a discriminator without them (wgan_gp, sngan, or architecture='keras_io')."
            )

    @property
    def generator(self):
        """Latent -> image model: the EMA copy when `ema_decay` > 0."""
        return self.ema_generator if self.ema_generator is not None else self.generator_network

    def get_config(self):
        config = super().get_config()
        config.update(
            width=self.width, r1_weight=self.r1_weight,
            label_smoothing=self.label_smoothing, latent_prior=self.latent_prior,
            minibatch_stddev=self.minibatch_stddev, pack=self.pack, ema_decay=self.ema_decay,
            diffaugment=self.diffaugment, architecture=self.architecture,
            joint_discriminator_pass=self.joint_discriminator_pass,
        )
        return config

    def call(self, inputs, training=False):
        """`z`, or `[z, label]` for conditional models -> images."""
        return self.generator(inputs, training=training)

    # Compilation: two optimizers, saved and restored with the model.

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Configures the discriminator and generator optimizers.

        `model.optimizer` is then a `JointLearningRate`, so Keras's
        learning-rate callbacks scale both rates by the same factor.

        Args:
            d_optimizer: optimizer (or its name) for the discriminator.
            g_optimizer: optimizer (or its name) for the generator.
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`,
                `steps_per_execution`, `run_eagerly`).
        """
        d_optimizer, g_optimizer = keras.optimizers.get(d_optimizer), keras.optimizers.get(g_optimizer)
        for name, optimizer in (("d_optimizer", d_optimizer), ("g_optimizer", g_optimizer)):
            if getattr(optimizer, "use_ema", False):
                raise ValueError(
                    f"{name} has use_ema=True, whose averages Keras swaps in for a single "
                    "`model.optimizer` only; use the model's ema_decay (e.g. 0.999) for an "
                    "averaged generator, and optimizers without use_ema."
                )
        # No `optimizer`: keras.Model.compile would install an unused RMSprop
        # (and the one-optimizer compile of GenerativeModel does not apply).
        keras.Model.compile(self, optimizer=None, **kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        if self.dtype_policy.name == "mixed_float16":
            # Keras scales the loss of `self.optimizer` only; both need it.
            self.d_optimizer = keras.optimizers.LossScaleOptimizer(self.d_optimizer)
            self.g_optimizer = keras.optimizers.LossScaleOptimizer(self.g_optimizer)
        # Built now, so a model saved before `fit` round-trips its optimizers
        # (an unbuilt optimizer skips loading its state, keras#19389).
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator_network.trainable_variables)
        self.optimizer = JointLearningRate(self.d_optimizer, self.g_optimizer)

    def without_average(self):
        """This GAN with `ema_decay=0` and the trained networks' weights, or None without `ema_decay`.

        For a GAN whose average measures worse than the network it averages:
        the copy holds one generator's weights fewer.
        """
        return self._single_generator(self.generator_network)

    def average_only(self):
        """This GAN with `ema_decay=0` whose generator holds the average's weights, or None without `ema_decay`."""
        return self._single_generator(self.ema_generator)

    def _single_generator(self, source):
        """A copy with `ema_decay=0` whose generator holds `source`'s weights, or None without `ema_decay`."""
        if self.ema_generator is None:
            return None
        copy = type(self).from_config(dict(self.get_config(), ema_decay=0.0))
        copy.generator_network.set_weights(source.get_weights())
        copy.discriminator.set_weights(self.discriminator.get_weights())
        return copy

    def get_compile_config(self):
        config = super().get_compile_config()
        if not config:  # not compiled
            return config
        config["d_optimizer"] = keras.saving.serialize_keras_object(self.d_optimizer)
        config["g_optimizer"] = keras.saving.serialize_keras_object(self.g_optimizer)
        config["learning_rate_ratio"] = self.optimizer.ratio
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        config.pop("optimizer", None)
        # The compile-time ratio: the saved rates may be scheduled ones (even 0).
        recorded = "learning_rate_ratio" in config
        ratio = config.pop("learning_rate_ratio", None)
        self.compile(**config)
        if recorded:
            self.optimizer.ratio = ratio

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, refusing up front the callbacks that cannot act on a GAN."""
        callbacks = inspect.signature(keras.Model.fit).bind(self, *args, **kwargs).arguments.get("callbacks")
        for callback in getattr(callbacks, "callbacks", callbacks) or ():
            if type(callback) in UNSUPPORTED_CALLBACKS:
                raise ValueError(
                    f"{type(callback).__name__} cannot act on {type(self).__name__}: "
                    f"{UNSUPPORTED_CALLBACKS[type(callback)]}."
                )
        return super().fit(*args, **kwargs)

    def default_optimizers(self, d_lr=None, g_lr=None, beta_1=None, beta_2=None):
        """Adam optimizers with this model's recommended settings (TTUR-ready).

        Arguments left at None take the model's defaults (`learning_rate`,
        `adam_beta_1`, `adam_beta_2`); presets record the ones they change.
        """

        def adam(lr):
            return keras.optimizers.Adam(
                self.learning_rate if lr is None else lr,
                beta_1=self.adam_beta_1 if beta_1 is None else beta_1,
                beta_2=self.adam_beta_2 if beta_2 is None else beta_2,
            )

        return {"d_optimizer": adam(d_lr), "g_optimizer": adam(g_lr)}

    @property
    def metrics(self):
        return [self.loss_tracker, self.d_loss_tracker, self.g_loss_tracker]

    # Hooks that define the game.

    def discriminator_loss(self, real_scores, fake_scores):
        return losses.nonsaturating_discriminator_loss(
            real_scores, fake_scores, real_label=1.0 - self.label_smoothing
        )

    def generator_loss(self, fake_scores):
        return losses.nonsaturating_generator_loss(fake_scores)

    def discriminator_penalty(self, real, fake, labels=None):
        """Regulariser added to the discriminator loss: R1 when `r1_weight` > 0."""
        if not self.r1_weight:
            return 0.0
        critic = lambda x: self.discriminate(x, training=True, labels=labels)  # noqa: E731
        return 0.5 * self.r1_weight * losses.r1_penalty(critic, real)

    # The loop. `labels` (int32, one per image) matter only to conditional
    # models: the fakes of a step are generated for the real batch's labels.

    def discriminate(self, images, training, labels=None):
        """Discriminator scores of images (augmented in training), packed `pack` at a time."""
        if training and self.diffaugment:
            images = augment.diff_augment(images, self.diffaugment.split(","), self.seed_generator)
        images = pack_samples(images, self.pack)
        inputs = [images, labels] if self.num_classes else images
        return self.discriminator(inputs, training=training)

    def fakes(self, batch_size, labels, training):
        """Images from the trained generator for fresh latents (and `labels`)."""
        z = self.random_latents(batch_size)
        return self.generator_network([z, labels] if self.num_classes else z, training=training)

    def discriminate_pair(self, real, fake, training, labels=None):
        """`(real scores, fake scores)`, from one discriminator call with `joint_discriminator_pass`."""
        if not self.joint_discriminator_pass:
            return (self.discriminate(real, training=training, labels=labels),
                    self.discriminate(fake, training=training, labels=labels))
        both_labels = None if labels is None else tf.concat([labels, labels], 0)
        scores = self.discriminate(tf.concat([real, fake], 0), training=training, labels=both_labels)
        return tf.split(scores, 2)

    def discriminator_objective(self, real, fake, training, labels=None):
        real_scores, fake_scores = self.discriminate_pair(real, fake, training, labels)
        loss = self.discriminator_loss(real_scores, fake_scores)
        return loss + self.discriminator_penalty(real, fake, labels)

    def train_step(self, data):
        real, labels = images_and_labels(data, self)
        batch_size = tf.shape(real)[0]
        d_weights = self.discriminator.trainable_weights
        g_weights = self.generator_network.trainable_weights
        for _ in range(self.critic_steps):
            fake = self.fakes(batch_size, labels, training=True)
            with tf.GradientTape() as tape:
                d_loss = self.discriminator_objective(real, fake, training=True, labels=labels)
                scaled = self.d_optimizer.scale_loss(replica_share(d_loss))
            self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, d_weights), d_weights))
        with tf.GradientTape() as tape:
            fake = self.fakes(batch_size, labels, training=True)
            g_loss = self.generator_loss(self.discriminate(fake, training=True, labels=labels))
            scaled = self.g_optimizer.scale_loss(replica_share(g_loss))
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, g_weights), g_weights))
        if self.ema_generator is not None:
            self.update_ema()
        return self._update_metrics(d_loss, g_loss)

    def update_ema(self):
        """ema <- decay * ema + (1 - decay) * weights, batch-norm statistics included."""
        for average, current in zip(self.ema_generator.weights, self.generator_network.weights):
            average.assign(self.ema_decay * average + (1.0 - self.ema_decay) * current)

    def test_step(self, data):
        real, labels = images_and_labels(data, self)
        fake = self.fakes(tf.shape(real)[0], labels, training=False)
        d_loss = self.discriminator_objective(real, fake, training=False, labels=labels)
        g_loss = self.generator_loss(self.discriminate(fake, training=False, labels=labels))
        return self._update_metrics(d_loss, g_loss)

    def _update_metrics(self, d_loss, g_loss):
        # `loss` is what Keras's own callbacks watch (TerminateOnNaN,
        # monitor="loss"): non-finite when either player's loss is.
        self.loss_tracker.update_state(ops.cast(d_loss, "float32") + ops.cast(g_loss, "float32"))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return self.metric_results()


@register("dcgan")
class DCGAN(GAN):
    """Deep convolutional GAN with the non-saturating loss.

    Example:
        >>> model = DCGAN(image_shape=(28, 28, 1), latent_dim=64)
        >>> model.compile(**model.default_optimizers())
        >>> model.fit(training.data.load("fashion_mnist", model=model), epochs=1)

    The default learning rate is 1e-3 for both players rather than the
    paper's 2e-4: on Fashion-MNIST at batch 128, one epoch at 2e-4 gave
    texture blobs of tops only, and at 1e-3 recognisable trousers, shoes,
    dresses and tops, at the same cost (measured; see docs/training.md).

    References:
        Radford et al., "Unsupervised Representation Learning with Deep
        Convolutional Generative Adversarial Networks", ICLR 2016.
    """

    learning_rate = 1e-3


@register("lsgan")
class LSGAN(GAN):
    """GAN with least-squares losses (0-1-1 coding).

    Helps when the non-saturating loss gives vanishing gradients for fakes far
    on the correct side of the decision boundary: squared error keeps pulling
    them towards the real data.

    References:
        Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.
    """

    learning_rate = 2e-4

    def discriminator_loss(self, real_scores, fake_scores):
        return losses.least_squares_discriminator_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores):
        return losses.least_squares_generator_loss(fake_scores)


@register("sngan")
class SNGAN(GAN):
    """Hinge-loss GAN whose discriminator is spectrally normalised.

    Spectral normalisation bounds each discriminator layer's Lipschitz
    constant (top singular value ~1), which steadies training without a
    gradient penalty's extra backward pass. Uses
    `keras.layers.SpectralNormalization`, which renormalises the kernel in
    place at each training call (one power iteration) rather than
    differentiating through the normalisation as the paper does.

    References:
        Miyato et al., "Spectral Normalization for Generative Adversarial
        Networks", ICLR 2018.
    """

    discriminator_normalization = "spectral"
    learning_rate = 2e-4

    def discriminator_loss(self, real_scores, fake_scores):
        return losses.hinge_discriminator_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores):
        return losses.hinge_generator_loss(fake_scores)
