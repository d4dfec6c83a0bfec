"""What the exported conditional generators do with labels outside [0, num_classes)."""

import numpy as np
import pytest
import tensorflow as tf

from export import export_run
from export.tflite import load_runner
from tests.conftest import tiny_model


@pytest.fixture(scope="module", params=["cgan", "cvae"])
def exported(request, tmp_path_factory):
    run = tmp_path_factory.mktemp(request.param)
    model = tiny_model(request.param)  # num_classes=10
    model.save(run / "model.keras")
    export_run(str(run))
    signature = tf.saved_model.load(str(run / "saved_model" / "1")).signatures["serving_default"]
    tflite = load_runner(run / "tflite" / "generator_float32.tflite")
    z = np.random.default_rng(0).normal(size=(2, model.latent_dim)).astype(np.float32)
    return model, signature, tflite, z


def _served(signature, z, labels):
    return signature(z=tf.constant(z), label=tf.constant(labels, tf.int32))["images"].numpy()


def test_saved_model_answers_a_label_above_the_range_with_invalid_argument(exported):
    model, signature, _, z = exported
    assert model.num_classes == 10
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 12 is not in \[0, 10\)") as error:
        _served(signature, z, [3, 12])
    assert error.value.error_code == 3  # INVALID_ARGUMENT, what TF Serving returns
    assert _served(signature, z, [3, 9]).shape == (2, *model.image_shape)


@pytest.mark.parametrize("label", [10, 12])
def test_tflite_fails_to_invoke_for_a_label_of_num_classes_or_more(exported, label):
    _, _, tflite, z = exported
    with pytest.raises(RuntimeError, match="gather index out of bounds"):
        tflite(z[:1], [label])
    assert tflite(z[:1], [9]).shape == (1, 16, 16, 1)


def test_negative_labels_are_not_checked_they_count_from_the_end(exported):
    # As the README says, the .tflite file does not check negative labels.
    # What both artifacts do with them (Keras's `take`, under the label
    # embedding, indexes like numpy): -k is class num_classes - k for k up to
    # num_classes, and only below -num_classes does the lookup fail. So the
    # SavedModel's INVALID_ARGUMENT covers labels >= num_classes and
    # < -num_classes, not -10..-1.
    _, signature, tflite, z = exported
    first, last = _served(signature, z[:1], [0]), _served(signature, z[:1], [9])
    assert not np.array_equal(first, last)  # the label matters, so equality below means something
    np.testing.assert_array_equal(_served(signature, z[:1], [-1]), last)
    np.testing.assert_array_equal(_served(signature, z[:1], [-10]), first)
    np.testing.assert_array_equal(tflite(z[:1], [-1]), tflite(z[:1], [9]))
    np.testing.assert_array_equal(tflite(z[:1], [-10]), tflite(z[:1], [0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = -1 is not in \[0, 10\)"):
        _served(signature, z[:1], [-11])  # the message shows the label after adding 10
    with pytest.raises(RuntimeError, match="gather index out of bounds"):
        tflite(z[:1], [-11])
