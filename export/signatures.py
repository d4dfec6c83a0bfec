"""Every exported signature, as data: one table that the SavedModel and each TFLite file are built from.

| name | inputs | outputs | where |
|---|---|---|---|
| `serving_default` | `z` float32 `(N, latent_dim)` [+ `label`] | `images` uint8 `(N, H, W, C)` | all |
| `generate` | `seed` int32 `(N,)` [+ `label`] | `images` | all |
| `latents` | `seed` int32 `(N,)` | `z` float32 `(N, latent_dim)` | all |
| `encode` (VAEs) | `images` uint8 `(N, H, W, C)` [+ `label`] | `z_mean`, `z_log_var` | all |
| `reconstruct` (VAEs) | `images` uint8 [+ `label`] | `images` uint8 | all |
| `generate_truncated` | `seed`, `truncation` float32 scalar [+ `label`] | `images` | SavedModel |

`label` is int32 `(N,)`, conditional models only. `generate` makes its latents
in the graph with `zoo.latents.latents_from_seeds`, the function `model.sample`
uses, so seed `s` gives the same image from Keras, a SavedModel and a `.tflite`
file. The SavedModel's batch is dynamic (at most `MAX_BATCH`); TFLite files have
a static batch of 1.

Inputs are checked inside the graph. A SavedModel answers a seed outside
`[0, 2^31 - 1)`, a label outside `[0, num_classes)`, a truncation outside
(0, 1], a batch above `MAX_BATCH` or inputs of unequal batches with
INVALID_ARGUMENT and a message naming the input (wrong dtypes and shapes are
refused by the signature itself). A TFLite graph may only hold builtin ops, so
there the same value checks make the invoke fail ("gather index out of
bounds") instead of returning an image for an input outside the contract.
"""

import dataclasses

import tensorflow as tf

from zoo.images import from_uint8, to_uint8
from zoo.latents import SEED_LIMIT, latents_from_seeds

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
        function: `(model, checks, **inputs) -> {name: tensor}`.
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

    def tf_function(self, model, target, batch_size):
        """The signature as a `tf.function` for `target` (`SAVED_MODEL` or `TFLITE`)."""
        checks = Checks(target, model)
        names = list(self.inputs(model))

        def signature(*args):
            return self.function(model, checks, **dict(zip(names, args)))

        signature.__name__ = self.name
        return tf.function(signature, input_signature=self.specs(model, batch_size))


class Checks:
    """Input checks inside the graph: asserts in a SavedModel, builtin-only guards in TFLite."""

    def __init__(self, target, model):
        self.strict = target == SAVED_MODEL
        self.num_classes = model.num_classes

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

    def truncation(self, truncation):
        return self._require(
            truncation, (truncation > 0.0) & (truncation <= 1.0),
            "truncation outside (0, 1]: use psi in (0, 1], 1 is off; got", truncation)


def _label_input(model):
    return {"label": (tf.int32, ())} if model.num_classes else {}


def _image_spec(model):
    return {"images": (tf.uint8, tuple(model.image_shape))}


def _latent_spec(model):
    return {"z": (tf.float32, (model.latent_dim,))}


def _seed_spec(model):
    return {"seed": (tf.int32, ())}


def _generator_images(model, z, label):
    inputs = z if label is None else [z, label]
    return to_uint8(model.generator(inputs, training=False), model.pixel_range)


def _latents(model, checks, seed):
    return latents_from_seeds(checks.seeds(seed), model.latent_dim, model.latent_prior)


def _labels(checks, label):
    return None if label is None else checks.labels(label)


def serving_default(model, checks, z, label=None):
    z, *rest = checks.batch(z, *([] if label is None else [label]))
    return {"images": _generator_images(model, z, _labels(checks, rest[0] if rest else None))}


def generate(model, checks, seed, label=None):
    seed, *rest = checks.batch(seed, *([] if label is None else [label]))
    z = _latents(model, checks, seed)
    return {"images": _generator_images(model, z, _labels(checks, rest[0] if rest else None))}


def generate_truncated(model, checks, seed, truncation, label=None):
    seed, *rest = checks.batch(seed, *([] if label is None else [label]))
    z = _latents(model, checks, seed) * checks.truncation(truncation)
    return {"images": _generator_images(model, z, _labels(checks, rest[0] if rest else None))}


def latents(model, checks, seed):
    (seed,) = checks.batch(seed)
    return {"z": _latents(model, checks, seed)}


def _posterior(model, checks, images, label):
    images, *rest = checks.batch(images, *([] if label is None else [label]))
    x = from_uint8(images, model.pixel_range)
    label = _labels(checks, rest[0] if rest else None)
    z_mean, z_log_var = model.encoder(x if label is None else [x, label], training=False)
    return z_mean, z_log_var, label


def encode(model, checks, images, label=None):
    z_mean, z_log_var, _ = _posterior(model, checks, images, label)
    return {"z_mean": z_mean, "z_log_var": z_log_var}


def reconstruct(model, checks, images, label=None):
    z_mean, _, label = _posterior(model, checks, images, label)
    return {"images": _generator_images(model, z_mean, label)}


def _is_autoencoder(model):
    return hasattr(model, "encoder")


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
)


def signatures_for(model, target):
    """The `Signature`s `model` exports to `target`, `serving_default` first."""
    return [s for s in SIGNATURES if target in s.targets and s.applies(model)]
