"""The `zoo` command end to end through `main(argv)`, in this process; what only a process shows (the
modules `--help` imports, TensorFlow's C++ log lines) in subprocesses.

The one-line refusals of bad input are the table of `tests/test_bad_inputs.py`.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import TINY_FLAGS, write_image_folder, zoo_cli, zoo_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "dcgan"
    zoo_run("train", "--model", "dcgan", *TINY_FLAGS, "--epochs", 2, "--steps-per-epoch", 3,
            "--batch-size", 16, "--seed", 0, "--validation-split", "test[:64]",
            "--metrics", "fd,dc", "--metrics-every", 2, "--metrics-samples", 100, "--out", out)
    return out


def test_train_writes_the_run_folder(run_dir):
    assert (run_dir / "model.keras").is_file()
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "epoch_000.png", "epoch_001.png", "epoch_002.png"]
    grid = tf.io.decode_png(tf.io.read_file(str(run_dir / "samples" / "epoch_002.png")))
    assert grid.shape[-1] == 1 and grid.shape[0] > 8 * 16
    history = json.loads((run_dir / "history.json").read_text())
    assert history["epoch"] == [1, 2] and len(history["val_d_loss"]) == 2
    # --metrics-every 2: measured after epoch 2 only; best.keras is that epoch's model.
    assert history["val_fd"][0] is None and history["val_fd"][1] > 0 and history["val_coverage"][1] >= 0
    assert (run_dir / "best.keras").is_file()
    tags = {value.tag for path in (run_dir / "logs" / "validation").iterdir()
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}
    assert {"epoch_fd", "epoch_coverage"} <= tags  # TensorBoard shows them beside the losses
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "dcgan" and config["model_config"]["latent_dim"] == 8
    assert config["model_config"]["image_shape"] == [16, 16, 1]
    assert config["steps_per_epoch"] == 3 and config["seed"] == 0
    assert config["environment"]["tensorflow"] == tf.__version__
    assert any(name.startswith("events") for _, _, files in os.walk(run_dir / "logs") for name in files)


def test_rerun_into_the_same_folder_is_refused_and_keeps_files(run_dir):
    before = (run_dir / "model.keras").read_bytes()
    result = zoo_run("train", "--model", "dcgan", *TINY_FLAGS, "--out", run_dir, check=False)
    assert result.returncode == 2
    assert "holds a run with other settings" in result.stderr and "Traceback" not in result.stderr
    assert (run_dir / "model.keras").read_bytes() == before


def test_overwrite_replaces_every_output_of_the_old_run(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "overwritten"
    shutil.copytree(run_dir, copy)
    (copy / "exports" / "1").mkdir(parents=True)
    (copy / "exports" / "1" / "model_card.json").write_text("{}")
    (copy / "samples" / "epoch_009.png").write_bytes(b"old")
    zoo_run("train", "--model", "dcgan", *TINY_FLAGS, "--epochs", 1, "--steps-per-epoch", 1,
            "--batch-size", 16, "--overwrite", "--out", copy)
    assert not (copy / "exports").exists()
    assert sorted(p.name for p in (copy / "samples").iterdir()) == ["epoch_000.png", "epoch_001.png"]
    assert json.loads((copy / "history.json").read_text())["epoch"] == [1]


def test_resume_continues_to_the_requested_epoch(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(run_dir, copy)
    zoo_run("train", "--resume", "--out", copy, "--epochs", 3)
    history = json.loads((copy / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
    assert (copy / "samples" / "epoch_003.png").is_file()
    # The copy was resumed, not the folder it was copied from.
    assert json.loads((run_dir / "history.json").read_text())["epoch"] == [1, 2]
    commands = json.loads((copy / "config.json").read_text())["commands"]
    assert len(commands) == 2 and "--resume" in commands[1]


@pytest.mark.slow  # int8 calibration; a subprocess, so the C++ lines would show
def test_export_measures_fd_per_variant_then_sample(run_dir):
    result = zoo_cli("export", run_dir, "--version", 2, "--variants", "int8", "--fd-samples", 300)
    assert "FD on 300 images vs the fashion_mnist test split" in result.stdout
    assert result.stderr == ""  # not even the int8 calibrator's C++ lines
    manifest = json.loads((run_dir / "exports" / "2" / "model_card.json").read_text())
    for name in ("float32", "int8"):
        entry = manifest["tflite"][name]
        assert entry["fd"] > 0 and entry["fd_increase"] == pytest.approx(entry["fd"] / manifest["metrics"]["fd"] - 1)
        assert re.search(rf"{name} +{'yes' if entry['written'] else 'no'} ", result.stdout)
    tflite = run_dir / manifest["tflite"]["float32"]["path"]
    assert hashlib.sha256(tflite.read_bytes()).hexdigest() == manifest["tflite"]["float32"]["sha256"]
    assert (run_dir / "saved_model" / "2" / "saved_model.pb").is_file()
    assert tflite == run_dir / "tflite" / "2" / "generator_float32.tflite"
    assert manifest["dataset"] == {"name": "fashion_mnist", "licence": "MIT (Zalando Research)",
                                   "class_names": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]}
    assert manifest["training"]["config"] == json.loads((run_dir / "config.json").read_text())
    zoo_cli("sample", run_dir, "-n", 9, "--seed", 4, "--out", run_dir / "nine.png")
    grid = tf.io.decode_png(tf.io.read_file(str(run_dir / "nine.png")))
    assert grid.shape[:2] == (3 * 18 + 2, 3 * 18 + 2)


def test_help_and_version_answer_without_importing_tensorflow():
    assert "train" in zoo_cli("--help").stdout
    assert "--steps-per-epoch" in zoo_cli("train", "--help").stdout
    assert zoo_cli("--version").stdout.startswith("zoo ")
    for args in (["--help"], ["--version"], ["train", "--help"]):
        imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "commands.cli", *args],
                                 capture_output=True, text=True).stderr
        assert re.search(r"\|\s+commands\.common$", imports, flags=re.M), args  # the command line did load
        assert not re.search(r"\|\s+(tensorflow|keras)(\.|$)", imports, flags=re.M), args


@pytest.mark.slow  # two subprocesses that import TensorFlow
def test_commands_print_no_tensorflow_log_lines_unless_verbose(run_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    quiet = subprocess.run([sys.executable, "-m", "commands.cli", "sample", str(run_dir), "-n", "4",
                            "--out", str(tmp_path / "g.png")], capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and quiet.stderr == ""
    verbose = subprocess.run([sys.executable, "-m", "commands.cli", "--verbose", "sample", str(run_dir),
                              "-n", "4", "--out", str(tmp_path / "g.png")], capture_output=True, text=True,
                             env=env)
    assert verbose.returncode == 0 and verbose.stderr != ""  # TensorFlow's C++ start-up lines


def test_list_shows_models_presets_and_datasets():
    out = zoo_run("list").stdout
    for name in ["dcgan", "wgan_gp", "vae", "dcgan_fashion_mnist", "fashion_mnist", "celeb_a"]:
        assert name in out


@pytest.mark.slow  # a conversion and three evaluations
def test_evaluate_writes_flat_metrics_and_artifacts_agree(run_dir):
    zoo_run("export", run_dir, "--variants", "float32", "--fd-samples", 0)
    results = {}
    for artifact in ("keras", "saved_model", "tflite"):
        out = zoo_run("evaluate", run_dir, "-n", 300, "--metrics", "fd,kid,dc,classes",
                      "--artifact", artifact).stdout
        results[artifact] = json.loads(out[out.index("{"):])
        written = json.loads((run_dir / "metrics.json").read_text())
        assert written["artifact"] == artifact and written["fd"] == results[artifact]["fd"]
    for key in ("fd", "kid", "coverage", "classes_covered"):
        assert key in results["keras"]
    assert results["keras"]["extractor"] == "domain:fashion_mnist" and results["keras"]["n"] == 300
    # Same latents; the artifacts differ by at most 1/255 per pixel.
    for artifact in ("saved_model", "tflite"):
        assert results[artifact]["fd"] == pytest.approx(results["keras"]["fd"], rel=0.02, abs=0.05)


@pytest.mark.slow  # 64x64 RGB at the DCGAN paper's widths
def test_the_faces_preset_trains_samples_and_exports_an_image_folder_end_to_end(tmp_path):
    """`--preset dcgan_celeb_a` as it is (64x64 RGB, DCGAN paper widths) on a folder of photos."""
    write_image_folder(tmp_path / "faces")
    out = tmp_path / "run"
    zoo_run("train", "--preset", "dcgan_celeb_a", "--dataset", f"folder:{tmp_path / 'faces'}",
            "--epochs", 1, "--steps-per-epoch", 2, "--batch-size", 4, "--g-lr", "1e-4", "--out", out)
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == f"folder:{tmp_path / 'faces'}"
    assert config["learning_rates"] == {"d_lr": 2e-4, "g_lr": 1e-4}  # the flag overrides the preset
    grid = tf.io.decode_png(tf.io.read_file(str(out / "samples" / "epoch_001.png")))
    assert grid.shape[-1] == 3 and grid.shape[0] == 8 * 66 + 2
    zoo_run("sample", out, "-n", 4, "--out", tmp_path / "faces.png")
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "faces.png"))).shape == (2 * 66 + 2, 2 * 66 + 2, 3)
    result = zoo_run("export", out, "--variants", "float32")
    assert "FD not measured" in result.stdout  # an image folder has no test split to measure against
    card = json.loads((out / "exports" / "1" / "model_card.json").read_text())
    assert card["image"]["shape"] == [64, 64, 3] and card["tflite"]["float32"]["written"]
    assert card["dataset"]["licence"] == "the image folder's own licence (not recorded)"


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cgan"
    zoo_run("train", "--model", "cgan", *TINY_FLAGS, "--epochs", 1, "--steps-per-epoch", 3,
            "--batch-size", 16, "--seed", 0, "--out", out)
    return out


def test_conditional_run_exports_label_input_and_evaluates_class_accuracy(conditional_run):
    grid = tf.io.decode_png(tf.io.read_file(str(conditional_run / "samples" / "epoch_001.png")))
    assert grid.shape[1] == 10 * 18 + 2  # one class per column
    zoo_run("export", conditional_run, "--variants", "float32", "--fd-samples", 0)
    manifest = json.loads((conditional_run / "exports" / "1" / "model_card.json").read_text())
    assert manifest["signatures"]["generate"]["inputs"] == {
        "seed": {"dtype": "int32", "shape": [None]}, "label": {"dtype": "int32", "shape": [None]}}
    assert manifest["signatures"]["generate"]["tflite_shapes"]["inputs"]["label"]["shape"] == [1]
    assert manifest["image"]["num_classes"] == 10 and manifest["limits"]["label_range"] == [0, 10]
    zoo_run("sample", conditional_run, "-n", 6, "--labels", "7,1,2", "--out", conditional_run / "six.png")
    six = tf.io.decode_png(tf.io.read_file(str(conditional_run / "six.png")))
    assert six.shape[:2] == (2 * 18 + 2, 3 * 18 + 2)
    results = {}
    for artifact in ("keras", "tflite"):
        out = zoo_run("evaluate", conditional_run, "-n", 200, "--metrics", "classes",
                      "--artifact", artifact).stdout
        results[artifact] = json.loads(out[out.index("{"):])
    assert results["tflite"]["class_accuracy"] == pytest.approx(results["keras"]["class_accuracy"], abs=0.02)


@pytest.mark.parametrize("args, message", [
    (["--dataset", "folder:{tmp}"], "needs class labels"),
    (["--set", "num_classes=5"], "has 10 classes but the model was built for num_classes=5"),
])
def test_conditional_training_refuses_data_without_matching_labels_and_keeps_the_old_run(
        conditional_run, tmp_path, args, message):
    import shutil

    write_image_folder(tmp_path / "images")
    copy = tmp_path / "run"
    shutil.copytree(conditional_run, copy)
    before = (copy / "model.keras").read_bytes()
    args = [a.format(tmp=tmp_path / "images") for a in args]
    result = zoo_run("train", "--model", "cgan", *TINY_FLAGS, *args, "--overwrite", "--out", copy,
                     check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert (copy / "model.keras").read_bytes() == before


def test_conditional_vae_reconstructs_with_the_test_labels(tmp_path):
    out = tmp_path / "cvae"
    zoo_run("train", "--model", "cvae", *TINY_FLAGS, "--epochs", 1, "--steps-per-epoch", 2,
            "--batch-size", 16, "--out", out)
    result = zoo_run("evaluate", out, "-n", 100, "--metrics", "classes,reconstruction").stdout
    metrics = json.loads(result[result.index("{"):])

    import zoo
    from evaluation.reconstruction import reconstruction_metrics
    from training import data
    from zoo.images import to_uint8

    model = zoo.load(out / "model.keras")
    images, labels = data.load_images("fashion_mnist", "test", 100)
    scaled = data.normalise_images(images, model.image_shape, model.pixel_range)

    def psnr(given_labels):
        outputs = model.predict((scaled, given_labels.astype("int32")), verbose=0)
        return reconstruction_metrics(to_uint8(scaled, model.pixel_range).numpy(),
                                      to_uint8(outputs, model.pixel_range).numpy())["psnr"]

    # The command reconstructed with the test images' own labels, not others.
    assert metrics["psnr"] == pytest.approx(psnr(labels), abs=1e-4)
    assert metrics["psnr"] != pytest.approx(psnr((labels + 1) % 10), abs=1e-4)


def test_nan_stops_training_keeps_the_last_good_files_and_exits_1(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    # Divergence in the next epoch: both optimizers' learning rates in the backup set to 1e30.
    with np.load(copy / "backup.npz") as stored:
        state = {k: stored[k] for k in stored.files}
    for key in ("optimizer0/1", "optimizer1/1"):  # Adam's variables: iteration, learning_rate, ...
        assert state[key].shape == () and state[key] == pytest.approx(1e-3)
        state[key] = np.float32(1e30)
    with open(copy / "backup.npz", "wb") as f:
        np.savez(f, **state)
    before = {name: (copy / name).read_bytes() for name in ("model.keras", "backup.npz")}
    result = zoo_run("train", "--resume", "--out", copy, "--epochs", 4, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "training stopped at epoch 3, batch 1 (step 7)" in result.stderr
    assert {name: (copy / name).read_bytes() for name in before} == before
    history = json.loads((copy / "history.json").read_text())  # strict JSON: no NaN literal
    assert history["epoch"] == [1, 2] and history["stopped"]["reason"] == "non-finite"
    assert (history["stopped"]["epoch"], history["stopped"]["step"]) == (3, 7)
    assert set(history["stopped"]["values"].values()) <= {"nan", "inf", "-inf"}
