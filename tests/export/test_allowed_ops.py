"""The SavedModel op allow-list is exactly what the exporter emits, and
SavedModels with file, Python or print ops are refused before they run.

`python -m tests.export.test_allowed_ops` prints the sets to paste into
`export/allowed_ops.py` after reviewing what changed.
"""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import zoo
from export import ArtifactError, export_run, open_saved_model, read_manifest
from export.allowed_ops import (
    SAVER,
    SAVER_OPS,
    SERVING,
    SERVING_OPS,
    UNSAFE_OPS,
    disallowed_ops,
    ops_by_role,
    parse_saved_model,
)
from export.saved_model import write_saved_model
from tests.conftest import tiny_model
from zoo.files import file_digests, folder_digest

#: Values, other than the tiny models' (`TINY_CONFIG`), of options that may change a
#: generator's graph; a model gets those its constructor accepts (and does not refuse).
OPTIONS = {
    "ema_decay": 0.9, "minibatch_stddev": True, "pack": 2, "latent_prior": "truncated_normal",
    "diffaugment": "color,translation,cutout", "r1_weight": 1.0, "label_smoothing": 0.1,
    "attention": True, "solver": "heun", "normalization": "group", "blocks": 2,
}


def graph_variants(name):
    """Constructor arguments covering what changes `name`'s exported graph.

    Measured over every model at 16x16x1, 28x28x1, 32x32x3 and 64x64x3 and
    each option on its own: only colour images (BiasAdd, Squeeze) and class
    labels (conditional models) changed the ops. So: grayscale with defaults,
    and colour with every option the model takes.
    """
    accepted = zoo.registry.constructor_arguments(zoo.get(name))
    tiny = zoo.get(name).TINY_CONFIG
    options = {key: value for key, value in OPTIONS.items() if key in accepted}
    while True:
        try:
            zoo.create(name, **{**tiny, **options})
            break
        except ValueError as error:  # an option this model refuses: drop the one it names
            named = [key for key in options if key in str(error)]
            assert named, f"{name} refused the options {options} without naming one: {error}"
            options.pop(named[0])
    return [dict(tiny), {**tiny, "image_shape": (32, 32, 3), **options}]


def emitted_ops(folder):
    """`{role: {op: {where}}}` over fresh SavedModels of every registered model and variant."""
    emitted = {SERVING: {}, SAVER: {}}
    for name in zoo.names():
        for i, arguments in enumerate(graph_variants(name)):
            path = os.path.join(folder, f"{name}-{i}")
            write_saved_model(zoo.create(name, **arguments), path)  # what export_run writes
            with open(os.path.join(path, "saved_model.pb"), "rb") as f:
                roles = ops_by_role(parse_saved_model(f.read()))
            for role, ops in roles.items():
                for op, places in ops.items():
                    emitted[role].setdefault(op, set()).update(f"{name}-{i}:{place}" for place in places)
    return emitted


@pytest.fixture(scope="module")
def emitted(tmp_path_factory):
    return emitted_ops(str(tmp_path_factory.mktemp("graphs")))


@pytest.mark.slow  # writes 2 SavedModels of every registered family
@pytest.mark.parametrize("role, allowed", [(SERVING, SERVING_OPS), (SAVER, SAVER_OPS)])
def test_allow_list_is_exactly_what_every_registered_model_exports(emitted, role, allowed):
    missing = {op: sorted(emitted[role][op])[:3] for op in sorted(set(emitted[role]) - allowed)}
    assert not missing, (
        f"exports emit {role} ops that export/allowed_ops.py does not list: {missing}. Review them "
        "(no file, Python or print ops), then paste `python -m tests.export.test_allowed_ops`."
    )
    unused = sorted(allowed - set(emitted[role]))
    assert not unused, f"export/allowed_ops.py allows {role} ops no export emits any more: {unused}"


def test_file_python_and_print_ops_are_never_allowed_where_a_signature_reaches():
    assert {"ReadFile", "WriteFile", "MatchingFiles", "PyFunc", "EagerPyFunc", "PyFuncStateless",
            "PrintV2"} <= UNSAFE_OPS
    assert not SERVING_OPS & UNSAFE_OPS
    # The saver's checkpoint ops are in every SavedModel, but only in its save/restore functions.
    assert {"RestoreV2", "SaveV2", "MergeV2Checkpoints", "StringJoin", "ShardedFilename"} <= SAVER_OPS - SERVING_OPS


@pytest.mark.slow  # the fixture writes 2 SavedModels of every registered family
def test_checkpoint_ops_appear_only_in_the_saver_functions(emitted):
    for op in ("RestoreV2", "SaveV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin"):
        assert op not in emitted[SERVING]
        places = {place.split(":", 1)[1] for place in emitted[SAVER][op]}
        saver_functions = ("__inference__traced_save", "__inference__traced_restore")
        assert all(place.startswith(saver_functions) for place in places)


class Foreign(tf.Module):
    """A SavedModel with the serving contract's signature and one foreign op."""

    def __init__(self, extra):
        super().__init__()
        self.scale = tf.Variable(1.0)
        self.extra = extra

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="z")])
    def serve(self, z):
        pixels = tf.matmul(z, tf.constant(np.ones((8, 256), np.float32))) * self.scale  # (batch, 256)
        images = tf.cast(tf.reshape(pixels, [-1, 16, 16, 1]), tf.uint8)
        with tf.control_dependencies([self.extra(z)]):
            return {"images": tf.identity(images)}


FOREIGN = {
    "ReadFile": lambda z: tf.io.read_file("/etc/hostname"),
    "EagerPyFunc": lambda z: tf.py_function(lambda x: x, [z], tf.float32),
    "PyFunc": lambda z: tf.numpy_function(lambda x: x, [z], tf.float32),
    "WriteFile": lambda z: tf.io.write_file("/tmp/zoo-should-not-exist", "x"),
    "MatchingFiles": lambda z: tf.io.matching_files("/etc/*"),
    "PrintV2": lambda z: tf.print(z),
    "RestoreV2": lambda z: tf.raw_ops.RestoreV2(prefix="/tmp/x", tensor_names=["a"], shape_and_slices=[""],
                                                dtypes=[tf.float32])[0],
}


@pytest.fixture(scope="module")
def genuine_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("genuine")
    tiny_model("dcgan").save(run / "model.keras")
    export_run(str(run), variants=("float32",), latency_runs=5)
    return run


@pytest.mark.parametrize("op", sorted(FOREIGN))
def test_saved_model_with_a_foreign_op_is_refused_before_it_runs(genuine_run, tmp_path, monkeypatch, op):
    run = shutil.copytree(genuine_run, tmp_path / "run")
    folder = run / "saved_model" / "1"
    shutil.rmtree(folder)
    module = Foreign(FOREIGN[op])
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    # A forged manifest whose digests match: only the op check stands in the way.
    card = run / "exports" / "1" / "model_card.json"
    manifest = json.loads(card.read_text())
    files = file_digests(str(folder))
    manifest["saved_model"].update(files=files, sha256=folder_digest(files))
    card.write_text(json.dumps(manifest))
    monkeypatch.setattr(tf.saved_model, "load", lambda *a, **k: pytest.fail("loaded a foreign SavedModel"))
    message = rf"uses ops outside export.allowed_ops: (.*; )?{op} \(in __inference_serve.*It was not run"
    with pytest.raises(ArtifactError, match=message):
        open_saved_model(str(run), read_manifest(str(run)))


def test_genuine_export_passes_the_op_check(genuine_run):
    with open(genuine_run / "saved_model" / "1" / "saved_model.pb", "rb") as f:
        assert disallowed_ops(parse_saved_model(f.read())) == {}
    manifest = read_manifest(str(genuine_run))
    images = open_saved_model(str(genuine_run), manifest)(zoo.latents_from_seeds(range(2), 8).numpy())
    assert images.shape == (2, 16, 16, 1)


def test_signature_that_runs_the_saver_loses_the_saver_exemption(genuine_run):
    with open(genuine_run / "saved_model" / "1" / "saved_model.pb", "rb") as f:
        saved_model = parse_saved_model(f.read())
    graph = saved_model.meta_graphs[0]
    # Point the signature's output at the saver's save node: serving would now write checkpoints.
    graph.signature_def["serving_default"].outputs["images"].name = graph.saver_def.save_tensor_name
    refused = disallowed_ops(saved_model)
    assert {"SaveV2", "MergeV2Checkpoints", "ShardedFilename"} <= set(refused)
    assert all(place.startswith("__inference__traced_save") for place in refused["SaveV2"])


def test_other_nodes_calling_the_restore_function_lose_the_saver_exemption(genuine_run):
    with open(genuine_run / "saved_model" / "1" / "saved_model.pb", "rb") as f:
        saved_model = parse_saved_model(f.read())
    graph = saved_model.meta_graphs[0].graph_def
    restore_name = saved_model.meta_graphs[0].saver_def.restore_op_name
    restore = next(node for node in graph.node if node.name == restore_name)
    extra = graph.node.add()
    extra.CopyFrom(restore)
    extra.name = "not_the_saver"
    assert "RestoreV2" in disallowed_ops(saved_model)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        found = emitted_ops(folder)
    for role, name in ((SERVING, "SERVING_OPS"), (SAVER, "SAVER_OPS")):
        print(f"{name} = frozenset({{\n    " + ", ".join(f'"{op}"' for op in sorted(found[role])) + ",\n})")
