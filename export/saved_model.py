"""SavedModel with the serving contract `serving_default(z[, label]) -> {"images"}`.

Written through `keras.export.ExportArchive`, which tracks the generator's
variables so that the SavedModel (and a TFLite file converted from it) holds
the trained weights; a plain `tf.Module` around Keras 3 layers did not.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.images import to_uint8

SIGNATURE = "serving_default"
INPUT = "z"
LABEL = "label"
OUTPUT = "images"


def serving_function(model, batch_size=None):
    """`z` float32 `(batch, latent_dim)` -> `{"images": uint8 (batch, H, W, C)}`.

    Conditional models (`num_classes` > 0) also take `label`, int32
    `(batch,)`. De-normalisation and clipping happen inside the graph, so
    clients get displayable pixels. `batch_size=None` keeps the batch dynamic
    (serving); TFLite wants a static batch.
    """
    generator, pixel_range = model.generator, model.pixel_range
    z_spec = tf.TensorSpec([batch_size, model.latent_dim], tf.float32, name=INPUT)
    if not model.num_classes:

        @tf.function(input_signature=[z_spec])
        def serve(z):
            return {OUTPUT: to_uint8(generator(z, training=False), pixel_range)}

        return serve

    @tf.function(input_signature=[z_spec, tf.TensorSpec([batch_size], tf.int32, name=LABEL)])
    def serve_conditional(z, label):
        return {OUTPUT: to_uint8(generator([z, label], training=False), pixel_range)}

    return serve_conditional


def write_saved_model(model, path, batch_size=None):
    """Writes the generator of `model` as a SavedModel at `path`."""
    archive = keras.export.ExportArchive()
    archive.track(model.generator)
    archive.add_endpoint(SIGNATURE, serving_function(model, batch_size))
    archive.write_out(path, verbose=False)


def feeds(z, labels=None):
    """Signature arguments for latents `z` (and class `labels`)."""
    inputs = {INPUT: np.asarray(z, np.float32)}
    if labels is not None:
        inputs[LABEL] = np.asarray(labels, np.int32)
    return inputs


def load_serving(path):
    """The `serving_default` signature of a SavedModel as `(z, labels=None) -> uint8 images`."""
    signature = tf.saved_model.load(path).signatures[SIGNATURE]
    return lambda z, labels=None: signature(**feeds(z, labels))[OUTPUT].numpy()


def run_saved_model(path, z, labels=None):
    """Runs the `serving_default` signature of the SavedModel at `path` once."""
    return load_serving(path)(z, labels)
