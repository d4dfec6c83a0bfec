"""Flow matching: a velocity network carries a noise image to an image along straight paths.

Training regresses the velocity of the straight line from a noise image `x0`
to a data image `x1` (rectified flow / conditional flow matching); sampling
solves the ODE `dx/dt = v(x, t)` from `t = 0` (the seed's noise image) to
`t = 1` in a fixed number of Euler or Heun steps. The steps are a Python
loop of fixed length, so every exported graph holds them unrolled (no WHILE
op, which the TFLite GPU delegate cannot run).

References:
    Lipman et al., "Flow Matching for Generative Modeling", ICLR 2023.
    Liu et al., "Flow Straight and Fast: Learning to Generate and Transfer
    Data with Rectified Flow", ICLR 2023.
    Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022.
    Salimans & Ho, "Progressive Distillation for Fast Sampling of Diffusion
    Models", ICLR 2022 (`DistilledFlow`).
"""

import math
import os

import keras
import tensorflow as tf
from keras import ops

from zoo import losses
from zoo.base import (
    MAX_SAMPLING_STEPS,
    GenerativeModel,
    check_choice,
    check_flag,
    check_integer,
    check_number,
    class_mixing_network,
    images_and_labels,
    replica_draw,
    replica_share,
)
from zoo.conditional import check_num_classes
from zoo.latents import check_prior
from zoo.registry import register

#: ODE solvers `generate` knows: network calls per step.
SOLVERS = {"euler": 1, "heun": 2}
#: Normalizations of the velocity U-Net's residual blocks.
NORMALIZATIONS = ("group", "none")


def check_steps(steps):
    """`steps` as an int in [1, MAX_SAMPLING_STEPS]: ODE steps from noise to image."""
    steps = check_integer("steps", steps, 1, "a number of ODE steps >= 1, e.g. 8")
    if steps > MAX_SAMPLING_STEPS:
        raise ValueError(
            f"steps={steps}; use at most {MAX_SAMPLING_STEPS} ODE steps (quality stops improving long before).")
    return steps


def check_guidance(guidance, num_classes):
    """`guidance` as a float >= 0; other than 1 only for a conditional flow."""
    guidance = check_number("guidance", guidance, lambda g: g >= 0, "a guidance scale >= 0 (1 is off), e.g. 2")
    if guidance != 1.0 and not num_classes:
        raise ValueError(f"guidance={guidance}: classifier-free guidance needs a conditional flow; leave it at 1.")
    return guidance


def check_solver(solver):
    """`solver` if `generate` knows it (`SOLVERS`)."""
    return check_choice("solver", solver, tuple(SOLVERS))


def time_embedding(t, dim):
    """Sinusoidal features of times `t` `(batch, 1)` in [0, 1]: `(batch, dim)` (Vaswani et al.'s, on 1000 t)."""
    half = dim // 2
    frequencies = ops.exp(-math.log(10000.0) * ops.arange(half, dtype="float32") / half)
    angles = 1000.0 * ops.cast(t, "float32") * frequencies[None, :]
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)


def _groups(channels):
    return math.gcd(channels, 8)


def _normalize(x, normalization, name):
    """Group norm of `x`, or `x` itself for `normalization="none"`."""
    if normalization == "none":
        return x
    return keras.layers.GroupNormalization(_groups(x.shape[-1]), name=name)(x)


def _residual_block(x, embedding, channels, name, normalization="group"):
    """Norm-swish-conv twice, the time (and class) embedding added between; a 1x1 skip if channels change.

    Without normalization the second convolution starts at zero, so each
    block starts as the identity (SkipInit, De & Smith 2020) and the
    activations keep their scale through the depth.
    """
    h = _normalize(x, normalization, f"{name}_norm1")
    h = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv1")(keras.activations.silu(h))
    h = h + keras.layers.Dense(channels, name=f"{name}_embedding")(embedding)[:, None, None, :]
    h = _normalize(h, normalization, f"{name}_norm2")
    h = keras.layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv2",
                            kernel_initializer="zeros" if normalization == "none" else "glorot_uniform")(
        keras.activations.silu(h))
    if x.shape[-1] != channels:
        x = keras.layers.Conv2D(channels, 1, name=f"{name}_skip")(x)
    return x + h


def _attention(x, name, normalization="group"):
    """Self-attention over the feature map's positions (one head per 32 channels), residual."""
    height, width, channels = x.shape[1:]
    h = _normalize(x, normalization, f"{name}_norm")
    tokens = keras.layers.Reshape((height * width, channels))(h)
    heads = max(1, channels // 32)
    attended = keras.layers.MultiHeadAttention(heads, channels // heads, name=f"{name}_mha")(tokens, tokens)
    return x + keras.layers.Reshape((height, width, channels))(attended)


def velocity_unet(image_shape, width, num_classes=0, attention=True, name="velocity", normalization="group",
                  blocks=2):
    """The velocity network `v(x, t[, label])`: a U-Net of two down-samplings with a time embedding.

    Residual blocks with group norm (or none) at each resolution (widths
    `width`, `2 * width`, `2 * width`), self-attention at the lowest one
    (7x7 for 28x28 images) and in the middle when `attention`; skips
    concatenated on the way up. `blocks=2` is DDPM's layout: two blocks in
    the middle and per resolution on the way up, each taking one skip of
    the way down; `blocks=1` has one of each, taking the resolution's
    output. A conditional network adds a learnt class embedding to the time
    embedding; class `num_classes` is "no class", the unconditional
    velocity classifier-free guidance mixes in.
    """
    x_in = keras.Input(image_shape, name="x")
    t_in = keras.Input((1,), name="t")
    inputs = [x_in, t_in]
    embedding_dim = 4 * width
    embedding = keras.layers.Dense(embedding_dim, activation="silu", name="time_dense1")(
        time_embedding(t_in, width))
    embedding = keras.layers.Dense(embedding_dim, name="time_dense2")(embedding)
    if num_classes:
        label_in = keras.Input((), dtype="int32", name="label")
        inputs.append(label_in)
        embedding = embedding + keras.layers.Embedding(num_classes + 1, embedding_dim, name="label_embedding")(
            label_in)
    embedding = keras.activations.silu(embedding)

    def block(h, channels, block_name):
        return _residual_block(h, embedding, channels, block_name, normalization)

    widths = (width, 2 * width, 2 * width)
    h = keras.layers.Conv2D(width, 3, padding="same", name="conv_in")(x_in)
    skips, outputs = [h], []  # every stage's output (blocks=2); each resolution's (blocks=1)
    for level, channels in enumerate(widths):
        h = block(h, channels, f"down{level}")
        if attention and level == len(widths) - 1:
            h = _attention(h, f"down{level}_attention", normalization)
        skips.append(h)
        outputs.append(h)
        if level < len(widths) - 1:
            h = keras.layers.Conv2D(channels, 3, strides=2, padding="same", name=f"downsample{level}")(h)
            skips.append(h)
    h = block(h, widths[-1], "middle1")
    if attention:
        h = _attention(h, "middle_attention", normalization)
    if blocks == 2:
        h = block(h, widths[-1], "middle2")
    for level, channels in reversed(list(enumerate(widths))):
        for k in range(blocks):
            h = keras.layers.Concatenate()([h, (skips if blocks == 2 else outputs).pop()])
            h = block(h, channels, f"up{level}_{k}")
        if attention and level == len(widths) - 1:
            h = _attention(h, f"up{level}_attention", normalization)
        if level > 0:
            h = keras.layers.UpSampling2D(2, name=f"upsample{level}")(h)
            h = keras.layers.Conv2D(channels, 3, padding="same", name=f"upsample{level}_conv")(h)
    h = _normalize(h, normalization, "norm_out")
    h = keras.layers.Conv2D(image_shape[-1], 3, padding="same", name="conv_out", kernel_initializer="zeros")(
        keras.activations.silu(h))
    velocity = keras.layers.Activation("linear", dtype="float32", name="velocity_out")(h)
    return keras.Model(inputs, velocity, name=name)


@register("flow")
class FlowMatching(GenerativeModel):
    """Flow matching (rectified flow) from a noise image, sampled by a fixed-step ODE solve.

    Args:
        image_shape: `(height, width, channels)`; height and width divisible
            by 4 (the U-Net halves them twice).
        width: channels of the U-Net's first level (then 2x, 2x).
        attention: self-attention at the lowest resolution and the middle.
        normalization: "group" (group norm in every residual block) or
            "none" (blocks that start as the identity instead): about half
            the LiteRT time per step, group norm being many small ops.
        blocks: residual blocks in the middle and per resolution on the way
            up: 2 (DDPM's U-Net) or 1 (a third fewer weights, faster).
        steps: ODE steps `sample` and `generate` take by default (exports
            hold this many unrolled).
        solver: "euler" (one network call per step) or "heun" (two; second order).
        guidance: classifier-free guidance scale a conditional flow samples
            with by default (1: off).
        ema_decay: decay of the weight average sampling uses (0: off).
        latent_prior: distribution of the noise image (`zoo.latents.PRIORS`).
        latent_dim: not an option: the latent is a noise image of
            `image_shape`; None or its size.
        seed: seed of the training draws (noise images, times).

    Example:
        >>> model = zoo.create("flow")
        >>> model.compile(**model.default_optimizers())
        >>> model.fit(training.data.load("fashion_mnist", model=model), epochs=1)
        >>> images = model.sample(16, seed=0, steps=16, solver="heun")
    """

    learning_rate = 5e-4
    # The presets' light U-Net: its graphs trace, convert and run several times faster than
    # group norm's, which the tests' graph battery covers as an option (tests/export/test_allowed_ops.py).
    TINY_CONFIG = {"image_shape": (16, 16, 1), "width": 8, "steps": 2, "attention": False, "normalization": "none",
                   "blocks": 1}

    def __init__(self, image_shape=(28, 28, 1), width=32, attention=True, steps=8, solver="euler", guidance=1.0,
                 ema_decay=0.999, latent_prior="normal", latent_dim=None, seed=None, normalization="group", blocks=2,
                 **kwargs):
        size = math.prod(int(side) for side in image_shape) if isinstance(image_shape, (tuple, list)) else None
        if latent_dim is not None and latent_dim != size:
            raise ValueError(
                f"latent_dim={latent_dim!r}: a flow's latent is a noise image of image_shape "
                f"({size} values); leave latent_dim out.")
        super().__init__(image_shape, size or 1, seed=seed, **kwargs)
        if self.image_shape[0] % 4 or self.image_shape[1] % 4:
            raise ValueError(
                f"image_shape={self.image_shape}: the U-Net halves height and width twice; use sides "
                f"divisible by 4, e.g. {(4 * -(-self.image_shape[0] // 4), 4 * -(-self.image_shape[1] // 4))}.")
        self.width = check_integer("width", width, 1, "an integer >= 1, e.g. 32")
        self.attention = check_flag("attention", attention)
        self.normalization = check_choice("normalization", normalization, NORMALIZATIONS)
        self.blocks = check_integer("blocks", blocks, 1, "1 or 2 (residual blocks per stage on the way up)")
        if self.blocks > 2:
            raise ValueError(f"blocks={blocks!r}; use 1 or 2 (residual blocks per stage on the way up).")
        self.sampling_steps = check_steps(steps)
        self.solver = check_solver(solver)
        self.guidance = check_guidance(guidance, self.num_classes)
        self.ema_decay = check_number(
            "ema_decay", ema_decay, lambda d: 0 <= d < 1, "a decay in [0, 1) (0 is off), e.g. 0.999")
        self.latent_prior = check_prior(latent_prior)
        self.velocity_network = velocity_unet(self.image_shape, self.width, self.num_classes, self.attention,
                                              normalization=self.normalization, blocks=self.blocks)
        self.ema_velocity = None
        if self.ema_decay:
            self.ema_velocity = keras.models.clone_model(self.velocity_network)
            self.ema_velocity.name = "ema_velocity"
            self.ema_velocity.set_weights(self.velocity_network.get_weights())
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def latent_shape(self):
        """The noise image: `image_shape`."""
        return tuple(self.image_shape)

    @property
    def sampling_options(self):
        options = {"steps": self.sampling_steps, "solver": self.solver}
        return {**options, "guidance": self.guidance} if self.num_classes else options

    @property
    def velocity(self):
        """The velocity network sampling uses: the weight average when `ema_decay` > 0."""
        return self.ema_velocity if self.ema_velocity is not None else self.velocity_network

    @property
    def metrics(self):
        return [self.loss_tracker]

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, attention=self.attention, normalization=self.normalization, blocks=self.blocks,
                      steps=self.sampling_steps, solver=self.solver, guidance=self.guidance, ema_decay=self.ema_decay,
                      latent_prior=self.latent_prior)
        return config

    def call(self, inputs, training=False):
        """The velocity at `(x, t[, label])`."""
        return self.velocity_network(inputs, training=training)

    def _velocity(self, network, x, t, labels, guidance):
        """`v(x, t)`; with a guidance scale other than 1, `v_none + guidance * (v_class - v_none)`."""
        n = ops.shape(x)[0]
        times = ops.full((n, 1), t, dtype="float32")
        if not self.num_classes:
            return network([x, times])
        if guidance == 1.0:
            return network([x, times, labels])
        none = ops.full_like(labels, self.num_classes)
        both = network([ops.concatenate([x, x], 0), ops.concatenate([times, times], 0),
                        ops.concatenate([labels, none], 0)])
        conditional, unconditional = both[:n], both[n:]
        return unconditional + guidance * (conditional - unconditional)

    def generate(self, z, labels=None, training=False, steps=None, solver=None, guidance=None):
        """Noise images `z` -> images: `steps` Euler or Heun steps of `dx/dt = v(x, t)` from t = 0 to 1.

        Args:
            z: noise images `(n, *image_shape)` (`latents(seeds)`).
            labels: int classes `(n,)` of a conditional model.
            steps: ODE steps (default the model's `steps`). A Python int is
                unrolled into the graph; an int32 scalar tensor runs a loop
                (`tf.while_loop`: the SavedModel's `generate_steps`), its
                range checked by the caller.
            solver: "euler" or "heun" (default the model's).
            guidance: classifier-free guidance scale of a conditional model
                (default the model's; 1: the conditional velocity alone).
        """
        if steps is None:
            steps = self.sampling_steps
        elif not tf.is_tensor(steps):
            steps = check_steps(steps)
        solver = self.solver if solver is None else check_solver(solver)
        guidance = self.guidance if guidance is None else check_guidance(guidance, self.num_classes)
        if self.num_classes:
            if labels is None:
                raise ValueError(f"{type(self).__name__} is conditional: pass one label in "
                                 f"[0, {self.num_classes}) per latent.")
            labels = ops.convert_to_tensor(labels, "int32")
        elif labels is not None:
            raise ValueError(f"{type(self).__name__} is unconditional; do not pass labels.")
        return self._solve(lambda x, t: self._velocity(self.velocity, x, t, labels, guidance), z, steps, solver)

    def _solve(self, velocity, z, steps, solver):
        """x(1) of `dx/dt = velocity(x, t)` from `x(0) = z`, in `steps` steps of `solver`, clipped to `pixel_range`.

        A Python int `steps` is a fixed Python loop, unrolled in every traced
        graph (no WHILE op, which the TFLite GPU delegate cannot run); a
        tensor is a loop in the graph.
        """
        def step(i, x, dt):
            t = i * dt if isinstance(i, int) else ops.cast(i, "float32") * dt
            v = velocity(x, t)
            if solver == "heun":
                v = 0.5 * (v + velocity(x + dt * v, t + dt))
            return x + dt * v

        x = ops.convert_to_tensor(z, "float32")
        if tf.is_tensor(steps):
            dt = 1.0 / ops.cast(steps, "float32")
            x = ops.fori_loop(0, steps, lambda i, x: step(i, x, dt), x)
        else:
            for i in range(steps):
                x = step(i, x, 1.0 / steps)
        return ops.clip(x, *self.pixel_range)

    def mixes_classes(self):
        return bool(self.num_classes)

    def generate_mixed(self, z, class_weights):
        """`GenerativeModel.generate_mixed`: the ODE solved with the classes' embeddings mixed by the weights."""
        if not self.num_classes:
            return super().generate_mixed(z, class_weights)
        network = class_mixing_network(self.velocity)
        weights = ops.convert_to_tensor(class_weights, "float32")
        weights = ops.concatenate([weights, ops.zeros_like(weights[:, :1])], axis=-1)  # none of "no class"

        def velocity(x, t):
            return network([x, ops.full((ops.shape(x)[0], 1), t, dtype="float32"), weights])

        return self._solve(velocity, z, self.sampling_steps, self.solver)

    def without_average(self):
        """This flow with `ema_decay=0` and the trained network's weights, or None without `ema_decay`."""
        return self._single_network(self.velocity_network)

    def average_only(self):
        """This flow with `ema_decay=0` whose network holds the average's weights, or None without `ema_decay`."""
        return self._single_network(self.ema_velocity)

    def _single_network(self, source):
        """A copy with `ema_decay=0` whose velocity network holds `source`'s weights, or None without `ema_decay`."""
        if self.ema_velocity is None:
            return None
        copy = type(self).from_config(dict(self.get_config(), ema_decay=0.0))
        copy.velocity_network.set_weights(source.get_weights())
        return copy

    def compute_loss_of(self, images, labels, training):
        n = ops.shape(images)[0]
        noise = self.random_latents(n)
        t = replica_draw(lambda k: keras.random.uniform((k, 1), seed=self.seed_generator), n)
        if labels is not None and training:
            # Classifier-free guidance: 10% of the examples learn the "no class" velocity.
            dropped = replica_draw(lambda k: keras.random.uniform((k,), seed=self.seed_generator), n) < 0.1
            labels = ops.where(dropped, self.num_classes, labels)
        between = losses.flow_interpolation(noise, images, t[:, :, None, None])
        inputs = [between, t] if labels is None else [between, t, labels]
        predicted = self.velocity_network(inputs, training=training)
        return losses.flow_matching_loss(noise, images, ops.cast(predicted, "float32"))

    def train_step(self, data):
        images, labels = images_and_labels(data, self)
        with tf.GradientTape() as tape:
            loss = self.compute_loss_of(images, labels, training=True)
            scaled = self.optimizer.scale_loss(replica_share(loss))
        weights = self.velocity_network.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        if self.ema_velocity is not None:
            for average, current in zip(self.ema_velocity.weights, self.velocity_network.weights):
                average.assign(self.ema_decay * average + (1.0 - self.ema_decay) * current)
        self.loss_tracker.update_state(loss)
        return self.metric_results()

    def test_step(self, data):
        images, labels = images_and_labels(data, self)
        self.loss_tracker.update_state(self.compute_loss_of(images, labels, training=False))
        return self.metric_results()


@register("cflow")
class ConditionalFlowMatching(FlowMatching):
    """Class-conditional flow matching with classifier-free guidance (`sample(..., guidance=2.0)`).

    Args:
        num_classes: classes of the labels (>= 2).
        Others as `FlowMatching`.
    """

    def __init__(self, *args, num_classes=10, **kwargs):
        self.num_classes = check_num_classes(num_classes)
        super().__init__(*args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config


@register("distilled_flow")
class DistilledFlow(FlowMatching):
    """A flow sampler distilled to half its teacher's steps: each student step learns two teacher steps.

    Progressive distillation (Salimans & Ho 2022) with the flow's straight
    paths: at a time `t` of the student's grid (`t = k / steps`), a point
    `x_t` of the path from a noise image to a training image, the student's
    velocity regresses `(x' - x_t) / h`, where `x'` is where two of the
    teacher's steps of `h / 2` (`teacher_solver`) carry `x_t` and
    `h = 1 / steps`. The student starts as a copy of its teacher; distilling
    its result again halves the steps again (16 -> 8 -> 4 -> 2 -> 1).

    Args:
        teacher: the flow to distil: a `.keras` file, a run folder or a
            shipped name of an unconditional `flow` or `distilled_flow`;
            its sampling weights (the average when it keeps one) become the
            teacher and the student's start, and its architecture
            (`ARCHITECTURE`: `image_shape`, `width`, `attention`,
            `normalization`, `blocks`, `latent_prior`) this model's.
            None: a teacher network of this architecture whose weights come
            from the model file (what loading a saved model does).
        steps: the student's steps; the teacher takes twice as many.
        teacher_solver: "euler" or "heun", the teacher's steps.
        Others as `FlowMatching`.

    Reference:
        Salimans & Ho, "Progressive Distillation for Fast Sampling of
        Diffusion Models", ICLR 2022.
    """

    ARCHITECTURE = ("image_shape", "width", "attention", "normalization", "blocks", "latent_prior")

    def __init__(self, teacher=None, teacher_solver="euler", **kwargs):
        source = None if teacher is None else _teacher_model(teacher)
        if source is not None:
            given = {key: kwargs[key] for key in self.ARCHITECTURE if key in kwargs}
            architecture = {key: source.get_config()[key] for key in self.ARCHITECTURE}
            architecture["image_shape"] = tuple(architecture["image_shape"])
            differ = {key: value for key, value in given.items()
                      if (tuple(value) if key == "image_shape" else value) != architecture[key]}
            if differ:
                raise ValueError(
                    f"{', '.join(f'{key}={value!r}' for key, value in differ.items())}: the student has its "
                    f"teacher's architecture ({', '.join(f'{k}={architecture[k]!r}' for k in differ)}); leave "
                    f"{', '.join(differ)} out.")
            kwargs.update(architecture)
        super().__init__(**kwargs)
        self.teacher_solver = check_solver(teacher_solver)
        self.teacher_velocity = velocity_unet(self.image_shape, self.width, 0, self.attention, name="teacher_velocity",
                                              normalization=self.normalization, blocks=self.blocks)
        self.teacher_velocity.trainable = False
        if source is not None:
            weights = source.velocity.get_weights()
            for network in (self.teacher_velocity, self.velocity_network, self.ema_velocity):
                if network is not None:
                    network.set_weights(weights)

    def get_config(self):
        # The teacher's weights are this model's own (`teacher_velocity`), saved with it.
        return {**super().get_config(), "teacher": None, "teacher_solver": self.teacher_solver}

    def _single_network(self, source):
        # The copy keeps this model's teacher (its weights are the model's own).
        copy = super()._single_network(source)
        if copy is not None:
            copy.teacher_velocity.set_weights(self.teacher_velocity.get_weights())
        return copy

    def teacher_target(self, x, t):
        """The velocity of two teacher steps of `h / 2` from `x` at times `t` `(n, 1)`: `(x' - x) / h`."""
        h = 1.0 / self.sampling_steps

        def velocity(y, s):
            return ops.cast(self.teacher_velocity([y, s], training=False), "float32")

        y = x
        for half in range(2):
            s = t + half * h / 2
            v = velocity(y, s)
            if self.teacher_solver == "heun":
                v = 0.5 * (v + velocity(y + h / 2 * v, s + h / 2))
            y = y + h / 2 * v
        return ops.stop_gradient((y - x) / h)

    def compute_loss_of(self, images, labels, training):
        n = ops.shape(images)[0]
        noise = self.random_latents(n)
        k = replica_draw(lambda m: keras.random.randint((m, 1), 0, self.sampling_steps, seed=self.seed_generator), n)
        t = ops.cast(k, "float32") / self.sampling_steps  # the student's grid
        x = losses.flow_interpolation(noise, images, t[:, :, None, None])
        predicted = ops.cast(self.velocity_network([x, t], training=training), "float32")
        return losses.velocity_regression_loss(predicted, self.teacher_target(x, t))


def _teacher_model(teacher):
    """The unconditional flow model `teacher` names (a path or shipped name)."""
    from zoo.registry import load

    if not isinstance(teacher, (str, os.PathLike)):
        raise ValueError(f"teacher={teacher!r}; use the path of a flow's .keras file or run folder.")
    model = load(teacher)
    if not isinstance(model, FlowMatching) or model.num_classes:
        raise ValueError(
            f"teacher={os.fspath(teacher)!r} is a {type(model).__name__}; distil an unconditional flow "
            "(a `flow` or `distilled_flow` model).")
    return model
