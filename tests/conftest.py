import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import zoo  # noqa: E402

TINY_SHAPE = (16, 16, 1)
TINY = {"image_shape": TINY_SHAPE, "latent_dim": 8, "width": 8, "seed": 1}


def tiny_model(name, **overrides):
    """A registered model small enough to train a step in well under a second."""
    model = zoo.create(name, **{**TINY, **overrides})
    model.compile(**model.default_optimizers())
    return model


def tiny_images(model, n=8, seed=0):
    """Random images in the model's shape and pixel range."""
    low, high = model.pixel_range
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, (n, *model.image_shape)).astype("float32")


def tiny_labels(n=8):
    """Class labels for `tiny_images` (conditional models use them, others ignore them)."""
    return np.arange(n, dtype="int64") % 3


@pytest.fixture(params=zoo.names())
def model_name(request):
    return request.param
