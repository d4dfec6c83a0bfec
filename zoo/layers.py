"""Custom layers. Registered with Keras saving so `.keras` files round-trip."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation as one more channel.

    For `(batch, H, W, C)` inputs, computes each feature's standard deviation
    over the batch, averages it to one scalar, and concatenates it as a
    constant `(batch, H, W, 1)` map. The discriminator can then see how
    varied a batch is, so a generator that collapses to a few outputs is
    easy to tell apart from real data.

    Args:
        epsilon: added to the variance before the square root.

    References:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018 (section 3, group = minibatch).
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        std = ops.sqrt(ops.var(inputs, axis=0) + self.epsilon)  # (H, W, C)
        shape = ops.shape(inputs)
        statistic = ops.broadcast_to(ops.mean(std), (shape[0], shape[1], shape[2], 1))
        return ops.concatenate([inputs, ops.cast(statistic, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
