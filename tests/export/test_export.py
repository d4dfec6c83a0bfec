"""Export: the seed contract everywhere, signatures, quantized variants and their gates, versions, failure safety."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import zoo
from export import ExportError, artifacts, export_run, open_tflite, read_manifest
from export.tflite import VARIANTS
from tests.conftest import families, tiny_images, tiny_labels, tiny_model
from zoo.latents import labels_from_seeds

SEEDS = range(100)  # the contract: 100 seeds


def _export(name, run, variants=("float32",), **overrides):
    model = tiny_model(name, **overrides)
    model.fit(tiny_images(model), tiny_labels(), batch_size=4, epochs=1, verbose=0)
    model.save(run / "model.keras")
    return model, export_run(str(run), variants=variants, latency_runs=5)


@pytest.fixture(params=families())
def exported_run(request, family_run):
    """A tiny run of every registered family, exported whole (the session's shared `family_run`)."""
    run = family_run(request.param)
    return run, zoo.load(run / "model.keras")


def seed_inputs(model, seeds):
    """The `generate` inputs of `seeds`: int32 seeds, and a conditional model's labels of those seeds."""
    inputs = {"seed": np.asarray(seeds, np.int32)}
    if model.num_classes:
        inputs["label"] = labels_from_seeds(seeds, model.num_classes)
    return inputs


def test_variant_thresholds_are_the_ones_every_shipped_card_states_and_meets():
    checked = 0
    for name in zoo.shipped.names():
        card = read_manifest(zoo.shipped.folder(name))
        for variant in VARIANTS:
            entry = card["tflite"].get(variant.name)
            if not entry or not entry["written"]:
                continue
            assert {key: entry["thresholds"][key] for key in variant.thresholds()} == variant.thresholds()
            figures = entry["held_out"]["per_image_max_abs_diff"]
            assert figures["p99"] <= variant.p99_abs_diff and figures["max"] <= variant.max_abs_diff, (name, variant)
            assert entry["held_out"]["psnr"] is None or entry["held_out"]["psnr"] >= variant.min_psnr
            checked += 1
    assert checked >= 4 * 2  # float32 and int8 of the four shipped generators (commands.ship.SHIPPED_VARIANTS)
    # Float files keep Keras's pixels within a step; the weight-quantized ones may move further.
    by_name = {v.name: v for v in VARIANTS}
    assert all(by_name[n].p99_abs_diff == by_name[n].max_abs_diff == 1 for n in ("float32", "float16"))
    assert 1 < by_name["dynamic_int8"].p99_abs_diff <= by_name["int8"].p99_abs_diff
    # Stated on seeds no export tunes or checks anything on, enough of them for a 99th percentile.
    held_out = set(artifacts.HELD_OUT_SEEDS)
    assert len(held_out) >= 1000 and not held_out & set(artifacts.QUALITY_SEEDS)
    assert not held_out & set(artifacts.CALIBRATION_SEEDS) and not held_out & set(range(10000))  # FD's seeds


@pytest.mark.slow  # a fresh process per family
def test_exported_artifacts_match_keras_in_a_process_without_the_project(exported_run, tmp_path_factory):
    run, model = exported_run
    scratch = tmp_path_factory.mktemp("parity")
    seeds = np.arange(100, 110, dtype=np.int32)
    # Conditional models: classes other than the default ones of these seeds.
    labels = (np.arange(10) * 7) % model.num_classes if model.num_classes else None
    expected = model.sample(10, seed=100, labels=labels).numpy().astype(int)
    np.save(scratch / "seeds.npy", seeds)
    np.save(scratch / "labels.npy", labels if labels is not None else np.zeros(0))
    np.save(scratch / "expected.npy", expected)
    (scratch / "check.py").write_text(CLEAN_CHECK)
    result = subprocess.run(
        [sys.executable, "-I", str(scratch / "check.py"), str(run), str(scratch),
         read_manifest(str(run))["tflite"]["float32"]["path"]],
        capture_output=True, text=True, cwd=str(scratch), timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["project_imported"] is False
    signatures = {"serving_default", "generate", "latents"}
    if model.contract.encodes:
        signatures |= {"encode", "reconstruct"}
    served_only = {"generate_truncated"} | ({"generate_steps"} if "steps" in model.contract.sampling_options else set())
    assert set(report["saved_model_signatures"]) == signatures | served_only
    assert set(report["tflite_signatures"]) == signatures
    assert report["generate_input"] == ["int32", [None]] and report["output"] == ["uint8", [10, *model.image_shape]]
    assert report["saved_model_diff"] <= 1 and report["tflite_diff"] <= 1
    assert report["flex_ops"] == []


CLEAN_CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    run, scratch, tflite_file = sys.argv[1:4]
    seeds, labels, expected = (np.load(f"{scratch}/{name}.npy") for name in ("seeds", "labels", "expected"))
    loaded = tf.saved_model.load(run + "/saved_model/1")
    signature = loaded.signatures["generate"]
    inputs = signature.structured_input_signature[1]
    feeds = {"seed": seeds}
    if "label" in inputs:  # conditional generators
        feeds["label"] = labels.astype(np.int32)
    served = signature(**{k: tf.constant(v) for k, v in feeds.items()})["images"].numpy()
    interpreter = Interpreter(model_path=f"{run}/{tflite_file}", num_threads=2)
    runner = interpreter.get_signature_runner("generate")
    tflite = np.concatenate([runner(**{k: v[i : i + 1] for k, v in feeds.items()})["images"]
                             for i in range(len(seeds))])
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    print(json.dumps({
        "saved_model_signatures": sorted(loaded.signatures),
        "tflite_signatures": sorted(interpreter.get_signature_list()),
        "generate_input": [inputs["seed"].dtype.name, inputs["seed"].shape.as_list()],
        "output": [str(served.dtype), list(served.shape)],
        "saved_model_diff": int(np.abs(served.astype(int) - expected).max()),
        "tflite_diff": int(np.abs(tflite.astype(int) - expected).max()),
        "flex_ops": sorted(op for op in ops if op.startswith("Flex") or op == "CUSTOM"),
        "project_imported": any(m.split(".")[0] in ("zoo", "training", "export") for m in sys.modules),
    }))
""")


@pytest.mark.slow  # saved_model_cli, a process per family
def test_saved_model_cli_lists_every_signature(exported_run):
    run, model = exported_run
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--dir", str(run / "saved_model" / "1"), "--all"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("serving_default", "generate", "latents", "generate_truncated"):
        assert f"signature_def['{name}']" in result.stdout
    assert "inputs['z']" in result.stdout and "inputs['seed']" in result.stdout
    assert f"shape: (-1, {', '.join(map(str, model.contract.latent_shape))})" in result.stdout
    assert ("inputs['label']" in result.stdout) == bool(model.num_classes)
    assert ("signature_def['encode']" in result.stdout) == model.contract.encodes


def test_latent_prior_is_made_in_the_graph(tmp_path):
    model, manifest = _export("lsgan", tmp_path, latent_prior="uniform")
    assert manifest["latent"]["prior"] == "uniform"
    z = open_tflite(str(tmp_path), manifest).signatures["latents"](seed=np.arange(20, dtype=np.int32))["z"]
    np.testing.assert_allclose(z, zoo.latents_from_seeds(range(20), model.latent_dim, "uniform"), atol=1e-6)
    assert np.abs(z).max() <= 1.0


def test_broken_parity_fails_loudly_and_keeps_the_previous_export(tmp_path, monkeypatch):
    model, _ = _export("dcgan", tmp_path)
    tflite = tmp_path / "tflite" / "1" / "generator_float32.tflite"
    before = tflite.read_bytes()
    model.generator.trainable_weights[0].assign_add(np.ones(model.generator.trainable_weights[0].shape))
    model.save(tmp_path / "model.keras")
    # Simulate a converter that silently lost the weights (the measured trap).
    real = artifacts.signature_runners

    def inverted(content, *args):
        runners = real(content, *args)
        return {**runners, "generate": lambda **inputs: {"images": 255 - runners["generate"](**inputs)["images"]}}

    monkeypatch.setattr(artifacts, "signature_runners", inverted)
    with pytest.raises(ExportError, match="float32 .tflite file disagrees with Keras"):
        export_run(str(tmp_path), variants=("float32",), latency_runs=5)
    assert tflite.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".export-")]


@pytest.mark.slow  # two dynamic-int8 conversions
def test_variant_that_fails_its_gate_is_left_out_unless_forced(tmp_path, monkeypatch):
    model = tiny_model("dcgan")
    model.save(tmp_path / "model.keras")
    strict = [v if v.name != "dynamic_int8" else type(v)(**{**v.__dict__, "min_psnr": 500.0}) for v in VARIANTS]
    monkeypatch.setattr(artifacts, "VARIANTS", tuple(strict))
    manifest = export_run(str(tmp_path), variants=("dynamic_int8",), latency_runs=5)
    entry = manifest["tflite"]["dynamic_int8"]
    assert entry["written"] is False and "PSNR over 5000 held-out seeds" in entry["failed"]
    assert "< 500.0 dB" in entry["failed"]
    assert not (tmp_path / "tflite" / "1" / "generator_dynamic_int8.tflite").exists()
    forced = export_run(str(tmp_path), variants=("dynamic_int8",), latency_runs=5, force=True)
    assert forced["tflite"]["dynamic_int8"]["written"] is True
    assert (tmp_path / "tflite" / "1" / "generator_dynamic_int8.tflite").is_file()


@pytest.mark.slow  # int8 calibration
def test_fd_gate_uses_the_callers_fd(tmp_path):
    model = tiny_model("dcgan")
    model.save(tmp_path / "model.keras")
    calls = []

    def fake_fd(generate):
        images = generate(8, 0)
        calls.append(images)
        return 12.0 if len(calls) == 3 else 10.0  # Keras, float32 alike; int8 20% worse

    manifest = export_run(str(tmp_path), variants=("float32", "int8"), latency_runs=5, fd=fake_fd)
    assert manifest["metrics"]["fd"] == 10.0 and manifest["tflite"]["float32"]["fd_increase"] == 0.0
    assert manifest["tflite"]["int8"]["fd_increase"] == pytest.approx(0.2)
    assert "FD +20.0% > +10%" in manifest["tflite"]["int8"]["failed"]
    assert manifest["tflite"]["int8"]["written"] is False
    np.testing.assert_array_equal(calls[0], model.sample(8, seed=0))
    # The float32 file is the reference: failing its gate fails the export.
    scores = iter([10.0, 12.0])  # Keras, then float32
    with pytest.raises(ExportError, match=r"float32 .tflite file fails its quality gate \(FD \+20.0% > \+1%\)"):
        export_run(str(tmp_path), version=2, variants=("float32",), latency_runs=5,
                   fd=lambda generate: next(scores))
    assert not (tmp_path / "exports" / "2").exists()


@pytest.mark.slow  # three full exports
def test_reexport_replaces_only_its_version(tmp_path):
    model, _ = _export("vae", tmp_path)
    export_run(str(tmp_path), version=3, variants=("float32",), latency_runs=5)
    (tmp_path / "saved_model" / "3" / "marker").write_text("old")
    (tmp_path / "tflite" / "3" / "marker").write_text("old")
    first = (tmp_path / "exports" / "1" / "model_card.json").read_bytes()
    export_run(str(tmp_path), version=3, variants=("float32",), latency_runs=5)
    assert sorted(os.listdir(tmp_path / "saved_model")) == sorted(os.listdir(tmp_path / "tflite")) == ["1", "3"]
    assert not (tmp_path / "saved_model" / "3" / "marker").exists()
    assert not (tmp_path / "tflite" / "3" / "marker").exists()
    assert (tmp_path / "exports" / "1" / "model_card.json").read_bytes() == first
    assert artifacts.versions(str(tmp_path)) == [1, 3]
    assert read_manifest(str(tmp_path))["version"] == 3
    assert read_manifest(str(tmp_path), version=1)["version"] == 1


@pytest.mark.parametrize("version", [0, -1, "2", True])
def test_bad_version_is_rejected(tmp_path, version):
    with pytest.raises(ExportError, match="--version must be a positive integer"):
        export_run(str(tmp_path), version=version)


def test_unknown_variant_is_rejected(tmp_path):
    with pytest.raises(ExportError, match="unknown TFLite variant 'int4'"):
        export_run(str(tmp_path), variants=("int4",))
