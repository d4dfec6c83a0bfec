"""Serving: inputs checked inside the graph, and TF Serving warm-up records (the REST and CLI examples of
docs/export.md run in tests/test_docs.py)."""


import numpy as np
import pytest
import tensorflow as tf

from export import export_run, open_tflite, read_manifest
from export.signatures import MAX_BATCH
from tests.conftest import tiny_model


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`{name: (run, model, signatures)}` for an unconditional GAN, a conditional GAN and a VAE."""
    runs = {}
    for name, overrides in [("dcgan", {}), ("cgan", {}), ("vae", {"latent_dim": 16})]:
        run = tmp_path_factory.mktemp(name)
        model = tiny_model(name, **overrides)
        model.save(run / "model.keras")
        export_run(str(run), variants=("float32",), latency_runs=5)
        loaded = tf.saved_model.load(str(run / "saved_model" / "1"))
        runs[name] = (run, model, loaded)
    return runs


def _call(loaded, signature, **inputs):
    function = loaded.signatures[signature]
    specs = function.structured_input_signature[1]
    return function(**{k: tf.constant(v, specs[k].dtype) for k, v in inputs.items()})


@pytest.mark.parametrize("signature, inputs, message", [
    ("generate", {"seed": [0, -1]}, r"seed outside \[0, 2147483647\).*got\] \[0 -1\]"),
    ("generate", {"seed": [2**31 - 1]}, r"seed outside \[0, 2147483647\)"),
    ("latents", {"seed": [-5]}, r"seed outside"),
    ("generate", {"seed": list(range(MAX_BATCH + 1))}, rf"batch too large: at most {MAX_BATCH}"),
    ("serving_default", {"z": np.zeros((MAX_BATCH + 1, 8), np.float32)}, "batch too large"),
    ("generate_truncated", {"seed": [0], "truncation": 0.0}, r"truncation outside \(0, 1\]"),
    ("generate_truncated", {"seed": [0], "truncation": 1.5}, r"truncation outside \(0, 1\]"),
])
def test_saved_model_refuses_inputs_outside_the_contract(served, signature, inputs, message):
    _, _, loaded = served["dcgan"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message) as error:
        _call(loaded, signature, **inputs)
    assert error.value.error_code == 3  # INVALID_ARGUMENT, what TF Serving answers


@pytest.mark.parametrize("labels", [[3, 10], [-1, 0], [0, -11]])
def test_saved_model_refuses_labels_outside_the_classes_at_both_ends(served, labels):
    _, _, loaded = served["cgan"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label outside \[0, 10\)"):
        _call(loaded, "generate", seed=[0, 1], label=labels)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label outside \[0, 10\)"):
        _call(loaded, "serving_default", z=np.zeros((2, 8), np.float32), label=labels)


def test_saved_model_refuses_inputs_of_unequal_batches(served):
    _, _, loaded = served["cgan"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"inputs of unequal batch sizes.*\[2 3\]"):
        _call(loaded, "generate", seed=[0, 1], label=[0, 1, 2])


@pytest.mark.parametrize("inputs", [
    {"z": np.zeros((2, 9), np.float32)},       # wrong latent size
    {"z": np.zeros((8,), np.float32)},         # wrong rank
    {"z": np.zeros((2, 8), np.float64)},       # wrong dtype
])
def test_saved_model_signature_refuses_wrong_shapes_and_dtypes(served, inputs):
    _, _, loaded = served["dcgan"]
    function = loaded.signatures["serving_default"]
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        function(**{k: tf.constant(v) for k, v in inputs.items()})


def test_inputs_inside_the_contract_are_answered(served):
    _, model, loaded = served["cgan"]
    images = _call(loaded, "generate", seed=[0, 2**31 - 2], label=[0, 9])["images"].numpy()
    expected = model.sample(1, seed=2**31 - 2, labels=[9]).numpy()
    np.testing.assert_array_equal(images[1:], expected)
    truncated = _call(loaded, "generate_truncated", seed=[3], truncation=0.5, label=[3])["images"].numpy()
    np.testing.assert_array_equal(truncated, model.sample(1, seed=3, truncation=0.5, labels=[3]).numpy())


@pytest.mark.parametrize("name, inputs", [
    ("dcgan", {"seed": [-1]}),
    ("dcgan", {"seed": [2**31 - 1]}),
    ("cgan", {"seed": [0], "label": [-1]}),
    ("cgan", {"seed": [0], "label": [10]}),
])
def test_tflite_invoke_fails_for_inputs_outside_the_contract(served, name, inputs):
    run, model, _ = served[name]
    generate = open_tflite(str(run), read_manifest(str(run))).signatures["generate"]
    with pytest.raises(RuntimeError, match="gather index out of bounds"):
        generate(**inputs)
    good = {k: [0] for k in inputs}
    assert generate(**good)["images"].shape == (1, *model.image_shape)


def test_warmup_file_holds_one_working_request_per_signature(served):
    from tensorflow_serving.apis import prediction_log_pb2

    run, model, loaded = served["vae"]
    path = run / "saved_model" / "1" / "assets.extra" / "tf_serving_warmup_requests"
    logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(str(path))]
    names = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert sorted(names) == sorted(loaded.signatures)
    for log in logs:
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        outputs = loaded.signatures[request.model_spec.signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
        assert all(value.shape[0] == 1 for value in outputs.values())
