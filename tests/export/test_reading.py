"""Reading exports back: one clear error for every kind of damage, and exports
that survive failures and `kill -9` at any moment with a readable export."""

import hashlib
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import zoo
from export import (
    ArtifactError,
    artifacts,
    export_run,
    install,
    latent_shape,
    open_saved_model,
    open_tflite,
    read_manifest,
    verify_export,
)
from tests.conftest import digests, tiny_model
from zoo.files import LOCK_FILE, FolderBusyError, file_digests, folder_digest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = range(100, 104)
TFLITE = os.path.join("tflite", "1", "generator_float32.tflite")
MANIFEST = os.path.join("exports", "1", "model_card.json")
FLOAT32 = dict(variants=("float32",), latency_runs=5)
SAVED_MODEL_PB = os.path.join("saved_model", "1", "saved_model.pb")


def expected_images(model):
    return model.sample(len(SEEDS), seed=SEEDS.start).numpy().astype(int)


def read_back(run):
    """Reads the export through the public API; returns `(manifest, SavedModel images, TFLite images)`."""
    manifest = read_manifest(run)
    z = zoo.latents_from_seeds(SEEDS, latent_shape(manifest), manifest["latent"]["prior"]).numpy()
    labels = zoo.latents.labels_from_seeds(SEEDS, manifest["image"]["num_classes"])
    served = open_saved_model(run, manifest)(z, labels).astype(int)
    tflite = open_tflite(run, manifest)(z, labels).astype(int)
    return manifest, served, tflite


def which_model(run, candidates):
    """Name of the model in `candidates` ({name: expected images}) that both artifacts reproduce."""
    _, served, tflite = read_back(run)
    for name, expected in candidates.items():
        if np.abs(served - expected).max() <= 1 and np.abs(tflite - expected).max() <= 1:
            return name
    raise AssertionError("the SavedModel and the .tflite file match no model, or different ones")


def staging_folders(run):
    return sorted(name for name in os.listdir(run) if name.startswith(install.STAGING_PREFIX))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`{name: (run folder, model)}`, one unconditional and one conditional export."""
    runs = {}
    for name in ("dcgan", "cgan"):
        run = tmp_path_factory.mktemp(name)
        model = tiny_model(name)
        model.save(run / "model.keras")
        export_run(str(run), **FLOAT32)
        runs[name] = (run, model)
    return runs


@pytest.fixture
def run(exported, tmp_path):
    """A private copy of the dcgan export."""
    return str(shutil.copytree(exported["dcgan"][0], tmp_path / "run"))


def edit_manifest(run, edit):
    path = os.path.join(run, MANIFEST)
    with open(path) as f:
        manifest = json.load(f)
    edit(manifest)
    with open(path, "w") as f:
        json.dump(manifest, f)


def rehash(manifest, run):
    """Makes the manifest's digests match the files as they are now (a forged or re-hashed export)."""
    files = file_digests(os.path.join(run, "saved_model", "1"))
    manifest["saved_model"].update(files=files, sha256=folder_digest(files))
    with open(os.path.join(run, TFLITE), "rb") as f:
        content = f.read()
    manifest["tflite"]["float32"].update(bytes=len(content), sha256=hashlib.sha256(content).hexdigest())


# Reading a good export -------------------------------------------------------


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_exported_artifacts_read_back_with_parity(exported, name):
    run, model = exported[name]
    manifest, served, tflite = read_back(str(run))
    labels = zoo.latents.labels_from_seeds(SEEDS, model.num_classes)
    expected = model.sample(len(SEEDS), seed=SEEDS.start, labels=labels).numpy().astype(int)
    assert np.abs(served - expected).max() <= 1 and np.abs(tflite - expected).max() <= 1
    assert manifest["saved_model"]["sha256"] == folder_digest(file_digests(run / "saved_model" / "1"))
    assert verify_export(str(run)) == manifest


def test_saved_model_digest_is_the_documented_sha256sum_listing(exported):
    run, _ = exported["dcgan"]
    folder = run / "saved_model" / "1"
    listing = "".join(
        f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n"
        for name in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    )
    digest = read_manifest(str(run))["saved_model"]["sha256"]
    assert digest == hashlib.sha256(listing.encode()).hexdigest()
    # docs/export.md's shell check (GNU find).
    command = "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum"
    result = subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True)
    assert result.stdout.split()[0] == digest


# Damaged manifest -----------------------------------------------------------


def test_missing_manifest_says_to_export_first(tmp_path):
    expected = r"has no export \(no exports/N/model_card.json\); run `zoo export .*` first"
    with pytest.raises(ArtifactError, match=expected):
        read_manifest(str(tmp_path))


def test_missing_version_names_the_versions_there(run):
    with pytest.raises(ArtifactError, match=r"has no export version 2 \(exported: 1\).*--version 2"):
        read_manifest(run, version=2)


@pytest.mark.parametrize("content", ['{"model": "dcgan", "inputs": {', "", "\xff\xfe not json", "[1, 2]"])
def test_manifest_that_is_not_a_json_object_is_refused(run, content):
    with open(os.path.join(run, MANIFEST), "w", encoding="latin-1") as f:
        f.write(content)
    message = r"model_card\.json(: expected a JSON object| is not valid JSON).*re-run `zoo export"
    with pytest.raises(ArtifactError, match=message):
        read_manifest(run)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["saved_model"].pop("sha256"), "saved_model.sha256 is missing"),
    (lambda m: m["saved_model"].pop("files"), "saved_model.files is missing"),
    (lambda m: m.pop("signatures"), "signatures is missing"),
    (lambda m: m.update(schema_version=2), "schema_version must be 1"),
    (lambda m: m.update(kind="classifier"), "kind must be 'generator'"),
    (lambda m: m["tflite"]["float32"].pop("sha256"), "tflite must be"),
    (lambda m: m["tflite"]["float32"].update(written=False), "with a written float32 variant"),
    (lambda m: m["tflite"].update(int4={"written": False}), "tflite must be"),
    (lambda m: m["latent"].update(dim=-3), r"latent.dim must be the latent size.*got -3"),
    (lambda m: m["latent"].update(dim="8"), "latent.dim must be"),
    (lambda m: m["latent"].update(dim=8.0), "latent.dim must be"),
    (lambda m: m["latent"].update(dim=True), "latent.dim must be"),
    (lambda m: m["latent"].update(shape=[3, 3]), r"latent.shape must be .* product is latent.dim, got \[3, 3\]"),
    (lambda m: m["latent"].update(shape=[8, 0]), "latent.shape must be"),
    (lambda m: m["latent"].update(shape="8"), "latent.shape must be"),
    (lambda m: m["image"].update(shape=[16, 16]), "image.shape must be"),
    (lambda m: m["image"].update(num_classes=-1), "image.num_classes must be an integer >= 0"),
    (lambda m: m["latent"].update(prior="cauchy"), "latent.prior must be one of normal"),
    (lambda m: m["signatures"]["serving_default"]["inputs"]["z"].update(shape="any"), "signatures must be"),
    (lambda m: m["saved_model"].update(path="../../elsewhere"), "saved_model.path must be a relative path"),
    (lambda m: m["tflite"]["float32"].update(path="/etc/generator.tflite"), "tflite must be"),
    (lambda m: m["saved_model"].update(version=0), "saved_model.version must be a positive integer"),
    (lambda m: m["tflite"]["float32"].update(sha256="abc"), "tflite must be"),
    (lambda m: m.update(version=3), "describes version 3, not 1"),
    (lambda m: m["saved_model"]["files"].update({"extra.pb": "0" * 64}),
     "do not add up to saved_model.sha256"),
])
def test_manifest_with_missing_or_wrong_fields_names_the_field(run, edit, message):
    edit_manifest(run, edit)
    with pytest.raises(ArtifactError, match=message) as error:
        read_manifest(run)
    assert "model_card.json" in str(error.value) and f"re-run `zoo export {run}`" in str(error.value)


# Damaged .tflite file ----------------------------------------------------------


def test_missing_tflite_is_reported(run):
    os.remove(os.path.join(run, TFLITE))
    message = r"generator_float32\.tflite is missing.*damaged or incomplete.*zoo export"
    with pytest.raises(ArtifactError, match=message):
        open_tflite(run, read_manifest(run))


def test_truncated_tflite_is_reported_with_its_size(run):
    path = os.path.join(run, TFLITE)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    message = rf"is truncated \({size // 2} of {size} bytes\).*re-run `zoo export"
    with pytest.raises(ArtifactError, match=message):
        open_tflite(run, read_manifest(run))


def test_changed_tflite_fails_its_sha256(run):
    path = os.path.join(run, TFLITE)
    with open(path, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ArtifactError, match="sha256 differs from the manifest's.*damaged or incomplete"):
        open_tflite(run, read_manifest(run))


def test_corrupt_tflite_with_a_matching_sha256_fails_to_load_cleanly(run):
    with open(os.path.join(run, TFLITE), "wb") as f:
        f.write(b"\0" * 4096)
    edit_manifest(run, lambda m: rehash(m, run))
    with pytest.raises(ArtifactError, match="LiteRT cannot load .*generator_float32.tflite"):
        open_tflite(run, read_manifest(run))


def test_unknown_tflite_variant_is_refused(run):
    with pytest.raises(ArtifactError, match="has no TFLite variant 'int8'; it has float32.*--force"):
        open_tflite(run, read_manifest(run), variant="int8")


# Damaged SavedModel ------------------------------------------------------------


@pytest.mark.parametrize("damage, message", [
    (lambda run: shutil.rmtree(os.path.join(run, "saved_model", "1")), r"saved_model/1 is missing"),
    (lambda run: os.remove(os.path.join(run, SAVED_MODEL_PB)), "lacks saved_model.pb"),
    (lambda run: open(os.path.join(run, SAVED_MODEL_PB), "ab").write(b"\0"),
     "saved_model.pb differs from the sha256 in the manifest"),
    (lambda run: open(os.path.join(run, "saved_model", "1", "variables", "variables.index"), "wb").close(),
     "variables.index differs from the sha256"),
    (lambda run: open(os.path.join(run, "saved_model", "1", "notes.txt"), "w").close(),
     r"holds files the manifest does not list \(notes.txt\)"),
])
def test_damaged_saved_model_is_reported_before_loading(run, damage, message, monkeypatch):
    damage(run)
    monkeypatch.setattr("tensorflow.saved_model.load", lambda *a, **k: pytest.fail("loaded a damaged one"))
    with pytest.raises(ArtifactError, match=message) as error:
        open_saved_model(run, read_manifest(run))
    assert f"re-run `zoo export {run}`" in str(error.value)


def test_corrupt_saved_model_pb_with_a_matching_digest_is_reported(run):
    with open(os.path.join(run, SAVED_MODEL_PB), "wb") as f:
        f.write(b"\xff\xff\xff\xff")
    edit_manifest(run, lambda m: rehash(m, run))
    with pytest.raises(ArtifactError, match="saved_model.pb is not a SavedModel"):
        open_saved_model(run, read_manifest(run))


def test_corrupt_variables_with_a_matching_digest_fail_to_load_cleanly(run):
    with open(os.path.join(run, "saved_model", "1", "variables", "variables.index"), "wb") as f:
        f.write(b"\0" * 300)
    edit_manifest(run, lambda m: rehash(m, run))
    with pytest.raises(ArtifactError, match="TensorFlow cannot load .*saved_model/1 .*re-run `zoo export"):
        open_saved_model(run, read_manifest(run))


def test_saved_model_from_another_export_is_refused(exported, run):
    other = exported["cgan"][0] / "saved_model" / "1"
    shutil.rmtree(os.path.join(run, "saved_model", "1"))
    shutil.copytree(other, os.path.join(run, "saved_model", "1"))
    with pytest.raises(ArtifactError, match="differs from the sha256 in the manifest"):
        open_saved_model(run, read_manifest(run))


# All-or-nothing export ---------------------------------------------------------


@pytest.fixture(scope="module")
def staged(exported, tmp_path_factory):
    """A ready staging folder of another dcgan ("new"), both models and the images they draw."""
    models = {"old": exported["dcgan"][1], "new": tiny_model("dcgan", seed=7)}
    ready = str(tmp_path_factory.mktemp("staged") / "new")
    context = {"model_sha256": "0" * 64, "config": None, "dataset": None, "fd": None, "force": False,
               "latency_runs": 5, "name": "run", "variants": [artifacts.VARIANTS[0]]}
    manifest = artifacts.stage_version(models["new"], ready, 1, context)
    return ready, manifest, {name: expected_images(model) for name, model in models.items()}, models


@pytest.fixture
def two_models(run, staged, monkeypatch):
    """`run` holds the export of model "old"; its next export installs "new".

    The next export's staging is a copy of a ready one, so failure tests
    exercise the replacement without paying for an export each.
    """
    ready, manifest, expected, _ = staged

    def stage(model, destination, version, context):
        shutil.copytree(ready, destination)
        return manifest

    monkeypatch.setattr(artifacts, "stage_version", stage)
    return expected


def failing_replace(at, error):
    """`os.replace` that raises `error` on its call number `at` (0-based) only."""
    real, count = os.replace, [0]

    def replace(src, dst):
        count[0] += 1
        if count[0] - 1 == at:
            raise error
        return real(src, dst)

    return replace


def test_every_rename_of_an_export_is_covered(run, two_models, monkeypatch):
    renamed, real = [], os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append(os.path.basename(dst)), real(src, dst))[1])
    export_run(run, **FLOAT32)
    # The journal, the old tflite version folder aside, the new one in, the same for the SavedModel,
    # the manifest last: the tests below fail or kill the export at each of them.
    assert renamed == ["journal.json", "old", "1", "old", "1", "model_card.json"]


@pytest.mark.parametrize("at", range(6))
def test_failed_rename_leaves_the_previous_export_intact(run, two_models, monkeypatch, at):
    expected, before, real = two_models, read_manifest(run), os.replace
    error = KeyboardInterrupt() if at == 3 else OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", failing_replace(at, error))
    with pytest.raises(type(error)):
        export_run(run, **FLOAT32)
    monkeypatch.setattr(os, "replace", real)
    assert read_manifest(run) == before
    assert which_model(run, expected) == "old"
    assert staging_folders(run) == []
    export_run(run, **FLOAT32)  # and the next export goes through
    assert which_model(run, expected) == "new"


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no rollback, no cleanup."""


@pytest.mark.parametrize("at", range(6))
def test_export_killed_at_any_rename_leaves_a_consistent_export(run, two_models, monkeypatch, at):
    expected, real = two_models, (install.roll_back, install.discard, os.replace)
    monkeypatch.setattr(install, "roll_back", lambda *args: None)
    monkeypatch.setattr(install, "discard", lambda *args: None)
    monkeypatch.setattr(os, "replace", failing_replace(at, Killed()))
    with pytest.raises(Killed):
        export_run(run, **FLOAT32)
    for name, function in zip(("roll_back", "discard"), real):
        monkeypatch.setattr(install, name, function)
    monkeypatch.setattr(os, "replace", real[2])
    assert which_model(run, expected) == "old"  # the manifest, renamed last, was not
    assert staging_folders(run)  # the killed export's snapshot is still there
    install.recover(run)  # what the next export does first
    assert staging_folders(run) == []
    assert which_model(run, expected) == "old"  # now straight from the run folder's own paths
    export_run(run, **FLOAT32)
    assert which_model(run, expected) == "new"


def test_export_killed_after_its_commit_is_kept_and_cleaned_up(run, two_models, monkeypatch):
    expected, real = two_models, install.discard
    monkeypatch.setattr(install, "discard", lambda *args: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        export_run(run, **FLOAT32)
    monkeypatch.setattr(install, "discard", real)
    assert which_model(run, expected) == "new" and staging_folders(run)
    install.recover(run)
    assert which_model(run, expected) == "new" and staging_folders(run) == []


def test_first_export_killed_before_its_commit_leaves_no_artifacts(exported, tmp_path, monkeypatch):
    run = str(tmp_path / "first")
    os.makedirs(run)
    shutil.copy(exported["dcgan"][0] / "model.keras", run)
    monkeypatch.setattr(install, "roll_back", lambda *args: None)
    monkeypatch.setattr(install, "discard", lambda *args: None)
    monkeypatch.setattr(os, "replace", failing_replace(3, Killed()))  # all but the manifest renamed
    with pytest.raises(Killed):
        export_run(run, **FLOAT32)
    monkeypatch.undo()
    with pytest.raises(ArtifactError, match="has no export"):
        read_manifest(run)
    install.recover(run)
    assert sorted(os.listdir(run)) == ["exports", "model.keras", "saved_model", "tflite"]
    assert os.listdir(os.path.join(run, "saved_model")) == os.listdir(os.path.join(run, "tflite")) == []
    assert os.listdir(os.path.join(run, "exports", "1")) == []


def test_stale_staging_folders_are_removed_by_the_next_export(run):
    os.makedirs(os.path.join(run, ".export-abc123", "new", "saved_model", "1"))
    with open(os.path.join(run, ".export-abc123", "new", "export.json"), "w") as f:
        f.write("{half")
    export_run(run, **FLOAT32)
    assert staging_folders(run) == []
    verify_export(run)


def test_a_second_export_of_the_same_run_waits_its_turn(run):
    fcntl = pytest.importorskip("fcntl")
    with open(os.path.join(run, LOCK_FILE), "a") as lock:  # another open file: another writer
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = digests(run)
        with pytest.raises(FolderBusyError, match="is being written by another process"):
            export_run(run, **FLOAT32)
    assert digests(run) == before


# kill -9 at random moments --------------------------------------------------------

CHILD = textwrap.dedent("""
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.path.insert(0, sys.argv[3])
    import export.artifacts as artifacts
    import export.install as install
    from export import export_run

    run, pause_at = sys.argv[1], sys.argv[2]

    def say(phase):
        print(phase, flush=True)
        if phase == pause_at:
            time.sleep(600)  # the test kills us here (or, at "done", we are done)

    def announce(name, function):
        def wrapper(*args, **kwargs):
            say(name)
            return function(*args, **kwargs)
        return wrapper

    for module, name in [(artifacts, "write_saved_model"), (artifacts, "convert_saved_model"),
                         (artifacts, "load_signatures"), (artifacts, "signature_runners"),
                         (install, "install"), (install, "discard")]:
        setattr(module, name, announce(name, getattr(module, name)))
    real_replace, asides = os.replace, []

    def replace(src, dst):
        real_replace(src, dst)
        name = os.path.relpath(dst, run).replace(os.sep, "/")
        if name.startswith(install.STAGING_PREFIX):  # the journal, or an old folder moved aside
            asides.append(name)
            name = "aside" if name.endswith("/old") else "journal"
        say("renamed " + name)

    os.replace = replace
    say("ready")
    sys.stdin.readline()
    say("export_run")
    export_run(run, variants=("float32",), latency_runs=5)
    say("done")
""")


class Child:
    """An export in a subprocess that reports its phases and waits for `go()`."""

    def __init__(self, script, run, pause_at=""):
        self.process = subprocess.Popen(
            [sys.executable, script, run, pause_at, REPO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.phases, self._lines = [], queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def wait_for(self, phase, timeout=120):
        deadline = time.monotonic() + timeout
        while not self.phases or self.phases[-1] != phase:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"child exited before {phase!r} (after {self.phases})"
            self.phases.append(line)

    def go(self):
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        while (line := self._lines.get(timeout=10)) is not None:
            self.phases.append(line)
        return self.phases[-1]


@pytest.mark.slow
def test_kill_9_during_export_never_leaves_a_damaged_export(run, staged, tmp_path):
    _, _, expected, models = staged
    for name, model in models.items():
        model.save(tmp_path / f"{name}.keras")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(0)
    # The first export runs to the end and times an export; then kills at
    # random moments, then right after each rename of the replacement (it
    # takes milliseconds, too short to hit by chance): new tflite folder + old
    # rest, old SavedModel folder moved aside, new folders + old manifest, committed.
    plan = ["done", "random", "random", "random", "renamed tflite/1", "renamed aside",
            "renamed saved_model/1", "renamed exports/1/model_card.json"]
    current, export_seconds, report = "old", None, []
    children = [Child(str(script), run, plan[0])]
    for i, stop_at in enumerate(plan):
        child = children[i]
        child.wait_for("ready")
        attempt = "new" if current == "old" else "old"
        shutil.copy(tmp_path / f"{attempt}.keras", os.path.join(run, "model.keras"))
        child.go()
        if i + 1 < len(plan):  # the next child imports TensorFlow meanwhile
            children.append(Child(str(script), run, plan[i + 1]))
        child.wait_for("export_run")
        started = time.monotonic()
        if stop_at == "random":
            time.sleep(rng.uniform(0.0, 1.2 * export_seconds))
        else:
            child.wait_for(stop_at)
        if stop_at == "done":
            export_seconds = time.monotonic() - started
        phase = child.kill()
        try:
            found = which_model(run, expected)
        except ArtifactError as error:
            pytest.fail(f"kill after {phase!r} left a damaged export: {error}")
        assert found in (current, attempt), (phase, found)
        report.append((phase, "new" if found == attempt else "old"))
        current = found
    print(f"export took {export_seconds:.1f} s; kills (last phase reached, export read back): {report[1:]}")
    assert report[0] == ("done", "new")
    install.recover(run)  # what the next export does first
    assert staging_folders(run) == []
    assert which_model(run, expected) == current
    verify_export(run)


def test_latent_shape_reads_cards_with_and_without_a_shape():
    # Cards written before the model contract (the shipped models') state only a vector's length.
    assert latent_shape({"latent": {"dim": 64, "prior": "normal"}}) == (64,)
    assert latent_shape({"latent": {"shape": [2, 2, 4], "dim": 16, "prior": "normal"}}) == (2, 2, 4)
    for name in zoo.shipped.names():
        card = read_manifest(zoo.shipped.folder(name))
        assert latent_shape(card) == (card["latent"]["dim"],)
