"""Where a benchmark ran, recorded next to its figures so results are comparable."""

import os
import platform

import tensorflow as tf


def environment():
    """CPU count, TF devices, architecture and TensorFlow version."""
    return {
        "cpu_count": os.cpu_count(),
        "devices": [d.device_type for d in tf.config.list_physical_devices()],
        "machine": platform.machine(),
        "tensorflow": tf.__version__,
    }
