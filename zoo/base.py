"""The surface every zoo model shares, and the checks of its arguments."""

import dataclasses
import math
import numbers
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from zoo.images import to_uint8
from zoo.latents import check_labels, check_seeds, labels_from_seeds, latents_from_seeds, random_latents
from zoo.limits import check_memory
from zoo.networks import check_buildable

# One helper per kind of constructor argument; each returns the value in its
# canonical type (what `get_config` stores) or raises a ValueError naming the
# argument, the value and what to use instead.

def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def check_integer(name, value, minimum, use=None):
    """`value` as an int >= `minimum`; integral floats (8.0) pass, 8.5, "8" and True do not."""
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer())
    if _is_bool(value) or not integral or value < minimum:
        raise ValueError(f"{name}={value!r}; use {use or f'an integer >= {minimum}'}.")
    return int(value)


def check_number(name, value, valid, use):
    """`value` as a float if it is a finite real number for which `valid(value)` holds."""
    if _is_bool(value) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not valid(float(value)):
        raise ValueError(f"{name}={value!r}; use {use}.")
    return float(value)


def check_choice(name, value, choices):
    """`value` if it is one of `choices` (a tuple)."""
    if value not in choices:
        raise ValueError(f"{name}={value!r}; use one of {', '.join(map(repr, choices))}.")
    return value


def check_flag(name, value):
    """`value` as a bool; only True and False pass (bool("no") would be True)."""
    if not _is_bool(value):
        raise ValueError(f"{name}={value!r}; use True or False.")
    return bool(value)


def check_seed(seed):
    """None or an int that fits the seed generator's int64 state."""
    if seed is None:
        return None
    if _is_bool(seed) or not isinstance(seed, numbers.Integral) or not -2**63 <= seed < 2**63:
        raise ValueError(f"seed={seed!r}; use an integer (64-bit, e.g. 0) or None for a fresh seed.")
    return int(seed)


#: Images `GenerativeModel.sample` generates per call of the generator.
SAMPLE_BATCH = 256

#: Image channels the data pipeline produces (TFDS and folder images).
CHANNELS = (1, 3)


def check_image_shape(image_shape):
    """`(height, width, channels)` as ints, for shapes the networks and the data pipeline make."""
    example = "e.g. (28, 28, 1)"
    if not isinstance(image_shape, (tuple, list, np.ndarray)) or len(image_shape) != 3:
        raise ValueError(f"image_shape={image_shape!r}; use a tuple (height, width, channels), {example}.")
    try:
        shape = tuple(check_integer("image_shape", side, 1) for side in image_shape)
    except ValueError:
        raise ValueError(
            f"image_shape={tuple(image_shape)!r}; use positive integers (height, width, channels), "
            f"{example}."
        ) from None
    if shape[2] not in CHANNELS:
        raise ValueError(
            f"image_shape={shape}: {shape[2]} channels; use 1 (grayscale) or 3 (RGB), "
            f"e.g. {shape[:2] + (1 if shape[2] < 3 else 3,)}."
        )
    return check_buildable(shape)


@dataclasses.dataclass(frozen=True)
class ModelContract:
    """What a zoo model is, as everything outside `zoo/` reads it.

    Export (its signatures and card), evaluation, `zoo.explore`, the image
    commands, the report and the browser page use a model only through its
    contract and the methods it names, so a new family with another latent
    or sampler declares it here instead of being asked "is this a VAE?".

    Attributes:
        latent_shape: shape of one latent, batch dimension left out: `(64,)`.
        latent_prior: distribution the latents are drawn from (`zoo.latents.PRIORS`).
        num_classes: classes of a conditional model (`labels` in `[0, num_classes)`);
            0 for an unconditional one.
        image_shape: `(height, width, channels)` of the images.
        pixel_range: the value range the networks work in (uint8 outside).
        encodes: whether the model maps images to latents (`encode`) and back
            (`decode`): an autoencoder.
        sampling_steps: None when one network call turns a latent into an
            image (`generate`); N when sampling takes N steps of a network.
        sampling_options: the options of the sampler and their defaults, e.g.
            `{"steps": 8, "solver": "euler"}`: what `sample(..., **options)`,
            `generate(..., **options)` and `with_sampling(**options)` take
            (`zoo sample --steps`, an export's `--steps`). With `steps`,
            `generate` also takes `steps` as an int32 scalar tensor (a loop
            in the graph: the SavedModel's `generate_steps`), up to
            `MAX_SAMPLING_STEPS`.
    """

    latent_shape: tuple
    latent_prior: str
    num_classes: int
    image_shape: tuple
    pixel_range: tuple
    encodes: bool = False
    sampling_steps: Optional[int] = None
    sampling_options: dict = dataclasses.field(default_factory=dict)

    def to_json(self):
        """The contract as plain JSON values (tuples as lists)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


#: Most sampling steps a multi-step sampler takes (`ModelContract.sampling_options`).
MAX_SAMPLING_STEPS = 1000


def replica_draw(draw, batch_size):
    """Random values for this replica's `batch_size` examples, independent of the replica count.

    Under tf.distribute every replica holds the same seed-generator state, so
    `draw(batch_size)` would give each replica the same values. Instead each
    draws the global batch's values and keeps its own rows (replica `r` has
    examples `r * batch_size ...` of the global batch, as
    `tf.distribute` splits it), so the examples get the values one device
    would give them. `draw(n)` returns values with `n` rows.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas == 1:
        return draw(batch_size)
    start = context.replica_id_in_sync_group * batch_size
    return draw(batch_size * replicas)[start:start + batch_size]


def replica_share(loss):
    """This replica's share of a loss averaged over its examples: `loss / replicas`.

    Optimizers under tf.distribute sum the replicas' gradients; with equal
    per-replica batches the sum of the shares' gradients is the gradient of
    the mean over the global batch (on one device, the loss itself).
    """
    return loss / tf.distribute.get_strategy().num_replicas_in_sync


def images_and_labels(data, model):
    """`(images, labels)` of a batch that is `images` or `(images, labels, ...)`.

    Labels are None for unconditional models (which ignore them); a
    conditional model fed images alone gets a clear error when `fit` traces.
    """
    has_labels = isinstance(data, (tuple, list)) and len(data) > 1
    images = data[0] if isinstance(data, (tuple, list)) else data
    if not model.num_classes:
        return images, None
    if not has_labels:
        raise ValueError(
            f"{type(model).__name__} is conditional: fit it on (images, labels) batches, "
            f"labels int in [0, {model.num_classes})."
        )
    return images, keras.ops.cast(data[1], "int32")


class GenerativeModel(keras.Model):
    """Base of all zoo models: hyperparameters, latent draws and `sample`.

    Subclasses provide `generator` (an attribute or property), a functional model mapping
    `(batch, latent_dim)` latents to images in `pixel_range`; for conditional
    models (`num_classes` > 0) it takes `[z, label]`, label int32 `(batch,)`.

    Args:
        image_shape: `(height, width, channels)` of the images: even sides of
            at least 8, 1 or 3 channels.
        latent_dim: length of the latent vector.
        seed: seed of the training-time random draws (latents, noise); None
            draws one.
        synchronized_batch_norm: batch norm layers compute their statistics
            over the global batch under tf.distribute (all replicas'
            examples), so training does not depend on the replica count;
            it changes nothing on one device.
    """

    #: Value range of the images the model trains on and generates.
    pixel_range = (-1.0, 1.0)
    #: Distribution of the latents (see `zoo.latents.PRIORS`).
    latent_prior = "normal"
    #: Classes a conditional model generates; 0 for an unconditional one.
    num_classes = 0
    #: Whether the model encodes images (`encode`/`decode`, see `ModelContract`).
    encodes = False
    #: Network steps per sample; None: one call of `generate` (see `ModelContract`).
    sampling_steps = None
    #: Learning rate of `default_optimizers`.
    learning_rate = 1e-3
    #: Constructor arguments of a model small enough for a test to train a
    #: step in well under a second (the test batteries build every
    #: registered model with it).
    TINY_CONFIG = {"image_shape": (16, 16, 1), "latent_dim": 8}

    def __init__(self, image_shape, latent_dim, seed=None, synchronized_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        self.latent_dim = check_integer("latent_dim", latent_dim, 1, "an integer >= 1, e.g. 64")
        self.seed = check_seed(seed)
        self.synchronized_batch_norm = check_flag("synchronized_batch_norm", synchronized_batch_norm)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # Sub-networks are functional models built in the constructor, so
        # the model is built as soon as it exists (no `build(input_shape)`).
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, latent_dim=self.latent_dim, seed=self.seed,
            synchronized_batch_norm=self.synchronized_batch_norm,
        )
        return config

    def compile(self, optimizer="adam", **kwargs):
        """`keras.Model.compile`, with the optimizer built at once.

        The default for a family trained by one optimizer (a GAN has two and
        its own). Built now, as `GAN.compile` does: a model saved before `fit` then
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
        """`compile` arguments: Adam with this model's recommended learning rate."""
        return {"optimizer": keras.optimizers.Adam(lr or self.learning_rate)}

    # The seed generator's state is not a layer variable; save it so that a
    # reloaded model resumes the same stream of random draws.

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])
        if "seed_generator_state" in store.keys():
            self.seed_generator.state.assign(store["seed_generator_state"])

    def metric_results(self):
        """`{name: result}` of `self.metrics`: what `train_step` and `test_step` return."""
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras (3.15) reduces step outputs across workers with
            # `axis=0`, which fails on scalars; a (1,) tensor reduces to the
            # same scalar mean.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras's fit (3.15) under a tf.distribute strategy first draws a
        # batch and reduces it across replicas to build unbuilt state
        # symbolically; under MultiWorkerMirroredStrategy that reduce fails on
        # the PerReplica batch (keras#20585). Zoo models build their networks
        # in the constructor and their optimizers in `compile`, so there is
        # nothing to build: skip it then, and leave any other case to Keras.
        if all(layer.built for layer in self._flatten_layers()) and getattr(self.optimizer, "built", False):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    @property
    def latent_shape(self):
        """Shape of one latent, batch left out: `(latent_dim,)` here; a family with
        another latent (a grid of codes, a noise image) says so by overriding it."""
        return (self.latent_dim,)

    @property
    def contract(self):
        """The `ModelContract`: what export, evaluation and the commands may rely on."""
        return ModelContract(
            latent_shape=tuple(self.latent_shape), latent_prior=self.latent_prior, num_classes=self.num_classes,
            image_shape=tuple(self.image_shape), pixel_range=tuple(self.pixel_range), encodes=self.encodes,
            sampling_steps=self.sampling_steps, sampling_options=self.sampling_options)

    @property
    def sampling_options(self):
        """The sampler's options and their defaults (`ModelContract.sampling_options`); none here."""
        return {}

    def check_sampling(self, options):
        """Raises a ValueError naming any of `options` (a dict) the sampler does not take."""
        unknown = sorted(set(options) - set(self.sampling_options))
        if unknown:
            takes = ", ".join(sorted(self.sampling_options)) or "none (one network call per image)"
            raise ValueError(
                f"{type(self).__name__} has no sampler option {', '.join(unknown)}; its sampler options: {takes}.")

    def with_sampling(self, **options):
        """This model with other sampler defaults (`ModelContract.sampling_options`), sharing nothing mutable.

        The options are constructor arguments of families that have them, so
        the copy is `from_config` with them and this model's weights; with no
        options, the model itself. What `sample`, `evaluate` and `export`
        use the options through.

        Raises:
            ValueError: an option the sampler does not take, or a bad value.

        Example:
            >>> model.with_sampling(steps=16, solver="heun").contract.sampling_steps
            16
        """
        if not options:
            return self
        self.check_sampling(options)
        copy = type(self).from_config({**self.get_config(), **options})
        copy.set_weights(self.get_weights())
        copy.seed_generator.state.assign(self.seed_generator.state)
        return copy

    def latents(self, seeds):
        """The latents of int `seeds` `(n,)`: `(n, *latent_shape)`, the same in Keras and every export.

        The one function from seeds to latents (`zoo.latents.latents_from_seeds`),
        made of TensorFlow ops so that exported graphs compute it too.
        """
        return latents_from_seeds(seeds, self.latent_shape, self.latent_prior)

    def random_latents(self, batch_size):
        """Training-time latents, drawn from the model's seed generator."""
        return replica_draw(
            lambda n: random_latents((n, *self.latent_shape), self.latent_prior, self.seed_generator), batch_size)

    def generate(self, z, labels=None, training=False):
        """Latents (and, for conditional models, int labels) -> images in `pixel_range`.

        The whole sampler: one network call here; a family that samples in
        `sampling_steps` steps overrides it with its loop (a Python loop of
        a fixed length, so every export holds the steps unrolled).
        """
        return self._apply(self.generator, z, labels, training)

    def encode(self, images, labels=None, training=False):
        """Autoencoders (`encodes`): images in `pixel_range` -> `(z_mean, z_log_var)`."""
        raise NotImplementedError(f"{type(self).__name__} does not encode images (its contract's encodes is False).")

    def decode(self, z, labels=None, training=False):
        """Autoencoders (`encodes`): latents of `encode` -> images in `pixel_range`."""
        raise NotImplementedError(f"{type(self).__name__} does not decode latents (its contract's encodes is False).")

    def without_average(self):
        """A copy sampling from the trained weights instead of their running average, or None.

        For a family that keeps a weight average for sampling (a GAN's
        `ema_decay`); None when the model keeps none. The copy is not compiled.
        """
        return None

    def average_only(self):
        """A copy whose one network holds the running average's weights, or None when the model keeps none.

        `ema_decay=0` and the average as the trained weights: it samples the
        same images as this model from a `.keras` file with one copy of the
        weights fewer (what a shipped model keeps); training it on starts
        from the average. The copy is not compiled.
        """
        return None

    def image_network(self, decoding=False):
        """The functional model whose output is the images, for export's full-integer image tail.

        The network `generate` calls (with `decoding`, the one `decode`
        calls), or None when images are not one network's output (several
        sampling steps); export then converts the images as they are.
        """
        if decoding or self.sampling_steps is not None:
            return None
        return self.generator

    def mixes_classes(self):
        """Whether `generate_mixed` works: a conditional model whose labels enter through `label_embedding`."""
        network = self.image_network()
        return bool(self.num_classes) and network is not None and has_layer(network, "label_embedding")

    def generate_mixed(self, z, class_weights):
        """Latents and class weights `(n, num_classes)` -> images in `pixel_range`.

        The label embedding is replaced by the weights' mix of the classes'
        embeddings (`class_mixing_network`): one-hot weights give exactly
        that class's images, and moving the weight from class a to class b
        morphs one into the other (`zoo.explore.class_morph`).
        """
        if not self.mixes_classes():
            raise ValueError(f"{type(self).__name__} does not mix classes; it needs a label_embedding layer.")
        return class_mixing_network(self.image_network())([z, class_weights])

    def _apply(self, network, z, labels, training):
        """`network(z)` or `network([z, labels])`, checking labels against `num_classes`."""
        if not self.num_classes:
            if labels is not None:
                raise ValueError(f"{type(self).__name__} is unconditional; do not pass labels.")
            return network(z, training=training)
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} is conditional: pass one label in "
                f"[0, {self.num_classes}) per latent."
            )
        # Both as tensors: Keras refuses a list mixing numpy and tensors.
        z = keras.ops.convert_to_tensor(z, "float32")
        labels = keras.ops.convert_to_tensor(labels, "int32")
        return network([z, labels], training=training)

    def sample(self, n, seed=0, truncation=1.0, labels=None, **options):
        """Generates `n` uint8 images; image `i` comes from latent seed `seed + i`.

        Args:
            n: number of images.
            seed: latent seed of the first image; seeds `seed .. seed + n - 1`
                must lie in `[0, 2^31 - 1)` (`zoo.latents.SEED_LIMIT`).
            truncation: psi in (0, 1]; latents are scaled by psi, trading
                variety for typical-looking samples. 1 is off.
            labels: conditional models only: the class of each image (a
                sequence of `n` ints, or one int for all); by default image
                `i` gets class `(seed + i) % num_classes`.
            **options: options of the model's sampler, passed to `generate`
                (the contract's `sampling_options`, e.g. `steps`).

        Returns:
            uint8 tensor `(n, H, W, C)`, generated `SAMPLE_BATCH` images at a
            time: a large `n` costs the memory of one batch's activations
            plus the result.

        Raises:
            ValueError: a bad argument; `zoo.limits.LimitError` (a
                ValueError) if the result cannot fit in memory.

        Example:
            >>> images = model.sample(16, seed=0)
            >>> images.shape, images.dtype
            (TensorShape([16, 28, 28, 1]), tf.uint8)
        """
        if not 0.0 < truncation <= 1.0:
            raise ValueError(f"truncation={truncation}; use psi in (0, 1] (1 is off).")
        n = check_integer("n", n, 1, "a positive number of images")
        check_seeds(seed, n)
        self.check_sampling(options)
        height, width, channels = self.image_shape
        # The batches' uint8 images and their concatenation, the result.
        check_memory(2 * n * height * width * channels,
                     f"model.sample({n}) ({n:,} images of {height}x{width}x{channels})",
                     "sample in parts (n images from seed, then from seed + n, ...) and keep each part")
        if self.num_classes:
            labels = labels_from_seeds(range(seed, seed + n), self.num_classes) if labels is None \
                else check_labels(labels, self.num_classes, n)
        parts = []
        for start in range(0, n, SAMPLE_BATCH):
            seeds = range(seed + start, seed + min(start + SAMPLE_BATCH, n))
            z = self.latents(seeds) * truncation
            part_labels = None if labels is None else labels[start : start + len(seeds)]
            parts.append(to_uint8(self.generate(z, part_labels, **options), self.pixel_range))
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)


def has_layer(network, name):
    return any(layer.name == name for layer in network.layers)


def class_mixing_network(generator):
    """A conditional network taking class weights `(batch, num_classes)` instead of its last input, the label.

    The label embedding `E` (the layer `label_embedding`, `(num_classes,
    latent_dim)`) becomes a bias-free dense layer with kernel `E`, so
    weights `w` give `w @ E`: a one-hot `w` is exactly the label's
    embedding, and `(1 - t) onehot(a) + t onehot(b)` walks from class a to
    class b. Every other layer is shared with `generator`, not copied.
    """
    embedding = generator.get_layer("label_embedding")

    def replace(layer):
        if layer is not embedding:
            return layer
        mixture = keras.layers.Dense(embedding.output_dim, use_bias=False, name="label_mixture")
        mixture.build((None, embedding.input_dim))
        mixture.set_weights(embedding.get_weights())
        return mixture

    # The label is the network's last input; the others keep their shapes.
    inputs = [keras.Input(tensor.shape[1:], name=f"input{i}") for i, tensor in enumerate(generator.inputs[:-1])]
    inputs.append(keras.Input((embedding.input_dim,), name="class_weights"))
    return keras.models.clone_model(generator, input_tensors=inputs, clone_function=replace)
