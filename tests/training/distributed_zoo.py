"""`zoo ARGS` in a process whose CPU is split into N logical devices: `python distributed_zoo.py N ARGS`.

tf.distribute's tests need several devices; TensorFlow can only split the
CPU before it runs anything, so this happens in a fresh process.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import tensorflow as tf  # noqa: E402

devices = int(sys.argv[1])
if devices > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)

from commands.cli import main  # noqa: E402

sys.exit(main(sys.argv[2:]))
