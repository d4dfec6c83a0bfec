"""A GAN's two optimizers seen as one by Keras's learning-rate callbacks."""

import keras


class JointLearningRate:
    """A GAN's `model.optimizer`: one learning rate that moves both optimizers.

    Keras's learning-rate callbacks (`ReduceLROnPlateau`,
    `LearningRateScheduler`) read and set `model.optimizer.learning_rate`.
    Here that rate is the discriminator's, and setting it to `lr` sets the
    discriminator's rate to `lr` and the generator's to `lr * ratio`, with
    `ratio` = g_lr / d_lr when the model was compiled (saved with it). So a
    schedule or a plateau scales both rates by the same factor and a TTUR
    ratio survives. Training itself uses `d_optimizer` and `g_optimizer`.

    Example:
        >>> model.compile(**model.default_optimizers(d_lr=4e-4, g_lr=1e-4))
        >>> model.optimizer.learning_rate = 2e-4  # d: 2e-4, g: 5e-5
    """

    #: Both optimizers are built by `GAN.compile` (Keras checks this).
    built = True

    def __init__(self, d_optimizer, g_optimizer):
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        d_lr, g_lr = (float(keras.ops.convert_to_numpy(o.learning_rate)) for o in (d_optimizer, g_optimizer))
        # None: no ratio links a generator rate to a discriminator rate of 0.
        self.ratio = g_lr / d_lr if d_lr else (None if g_lr else 1.0)

    @property
    def learning_rate(self):
        return self.d_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        if self.ratio is None:
            raise ValueError(
                "the discriminator's learning rate was 0 at compile time, so the generator's "
                "cannot follow it; set model.d_optimizer.learning_rate and "
                "model.g_optimizer.learning_rate yourself (e.g. in a LambdaCallback)."
            )
        self.d_optimizer.learning_rate = learning_rate
        self.g_optimizer.learning_rate = float(learning_rate) * self.ratio

    @property
    def iterations(self):
        """Training steps: one generator update each."""
        return self.g_optimizer.iterations

    @property
    def variables(self):
        return self.d_optimizer.variables + self.g_optimizer.variables


#: Keras callbacks that cannot act on a GAN, and what to use instead.
UNSUPPORTED_CALLBACKS = {
    keras.callbacks.SwapEMAWeights: (
        "it swaps in the averages of an optimizer with use_ema=True, which GANs refuse; "
        "use the model's ema_decay (e.g. 0.999): `generator`, and so sampling, checkpoints "
        "and export, is then the generator's moving average"
    ),
}
