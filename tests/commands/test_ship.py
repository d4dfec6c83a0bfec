"""`commands.ship`: a run folder becomes a shipped model folder, its card measured at the protocol."""

import json

import numpy as np
import pytest

import zoo
from commands import ship
from tests.conftest import TINY_TRAIN, zoo_main


def test_a_model_ships_its_weight_average_alone_and_samples_what_the_run_samples(tmp_path):
    run = tmp_path / "run"
    status, _, err = zoo_main(*TINY_TRAIN[:-4], "--batch-size", "16", "--steps-per-epoch", "2",
                              "--set", "ema_decay=0.5", "--out", run)
    assert status == 0, err
    out = tmp_path / "tiny_dcgan"
    card = ship.ship(str(run), "tiny_dcgan", str(out), n=32, variants=("float32",), average_only=True)

    trained = zoo.load(run / "model.keras")
    shipped = zoo.load(out / "model.keras")
    assert trained.ema_generator is not None and shipped.ema_generator is None
    np.testing.assert_array_equal(shipped.sample(4, seed=0), trained.sample(4, seed=0))
    assert card == json.loads((out / "model_card.json").read_text())
    assert "weight average alone" in card["ema"]
    assert card["metrics"]["fd"] != card["metrics"]["fd_without_ema"]  # the trained network measured too
    assert set(card["files"]) >= {"model.keras", "samples.png", "config.json", "history.json",
                                  "tflite/1/generator_float32.tflite"}

    with pytest.raises(ValueError, match="choose one"):
        ship.ship(str(run), "tiny_dcgan", str(tmp_path / "both"), n=32, drop_ema=True, average_only=True)
    with pytest.raises(FileExistsError, match="exists"):
        ship.ship(str(run), "tiny_dcgan", str(out), n=32, average_only=True)
