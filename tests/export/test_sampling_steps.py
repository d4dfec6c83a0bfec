"""Multi-step samplers in exports: `generate_steps` loops in the SavedModel's graph, TFLite files hold the
export's step count unrolled, and the count is in the card and the file name."""

import json

import numpy as np
import pytest
import tensorflow as tf

from export.signatures import SAVED_MODEL, TFLITE, signatures_for
from tests.conftest import tiny_images, tiny_labels, tiny_model, zoo_run


def _trained(name, **overrides):
    model = tiny_model(name, **overrides)
    model.fit(tiny_images(model), tiny_labels(), batch_size=4, epochs=1, verbose=0)
    return model


def test_generate_steps_is_a_saved_model_signature_of_samplers_that_take_steps():
    names = lambda model, target: [s.name for s in signatures_for(model, target)]  # noqa: E731
    assert "generate_steps" in names(tiny_model("flow"), SAVED_MODEL)
    assert "generate_steps" not in names(tiny_model("flow"), TFLITE)  # a loop: no WHILE in a .tflite file
    assert "generate_steps" not in names(tiny_model("dcgan"), SAVED_MODEL)
    assert "generate_steps" not in names(tiny_model("toy_steps"), SAVED_MODEL)  # its 3 steps are fixed


def test_generate_steps_runs_any_step_count_in_one_graph_and_refuses_counts_outside_the_contract():
    model = _trained("cflow")
    signature = next(s for s in signatures_for(model, SAVED_MODEL) if s.name == "generate_steps")
    function = signature.tf_function(model, SAVED_MODEL, None)
    seeds, labels = tf.constant([0, 1, 2]), tf.constant([4, 5, 6])
    for steps in (1, 4):
        images = function(seeds, tf.constant(steps), labels)["images"].numpy().astype(int)
        assert np.abs(images - model.sample(3, seed=0, labels=[4, 5, 6], steps=steps).numpy()).max() <= 1
    for steps in (0, 1001):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"steps outside \[1, 1000\]"):
            function(seeds, tf.constant(steps), labels)


@pytest.mark.slow  # a whole export (5,000 held-out seeds of a 3-step sampler)
def test_export_steps_sets_the_files_step_count_name_and_card(tmp_path):
    model = _trained("cflow")
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    zoo_run("export", str(run), "--steps", "3", "--variants", "float32", "--fd-samples", "0")
    card = json.loads((run / "exports" / "1" / "model_card.json").read_text())
    assert card["contract"]["sampling_steps"] == 3
    assert card["contract"]["sampling_options"] == {"steps": 3, "solver": "euler", "guidance": 1.0}
    assert card["tflite"]["float32"]["path"] == "tflite/1/generator_3steps_float32.tflite"
    assert (run / "tflite" / "1" / "generator_3steps_float32.tflite").is_file()
    labels = [s % 10 for s in range(8)]
    expected = model.sample(8, seed=0, labels=labels, steps=3).numpy().astype(int)
    served = tf.saved_model.load(str(run / "saved_model" / "1")).signatures
    seeds, label = tf.range(8, dtype=tf.int32), tf.constant(labels, tf.int32)
    assert np.abs(served["generate"](seed=seeds, label=label)["images"].numpy() - expected).max() <= 1
    looped = served["generate_steps"](seed=seeds, steps=tf.constant(5), label=label)["images"].numpy()
    assert np.abs(looped - model.sample(8, seed=0, labels=labels, steps=5).numpy()).max() <= 1
    # A command given the file's own count runs it; another count is refused, naming what the file holds.
    zoo_run("sample", str(run), "--artifact", "tflite", "--steps", "3", "-n", "4", "--out", str(tmp_path / "a.png"))
    refused = zoo_run("sample", str(run), "--artifact", "tflite", "--steps", "4", "-n", "4",
                      "--out", str(tmp_path / "b.png"), check=False)
    assert refused.returncode == 2 and "the exported tflite holds steps 3" in refused.stderr
    assert not (tmp_path / "b.png").exists()
