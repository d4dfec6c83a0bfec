"""The project's WGAN-GP `fit` against a plain hand-written loop of the same networks and algorithm.

The plain loop is the keras.io WGAN-GP example written out as one
`tf.function` with `tf.GradientTape`s (its networks built here, not taken
from the library): 3 critic updates on the batch's real images and fresh
fakes with a gradient penalty of weight 10, then one generator update; Adam
2e-4, betas 0.5 / 0.9. Against it run the library's `wgan_gp` at the
`wgan_gp_keras_io` preset through `model.fit`, once with the exact step
(the defaults) and once with the fast one (`--fast` constructor arguments).
All contenders take the same Fashion-MNIST batches and alternate window by
window in this one process, so the machine's drift hits them alike. A
window is `--steps` generator steps timed from the end of an untimed first
step; medians over `--windows` windows after a warm-up window. Prints one
JSON object: images/s (generator-step images: batch x steps / s) of each
and the ratios to the plain loop.

    python benchmarks/versus_plain.py [--batch-size 512] [--steps 3] [--windows 5]
        [--fast gp_batch_shrink=2,joint_discriminator_pass=True] [--precision mixed_bfloat16]
        [--fast-precision mixed_bfloat16]

`--precision` sets the dtype policy of all contenders; `--fast-precision`
adds a fourth, the fast step built under that policy (named
`fast_<policy>`), while the plain loop stays the keras.io example as
written.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from environment import environment  # noqa: E402
from keras import layers  # noqa: E402

import zoo  # noqa: E402
from commands.common import assignment  # noqa: E402
from training import data  # noqa: E402
from training.train import dtype_policy  # noqa: E402

PRESET = "wgan_gp_keras_io"
LATENT_DIM, CRITIC_STEPS, GP_WEIGHT = 128, 3, 10.0


def plain_generator():
    z = keras.Input((LATENT_DIM,))
    x = layers.Dense(4 * 4 * 256, use_bias=False)(z)
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    x = layers.Reshape((4, 4, 256))(x)
    for filters, activation in ((128, layers.LeakyReLU(0.2)), (64, layers.LeakyReLU(0.2)),
                                (1, layers.Activation("tanh", dtype="float32"))):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(layers.UpSampling2D()(x))
        x = activation(layers.BatchNormalization()(x))
    return keras.Model(z, layers.Cropping2D(2, dtype="float32")(x))


def plain_critic():
    image = keras.Input((28, 28, 1))
    x = layers.ZeroPadding2D(2)(image)
    for filters, dropout in ((64, 0), (128, 0.3), (256, 0.3), (512, 0)):
        x = layers.LeakyReLU(0.2)(layers.Conv2D(filters, 5, strides=2, padding="same")(x))
        if dropout:
            x = layers.Dropout(dropout)(x)
    x = layers.Dropout(0.2)(layers.Flatten()(x))
    return keras.Model(image, layers.Dense(1, dtype="float32")(x))


class PlainWGANGP:
    """The hand-written loop: what a user of the keras.io example would write."""

    def __init__(self):
        self.generator, self.critic = plain_generator(), plain_critic()
        self.g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.9)
        self.c_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.9)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.c_optimizer.build(self.critic.trainable_variables)

    @tf.function
    def step(self, real):
        batch = tf.shape(real)[0]
        for _ in range(CRITIC_STEPS):
            z = tf.random.normal((batch, LATENT_DIM))
            with tf.GradientTape() as tape:
                fake = self.generator(z, training=True)
                cost = tf.reduce_mean(self.critic(fake, training=True)) - tf.reduce_mean(
                    self.critic(real, training=True))
                alpha = tf.random.uniform((batch, 1, 1, 1))
                mixed = real + alpha * (fake - real)
                with tf.GradientTape() as inner:
                    inner.watch(mixed)
                    scores = self.critic(mixed, training=True)
                norms = tf.sqrt(tf.reduce_sum(tf.square(inner.gradient(scores, mixed)), axis=[1, 2, 3]))
                loss = cost + GP_WEIGHT * tf.reduce_mean(tf.square(norms - 1.0))
            weights = self.critic.trainable_variables
            self.c_optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        z = tf.random.normal((batch, LATENT_DIM))
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.critic(self.generator(z, training=True), training=True))
        weights = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
        return loss, g_loss


class StepTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def project_model(fast_arguments, precision=None):
    with dtype_policy(precision or keras.mixed_precision.global_policy().name):
        model = zoo.create("wgan_gp", **{**zoo.preset(PRESET)[1], **fast_arguments})
    model.compile(**model.default_optimizers(**zoo.preset_learning_rates(PRESET)))
    return model


def parse_arguments(text):
    """`k=v,k=v` -> dict of constructor arguments, as `--set` reads each."""
    return dict(assignment(item) for item in text.split(",") if item)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3, help="timed generator steps per window")
    parser.add_argument("--windows", type=int, default=5, help="timed windows per contender")
    parser.add_argument("--fast", default="gp_batch_shrink=2,joint_discriminator_pass=True",
                        help="constructor arguments of the fast step")
    parser.add_argument("--precision", help="a Keras dtype policy for all contenders, e.g. mixed_bfloat16")
    parser.add_argument("--fast-precision", help="also time the fast step under this dtype policy")
    args = parser.parse_args()
    if args.precision:
        keras.mixed_precision.set_global_policy(args.precision)
    keras.utils.set_random_seed(0)

    fast = parse_arguments(args.fast)
    exact_model, fast_model, plain = project_model({}), project_model(fast), PlainWGANGP()
    counts = {name: m.count_params() for name, m in (
        ("plain_generator", plain.generator), ("plain_critic", plain.critic),
        ("generator", exact_model.generator), ("critic", exact_model.discriminator))}
    assert counts["plain_generator"] == counts["generator"] and counts["plain_critic"] == counts["critic"], counts

    dataset = data.load("fashion_mnist", "train", model=exact_model, batch_size=args.batch_size, seed=0).repeat()
    plain_batches = iter(dataset)

    def time_plain():
        plain.step(next(plain_batches)[0])  # untimed: the window starts after a finished step
        start = time.perf_counter()
        for _ in range(args.steps):
            losses = plain.step(next(plain_batches)[0])
        float(losses[0])  # waits for the last step
        return time.perf_counter() - start

    def time_fit(model):
        timer = StepTimes()
        model.fit(dataset, epochs=1, steps_per_epoch=args.steps + 1, verbose=0, callbacks=[timer],
                  shuffle=False)
        return timer.ends[-1] - timer.ends[0]

    contenders = {"plain": time_plain, "exact": lambda: time_fit(exact_model),
                  "fast": lambda: time_fit(fast_model)}
    if args.fast_precision:
        fast_cast = project_model(fast, args.fast_precision)
        contenders[f"fast_{args.fast_precision}"] = lambda: time_fit(fast_cast)
    seconds = {name: [] for name in contenders}
    for window in range(args.windows + 1):  # window 0 is the warm-up (tracing)
        for name, run in contenders.items():
            elapsed = run()
            print(f"window {window} {name}: {args.batch_size * args.steps / elapsed:.1f} images/s",
                  file=sys.stderr, flush=True)
            if window:
                seconds[name].append(elapsed)
    rates = {name: [args.batch_size * args.steps / s for s in values] for name, values in seconds.items()}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(json.dumps({
        "benchmark": "versus_plain",
        "preset": PRESET,
        "batch_size": args.batch_size,
        "critic_steps": CRITIC_STEPS,
        "steps_per_window": args.steps,
        "windows": args.windows,
        "precision": args.precision or "float32",
        "fast_arguments": fast,
        "parameters": counts,
        "images_per_s_median": {k: round(v, 1) for k, v in medians.items()},
        "images_per_s": {k: [round(r, 1) for r in v] for k, v in rates.items()},
        **{f"{name}_over_plain": round(medians[name] / medians["plain"], 3) for name in medians
           if name != "plain"},
        **environment(),
    }, indent=2))


if __name__ == "__main__":
    main()
