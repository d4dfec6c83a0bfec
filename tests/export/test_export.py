"""Export: the serving contract, parity in a clean process, and failure safety."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import zoo
from export import ExportError, artifacts, export_run
from tests.conftest import tiny_images, tiny_labels, tiny_model
from zoo.latents import labels_from_seeds

CLEAN_CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    run, z_path, labels_path, expected_path = sys.argv[1:5]
    z = np.load(z_path)
    expected = np.load(expected_path)
    loaded = tf.saved_model.load(run + "/saved_model/1")
    signature = loaded.signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    feeds = {"z": z}
    if "label" in inputs:  # conditional generators
        feeds["label"] = np.load(labels_path).astype(np.int32)
    served = signature(**{k: tf.constant(v) for k, v in feeds.items()})["images"].numpy()
    interpreter = Interpreter(model_path=run + "/tflite/generator_float32.tflite", num_threads=2)
    runner = interpreter.get_signature_runner("serving_default")
    tflite = np.concatenate([runner(**{k: v[i : i + 1] for k, v in feeds.items()})["images"]
                             for i in range(len(z))])
    details = runner.get_input_details()["z"], runner.get_output_details()["images"]
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    print(json.dumps({
        "input": [inputs["z"].dtype.name, inputs["z"].shape.as_list()],
        "label": [inputs["label"].dtype.name, inputs["label"].shape.as_list(),
                  runner.get_input_details()["label"]["shape"].tolist()] if "label" in inputs else None,
        "output": [str(served.dtype), list(served.shape)],
        "tflite_io": [str(np.dtype(details[0]["dtype"])), details[0]["shape"].tolist(),
                      str(np.dtype(details[1]["dtype"])), details[1]["shape"].tolist()],
        "saved_model_diff": int(np.abs(served.astype(int) - expected).max()),
        "tflite_diff": int(np.abs(tflite.astype(int) - expected).max()),
        "flex_ops": sorted(op for op in ops if op.startswith("Flex") or op == "CUSTOM"),
        "project_imported": any(m.split(".")[0] in ("zoo", "training", "export") for m in sys.modules),
    }))
""")


@pytest.fixture(params=zoo.names())
def exported_run(request, tmp_path):
    model = tiny_model(request.param)
    model.fit(tiny_images(model), tiny_labels(), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    export_run(str(tmp_path))
    return tmp_path, model


def test_exported_artifacts_match_keras_in_a_process_without_the_project(exported_run, tmp_path_factory):
    run, model = exported_run
    scratch = tmp_path_factory.mktemp("parity")
    z = zoo.latents_from_seeds(range(100, 110), model.latent_dim).numpy()
    np.save(scratch / "z.npy", z)
    # Conditional models: classes other than the default ones of these seeds.
    labels = (np.arange(10) * 7) % model.num_classes if model.num_classes else np.zeros(0)
    np.save(scratch / "labels.npy", labels)
    expected = model.sample(10, seed=100, labels=labels if model.num_classes else None)
    np.save(scratch / "expected.npy", expected.numpy().astype(int))
    (scratch / "check.py").write_text(CLEAN_CHECK)
    result = subprocess.run(
        [sys.executable, "-I", str(scratch / "check.py"), str(run), str(scratch / "z.npy"),
         str(scratch / "labels.npy"), str(scratch / "expected.npy")],
        capture_output=True, text=True, cwd=str(scratch), timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["project_imported"] is False
    assert report["input"] == ["float32", [None, model.latent_dim]]
    assert report["label"] == (["int32", [None], [1]] if model.num_classes else None)
    assert report["output"] == ["uint8", [10, *model.image_shape]]
    assert report["tflite_io"] == ["float32", [1, model.latent_dim], "uint8", [1, *model.image_shape]]
    assert report["saved_model_diff"] <= 1 and report["tflite_diff"] <= 1
    assert report["flex_ops"] == []


def test_saved_model_cli_lists_the_signature(exported_run):
    run, model = exported_run
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--dir", str(run / "saved_model" / "1"), "--all"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "signature_def['serving_default']" in result.stdout
    assert "inputs['z']" in result.stdout and "outputs['images']" in result.stdout
    assert f"shape: (-1, {model.latent_dim})" in result.stdout
    assert ("inputs['label']" in result.stdout) == bool(model.num_classes)


def _measured_parity(run):
    """Largest pixel difference of each written artifact from the Keras model, on the parity latents."""
    model = zoo.load(run / "model.keras")
    z = zoo.latents_from_seeds(artifacts.PARITY_SEEDS, model.latent_dim, model.latent_prior).numpy()
    labels = labels_from_seeds(artifacts.PARITY_SEEDS, model.num_classes)
    expected = model.sample(len(z), seed=artifacts.PARITY_SEEDS.start, labels=labels).numpy().astype(int)
    outputs = {
        "saved_model": artifacts.run_saved_model(str(run / "saved_model" / "1"), z, labels),
        "tflite": artifacts.run_tflite(str(run / "tflite" / artifacts.TFLITE_FILE), z, labels),
    }
    return {f"{name}_max_abs_diff": int(np.abs(images.astype(int) - expected).max())
            for name, images in outputs.items()}


def test_manifest_records_contract_hash_and_parity(exported_run):
    run, model = exported_run
    manifest = json.loads((run / "export.json").read_text())
    import hashlib

    tflite = run / "tflite" / "generator_float32.tflite"
    assert manifest["tflite"]["sha256"] == hashlib.sha256(tflite.read_bytes()).hexdigest()
    assert manifest["outputs"]["images"]["shape"] == [None, *model.image_shape]
    # The figures are the ones measured, not the tolerance.
    measured = _measured_parity(run)
    assert {key: manifest["parity"][key] for key in measured} == measured
    assert manifest["parity"]["seeds"] == [0, 16] and manifest["parity"]["tolerance"] == 1
    label = {"dtype": "int32", "shape": [None], "num_classes": model.num_classes}
    assert manifest["inputs"].get("label") == (label if model.num_classes else None)


def test_broken_parity_fails_loudly_and_keeps_the_previous_export(tmp_path, monkeypatch):
    model = tiny_model("dcgan")
    model.save(tmp_path / "model.keras")
    export_run(str(tmp_path))
    tflite = tmp_path / "tflite" / "generator_float32.tflite"
    before = tflite.read_bytes()
    model.generator.trainable_weights[0].assign_add(np.ones(model.generator.trainable_weights[0].shape))
    model.save(tmp_path / "model.keras")
    # Simulate a converter that silently lost the weights (the measured trap).
    real_run_tflite = artifacts.run_tflite
    monkeypatch.setattr(artifacts, "run_tflite", lambda path, z, labels=None: 255 - real_run_tflite(path, z, labels))
    with pytest.raises(ExportError, match="disagrees with Keras"):
        export_run(str(tmp_path))
    assert tflite.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".export-")]


def test_manifest_records_the_latent_prior_and_parity_uses_it(tmp_path, monkeypatch):
    model = tiny_model("lsgan", latent_prior="uniform")
    model.save(tmp_path / "model.keras")
    fed = []
    real_run_tflite = artifacts.run_tflite
    monkeypatch.setattr(artifacts, "run_tflite",
                        lambda path, z, labels=None: fed.append(z) or real_run_tflite(path, z, labels))
    manifest = export_run(str(tmp_path))
    assert manifest["latent_prior"] == "uniform"
    (z,) = fed
    np.testing.assert_array_equal(z, zoo.latents_from_seeds(artifacts.PARITY_SEEDS, model.latent_dim, "uniform"))
    monkeypatch.undo()
    measured = _measured_parity(tmp_path)
    assert {key: manifest["parity"][key] for key in measured} == measured


def test_reexport_replaces_only_its_version(tmp_path):
    model = tiny_model("vae")
    model.save(tmp_path / "model.keras")
    export_run(str(tmp_path), version=1)
    export_run(str(tmp_path), version=3)
    (tmp_path / "saved_model" / "3" / "marker").write_text("old")
    export_run(str(tmp_path), version=3)
    assert sorted(os.listdir(tmp_path / "saved_model")) == ["1", "3"]
    assert not (tmp_path / "saved_model" / "3" / "marker").exists()


@pytest.mark.parametrize("version", [0, -1, "2", True])
def test_bad_version_is_rejected(tmp_path, version):
    with pytest.raises(ExportError, match="--version must be a positive integer"):
        export_run(str(tmp_path), version=version)
