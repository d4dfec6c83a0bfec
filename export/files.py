"""Run folders on disk: one writer at a time, durable writes, hard-link snapshots, digests.

Export never edits a file in place: it writes under a temporary name, makes
the bytes durable (`fsync`), then renames. A rename within one file system is
atomic, so a reader (or a crash) sees the old file or the new one, never half.

Every command that writes into a run folder (train, export, evaluate, the
image commands and the report with their default outputs) holds the folder's
lock (`run_lock`) while it works, so two writers never mix their files.
"""

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import socket
import time

#: The lock file every writer of a run folder holds (`run_lock`).
LOCK_FILE = ".zoo.lock"
#: Locks this process holds: `{lock file's real path: [descriptor, depth]}`.
_held = {}


class FolderBusyError(RuntimeError):
    """Another process is writing the run folder; nothing was changed."""


@contextlib.contextmanager
def run_lock(folder, command, advice="wait for it to finish, then run the command again"):
    """Holds `folder`'s lock while the block writes into it; raises `FolderBusyError` if another process does.

    An OS lock (`flock`) on `folder/.zoo.lock`: the kernel drops it when the
    holder's process ends, also by `kill -9`, so no stale lock is left to
    clean up. The file names its holder (pid, command, start time) for the
    message another writer prints, and is removed on release. Re-entrant
    within a process (the export command holds it around `export_run`, which
    takes it too). A folder that does not exist is created, and removed again
    if the block leaves nothing in it. Hand-written because `filelock` truncates the lock file when it
    opens it, which would erase the holder's name before a loser can read it.

    Args:
        folder: the run folder.
        command: what the holder is, for the loser's message (e.g. "zoo train").
        advice: what the loser's message tells the user to do.

    Raises:
        FolderBusyError: another process holds the lock.

    Example:
        >>> with run_lock("runs/dcgan", "zoo evaluate"):
        ...     write_metrics("runs/dcgan/metrics.json")
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; run one writer per folder at a time
        yield
        return
    path = os.path.realpath(os.path.join(folder, LOCK_FILE))
    if path in _held:
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    descriptor = _acquire(fcntl, path, folder, advice)
    try:
        holder = {"pid": os.getpid(), "command": command, "host": socket.gethostname(),
                  "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(holder).encode(), 0)
        _held[path] = [descriptor, 1]
        try:
            yield
        finally:
            del _held[path]
            # Removed while still held, so the folder keeps no trace of the
            # lock: a writer that opened the file before it was removed sees
            # so once it gets the lock, and opens a new one (`_acquire`).
            os.remove(path)
            if created:
                with contextlib.suppress(OSError):  # a new folder the block left empty goes too
                    os.rmdir(folder)
    finally:
        os.close(descriptor)  # releases the lock


def _acquire(fcntl, path, folder, advice):
    """A descriptor of `path` holding its exclusive lock, or `FolderBusyError`."""
    while True:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # an empty folder's last writer removed it just now
            os.makedirs(folder, exist_ok=True)
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise FolderBusyError(f"{folder!r} is being written by {_holder(path)}; {advice}.") from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and current.st_ino == os.fstat(descriptor).st_ino:
            return descriptor
        os.close(descriptor)  # the file was removed (and maybe made anew) since it was opened


def _holder(path):
    """"pid N (zoo train, started at ...)" from the lock file, or a plain description."""
    for _ in range(20):  # the holder writes its name just after it takes the lock
        try:
            with open(path) as f:
                holder = json.load(f)
            where = "" if holder.get("host") == socket.gethostname() else f" on {holder.get('host')}"
            return f"pid {holder['pid']}{where} ({holder['command']}, started at {holder['started']})"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    return "another process"


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
