"""Durable writes, hard-link snapshots and content digests for export folders.

Export never edits a file in place: it writes under a temporary name, makes
the bytes durable (`fsync`), then renames. A rename within one file system is
atomic, so a reader (or a crash) sees the old file or the new one, never half.
"""

import contextlib
import hashlib
import os
import shutil


def fsync_directory(path):
    """Makes the renames inside `path` durable (skipped where directories cannot be opened)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(path):
    """fsyncs every file and folder under `path` (a file or a folder)."""
    if not os.path.isdir(path):
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        return
    for root, _, files in os.walk(path, topdown=False):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_directory(root)


def write_durably(path, data):
    """Writes `data` (bytes) to a new file at `path` and fsyncs it and its folder."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    fsync_directory(os.path.dirname(path))


def _link_or_copy(source, destination):
    try:
        os.link(source, destination)
    except OSError:  # no hard links on this file system
        shutil.copy2(source, destination)


def link_copy(source, destination):
    """Copies a file or folder by hard links (file copies where links fail).

    The exporter only ever renames files, never rewrites them, so a linked copy
    keeps the old bytes after the original path is replaced.
    """
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    if os.path.isdir(source):
        shutil.copytree(source, destination, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, destination)


def sha256_bytes(content):
    return hashlib.sha256(content).hexdigest()


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def relative_files(folder):
    """Paths of the files under `folder`, relative and with `/`, sorted."""
    found = []
    for root, _, files in os.walk(folder):
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(found)


def file_digests(folder):
    """`{relative path: sha256}` of every file under `folder`."""
    return {name: sha256_file(os.path.join(folder, *name.split("/"))) for name in relative_files(folder)}


def folder_digest(digests):
    """One sha256 for a folder's `{relative path: sha256}`.

    The sha256 of `sha256sum`'s output over the files in byte order of their
    paths, so a shell can check it:
    `cd DIR && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum`.
    """
    listing = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests, key=lambda n: n.encode()))
    return sha256_bytes(listing.encode())
