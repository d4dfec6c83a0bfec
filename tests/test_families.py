"""Every registered family, end to end through the command line: the proof of the model contract.

The families come from the registry, so a new one is tested here without
an edit; `tests/toys.py` adds two that no code outside `tests/` knows (a
2 x 2 x 4 grid latent, and a sampler of 3 network steps).
"""

import json

import numpy as np
import pytest
from PIL import Image

import zoo
from tests.conftest import zoo_main

# The slow tier: every registered family trained and exported through the commands.
pytestmark = pytest.mark.slow


@pytest.fixture(params=zoo.names())
def run(request, family_run):
    return request.param, family_run(request.param)


def _zoo(*args):
    status, out, err = zoo_main(*args)
    assert status == 0, err
    return out


def test_a_run_logs_the_familys_losses_and_its_model_file_samples_as_its_export(run):
    name, folder = run
    model = zoo.load(folder)
    assert model.registry_name == name
    history = json.loads((folder / "history.json").read_text())
    for loss in (metric.name for metric in model.metrics):
        assert len(history[loss]) == 2 and all(np.isfinite(history[loss])), loss
    card = json.loads((folder / "exports" / "1" / "model_card.json").read_text())
    assert card["contract"] == model.contract.to_json()
    assert card["latent"]["shape"] == list(model.contract.latent_shape)
    assert sorted(card["signatures"]) == sorted(
        ["serving_default", "generate", "latents", "generate_truncated"]
        + (["encode", "reconstruct"] if model.contract.encodes else [])
        + (["generate_steps"] if "steps" in model.contract.sampling_options else []))


def _pixels(path):
    return np.asarray(Image.open(path)).astype(int)


def test_every_image_command_draws_the_same_pixels_from_the_model_and_the_tflite_file(run, tmp_path):
    name, folder = run
    contract = zoo.load(folder).contract
    commands = [("sample", "-n", 4), ("interpolate", "--seeds", "1,2,3", "--steps", 2, "--columns", 6),
                ("traverse", "--dims", f"0,{contract.latent_shape[-1] - 1}", "--steps", 3)]
    if contract.encodes:
        commands.append(("reconstruct", "-n", 4))
    for command, *flags in commands:
        images = {}
        for artifact in ("keras", "tflite"):
            out = tmp_path / f"{command}-{artifact}.png"
            _zoo(command, folder, *flags, "--artifact", artifact, "--scale", 1, "--out", out)
            images[artifact] = _pixels(out)
        assert images["keras"].shape == images["tflite"].shape, command
        assert np.abs(images["keras"] - images["tflite"]).max() <= 1, command
        assert len(np.unique(images["keras"])) > 2, command  # an image, not a blank canvas


def test_evaluate_and_report_read_any_family(run):
    name, folder = run
    _zoo("evaluate", folder, "-n", 100, "--metrics", "fd,dc")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert np.isfinite(metrics["fd"]) and 0.0 <= metrics["coverage"] <= 1.0
    _zoo("report", folder)
    page = (folder / "report.html").read_text()
    assert 'alt="loss curves"' in page and 'alt="samples after epoch 2"' in page
    assert name in page
