"""Every TFLite variant of every registered family: the seed contract, the gates' figures, the ops and
latency, the dynamic-batch file, the model card in every artifact (the slow tier; a family's export is
the session's shared `family_run`)."""

import hashlib
import json

import numpy as np
import pytest

import zoo
from export import artifacts, open_saved_model, open_tflite, read_manifest
from export.tflite import VARIANTS, read_card, signature_runners
from tests.export.test_export import SEEDS, seed_inputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=zoo.names())
def every_variant(request, family_run):
    """A tiny run of every registered family, exported whole (the session's shared `family_run`)."""
    run = family_run(request.param)
    return run, zoo.load(run / "model.keras"), read_manifest(str(run))


def test_seed_gives_the_same_image_in_keras_saved_model_and_every_tflite_variant(every_variant):
    run, model, manifest = every_variant
    inputs = seed_inputs(model, SEEDS)
    expected = model.sample(len(SEEDS), seed=0, labels=inputs.get("label")).numpy().astype(int)
    z = model.latents(SEEDS).numpy()
    served = open_saved_model(str(run), manifest).signatures
    np.testing.assert_array_equal(served["latents"](seed=inputs["seed"])["z"], z)
    assert np.abs(served["generate"](**inputs)["images"] - expected).max() <= 1
    written = [v for v in VARIANTS if manifest["tflite"][v.name]["written"]]
    assert {"float32", "float16", "dynamic_int8"} <= {v.name for v in written}
    for variant in written:
        signatures = open_tflite(str(run), manifest, variant.name).signatures
        images = signatures["generate"](**inputs)["images"].astype(int)
        difference = np.abs(images - expected)
        if variant.quantization in (None, "float16", "dynamic_range"):
            # Latents stay float32 math there: within 1e-5 of Python's, images within 1/255.
            assert np.abs(signatures["latents"](seed=inputs["seed"])["z"] - z).max() <= 1e-5, variant.name
            assert difference.max() <= 1, variant.name
        # The figures in the card are the ones measured.
        recorded = manifest["tflite"][variant.name]["quality"]
        quality = seed_inputs(model, artifacts.QUALITY_SEEDS)
        measured = artifacts.difference_figures(
            signatures["generate"](**quality)["images"],
            model.sample(len(artifacts.QUALITY_SEEDS), seed=0, labels=quality.get("label")).numpy())
        assert recorded["max_abs_diff"] == measured["max_abs_diff"] and recorded["psnr"] == measured["psnr"]
        # The gate's figures are the held-out seeds', as measured, and within the variant's thresholds.
        held_out = artifacts.HELD_OUT_SEEDS
        figures = artifacts.held_out_figures(
            signatures["generate"](**seed_inputs(model, held_out))["images"],
            model.sample(len(held_out), seed=held_out.start, labels=seed_inputs(model, held_out).get("label")).numpy())
        entry = manifest["tflite"][variant.name]
        assert {key: entry["held_out"][key] for key in figures} == figures, variant.name
        assert figures["per_image_max_abs_diff"]["p99"] <= variant.p99_abs_diff, variant.name
        assert figures["per_image_max_abs_diff"]["max"] <= variant.max_abs_diff, variant.name
        assert figures["psnr"] is None or figures["psnr"] >= variant.min_psnr, variant.name
        assert entry["thresholds"] == {**variant.thresholds(), "statement": entry["thresholds"]["statement"]}
    assert manifest["held_out"]["seeds"] == [artifacts.HELD_OUT_SEEDS.start, artifacts.HELD_OUT_SEEDS.stop]


def test_every_variant_records_ops_xnnpack_latency_and_its_own_file(every_variant):
    run, model, manifest = every_variant
    for name, entry in manifest["tflite"].items():
        if not entry["written"]:
            assert entry.get("failed") or entry.get("reason"), name
            continue
        content = (run / entry["path"]).read_bytes()
        steps = model.contract.sampling_steps  # a multi-step sampler's count is in the name
        assert entry["path"] == f"tflite/1/generator_{'' if steps is None else f'{steps}steps_'}{name}.tflite"
        assert entry["bytes"] == len(content) and entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert {"CONV_2D", "TRANSPOSE_CONV"} & set(entry["ops"]) and "FLEX" not in "".join(entry["ops"])
        assert set(entry["xnnpack_delegated"]) <= set(entry["ops"])
        assert entry["xnnpack_partitions"] >= 1 and entry["xnnpack_delegated"]
        if entry["batch_size"] == 1:
            assert 0 < entry["latency_ms"]["p10"] <= entry["latency_ms"]["median"] <= entry["latency_ms"]["p90"]
        else:
            assert entry["latency_ms"] is None
    int8 = manifest["tflite"]["int8"]
    # Full integer: the network's compute ops run in int8, inputs stay float32 and images uint8.
    assert int8["ops"].get("QUANTIZE", 0) >= 1
    details = signature_runners(run / manifest["tflite"]["float32"]["path"])["serving_default"].details
    assert details["z"]["dtype"] == np.float32


def test_dynamic_batch_file_takes_any_batch(every_variant):
    run, model, manifest = every_variant
    entry = manifest["tflite"]["float32_dynamic_batch"]
    if not entry["written"]:
        pytest.skip(f"did not convert with a dynamic batch: {entry.get('reason')}")
    runner = signature_runners(run / entry["path"])["generate"]
    inputs = seed_inputs(model, range(5, 12))
    expected = model.sample(7, seed=5, labels=inputs.get("label")).numpy().astype(int)
    assert np.abs(runner(**inputs)["images"] - expected).max() <= 1


def test_model_card_is_beside_and_inside_every_artifact_with_every_digest(every_variant):
    run, model, manifest = every_variant
    assert manifest["schema_version"] == 1 and manifest["kind"] == "generator"
    shape = model.contract.latent_shape
    assert manifest["latent"] == {"shape": list(shape), "dim": int(np.prod(shape)), "prior": "normal",
                                  "seeds": [0, 2**31 - 1], "function": "zoo.latents.latents_from_seeds"}
    assert manifest["image"]["shape"] == list(model.image_shape)
    for path, digest in manifest["files"].items():
        assert hashlib.sha256((run / path).read_bytes()).hexdigest() == digest, path
    on_disk = {p.relative_to(run).as_posix() for p in (run / "saved_model" / "1").rglob("*") if p.is_file()}
    on_disk |= {p.relative_to(run).as_posix() for p in (run / "tflite" / "1").rglob("*") if p.is_file()}
    assert on_disk | {"model.keras"} == set(manifest["files"])
    inner = json.loads((run / "saved_model" / "1" / "assets.extra" / "model_card.json").read_text())
    assert inner["embedded"] is True
    assert not [p for p in inner["files"] if p.startswith("saved_model/")]
    assert {k: v for k, v in inner.items() if k not in ("files", "embedded", "saved_model")} == \
        {k: v for k, v in manifest.items() if k not in ("files", "saved_model")}
    for entry in manifest["tflite"].values():
        if entry["written"]:
            card = read_card((run / entry["path"]).read_bytes())
            assert card["embedded"] is True and card["model"] == model.registry_name
            assert not [p for p in card["files"] if p.endswith(".tflite")]
            assert card["files"]["model.keras"] == manifest["files"]["model.keras"]
