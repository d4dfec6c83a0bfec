"""zoo.explore: walks, morphs, traversals and reconstructions, on a Keras model and on its export alike."""

import keras
import numpy as np
import pytest

import zoo
from export import export_run, latent_shape, open_saved_model, open_tflite, read_manifest
from tests.conftest import FAST_FAMILIES, families, tiny_images, tiny_labels, tiny_model
from zoo import explore
from zoo.images import from_uint8, to_uint8


def test_slerp_ends_on_its_endpoints_and_keeps_the_norm_between_equal_norms():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    path = explore.slerp(a, b, np.linspace(0, 1, 11))
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[-1], b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-5)
    # A straight line would pass closer to the origin, where a Gaussian latent almost never is.
    assert np.linalg.norm((a + b) / 2) < 0.9 * np.linalg.norm(path[5])


def test_slerp_of_parallel_latents_is_the_straight_line():
    a = np.ones(4)
    np.testing.assert_allclose(explore.slerp(a, 2 * a, [0.5]), [1.5 * a], rtol=1e-6)


@pytest.fixture(scope="module", params=families())
def generators(request, tmp_path_factory, family_run):
    """A tiny trained model of each registered family, its Keras generator and the generators of its
    SavedModel and float32 file."""
    if request.param in FAST_FAMILIES:  # the fast tier: a float32 export, made here in seconds
        model = tiny_model(request.param)
        model.fit(tiny_images(model), tiny_labels(), batch_size=4, epochs=1, verbose=0)
        run = tmp_path_factory.mktemp(request.param)
        model.save(run / "model.keras")
        manifest = export_run(str(run), variants=("float32",), latency_runs=5)
    else:  # the slow tier: the session's shared whole export of the family
        run = family_run(request.param)
        model, manifest = zoo.load(run / "model.keras"), read_manifest(str(run))
    dims = (latent_shape(manifest), manifest["image"]["num_classes"])
    exported = {
        "saved_model": explore.Generator.from_signatures(open_saved_model(str(run), manifest).signatures, *dims),
        "tflite": explore.Generator.from_signatures(open_tflite(str(run), manifest).signatures, *dims),
    }
    return model, explore.Generator.from_model(model), exported


def test_walk_passes_through_each_seed_image_and_loops_back(generators):
    model, keras_generator, _ = generators
    frames = explore.interpolate(keras_generator, [4, 9, 2], steps=5)
    assert frames.shape == (15, *model.image_shape) and frames.dtype == np.uint8
    label = 4 % model.num_classes if model.num_classes else None
    for k, seed in enumerate([4, 9, 2]):
        expected = model.sample(1, seed=seed, labels=None if label is None else [label]).numpy()[0]
        np.testing.assert_array_equal(frames[5 * k], expected)
    open_path = explore.interpolate(keras_generator, [4, 9], steps=5)
    assert len(open_path) == 6  # two seeds: an open path that ends on the second
    np.testing.assert_array_equal(open_path[-1], frames[5])
    assert len({frame.tobytes() for frame in frames}) > 3  # the frames in between differ


def test_exported_signatures_draw_the_same_walk_traversal_and_grid_as_keras(generators):
    model, keras_generator, exported = generators
    expected = {
        "walk": explore.interpolate(keras_generator, [1, 2], steps=4),
        "traversal": explore.traverse(keras_generator, [0, 3], value_range=2.0, steps=5, seed=7),
        "grid": explore.sample(keras_generator, 12, seed=3, truncation=0.7),
    }
    for name, generator in exported.items():
        found = {
            "walk": explore.interpolate(generator, [1, 2], steps=4),
            "traversal": explore.traverse(generator, [0, 3], value_range=2.0, steps=5, seed=7),
            "grid": explore.sample(generator, 12, seed=3, truncation=0.7),
        }
        for key in expected:
            assert np.abs(found[key].astype(int) - expected[key]).max() <= 1, (name, key)
    labels = [1] * 12 if model.num_classes else None
    np.testing.assert_array_equal(
        explore.sample(keras_generator, 12, seed=3, truncation=0.7, labels=labels),
        model.sample(12, seed=3, truncation=0.7, labels=labels))


def test_traversal_rows_change_only_their_dimension(generators):
    model, keras_generator, _ = generators
    captured = []
    spy = explore.Generator(
        latent_shape=keras_generator.latent_shape, num_classes=keras_generator.num_classes,
        latents=keras_generator.latents, generate=keras_generator.generate,
        decode=lambda z, labels=None: captured.append(z) or keras_generator.decode(z, labels))
    frames = explore.traverse(spy, [1, 5], value_range=3.0, steps=4, seed=2)
    # Positions count the latent's numbers row-major, whatever its shape.
    z, base = captured[0].reshape(8, -1), keras_generator.latents(np.asarray([2]))[0].reshape(-1)
    assert captured[0].shape == (8, *model.contract.latent_shape)
    assert frames.shape == (8, *model.image_shape)
    np.testing.assert_allclose(z[:4, 1], [-3, -1, 1, 3], rtol=1e-6)
    np.testing.assert_allclose(z[4:, 5], [-3, -1, 1, 3], rtol=1e-6)
    np.testing.assert_array_equal(np.delete(z[:4], 1, axis=1), np.repeat(np.delete(base, 1)[None], 4, axis=0))
    size = keras_generator.latent_size
    with pytest.raises(ValueError, match=rf"dims=\[{size}\]; use latent dimensions in \[0, {size}\)"):
        explore.traverse(keras_generator, [size])


def test_reconstruction_pairs_real_rows_with_their_reconstructions(generators):
    model, keras_generator, exported = generators
    images = np.round((tiny_images(model, n=10) - model.pixel_range[0]) * 255
                      / (model.pixel_range[1] - model.pixel_range[0])).astype(np.uint8)
    labels = tiny_labels(10) if model.num_classes else None
    if keras_generator.reconstruct is None:
        with pytest.raises(ValueError, match="need a VAE"):
            explore.reconstruct(keras_generator, images)
        return
    pairs = explore.reconstruct(keras_generator, images, labels)
    assert pairs.shape == (32, *model.image_shape)  # rows: 8 real, 8 rebuilt, 2 real (+6 empty), 2 rebuilt
    np.testing.assert_array_equal(pairs[:8], images[:8])
    np.testing.assert_array_equal(pairs[16:18], images[8:])
    inputs = from_uint8(images, model.pixel_range)
    labels_in = None if labels is None else keras.ops.convert_to_tensor(labels, "int32")
    expected = to_uint8(model.decode(model.encode(inputs, labels_in)[0], labels_in), model.pixel_range).numpy()
    np.testing.assert_array_equal(pairs[8:16], expected[:8])
    for generator in exported.values():
        assert np.abs(explore.reconstruct(generator, images, labels).astype(int) - pairs).max() <= 1


def test_class_morph_starts_and_ends_on_the_classes_at_one_latent(generators):
    model, keras_generator, exported = generators
    if not model.num_classes:
        assert keras_generator.mix_classes is None
        return
    frames = explore.morph_classes(keras_generator, [0, 2], seed=5, steps=4)
    assert len(frames) == 5
    np.testing.assert_array_equal(frames[0], model.sample(1, seed=5, labels=0).numpy()[0])
    np.testing.assert_array_equal(frames[4], model.sample(1, seed=5, labels=2).numpy()[0])
    with pytest.raises(ValueError, match="need a conditional Keras model"):
        explore.morph_classes(exported["tflite"], [0, 2])
    with pytest.raises(ValueError, match="label 10 is not a class"):
        explore.morph_classes(keras_generator, [0, 10])


def test_walk_refuses_one_seed_and_seeds_out_of_range():
    model = tiny_model("dcgan")
    generator = explore.Generator.from_model(model)
    with pytest.raises(ValueError, match="at least two seeds"):
        explore.interpolate(generator, [3])
    with pytest.raises(ValueError, match=r"leave \[0, 2147483647\)"):
        explore.interpolate(generator, [0, -1])


def test_a_models_functions_run_in_chunks_and_give_the_whole_result(monkeypatch):
    model = tiny_model("vae")
    monkeypatch.setattr(explore, "CHUNK", 4)
    generator = explore.Generator.from_model(model)
    z = generator.latents(np.arange(10))
    whole = to_uint8(model.generate(z), model.pixel_range).numpy()
    calls = []
    original = model.generate
    monkeypatch.setattr(model, "generate", lambda z, labels=None: calls.append(len(z)) or original(z, labels))
    np.testing.assert_array_equal(generator.decode(z), whole)
    assert calls == [4, 4, 2]
    assert generator.reconstruct(whole).shape == whole.shape
