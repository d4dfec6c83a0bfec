"""The trained models in `saved_models/`: they load by name, match their cards, sample, and
their exported files reproduce `model.sample`; damaged files are refused; they are package data."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import zoo
from export import open_saved_model, open_tflite, read_manifest
from export.artifacts import _compare
from export.tflite import VARIANTS
from zoo.latents import labels_from_seeds

#: The issue's minimum: an unconditional GAN, a conditional GAN, a VAE and a conditional VAE.
EXPECTED = {"dcgan_fashion_mnist", "cgan_fashion_mnist", "two_stage_vae_fashion_mnist", "cvae_fashion_mnist"}
SEEDS = range(16)
LIMIT_BYTES = 40 * 2**20


def test_the_zoo_ships_a_gan_a_conditional_gan_a_vae_and_a_conditional_vae():
    assert EXPECTED <= set(zoo.shipped.names())
    assert "fashion_mnist_classifier" in zoo.shipped.names(kind="classifier")
    kinds = {zoo.shipped.card(name)["model"] for name in EXPECTED}
    assert {"cgan", "cvae"} <= kinds and len(kinds) == 4


def test_saved_models_fit_the_size_limit():
    total = sum(p.stat().st_size for p in zoo.shipped.root().rglob("*") if p.is_file())
    assert total <= LIMIT_BYTES


@pytest.fixture(scope="module", params=sorted(zoo.shipped.names()))
def shipped(request):
    return request.param, zoo.load(request.param)


def test_every_file_matches_its_card_and_samples_are_images(shipped):
    name, model = shipped
    zoo.shipped.check_files(name)  # every file the card lists, by sha256
    card = zoo.shipped.card(name)
    folder = zoo.shipped.folder(name)
    listed = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert listed - {"model_card.json"} == set(card["files"])  # nothing unlisted rides along
    labels = labels_from_seeds(SEEDS, model.num_classes)
    images = model.sample(len(SEEDS), seed=0, labels=labels).numpy()
    assert images.shape == (len(SEEDS), *card["image"]["shape"]) and images.dtype == np.uint8
    assert images.std() > 20  # not blank, not one grey
    for key in ("fd", "coverage"):
        assert isinstance(card["metrics"][key], float)
    assert card["metrics"]["n"] == 10000
    assert card["training"]["commands"][0][:2] == ["zoo", "train"]
    assert card["training"]["fd_curve"]["rows"]


def test_exported_files_reproduce_model_sample_within_their_tolerance(shipped):
    name, model = shipped
    folder = str(zoo.shipped.folder(name))
    manifest = read_manifest(folder)
    labels = labels_from_seeds(SEEDS, model.num_classes)
    expected = model.sample(len(SEEDS), seed=0, labels=labels).numpy()
    inputs = {"seed": np.asarray(SEEDS, np.int32), **({"label": labels} if labels is not None else {})}
    served = open_saved_model(folder, manifest).signatures["generate"](**inputs)["images"]
    assert _compare(served, expected)["max_abs_diff"] <= 1
    written = [v for v in VARIANTS if manifest["tflite"].get(v.name, {}).get("written")]
    assert "float32" in {v.name for v in written}
    for variant in written:
        runner = open_tflite(folder, manifest, variant.name).signatures["generate"]
        images = np.concatenate([runner(**{k: v[i : i + 1] for k, v in inputs.items()})["images"]
                                 for i in range(len(SEEDS))])
        measured = _compare(images, expected)
        assert measured["max_abs_diff"] <= variant.max_abs_diff, variant.name
        assert measured["psnr"] is None or measured["psnr"] >= variant.min_psnr, variant.name


@pytest.fixture
def copied_root(tmp_path, monkeypatch):
    """A copy of `saved_models/` that `zoo.shipped` reads instead, to damage safely."""
    copy = tmp_path / "saved_models"
    shutil.copytree(zoo.shipped.root(), copy)
    monkeypatch.setattr(zoo.shipped, "root", lambda: copy)
    return copy


def test_a_damaged_shipped_file_is_refused_before_loading(copied_root):
    path = copied_root / "dcgan_fashion_mnist" / "model.keras"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(zoo.shipped.ShippedModelError, match="differs from the sha256"):
        zoo.load("dcgan_fashion_mnist")


def test_an_unknown_name_names_the_shipped_models():
    with pytest.raises(zoo.shipped.ShippedModelError, match="dcgan_fashion_mnist"):
        zoo.load("dcgan_fashion")


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "training.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_cli_samples_evaluates_and_lists_by_name_without_writing_into_the_shipped_folder(tmp_path):
    folder = zoo.shipped.folder("cgan_fashion_mnist")
    before = _snapshot(zoo.shipped.root())
    result = _cli("sample", "cgan_fashion_mnist", "-n", 20, "--out", "grid.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import tensorflow as tf

    grid = tf.io.decode_png(tf.io.read_file(str(tmp_path / "grid.png"))).numpy()
    assert grid.shape == (2 * 30 + 2, 10 * 30 + 2, 1)  # one class per column
    result = _cli("sample", "dcgan_fashion_mnist", "-n", 4, cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "dcgan_fashion_mnist_samples_seed0.png").is_file()
    result = _cli("evaluate", "cgan_fashion_mnist", "-n", 200, "--metrics", "fd", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "cgan_fashion_mnist_metrics.json").read_text())["n"] == 200
    result = _cli("export", "cgan_fashion_mnist", cwd=tmp_path)
    assert result.returncode == 2 and "never written" in result.stderr
    listing = _cli("list", cwd=tmp_path).stdout
    card = json.loads((folder / "model_card.json").read_text())
    assert f"fd {card['metrics']['fd']:.3g}" in listing
    for name in EXPECTED:
        assert name in listing
    assert _snapshot(zoo.shipped.root()) == before


def test_the_wheel_carries_every_shipped_file_and_they_load_from_it(tmp_path):
    """A plain (not editable) install: build the wheel, import from it alone, load by name."""
    repo = zoo.shipped.root().parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(repo)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("keras_gen_zoo-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
        names = set(archive.namelist())
    for name in zoo.shipped.names(kind=None):
        for relative in zoo.shipped.card(name)["files"]:
            assert f"saved_models/{name}/{relative}" in names
        assert f"saved_models/{name}/model_card.json" in names
    code = ("import zoo, pathlib; model = zoo.load('dcgan_fashion_mnist'); "
            "from training.metrics.features import get_extractor; get_extractor('domain', 'fashion_mnist'); "
            "print(pathlib.Path(zoo.__file__).parent.parent, model.sample(2).shape)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(tmp_path / "site"), "TF_CPP_MIN_LOG_LEVEL": "3"},
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == str(tmp_path / "site")
