"""The export command: `.keras` -> SavedModel + TFLite, checked, then committed.

Layout written into a run folder:

    saved_model/<version>/      TF Serving version directory
    tflite/generator_float32.tflite
    export.json                 contract, digests of both artifacts, parity figures

An export is all or nothing, also when the process is killed at any moment:

1. Everything is written under `RUN/.export-XXXX/new/` and checked there:
   the SavedModel's ops against `export.allowed_ops`, and Keras, the
   SavedModel and the TFLite file agree on fixed latents to 1/255.
2. The files about to be replaced are hard-linked into
   `RUN/.export-XXXX/previous/` and a journal records what existed.
3. The `.tflite` file is renamed over the old one, the old version folder is
   renamed aside and the new one renamed in, and `export.json` is renamed
   into place last: that rename is the commit. Everything is fsynced first.
4. The staging folder is deleted.

Until the commit `export.json` still describes the previous export, whose
files are at their paths or in `previous/`; `export.reading` finds them by
their digests, so a reader sees the old export or the new one, never a mix.
A failed export puts the old files back at once; a killed one is rolled back
(or, if it had committed, cleaned up) by the next export of the same run.
"""

import contextlib
import json
import os
import shutil
import tempfile

import numpy as np

import zoo
from export.allowed_ops import disallowed_ops, parse_saved_model
from export.files import (
    file_digests,
    folder_digest,
    fsync_directory,
    fsync_tree,
    link_copy,
    sha256_bytes,
    sha256_file,
    write_durably,
)
from export.saved_model import INPUT, LABEL, OUTPUT, SIGNATURE, run_saved_model, write_saved_model
from export.tflite import TFLiteConversionError, convert_saved_model, run_tflite
from zoo.images import to_uint8
from zoo.latents import labels_from_seeds

#: Parity is checked on the latents of these seeds.
PARITY_SEEDS = range(16)
#: Largest allowed difference, in uint8 steps, between any two artifacts.
PARITY_TOLERANCE = 1
TFLITE_FILE = "generator_float32.tflite"
MANIFEST_FILE = "export.json"
#: Staging folders (and the snapshot of what they replace) start with this.
STAGING_PREFIX = ".export-"
LOCK_FILE = ".export.lock"
_JOURNAL = "journal.json"


class ExportError(RuntimeError):
    """Export failed: bad input, conversion failure, broken parity, or another export running."""


def run_path(run_dir, relative):
    """`run_dir` joined with a `/`-separated path from `export.json`."""
    return os.path.join(run_dir, *relative.split("/"))


def export_run(run_dir, version=1):
    """Exports `run_dir/model.keras`; returns the manifest written to export.json.

    Raises:
        ExportError: the model cannot be loaded or converted, the artifacts
            disagree by more than `PARITY_TOLERANCE`, or another export of
            the same run is running.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ExportError(f"--version must be a positive integer, got {version!r}")
    try:
        model = zoo.load(os.path.join(run_dir, "model.keras"))
    except zoo.registry.ModelFileError as error:
        raise ExportError(str(error)) from None

    with _exclusive(run_dir):
        _recover(run_dir)
        staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=run_dir)
        try:
            manifest = _stage(model, os.path.join(staging, "new"), version)
            _install(run_dir, staging, manifest)
        except BaseException:
            _roll_back(run_dir, staging)  # if this fails too, the next export finishes it
            _discard(staging)
            raise
        _discard(staging)
    return manifest


def _stage(model, new, version):
    """Writes and checks the export under `new` (run-folder layout); returns its manifest."""
    saved_model_path, tflite_path = f"saved_model/{version}", f"tflite/{TFLITE_FILE}"
    saved_model_dir = run_path(new, saved_model_path)
    write_saved_model(model, saved_model_dir)
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        refused = disallowed_ops(parse_saved_model(f.read()))
    if refused:
        raise ExportError(
            f"the exported SavedModel uses ops that export.allowed_ops does not list: {', '.join(refused)}; "
            "review them, then re-derive the list (python -m tests.export.test_allowed_ops)."
        )
    # TFLite from a batch-1 graph: a dynamic batch adds Shape/Pack ops that
    # fail builtin-only conversion of Conv2DTranspose and break delegates.
    static_dir = os.path.join(os.path.dirname(new), "static_batch")
    write_saved_model(model, static_dir, batch_size=1)
    try:
        content = convert_saved_model(static_dir)
    except TFLiteConversionError as error:
        raise ExportError(str(error)) from None
    write_durably(run_path(new, tflite_path), content)

    z = zoo.latents_from_seeds(PARITY_SEEDS, model.latent_dim, model.latent_prior).numpy()
    labels = labels_from_seeds(PARITY_SEEDS, model.num_classes)  # None if unconditional
    outputs = {
        "keras": to_uint8(model.generate(z, labels), model.pixel_range).numpy(),
        "saved_model": run_saved_model(saved_model_dir, z, labels),
        "tflite": run_tflite(run_path(new, tflite_path), z, labels),
    }
    parity = {
        f"{name}_max_abs_diff": int(np.abs(images.astype(int) - outputs["keras"].astype(int)).max())
        for name, images in outputs.items()
        if name != "keras"
    }
    if max(parity.values()) > PARITY_TOLERANCE:
        raise ExportError(
            f"exported generator disagrees with Keras on {len(z)} fixed latents "
            f"({parity}, tolerance {PARITY_TOLERANCE}/255); nothing was replaced."
        )

    fsync_tree(saved_model_dir)
    files = file_digests(saved_model_dir)
    inputs = {INPUT: {"dtype": "float32", "shape": [None, model.latent_dim]}}
    if model.num_classes:
        inputs[LABEL] = {"dtype": "int32", "shape": [None], "num_classes": model.num_classes}
    manifest = {
        "model": model.registry_name,
        "signature": SIGNATURE,
        "inputs": inputs,
        # Clients draw z from this prior (zoo.latents.latents_from_seeds).
        "latent_prior": model.latent_prior,
        "outputs": {OUTPUT: {"dtype": "uint8", "shape": [None, *model.image_shape]}},
        "saved_model": {
            "path": saved_model_path,
            "version": version,
            # sha256 of `sha256sum`'s listing of `files` (export.files.folder_digest).
            "sha256": folder_digest(files),
            "files": files,
        },
        "tflite": {
            "path": tflite_path,
            "input_shapes": {name: [1, *spec["shape"][1:]] for name, spec in inputs.items()},
            "bytes": len(content),
            "sha256": sha256_bytes(content),
        },
        "parity": {"seeds": [PARITY_SEEDS.start, PARITY_SEEDS.stop], "tolerance": PARITY_TOLERANCE, **parity},
    }
    write_durably(os.path.join(new, MANIFEST_FILE), json.dumps(manifest, indent=2).encode())
    fsync_tree(new)
    return manifest


def _install(run_dir, staging, manifest):
    """Snapshots what the new export replaces, then renames it in, export.json last."""
    paths = [manifest["tflite"]["path"], manifest["saved_model"]["path"], MANIFEST_FILE]
    existed = {}
    for path in paths:
        existed[path] = os.path.lexists(run_path(run_dir, path))
        if existed[path]:
            link_copy(run_path(run_dir, path), run_path(os.path.join(staging, "previous"), path))
    if any(existed.values()):
        fsync_tree(os.path.join(staging, "previous"))
    journal = {"paths": existed, "manifest_sha256": _manifest_sha256(run_dir)}
    write_durably(os.path.join(staging, _JOURNAL + ".tmp"), json.dumps(journal).encode())
    os.replace(os.path.join(staging, _JOURNAL + ".tmp"), os.path.join(staging, _JOURNAL))
    fsync_directory(staging)
    for path in paths:  # export.json last: its rename is the commit
        _put(run_path(os.path.join(staging, "new"), path), run_path(run_dir, path), staging)


def _put(source, destination, staging):
    """Renames `source` to `destination`; an old folder there is moved into `staging` first."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    if os.path.isdir(source) and os.path.lexists(destination):
        _aside(destination, staging)
    os.replace(source, destination)  # atomic for files; folders: the window readers tolerate
    fsync_directory(os.path.dirname(destination))


def _aside(path, staging):
    os.replace(path, os.path.join(tempfile.mkdtemp(prefix="replaced-", dir=staging), "old"))


def _manifest_sha256(run_dir):
    path = os.path.join(run_dir, MANIFEST_FILE)
    return sha256_file(path) if os.path.isfile(path) else None


def _same_content(a, b):
    if os.path.isdir(a) != os.path.isdir(b) or not os.path.lexists(b):
        return False
    if os.path.isdir(a):
        return file_digests(a) == file_digests(b)
    return sha256_file(a) == sha256_file(b)


def _roll_back(run_dir, staging):
    """Puts back what a journaled, uncommitted export replaced (idempotent)."""
    try:
        with open(os.path.join(staging, _JOURNAL)) as f:
            existed = json.load(f)["paths"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no journal: nothing in the run folder was touched yet
    # export.json first: readers then see the old manifest and find the old
    # files by digest, at their paths or in `previous/`, while the rest follows.
    for path in sorted(existed, key=lambda path: path != MANIFEST_FILE):
        current, saved = run_path(run_dir, path), run_path(os.path.join(staging, "previous"), path)
        if existed[path]:
            if not _same_content(saved, current):
                # Linked copy: `previous/` stays whole if this is interrupted too.
                restored = os.path.join(tempfile.mkdtemp(prefix="restore-", dir=staging), "old")
                link_copy(saved, restored)
                _put(restored, current, staging)
        elif os.path.lexists(current):
            _aside(current, staging)
            fsync_directory(os.path.dirname(current))


def _discard(staging):
    """Deletes a staging folder, its journal first (a half-deleted snapshot must not be restored)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(staging, _JOURNAL))
    fsync_directory(staging)
    shutil.rmtree(staging, ignore_errors=True)


def recover(run_dir):
    """Finishes exports of `run_dir` that were killed: rolls back uncommitted ones, deletes leftovers.

    `export_run` does this first; readers do not need it (they find the
    previous export's files by digest).

    Raises:
        ExportError: an export of `run_dir` is running.
    """
    with _exclusive(run_dir):
        _recover(run_dir)


def _recover(run_dir):
    for name in sorted(os.listdir(run_dir)):
        folder = os.path.join(run_dir, name)
        if not name.startswith(STAGING_PREFIX) or not os.path.isdir(folder):
            continue
        try:
            with open(os.path.join(folder, _JOURNAL)) as f:
                recorded = json.load(f)["manifest_sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            recorded = False  # never started replacing files
        if recorded is not False and _manifest_sha256(run_dir) == recorded:
            _roll_back(run_dir, folder)  # killed before its export.json was renamed in
        _discard(folder)


@contextlib.contextmanager
def _exclusive(run_dir):
    """Holds `run_dir/.export.lock` (an advisory lock the OS drops if the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; run one export per folder at a time
        yield
        return
    with open(os.path.join(run_dir, LOCK_FILE), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(
                f"another `zoo export` is writing {run_dir!r}; wait for it to finish, then export again."
            ) from None
        yield
