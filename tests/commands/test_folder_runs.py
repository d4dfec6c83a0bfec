"""A labelled image folder end to end: its classifier, conditional runs measured on its held-out slice,
evaluation and export against that slice, and the class names in every card."""

import json

import pytest

from tests.conftest import TINY_FLAGS, write_labelled_folder, zoo_run
from zoo.run_folder import RunFolder

HELD_OUT = ["--split", "train[:80%]", "--validation-split", "train[80%:]"]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A folder of 3 classes and the domain classifier `zoo train-classifier` trains on its 80%."""
    root = tmp_path_factory.mktemp("folder")
    write_labelled_folder(root / "pets", per_class=(20, 20, 20))
    dataset = f"folder:{root / 'pets'}"
    classifier = root / "pets_classifier"
    zoo_run("train-classifier", "--dataset", dataset, "--split", "train[:80%]", "--test-split", "train[80%:]",
            "--image-shape", "16,16,1", "--epochs", 8, "--batch-size", 8, "--out", classifier)
    return dataset, classifier


def test_the_classifier_of_a_folder_learns_its_classes(labelled):
    dataset, classifier = labelled
    card = json.loads((classifier / "model_card.json").read_text())
    assert card["dataset"]["class_names"] == ["cat", "dog", "fox"] and card["num_classes"] == 3
    assert card["name"] == "pets_classifier" and card["image"]["shape"] == [16, 16, 1]
    assert card["training"]["config"]["test_split"] == "train[80%:]"
    assert card["metrics"]["test_accuracy"] == 1.0  # three grey levels


@pytest.mark.parametrize("model", ["cgan", "cvae"])
def test_a_conditional_run_on_a_folder_is_measured_on_its_held_out_slice(labelled, tmp_path, model):
    dataset, classifier = labelled
    out = tmp_path / "run"
    zoo_run("train", "--model", model, *TINY_FLAGS, "--set", "num_classes=3", "--dataset", dataset, *HELD_OUT,
            "--extractor", classifier, "--metrics", "fd,classes", "--metrics-samples", 12, "--batch-size", 8,
            "--epochs", 2, "--out", out)
    config = json.loads((out / "config.json").read_text())
    assert config["class_names"] == ["cat", "dog", "fox"] and config["extractor"] == str(classifier)
    history = json.loads((out / "history.json").read_text())
    assert len(history["val_fd"]) == 2 and 0 <= history["val_class_accuracy"][-1] <= 1
    # `zoo evaluate` compares with the held-out slice, through the run's extractor, by default.
    zoo_run("evaluate", out, "-n", 12, "--metrics", "fd,classes,memorisation")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "train[80%:]" and metrics["n_real"] == 12
    # Memorisation searches the 48 images of the training slice, not the held-out ones.
    nearest = json.loads((out / RunFolder.NEAREST_TRAIN).read_text())["nearest_train_index"]
    assert len(nearest) == 12 and max(nearest) < 48
    assert metrics["extractor"] == "domain:" + dataset and "class_accuracy" in metrics
    # The export measures its FD there too, and its card names the classes.
    result = zoo_run("export", out, "--variants", "float32", "--fd-samples", 12)
    assert "train[80%:] split" in result.stdout
    card = json.loads((out / "exports" / "1" / "model_card.json").read_text())
    assert card["dataset"]["class_names"] == ["cat", "dog", "fox"] and card["tflite"]["float32"]["fd"] is not None


def test_evaluating_a_folder_run_without_held_out_images_says_what_to_pass(labelled, tmp_path):
    dataset, _ = labelled
    out = tmp_path / "run"
    zoo_run("train", "--model", "dcgan", *TINY_FLAGS, "--dataset", dataset, "--batch-size", 8, "--steps-per-epoch",
            2, "--out", out)
    result = zoo_run("evaluate", out, "-n", 12, check=False)
    assert result.returncode == 2 and "pass the held-out slice, e.g. --split 'train[90%:]'" in result.stderr
    assert not (out / "metrics.json").exists()


def test_a_run_whose_folder_gained_a_class_is_not_resumed(tmp_path):
    write_labelled_folder(tmp_path / "pets", per_class=(8, 8))
    out = tmp_path / "run"
    zoo_run("train", "--model", "cgan", *TINY_FLAGS, "--set", "num_classes=2", "--dataset",
            f"folder:{tmp_path / 'pets'}", "--batch-size", 8, "--out", out)
    before = (out / "config.json").read_text()
    (tmp_path / "pets" / "bird").mkdir()
    (tmp_path / "pets" / "dog" / "dog00.png").rename(tmp_path / "pets" / "bird" / "bird.png")
    result = zoo_run("train", "--resume", "--out", out, "--epochs", 2, check=False)
    assert result.returncode == 2 and "the classes of" in result.stderr
    assert "(['cat', 'dog'] then, ['bird', 'cat', 'dog'] now)" in result.stderr
    assert (out / "config.json").read_text() == before
