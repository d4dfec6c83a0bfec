"""Mixed precision: 16-bit compute, float32 variables, loss scaling on every optimizer under float16."""

import json
import os

import keras
import numpy as np
import pytest

import zoo
from tests.conftest import TINY, TINY_FLAGS, tiny_images, zoo_run
from training.train import dtype_policy

COMPUTE = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def _built_under(policy, name, **overrides):
    with dtype_policy(policy):
        model = zoo.create(name, **{**TINY, **overrides})
        model.compile(**model.default_optimizers())
    return model


@pytest.mark.parametrize("policy", sorted(COMPUTE))
@pytest.mark.parametrize("name", ["dcgan", "vae"])
def test_a_mixed_precision_step_computes_in_16_bits_and_keeps_float32_variables(policy, name):
    model = _built_under(policy, name)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building
    generator = model.generator
    convolutions = [layer for layer in generator.layers if "Conv" in type(layer).__name__]
    assert all(layer.compute_dtype == COMPUTE[policy] for layer in convolutions[:-1])
    assert generator.layers[-1].compute_dtype == "float32"  # images (and scores) leave in float32

    history = model.fit(tiny_images(model, n=8), batch_size=4, epochs=1, verbose=0).history
    assert all(np.isfinite(values).all() for values in history.values())
    assert {variable.dtype for variable in model.trainable_variables} == {"float32"}
    assert model.sample(2).dtype == "uint8"

    optimizers = [model.d_optimizer, model.g_optimizer] if name == "dcgan" else [model.optimizer]
    scaled = [isinstance(o, keras.optimizers.LossScaleOptimizer) for o in optimizers]
    # float16 needs loss scaling on each optimizer (Keras scales only
    # `model.optimizer` by itself); bfloat16 has float32's range and none.
    assert scaled == [policy == "mixed_float16"] * len(optimizers)


def test_zoo_train_records_its_precision_and_resume_keeps_it(tmp_path):
    out = str(tmp_path / "run")
    zoo_run("train", "--model", "dcgan", *TINY_FLAGS, "--batch-size", "8", "--steps-per-epoch", "2",
            "--precision", "mixed_bfloat16", "--out", out)
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["precision"] == "mixed_bfloat16"
    refused = zoo_run("train", "--resume", "--epochs", "2", "--precision", "mixed_float16", "--out", out, check=False)
    assert refused.returncode == 2 and "drop --precision" in refused.stderr
