"""Wasserstein GAN family behaviour."""

import keras
import pytest
import tensorflow as tf

from tests.conftest import tiny_images, tiny_model
from zoo import losses


@pytest.mark.parametrize("critic_steps", [1, 3])
def test_critic_takes_exactly_n_steps_per_generator_step(critic_steps):
    model = tiny_model("wgan_gp", critic_steps=critic_steps)
    model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0)  # 2 batches
    assert int(model.g_optimizer.iterations) == 2
    assert int(model.d_optimizer.iterations) == 2 * critic_steps


def test_rejects_zero_critic_steps():
    with pytest.raises(ValueError, match="critic_steps=0"):
        tiny_model("wgan_gp", critic_steps=0)


def test_critic_has_no_batch_norm():
    model = tiny_model("wgan_gp")
    kinds = {type(layer).__name__ for layer in model.discriminator.layers}
    assert "BatchNormalization" not in kinds


def test_lazy_gradient_penalty_applies_every_kth_update_weighted_by_k():
    real, fake = (tf.constant(tiny_images(tiny_model("wgan_gp"), n=4, seed=s)) for s in (1, 2))
    exact, lazy = tiny_model("wgan_gp"), tiny_model("wgan_gp", gp_interval=3)
    lazy.set_weights(exact.get_weights())
    penalties = []
    for update in range(5):
        lazy.d_optimizer.iterations.assign(update)
        exact.seed_generator.state.assign(lazy.seed_generator.state)  # the same interpolation weights
        penalties.append((float(lazy.discriminator_penalty(real, fake)),
                          float(exact.discriminator_penalty(real, fake))))
    for update, (lazy_value, exact_value) in enumerate(penalties):
        assert exact_value > 0
        expected = 3 * exact_value if update % 3 == 0 else 0.0
        assert lazy_value == pytest.approx(expected, rel=1e-5), update


def test_shrunk_gradient_penalty_is_the_penalty_of_every_kth_example():
    real, fake = (tf.constant(tiny_images(tiny_model("wgan_gp"), n=6, seed=s)) for s in (1, 2))
    exact, shrunk = tiny_model("wgan_gp"), tiny_model("wgan_gp", gp_batch_shrink=2)
    shrunk.set_weights(exact.get_weights())
    state = shrunk.seed_generator.state.numpy()
    value = float(shrunk.discriminator_penalty(real, fake))
    exact.seed_generator.state.assign(state)  # the same interpolation weights
    alpha = keras.random.uniform((6, 1, 1, 1), seed=exact.seed_generator)
    critic = lambda x: exact.discriminate(x, training=True)  # noqa: E731
    every_other = 10.0 * float(losses.gradient_penalty(critic, real[::2], fake[::2], alpha[::2]))
    whole = 10.0 * float(losses.gradient_penalty(critic, real, fake, alpha))
    assert value == pytest.approx(every_other, rel=1e-5)
    assert abs(every_other - whole) > 1e-3 * whole  # the other three examples did count before


def test_shrunk_gradient_penalty_keeps_one_example_of_a_tiny_batch():
    model = tiny_model("wgan_gp", gp_batch_shrink=4)
    real, fake = (tf.constant(tiny_images(model, n=2, seed=s)) for s in (1, 2))
    state = model.seed_generator.state.numpy()
    value = float(model.discriminator_penalty(real, fake))
    model.seed_generator.state.assign(state)  # the same interpolation weights
    alpha = keras.random.uniform((2, 1, 1, 1), seed=model.seed_generator)
    critic = lambda x: model.discriminate(x, training=True)  # noqa: E731
    # A batch of 2 shrunk by 4 keeps its first example, not none.
    first = 10.0 * float(losses.gradient_penalty(critic, real[:1], fake[:1], alpha[:1]))
    assert first > 0 and value == pytest.approx(first, rel=1e-5)
