"""Conditional models: labels reach the networks and decide what is drawn."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import tiny_images, tiny_model
from zoo.latents import check_labels, labels_from_seeds

CLASSES = 3
CONDITIONAL = ["cgan", "cvae"]


def _templates(low, high):
    """One image per class: a vertical band whose position is the class."""
    templates = np.full((CLASSES, 16, 16, 1), low, "float32")
    for k in range(CLASSES):
        templates[k, :, 5 * k : 5 * k + 6] = high
    return templates


def _toy_dataset(model, n=192, seed=0):
    """Images decided by their class (template + a little noise), and the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    low, high = model.pixel_range
    noise = rng.normal(0.0, 0.05 * (high - low), (n, 16, 16, 1)).astype("float32")
    return np.clip(_templates(low, high)[labels] + noise, low, high), labels


@pytest.mark.parametrize("name,epochs", [("cgan", 20), pytest.param("cvae", 60, marks=pytest.mark.slow)])
def test_conditional_models_draw_the_class_they_are_asked_for(name, epochs):
    keras.utils.set_random_seed(0)
    model = zoo.create(name, image_shape=(16, 16, 1), latent_dim=8, width=16, seed=0,
                       num_classes=CLASSES)
    model.compile(**model.default_optimizers())
    images, labels = _toy_dataset(model)
    model.fit(images, labels, batch_size=32, epochs=epochs, verbose=0)

    asked = np.repeat(np.arange(CLASSES), 20)
    samples = model.sample(len(asked), seed=1000, labels=asked).numpy().astype("float32")
    distances = ((samples[:, None] - _templates(0, 255)[None]) ** 2).sum(axis=(2, 3, 4))
    drawn = distances.argmin(axis=1)
    # Ignoring the label would match the asked class about 1/3 of the time.
    for k in range(CLASSES):
        assert (drawn[asked == k] == k).mean() >= 0.9, (k, drawn[asked == k])


@pytest.mark.parametrize("name", CONDITIONAL)
def test_the_label_changes_the_image_for_the_same_latent(name):
    model = tiny_model(name)
    same_seed = [model.sample(1, seed=5, labels=[k]).numpy() for k in range(3)]
    assert not np.array_equal(same_seed[0], same_seed[1])
    assert not np.array_equal(same_seed[1], same_seed[2])
    # Default labels: image i of sample(n, seed) asks for class (seed + i) % num_classes.
    np.testing.assert_array_equal(model.sample(3, seed=5), model.sample(3, seed=5, labels=[5, 6, 7]))
    np.testing.assert_array_equal(model.sample(2, seed=0, labels=4),
                                  model.sample(2, seed=0, labels=[4, 4]))


@pytest.mark.parametrize("name", CONDITIONAL)
def test_conditional_models_refuse_bad_labels_and_unlabelled_data(name):
    model = tiny_model(name)
    with pytest.raises(ValueError, match=r"label 10 is not a class.*\[0, 10\)"):
        model.sample(2, labels=[1, 10])
    with pytest.raises(ValueError, match="one class per image"):
        model.sample(3, labels=[1, 2])
    with pytest.raises(ValueError, match=r"fit it on \(images, labels\)"):
        model.fit(tiny_images(model), batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="num_classes"):
        zoo.create(name, num_classes=1)


def test_unconditional_models_refuse_labels():
    with pytest.raises(ValueError, match="unconditional"):
        tiny_model("dcgan").sample(2, labels=[0, 1])


def test_projection_discriminator_adds_the_label_embedding_dot_features():
    model = tiny_model("cgan")
    images = tf.constant(tiny_images(model, n=4))
    labels = tf.constant([0, 1, 2, 9])
    scores = model.discriminate(images, training=False, labels=labels).numpy()
    features = keras.Model(model.discriminator.inputs[0],
                           model.discriminator.get_layer("score").input)(images).numpy()
    score = model.discriminator.get_layer("score")
    projection = model.discriminator.get_layer("label_projection").embeddings.numpy()
    expected = features @ score.kernel.numpy() + score.bias.numpy()
    expected[:, 0] += (projection[labels.numpy()] * features).sum(axis=1)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)


def test_cgan_rejects_packing():
    with pytest.raises(ValueError, match="pack=2"):
        zoo.create("cgan", pack=2)


def test_labels_from_seeds_cycle_and_check_labels_broadcasts():
    np.testing.assert_array_equal(labels_from_seeds(range(8, 13), 5), [3, 4, 0, 1, 2])
    assert labels_from_seeds(range(3), 0) is None
    np.testing.assert_array_equal(check_labels(2, 3, n=4), [2, 2, 2, 2])
    with pytest.raises(ValueError, match="label -1"):
        check_labels([0, -1], 3)
