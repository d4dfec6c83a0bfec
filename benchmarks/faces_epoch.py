"""Time per epoch of the faces preset (`dcgan_celeb_a`, 64x64 RGB) on this machine.

Celeb-A cannot be downloaded here, so this times `model.fit` on a folder of
JPEGs of Celeb-A's aligned size (178x218) through the same `folder:` input
pipeline `zoo train --dataset folder:PATH` uses (decode, resize to 64x64,
shuffle), after a warm-up epoch, and scales the median step time to
Celeb-A's 162,770 training images. The pictures are smooth random colour
fields: their content does not change the work per step.

    python benchmarks/faces_epoch.py [--images 2048] [--batch-size 128] [--steps 10] [--repeats 5]
"""

import argparse
import json
import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from environment import environment  # noqa: E402
from train_throughput import EpochTimer  # noqa: E402

import zoo  # noqa: E402
from training import data  # noqa: E402

CELEB_A_TRAIN_IMAGES = 162_770
PRESET = "dcgan_celeb_a"


def write_folder(path, count, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(count):
        small = rng.integers(0, 256, (7, 6, 3)).astype("float32")
        image = tf.image.resize(small[None], (218, 178), method="bicubic")[0]
        encoded = tf.io.encode_jpeg(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), quality=90)
        tf.io.write_file(os.path.join(path, f"{i:06d}.jpg"), encoded)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_folder(folder, args.images)
        keras.utils.set_random_seed(0)
        model_name, arguments = zoo.preset(PRESET)
        model = zoo.create(model_name, **arguments)
        model.compile(**model.default_optimizers(**zoo.preset_learning_rates(PRESET)))
        dataset, _ = data.stream(f"folder:{folder}", "train", model=model, batch_size=args.batch_size, seed=0)
        timer = EpochTimer()
        model.fit(dataset, epochs=args.repeats + 1, steps_per_epoch=args.steps, verbose=0,
                  callbacks=[timer], shuffle=False)
    step_seconds = [s / args.steps for s in timer.seconds[1:]]  # epoch 1: warm-up (tracing)
    median = statistics.median(step_seconds)
    steps_per_epoch = -(-CELEB_A_TRAIN_IMAGES // args.batch_size)
    print(json.dumps({
        "benchmark": "faces_epoch",
        "preset": PRESET,
        "batch_size": args.batch_size,
        "generator_parameters": model.generator.count_params(),
        "discriminator_parameters": model.discriminator.count_params(),
        **environment(),
        "seconds_per_step_median": round(median, 3),
        "seconds_per_step": [round(s, 3) for s in step_seconds],
        "images_per_s": round(args.batch_size / median, 1),
        "celeb_a_steps_per_epoch": steps_per_epoch,
        "celeb_a_minutes_per_epoch": round(median * steps_per_epoch / 60, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
