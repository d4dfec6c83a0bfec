"""Registry, hyperparameter validation and safe loading."""

import zipfile

import keras
import pytest

import zoo
from zoo.registry import ModelFileError, constructor_arguments


def test_registry_names_the_zoos_twelve_families_and_the_tests_toys():
    zoos = {name for name in zoo.names() if zoo.get(name).__module__.startswith("zoo.")}
    assert zoos == {"dcgan", "lsgan", "sngan", "wgan_gp", "cgan", "vae", "beta_vae", "cvae", "two_stage_vae",
                    "flow", "cflow", "distilled_flow"}
    assert set(zoo.names()) - zoos == {"toy_grid", "toy_steps"}  # tests/toys.py
    assert zoo.get("wgan_gp") is zoo.WGANGP


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown model 'gan'.*dcgan"):
        zoo.get("gan")


def test_unknown_hyperparameter_is_rejected_with_the_accepted_ones():
    with pytest.raises(ValueError, match=r"no hyperparameter 'latent_size'.*latent_dim"):
        zoo.create("dcgan", latent_size=3)


def test_constructor_arguments_include_inherited_and_own():
    args = constructor_arguments(zoo.WGANGP)
    assert {"image_shape", "latent_dim", "width", "seed", "critic_steps", "gp_weight"} <= set(args)
    assert args["critic_steps"] == 5


def test_presets_build_their_models():
    for name in zoo.PRESETS:
        model_name, arguments = zoo.preset(name)
        assert type(zoo.create(model_name, **arguments)).registry_name == model_name


def test_load_refuses_a_keras_file_of_another_class(tmp_path):
    path = tmp_path / "other.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    with pytest.raises(ModelFileError, match="not a zoo model"):
        zoo.load(path)


def test_load_reports_a_corrupt_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match="not a readable .keras archive"):
        zoo.load(path)


def test_load_reports_a_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no model file"):
        zoo.load(tmp_path / "missing.keras")


def test_load_reports_truncated_weights(tmp_path):
    model = zoo.create("dcgan", image_shape=(16, 16, 1), latent_dim=4, width=4)
    good = tmp_path / "good.keras"
    model.save(good)
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 2] if item.filename.endswith(".h5") else data)
    with pytest.raises(ModelFileError, match="could not load"):
        zoo.load(bad)


def test_conditional_names_are_the_families_that_take_classes():
    assert zoo.registry.conditional_names() == ["cflow", "cgan", "cvae"]
    assert all(zoo.create(name, **zoo.get(name).TINY_CONFIG).num_classes for name in zoo.registry.conditional_names())
