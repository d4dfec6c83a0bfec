"""All or nothing: how `export.artifacts` puts a staged export version in place, and takes it back.

1. The paths about to be replaced (the version's tflite and SavedModel
   folders, its manifest) are hard-linked into `RUN/.export-XXXX/previous/`
   and a journal records what existed.
2. The folders are renamed in (old ones moved aside), the manifest last:
   that rename is the commit. Everything is fsynced first.
3. The staging folder is deleted.

A failed install is rolled back at once; a killed one is rolled back (or, if
it had committed, cleaned up) by `recover`, which the next export runs first.
"""

import contextlib
import json
import os
import shutil
import tempfile

from zoo.files import file_digests, fsync_folder, fsync_tree, link_copy, run_lock, sha256_file, write_durably
from zoo.run_folder import RunFolder

#: Staging folders (and the snapshot of what they replace) start with this.
STAGING_PREFIX = RunFolder.STAGING_PREFIX
_JOURNAL = "journal.json"


def run_path(run_dir, relative):
    """`run_dir` joined with a `/`-separated path from a manifest."""
    return RunFolder(run_dir).join(relative)


def install(run_dir, staging, paths):
    """Snapshots what `staging/new` replaces in `run_dir`, then renames `paths` in, in order.

    The last path is the manifest: its rename is the commit.
    """
    existed = {}
    for path in paths:
        existed[path] = os.path.lexists(run_path(run_dir, path))
        if existed[path]:
            link_copy(run_path(run_dir, path), run_path(os.path.join(staging, "previous"), path))
    if any(existed.values()):
        fsync_tree(os.path.join(staging, "previous"))
    journal = {"paths": existed, "manifest": paths[-1], "manifest_sha256": _manifest_sha256(run_dir, paths[-1])}
    write_durably(os.path.join(staging, _JOURNAL + ".tmp"), json.dumps(journal).encode())
    os.replace(os.path.join(staging, _JOURNAL + ".tmp"), os.path.join(staging, _JOURNAL))
    fsync_folder(staging)
    for path in paths:
        _put(run_path(os.path.join(staging, "new"), path), run_path(run_dir, path), staging)


def _put(source, destination, staging):
    """Renames `source` to `destination`; an old folder there is moved into `staging` first."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    if os.path.isdir(source) and os.path.lexists(destination):
        _aside(destination, staging)
    os.replace(source, destination)  # atomic for files; folders: the window readers tolerate
    fsync_folder(os.path.dirname(destination))


def _aside(path, staging):
    os.replace(path, os.path.join(tempfile.mkdtemp(prefix="replaced-", dir=staging), "old"))


def _manifest_sha256(run_dir, relative):
    path = run_path(run_dir, relative)
    return sha256_file(path) if os.path.isfile(path) else None


def _same_content(a, b):
    if os.path.isdir(a) != os.path.isdir(b) or not os.path.lexists(b):
        return False
    if os.path.isdir(a):
        return file_digests(a) == file_digests(b)
    return sha256_file(a) == sha256_file(b)


def roll_back(run_dir, staging):
    """Puts back what a journaled, uncommitted export replaced (idempotent)."""
    try:
        with open(os.path.join(staging, _JOURNAL)) as f:
            journal = json.load(f)
            existed, manifest = journal["paths"], journal["manifest"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no journal: nothing in the run folder was touched yet
    # The manifest first: readers then see the old one and find the old
    # files by digest, at their paths or in `previous/`, while the rest follows.
    for path in sorted(existed, key=lambda path: path != manifest):
        current, saved = run_path(run_dir, path), run_path(os.path.join(staging, "previous"), path)
        if existed[path]:
            if not _same_content(saved, current):
                # Linked copy: `previous/` stays whole if this is interrupted too.
                restored = os.path.join(tempfile.mkdtemp(prefix="restore-", dir=staging), "old")
                link_copy(saved, restored)
                _put(restored, current, staging)
        elif os.path.lexists(current):
            _aside(current, staging)
            fsync_folder(os.path.dirname(current))


def discard(staging):
    """Deletes a staging folder, its journal first (a half-deleted snapshot must not be restored)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(staging, _JOURNAL))
    fsync_folder(staging)
    shutil.rmtree(staging, ignore_errors=True)


def recover(run_dir):
    """Finishes exports of `run_dir` that were killed: rolls back uncommitted ones, deletes leftovers.

    `export_run` does this first; readers do not need it (they find the
    previous export's files by digest).

    Raises:
        zoo.files.FolderBusyError: another command is writing `run_dir`.
    """
    with run_lock(run_dir, "zoo export"):
        recover_unlocked(run_dir)


def recover_unlocked(run_dir):
    for name in sorted(os.listdir(run_dir)):
        folder = os.path.join(run_dir, name)
        if not name.startswith(STAGING_PREFIX) or not os.path.isdir(folder):
            continue
        try:
            with open(os.path.join(folder, _JOURNAL)) as f:
                journal = json.load(f)
                recorded, manifest = journal["manifest_sha256"], journal["manifest"]
        except (OSError, ValueError, KeyError, TypeError):
            recorded = False  # never started replacing files
        if recorded is not False and _manifest_sha256(run_dir, manifest) == recorded:
            roll_back(run_dir, folder)  # killed before its manifest was renamed in
        discard(folder)
