"""Loss functions and penalties of the model families, as pure functions.

Each takes tensors and returns a scalar (or a per-example vector where the
docstring says so), so it can be checked against a hand-computed value.
"""

import math

import keras
import tensorflow as tf
from keras import ops


def nonsaturating_discriminator_loss(real_logits, fake_logits, real_label=1.0):
    """Standard GAN discriminator loss: `-log D(x) - log(1 - D(G(z)))`.

    Written with softplus on logits, which is the same quantity computed
    without overflow: `-log sigmoid(l) = softplus(-l)`,
    `-log(1 - sigmoid(l)) = softplus(l)`.

    Args:
        real_label: target of real images; below 1 is one-sided label
            smoothing (binary cross-entropy against `real_label`).

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014;
        Salimans et al., "Improved Techniques for Training GANs", 2016
        (one-sided label smoothing).
    """
    real = real_label * ops.softplus(-real_logits) + (1.0 - real_label) * ops.softplus(real_logits)
    return ops.mean(real) + ops.mean(ops.softplus(fake_logits))


def nonsaturating_generator_loss(fake_logits):
    """Non-saturating generator loss `-log D(G(z))` (Goodfellow et al. 2014)."""
    return ops.mean(ops.softplus(-fake_logits))


def wasserstein_critic_loss(real_scores, fake_scores):
    """WGAN critic loss `E[f(G(z))] - E[f(x)]` (Arjovsky et al. 2017)."""
    return ops.mean(fake_scores) - ops.mean(real_scores)


def wasserstein_generator_loss(fake_scores):
    """WGAN generator loss `-E[f(G(z))]` (Arjovsky et al. 2017)."""
    return -ops.mean(fake_scores)


def least_squares_discriminator_loss(real_scores, fake_scores):
    """LSGAN discriminator loss `1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]`.

    References:
        Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017
        (the 0-1-1 coding).
    """
    return 0.5 * ops.mean(ops.square(real_scores - 1.0)) + 0.5 * ops.mean(ops.square(fake_scores))


def least_squares_generator_loss(fake_scores):
    """LSGAN generator loss `1/2 E[(D(G(z)) - 1)^2]` (Mao et al. 2017)."""
    return 0.5 * ops.mean(ops.square(fake_scores - 1.0))


def hinge_discriminator_loss(real_scores, fake_scores):
    """Hinge loss `E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]`.

    References:
        Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral
        Normalization for Generative Adversarial Networks", ICLR 2018.
    """
    return ops.mean(ops.relu(1.0 - real_scores)) + ops.mean(ops.relu(1.0 + fake_scores))


def hinge_generator_loss(fake_scores):
    """Generator loss of the hinge game, `-E[D(G(z))]` (Miyato et al. 2018)."""
    return -ops.mean(fake_scores)


def gradient_penalty(critic, real, fake, alpha, epsilon=1e-12):
    """WGAN-GP penalty `E[(||grad f(x_hat)||_2 - 1)^2]`.

    Args:
        critic: callable mapping a batch of images to scores `(batch, 1)`.
        real: real images, `(batch, H, W, C)`.
        fake: generated images, same shape.
        alpha: interpolation weights, `(batch, 1, 1, 1)`, uniform in [0, 1]
            per example; `x_hat = real + alpha * (fake - real)`.
        epsilon: added inside the square root so the gradient of the norm
            stays finite where the critic's gradient is zero.

    Returns:
        Scalar penalty, averaged over the batch.

    References:
        Gulrajani et al., "Improved Training of Wasserstein GANs", 2017.
    """
    interpolated = real + alpha * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated)
    grads = tape.gradient(scores, interpolated)
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=[1, 2, 3]) + epsilon)
    return ops.mean(ops.square(norms - 1.0))


def r1_penalty(discriminator, real):
    """R1 penalty `E[||grad_x D(x)||^2]` on real images (no 1/2; callers weight it).

    References:
        Mescheder et al., "Which Training Methods for GANs do actually
        Converge?", ICML 2018.
    """
    with tf.GradientTape() as tape:
        tape.watch(real)
        scores = discriminator(real)
    grads = tape.gradient(scores, real)
    return ops.mean(ops.sum(ops.square(grads), axis=[1, 2, 3]))


def gaussian_kl_divergence(z_mean, z_log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over latents.

    Returns:
        Tensor of shape `(batch,)`.

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", 2014, appendix B.
    """
    return -0.5 * ops.sum(
        1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1
    )


def bernoulli_reconstruction_loss(images, reconstructions):
    """Binary cross-entropy summed over pixels, per example.

    Args:
        images: targets in [0, 1], `(batch, H, W, C)`.
        reconstructions: decoder outputs in [0, 1], same shape.

    Returns:
        Tensor of shape `(batch,)`: the negative log-likelihood of the images
        under independent Bernoulli pixels (up to the usual continuous relaxation).
    """
    per_pixel = keras.losses.binary_crossentropy(
        images[..., None], reconstructions[..., None]
    )
    return ops.sum(per_pixel, axis=[1, 2, 3])


def gaussian_reconstruction_loss(targets, means, log_gamma):
    """Negative log-likelihood of `targets` under N(means, gamma I), summed per example.

    `gamma = exp(log_gamma)` is one learned variance shared by every value,
    as in Dai & Wipf's two-stage VAE: learning it lets the decoder sharpen
    (gamma falls as reconstructions improve) instead of staying at the blur
    a fixed variance or a Bernoulli likelihood settles for.

    Args:
        targets: `(batch, ...)` values.
        means: the decoder's outputs, same shape.
        log_gamma: scalar tensor.

    Returns:
        Tensor of shape `(batch,)`.

    References:
        Dai & Wipf, "Diagnosing and Enhancing VAE Models", ICLR 2019.
    """
    axes = list(range(1, len(targets.shape)))
    size = 1
    for dim in targets.shape[1:]:
        size *= dim
    squared = ops.sum(ops.square(targets - means), axis=axes)
    return 0.5 * squared * ops.exp(-log_gamma) + 0.5 * size * (log_gamma + math.log(2.0 * math.pi))


def flow_interpolation(noise, images, t):
    """The straight path from `noise` (t = 0) to `images` (t = 1) at times `t`: `(1 - t) * noise + t * images`."""
    return (1.0 - t) * noise + t * images


def flow_matching_loss(noise, images, predicted_velocity):
    """Mean squared error of the predicted velocity against the path's: `images - noise` (Lipman et al. eq. 23)."""
    return ops.mean(ops.square(predicted_velocity - (images - noise)))


def velocity_regression_loss(predicted_velocity, target_velocity):
    """Mean squared error of a velocity against a target velocity (a distilled teacher's)."""
    return ops.mean(ops.square(predicted_velocity - target_velocity))
