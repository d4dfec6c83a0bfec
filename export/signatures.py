"""Every exported signature, as data: one table that the SavedModel and each TFLite file are built from.

| name | inputs | outputs | where |
|---|---|---|---|
| `serving_default` | `z` float32 `(N, *latent_shape)` [+ `label`] | `images` uint8 `(N, H, W, C)` | all |
| `generate` | `seed` int32 `(N,)` [+ `label`] | `images` | all |
| `latents` | `seed` int32 `(N,)` | `z` float32 `(N, *latent_shape)` | all |
| `encode` (VAEs) | `images` uint8 `(N, H, W, C)` [+ `label`] | `z_mean`, `z_log_var` | all |
| `reconstruct` (VAEs) | `images` uint8 [+ `label`] | `images` uint8 | all |
| `generate_truncated` | `seed`, `truncation` float32 scalar [+ `label`] | `images` | SavedModel |
| `generate_steps` (multi-step samplers) | `seed`, `steps` int32 scalar [+ `label`] | `images` | SavedModel |

`label` is int32 `(N,)`, conditional models only. `generate_steps` exists
for models whose contract has the sampling option `steps`: it runs the
sampler's steps as a loop in the graph (`tf.while_loop`), any count per
request; every other signature (and every TFLite file) holds the export's
step count unrolled. `generate` makes its latents
in the graph with `zoo.latents.latents_from_seeds`, the function `model.sample`
uses, so seed `s` gives the same image from Keras, a SavedModel and a `.tflite`
file. The SavedModel's batch is dynamic (at most `MAX_BATCH`); TFLite files have
a static batch of 1.

Inputs are checked inside the graph. A SavedModel answers a seed outside
`[0, 2^31 - 1)`, a label outside `[0, num_classes)`, a truncation outside
(0, 1], a step count outside [1, `MAX_SAMPLING_STEPS`], a batch above `MAX_BATCH` or inputs of unequal batches with
INVALID_ARGUMENT and a message naming the input (wrong dtypes and shapes are
refused by the signature itself). A TFLite graph may only hold builtin ops, so
there the same value checks make the invoke fail ("gather index out of
bounds") instead of returning an image for an input outside the contract.
"""

import dataclasses

import keras
import tensorflow as tf

from zoo.base import MAX_SAMPLING_STEPS
from zoo.images import from_uint8, to_uint8
from zoo.latents import SEED_LIMIT

#: Largest batch a SavedModel signature accepts (bigger requests are refused
#: before anything is allocated).
MAX_BATCH = 1024
SAVED_MODEL, TFLITE = "saved_model", "tflite"


@dataclasses.dataclass(frozen=True)
class Signature:
    """One exported signature.

    Attributes:
        name: signature key.
        inputs: model -> `{name: (dtype, shape)}`, shape without the batch
            dimension, or None for an input that is a scalar.
        outputs: model -> `{name: (dtype, shape)}` likewise.
        function: `(model, graph, **inputs) -> {name: tensor}`, `graph` a `Graph`.
        targets: the artifacts that carry it.
        applies: model -> whether the model has it.
    """

    name: str
    inputs: callable
    outputs: callable
    function: callable
    targets: tuple = (SAVED_MODEL, TFLITE)
    applies: callable = lambda model: True

    def specs(self, model, batch_size):
        """`tf.TensorSpec`s of the inputs, in order, with `batch_size` as batch (None: dynamic)."""
        return [
            tf.TensorSpec([] if shape is None else [batch_size, *shape], dtype, name=name)
            for name, (dtype, shape) in self.inputs(model).items()
        ]

    def contract(self, model, batch_size):
        """`{"inputs": ..., "outputs": ...}` as JSON: dtype names and shapes."""
        def describe(specs):
            return {name: {"dtype": dtype.name, "shape": [] if shape is None else [batch_size, *shape]}
                    for name, (dtype, shape) in specs.items()}
        return {"inputs": describe(self.inputs(model)), "outputs": describe(self.outputs(model))}

    def tf_function(self, model, target, batch_size, integer_tail=False):
        """The signature as a `tf.function` for `target` (`SAVED_MODEL` or `TFLITE`).

        `integer_tail=True` builds the image tail for full-integer files
        (see `Graph.pixels`).
        """
        graph = Graph(target, model, integer_tail)
        names = list(self.inputs(model))

        def signature(*args):
            return self.function(model, graph, **dict(zip(names, args)))

        signature.__name__ = self.name
        return tf.function(signature, input_signature=self.specs(model, batch_size))


#: Pre-activation clip of the integer tail: sigmoid(8) * 255 = 254.91, so
#: nothing visible is cut, and the last layer's int8 range is [-8, 8].
TAIL_CLIP = 8.0


class Graph:
    """How a graph treats its inputs and outputs: checks (asserts in a SavedModel, builtin-only
    guards in TFLite) and the image tail."""

    def __init__(self, target, model, integer_tail=False):
        self.strict = target == SAVED_MODEL
        self.num_classes = model.num_classes
        self.model = model
        self.integer_tail = integer_tail

    def pixels(self, z, label, decoding=False, **options):
        """uint8 images of latents `z` (and labels): `model.generate`'s, or with `decoding` `model.decode`'s.

        The plain tail is `to_uint8(model.generate(z))`. Full-integer conversion
        calibrates that badly: the last layer's recorded range reaches
        hundreds where tanh is flat beyond 4, and `tanh + 1` got the range of
        the op after it, leaving a few grey levels. The integer tail computes
        the same pixels so every range is fixed or bounded: the last layer
        without its activation (kernel and bias doubled for tanh, as
        (tanh(p) + 1) / 2 = sigmoid(2p)), clipped to +-8 (its int8 range),
        then sigmoid (a fixed int8 output scale) times 255, pinned to the
        uint8 grid by a fake-quant node the converter honours and removes.
        """
        tail = _integer_tail(self.model, decoding) if self.integer_tail else None
        if tail is None:
            if decoding:
                return to_uint8(self.model.decode(z, label, training=False), self.model.pixel_range)
            return to_uint8(self.model.generate(z, label, training=False, **options), self.model.pixel_range)
        trunk, last, scale = tail
        features = trunk(z if label is None else [z, label], training=False)
        logits = keras.ops.conv_transpose(
            features, scale * last.kernel, strides=last.strides, padding=last.padding,
            output_padding=last.output_padding, data_format=last.data_format,
            dilation_rate=last.dilation_rate)
        if last.use_bias:
            logits = logits + scale * last.bias
        pixels = tf.sigmoid(tf.clip_by_value(logits, -TAIL_CLIP, TAIL_CLIP)) * 255.0
        pixels = tf.quantization.fake_quant_with_min_max_args(pixels, min=0.0, max=255.0, num_bits=8)
        return tf.cast(tf.round(pixels), tf.uint8)

    def _require(self, tensor, ok, message, shown):
        """`tensor`, once `ok` (a bool tensor) holds everywhere; otherwise the run fails."""
        ok = tf.reduce_all(ok)
        if self.strict:
            with tf.control_dependencies([tf.debugging.Assert(ok, [message, shown], summarize=8)]):
                return tf.identity(tensor)
        # Builtin ops only: an index of 1 into a one-element table makes
        # GATHER fail the invoke; 0 adds nothing.
        guard = tf.gather(tf.zeros([1], tensor.dtype), tf.cast(tf.logical_not(ok), tf.int32))
        return tensor + guard

    def batch(self, *tensors):
        """The inputs, once their batches agree and are at most `MAX_BATCH`."""
        if not self.strict:
            return tensors  # static batch of 1
        sizes = tf.stack([tf.shape(t)[0] for t in tensors])
        first = self._require(
            tensors[0], sizes <= MAX_BATCH,
            f"batch too large: at most {MAX_BATCH} per request; got", sizes)
        first = self._require(first, tf.equal(sizes, sizes[0]), "inputs of unequal batch sizes:", sizes)
        return (first, *tensors[1:])

    def seeds(self, seed):
        return self._require(
            seed, (seed >= 0) & (seed < SEED_LIMIT),
            f"seed outside [0, {SEED_LIMIT}): seeds are integers from 0 to {SEED_LIMIT - 1}; got", seed)

    def labels(self, label):
        return self._require(
            label, (label >= 0) & (label < self.num_classes),
            f"label outside [0, {self.num_classes}): use a class of this model; got", label)

    def steps(self, steps):
        return self._require(
            steps, (steps >= 1) & (steps <= MAX_SAMPLING_STEPS),
            f"steps outside [1, {MAX_SAMPLING_STEPS}]: use a number of sampling steps, e.g. 8; got", steps)

    def truncation(self, truncation):
        return self._require(
            truncation, (truncation > 0.0) & (truncation <= 1.0),
            "truncation outside (0, 1]: use psi in (0, 1], 1 is off; got", truncation)


def _integer_tail(model, decoding):
    """`(trunk, last layer, logit scale)` for the integer tail, or None if the images have another end.

    Needs `model.image_network(decoding)`, a network whose last layer is a
    `Conv2DTranspose` with tanh over pixel range (-1, 1) or sigmoid over
    (0, 1); other models keep the plain tail.
    """
    generator = model.image_network(decoding)
    if generator is None:
        return None
    last = generator.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    scale = {("tanh", (-1.0, 1.0)): 2.0, ("sigmoid", (0.0, 1.0)): 1.0}.get(
        (activation, tuple(model.pixel_range)))
    if scale is None or not isinstance(last, keras.layers.Conv2DTranspose):
        return None
    # The last layer's input within this model: `last.input` is its first call's,
    # another model's when the layer is shared (`networks.chain`).
    history = generator.outputs[0]._keras_history  # noqa: SLF001
    trunk_output = history.operation._inbound_nodes[history.node_index].input_tensors[0]  # noqa: SLF001
    return keras.Model(generator.inputs, trunk_output), last, scale


def _label_input(model):
    return {"label": (tf.int32, ())} if model.num_classes else {}


def _image_spec(model):
    return {"images": (tf.uint8, tuple(model.image_shape))}


def _latent_spec(model):
    return {"z": (tf.float32, tuple(model.contract.latent_shape))}


def _seed_spec(model):
    return {"seed": (tf.int32, ())}


def _latents(model, graph, seed):
    return model.latents(graph.seeds(seed))


def _labels(graph, label):
    return None if label is None else graph.labels(label)


def serving_default(model, graph, z, label=None):
    z, *rest = graph.batch(z, *([] if label is None else [label]))
    return {"images": graph.pixels(z, _labels(graph, rest[0] if rest else None))}


def generate(model, graph, seed, label=None):
    seed, *rest = graph.batch(seed, *([] if label is None else [label]))
    z = _latents(model, graph, seed)
    return {"images": graph.pixels(z, _labels(graph, rest[0] if rest else None))}


def generate_truncated(model, graph, seed, truncation, label=None):
    seed, *rest = graph.batch(seed, *([] if label is None else [label]))
    z = _latents(model, graph, seed) * graph.truncation(truncation)
    return {"images": graph.pixels(z, _labels(graph, rest[0] if rest else None))}


def generate_steps(model, graph, seed, steps, label=None):
    seed, *rest = graph.batch(seed, *([] if label is None else [label]))
    z = _latents(model, graph, seed)
    return {"images": graph.pixels(z, _labels(graph, rest[0] if rest else None), steps=graph.steps(steps))}


def latents(model, graph, seed):
    (seed,) = graph.batch(seed)
    return {"z": _latents(model, graph, seed)}


def _posterior(model, graph, images, label):
    images, *rest = graph.batch(images, *([] if label is None else [label]))
    x = from_uint8(images, model.pixel_range)
    label = _labels(graph, rest[0] if rest else None)
    z_mean, z_log_var = model.encode(x, label, training=False)
    return z_mean, z_log_var, label


def encode(model, graph, images, label=None):
    z_mean, z_log_var, _ = _posterior(model, graph, images, label)
    return {"z_mean": z_mean, "z_log_var": z_log_var}


def reconstruct(model, graph, images, label=None):
    z_mean, _, label = _posterior(model, graph, images, label)
    return {"images": graph.pixels(z_mean, label, decoding=True)}


def _is_autoencoder(model):
    return model.contract.encodes


def _takes_steps(model):
    return "steps" in model.contract.sampling_options


SIGNATURES = (
    Signature("serving_default", lambda m: {**_latent_spec(m), **_label_input(m)}, _image_spec, serving_default),
    Signature("generate", lambda m: {**_seed_spec(m), **_label_input(m)}, _image_spec, generate),
    Signature("latents", _seed_spec, _latent_spec, latents),
    Signature("encode", lambda m: {**_image_spec(m), **_label_input(m)},
              lambda m: {"z_mean": _latent_spec(m)["z"], "z_log_var": _latent_spec(m)["z"]},
              encode, applies=_is_autoencoder),
    Signature("reconstruct", lambda m: {**_image_spec(m), **_label_input(m)}, _image_spec, reconstruct,
              applies=_is_autoencoder),
    Signature("generate_truncated",
              lambda m: {**_seed_spec(m), "truncation": (tf.float32, None), **_label_input(m)},
              _image_spec, generate_truncated, targets=(SAVED_MODEL,)),
    Signature("generate_steps", lambda m: {**_seed_spec(m), "steps": (tf.int32, None), **_label_input(m)},
              _image_spec, generate_steps, targets=(SAVED_MODEL,), applies=_takes_steps),
)


def signatures_for(model, target):
    """The `Signature`s `model` exports to `target`, `serving_default` first."""
    return [s for s in SIGNATURES if target in s.targets and s.applies(model)]
