"""SavedModel with the serving contract `serving_default(z) -> {"images"}`.

Written through `keras.export.ExportArchive`, which tracks the generator's
variables so that the SavedModel (and a TFLite file converted from it) holds
the trained weights; a plain `tf.Module` around Keras 3 layers did not.
"""

import keras
import tensorflow as tf

from zoo.images import to_uint8

SIGNATURE = "serving_default"
INPUT = "z"
OUTPUT = "images"


def serving_function(model, batch_size=None):
    """`z` float32 `(batch, latent_dim)` -> `{"images": uint8 (batch, H, W, C)}`.

    De-normalisation and clipping happen inside the graph, so clients get
    displayable pixels. `batch_size=None` keeps the batch dynamic (serving);
    TFLite wants a static batch.
    """
    generator, pixel_range = model.generator, model.pixel_range

    @tf.function(
        input_signature=[tf.TensorSpec([batch_size, model.latent_dim], tf.float32, name=INPUT)]
    )
    def serve(z):
        return {OUTPUT: to_uint8(generator(z, training=False), pixel_range)}

    return serve


def write_saved_model(model, path, batch_size=None):
    """Writes the generator of `model` as a SavedModel at `path`."""
    archive = keras.export.ExportArchive()
    archive.track(model.generator)
    archive.add_endpoint(SIGNATURE, serving_function(model, batch_size))
    archive.write_out(path, verbose=False)


def load_serving(path):
    """The `serving_default` signature of a SavedModel as `z -> uint8 images`."""
    signature = tf.saved_model.load(path).signatures[SIGNATURE]
    return lambda z: signature(**{INPUT: tf.constant(z, tf.float32)})[OUTPUT].numpy()


def run_saved_model(path, z):
    """Runs the `serving_default` signature of the SavedModel at `path` once."""
    return load_serving(path)(z)
