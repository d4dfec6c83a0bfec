"""SavedModel writing and running: every signature of `export.signatures`, TF Serving ready.

Written through `keras.export.ExportArchive`, which tracks the generator's
variables so that the SavedModel (and a TFLite file converted from it) holds
the trained weights; a plain `tf.Module` around Keras 3 layers did not.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from export.signatures import SAVED_MODEL, signatures_for
from zoo.files import write_durably

SIGNATURE = "serving_default"
INPUT = "z"
LABEL = "label"
OUTPUT = "images"
#: TF Serving reads these from a version folder.
ASSETS_EXTRA = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def write_saved_model(model, path, target=SAVED_MODEL, batch_size=None, extra_files=None, integer_tail=False):
    """Writes `model`'s signatures for `target` as a SavedModel at `path`.

    Args:
        model: a zoo model.
        path: folder to create.
        target: `export.signatures.SAVED_MODEL` (dynamic batch, asserts) or
            `TFLITE` (the graph a `.tflite` file is converted from).
        batch_size: None for a dynamic batch; TFLite wants 1.
        extra_files: `{name: bytes}` written into `assets.extra/`.
        integer_tail: the image tail full-integer TFLite files are converted
            from (`export.signatures.Graph.pixels`).
    """
    archive = keras.export.ExportArchive()
    # Not `archive.track(network)`: the endpoints already capture the variables
    # they use (the generator's and encoder's, not the discriminator's nor any
    # optimizer state), and tracking them too writes every weight twice, as a
    # Keras wrapper and as its tf.Variable (keras-team/keras#23553).
    for signature in signatures_for(model, target):
        archive.add_endpoint(signature.name, signature.tf_function(model, target, batch_size, integer_tail))
    # Inference only: no gradient functions (tracing them is a third of a multi-step sampler's save time).
    archive.write_out(path, verbose=False, options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    for name, content in (extra_files or {}).items():
        write_durably(os.path.join(path, ASSETS_EXTRA, name), content)


def signature_feeds(signature, values):
    """`values` as the numpy arrays a signature's inputs take (int32 seeds and labels)."""
    specs = signature.structured_input_signature[1]
    return {name: np.asarray(values[name], specs[name].dtype.as_numpy_dtype) for name in specs}


def feeds(z, labels=None):
    """`serving_default` arguments for latents `z` (and class `labels`)."""
    inputs = {INPUT: np.asarray(z, np.float32)}
    if labels is not None:
        inputs[LABEL] = np.asarray(labels, np.int32)
    return inputs


def load_signatures(path):
    """`{name: (**inputs) -> {output: numpy}}` of the SavedModel at `path` (no checks; see `export.reading`)."""
    loaded = tf.saved_model.load(path)
    return runners(loaded)


class SignatureRunner:
    """One signature of a loaded SavedModel as `(**inputs) -> {output: numpy}`, taking numpy.

    Holds the loaded object too: a concrete function does not keep the
    variables it reads alive.
    """

    def __init__(self, loaded, name):
        self.loaded, self.signature = loaded, loaded.signatures[name]

    def __call__(self, **inputs):
        feeds = signature_feeds(self.signature, inputs)
        outputs = self.signature(**{key: tf.constant(value) for key, value in feeds.items()})
        return {name: value.numpy() for name, value in outputs.items()}


def runners(loaded):
    """`{name: SignatureRunner}` of every signature of a loaded SavedModel."""
    return {name: SignatureRunner(loaded, name) for name in loaded.signatures}


def run_saved_model(path, z, labels=None):
    """Runs the `serving_default` signature of the SavedModel at `path` once."""
    return load_signatures(path)[SIGNATURE](**feeds(z, labels))[OUTPUT]


def warmup_records(model, signatures, path):
    """Writes TF Serving's warm-up file: a TFRecord of `PredictionLog`s, one batch-1 request per signature.

    TF Serving replays them when it loads the version, so the first real
    request does not pay for graph initialisation.
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature in signatures:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model.registry_name, signature_name=signature.name))
            for spec in signature.specs(model, 1):
                request.inputs[spec.name].CopyFrom(tf.make_tensor_proto(example_input(model, spec)))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def example_input(model, spec):
    """A valid value for one signature input: seed 0, class 0, truncation 0.7, the default steps, zeros, or images."""
    if spec.name == "truncation":
        return np.float32(0.7)
    if spec.name == "steps":
        return np.int32(model.contract.sampling_options["steps"])
    shape = [1 if size is None else size for size in spec.shape]
    if spec.name == "images":
        return np.asarray(model.sample(shape[0], seed=0), np.uint8)
    return np.zeros(shape, spec.dtype.as_numpy_dtype)
