"""TFLite (LiteRT) conversion with builtin ops only, and a runner."""

import numpy as np
import tensorflow as tf

from export.saved_model import INPUT, OUTPUT, SIGNATURE, feeds


class TFLiteConversionError(RuntimeError):
    """The generator needs ops outside the TFLite builtin set."""


def convert_saved_model(saved_model_dir):
    """Converts a static-batch SavedModel to a float32 `.tflite` flatbuffer.

    Only `TFLITE_BUILTINS` are allowed: Select-TF (Flex) ops would make every
    app link the Flex delegate, so needing one is an error, not a fallback.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=[SIGNATURE]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return converter.convert()
    except Exception as error:  # The converter raises ConverterError and others.
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise TFLiteConversionError(
            f"TFLite conversion with builtin ops only failed: {first}"
        ) from None


def interpreter(model_path_or_content, num_threads=2):
    """An allocated `ai_edge_litert` interpreter for a `.tflite` file or bytes."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model_path_or_content, (bytes, bytearray)):
        result = Interpreter(model_content=bytes(model_path_or_content), num_threads=num_threads)
    else:
        result = Interpreter(model_path=str(model_path_or_content), num_threads=num_threads)
    result.allocate_tensors()
    return result


def load_runner(model_path_or_content, num_threads=2):
    """`serving_default` of a batch-1 `.tflite` file as `(z (n, d), labels=None) -> uint8 images`."""
    return batched_runner(interpreter(model_path_or_content, num_threads).get_signature_runner(SIGNATURE))


def batched_runner(runner):
    """A batch-1 signature runner as `(z (n, d), labels=None) -> uint8 images`, one row at a time."""

    def run(z, labels=None):
        inputs = feeds(z, labels)
        return np.concatenate([
            runner(**{name: value[i : i + 1] for name, value in inputs.items()})[OUTPUT]
            for i in range(len(inputs[INPUT]))
        ])

    return run


def run_tflite(model_path_or_content, z, labels=None, num_threads=2):
    """Runs `serving_default` on each row of `z` (and `labels`); the file has batch 1."""
    return load_runner(model_path_or_content, num_threads)(z, labels)
