"""Limits checked before work: `zoo.limits`, and `model.sample` in batches."""

import numpy as np
import pytest

import zoo
from tests.conftest import tiny_model
from zoo import base, limits
from zoo.limits import LimitError


def test_available_memory_is_a_plausible_byte_count():
    available = limits.available_memory()
    assert 1e6 < available < 1e15


def test_check_memory_names_the_need_what_is_available_and_the_way_round(monkeypatch):
    monkeypatch.setattr(limits, "available_memory", lambda: 2_000_000_000)
    limits.check_memory(1_999_999_999, "fits", "never said")
    with pytest.raises(LimitError, match=r"^-n 5 needs at least 3.0 GB of memory and this machine has 2.0 GB "
                                         r"available; use fewer\.$"):
        limits.check_memory(3_000_000_000, "-n 5", "use fewer")


@pytest.mark.parametrize("count, text", [(0, "0 bytes"), (999, "999 bytes"), (1536, "1.5 kB"),
                                         (32_000_000_000, "32 GB"), (3.1e12, "3.1 TB")])
def test_format_bytes(count, text):
    assert limits.format_bytes(count) == text


def test_activation_values_count_every_layer_output_and_grow_with_width():
    narrow = zoo.create("dcgan", image_shape=(16, 16, 1), latent_dim=8, width=8)
    wide = zoo.create("dcgan", image_shape=(16, 16, 1), latent_dim=8, width=16)
    # At least the generator's output image and the discriminator's input image.
    assert limits.activation_values(narrow) > 2 * 16 * 16
    assert limits.activation_values(wide) > 1.5 * limits.activation_values(narrow)


@pytest.mark.parametrize("name", ["dcgan", "cgan", "vae"])
def test_sample_in_batches_gives_the_images_of_one_call_per_seed(name, monkeypatch):
    model = tiny_model(name)
    monkeypatch.setattr(base, "SAMPLE_BATCH", 3)
    images = model.sample(8, seed=5).numpy()
    assert images.shape == (8, *model.image_shape)
    one_by_one = np.concatenate([model.sample(1, seed=5 + i, labels=None).numpy() for i in range(8)])
    np.testing.assert_allclose(images.astype(int), one_by_one.astype(int), atol=1)
    calls = []
    original = model.generate
    monkeypatch.setattr(model, "generate", lambda z, labels=None: calls.append(len(z)) or original(z, labels))
    model.sample(8, seed=5)
    assert calls == [3, 3, 2]


def test_sample_refuses_a_result_larger_than_memory_before_generating(monkeypatch):
    model = tiny_model("dcgan")
    monkeypatch.setattr(limits, "available_memory", lambda: 1_000_000)
    monkeypatch.setattr(model, "generate", lambda *args: pytest.fail("generated before refusing"))
    with pytest.raises(LimitError, match=r"model.sample\(2000\) \(2,000 images of 16x16x1\) needs at least 1.0 MB"):
        model.sample(2000)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_refuses_a_count_that_is_not_a_positive_integer(n):
    with pytest.raises(ValueError, match="n="):
        tiny_model("dcgan").sample(n)
