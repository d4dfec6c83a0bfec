"""Wasserstein GAN family: a critic trained under a gradient penalty, several updates per generator update."""

import keras
import tensorflow as tf

from zoo import losses
from zoo.base import check_integer, check_number, replica_draw
from zoo.gan import GAN
from zoo.registry import register


@register("wgan_gp")
class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty.

    The critic uses layer normalisation (batch norm would couple the examples
    the penalty treats independently) and takes `critic_steps` updates per
    generator update, each on the same real batch and new fakes. It logs
    what every GAN logs: `d_loss` is the last critic update's Wasserstein
    loss plus the gradient penalty that update paid (none, with
    `gp_interval` > 1, on the updates that skip it), and `loss` =
    `d_loss` + `g_loss`.

    Args:
        critic_steps: critic updates per generator update (paper: 5).
        gp_weight: weight of the gradient penalty (paper: 10).
        gp_interval: apply the penalty on every `gp_interval`-th critic
            update only, weighted by `gp_interval` so its average pull is
            unchanged: lazy regularisation (Karras et al. 2020, section
            3.1). The penalty's double backward pass costs more than the
            rest of a critic update, so this is the step's main speed lever.
            1 (default) is the paper's step.
        gp_batch_shrink: estimate the penalty on every `gp_batch_shrink`-th
            example of each critic update rather than on all of them: an
            unbiased estimate of the same expectation that keeps the
            constraint on every update, noisier (StyleGAN2 shrinks the batch
            of its path-length penalty the same way). 1 (default) is the
            paper's step.
        **kwargs: `GAN` arguments.

    Example:
        >>> fast = WGANGP(architecture="keras_io", latent_dim=128, critic_steps=3,
        ...               gp_batch_shrink=2, joint_discriminator_pass=True)

    References:
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017;
        Karras et al., "Analyzing and Improving the Image Quality of
        StyleGAN", CVPR 2020 (lazy regularisation).
    """

    discriminator_normalization = "layer"
    # Two critic steps keep a test's training loop (and its trace) short.
    TINY_CONFIG = {**GAN.TINY_CONFIG, "critic_steps": 2}
    learning_rate = 1e-4
    adam_beta_1 = 0.0
    adam_beta_2 = 0.9

    def __init__(self, *args, critic_steps=5, gp_weight=10.0, gp_interval=1, gp_batch_shrink=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.critic_steps = check_integer("critic_steps", critic_steps, 1, "an integer >= 1 (paper: 5)")
        self.gp_weight = check_number("gp_weight", gp_weight, lambda w: w >= 0, "a weight >= 0 (paper: 10)")
        self.gp_interval = check_integer(
            "gp_interval", gp_interval, 1, "an integer >= 1 (1: every critic update, the paper's step)")
        self.gp_batch_shrink = check_integer(
            "gp_batch_shrink", gp_batch_shrink, 1, "an integer >= 1 (1: the whole batch, the paper's step)")

    def get_config(self):
        config = super().get_config()
        config.update(critic_steps=self.critic_steps, gp_weight=self.gp_weight, gp_interval=self.gp_interval,
                      gp_batch_shrink=self.gp_batch_shrink)
        return config

    def discriminator_loss(self, real_scores, fake_scores):
        return losses.wasserstein_critic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores):
        return losses.wasserstein_generator_loss(fake_scores)

    def discriminator_penalty(self, real, fake, labels=None):
        # One interpolation weight per example, uniform in [0, 1].
        alpha = replica_draw(
            lambda n: keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator), tf.shape(real)[0])
        # Every k-th example: the real batch is shuffled and the fakes are
        # independent, so any rows would do, and these stay the same global
        # examples under tf.distribute when each replica's share divides by k.
        k = self.gp_batch_shrink
        gp_labels = None if labels is None else labels[::k]
        critic = lambda x: self.discriminate(x, training=True, labels=gp_labels)  # noqa: E731

        def penalty():
            return self.gp_weight * self.gp_interval * losses.gradient_penalty(
                critic, real[::k], fake[::k], alpha[::k])

        if self.gp_interval == 1:
            total = penalty()
        else:  # critic update n (counted from 0) pays the penalty when n % gp_interval == 0
            due = tf.equal(self.d_optimizer.iterations % self.gp_interval, 0)
            total = tf.cond(due, penalty, lambda: tf.zeros((), real.dtype))
        return total + super().discriminator_penalty(real, fake, labels)
