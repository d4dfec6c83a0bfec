"""Files on disk: atomic and durable writes, content digests, hard-link copies, and the run-folder lock.

Atomic writes. No file is edited in place. Every file a run writes (model,
backup, config, history, grids, metrics) goes through `atomic_write` (or
`atomic_path`, since Keras writes `.keras` and weight files in place): the
bytes go to a temporary name in the same folder, are flushed to disk
(`fsync`), and the temporary file is renamed over the target. Export builds
a whole version in a staging folder the same way (`write_durably`,
`fsync_tree`) and renames it into place. A rename within one file system is
atomic, so a reader, a crash or a `kill -9` at any moment sees either the
previous file or the new one, never a torn mix.

The run-folder lock. Every command that writes into a run folder (train,
export, evaluate, the image commands and the report with their default
outputs) holds the folder's lock (`run_lock`) while it works, so two writers
never mix their files.

Digests. `sha256_file`, `file_digests` and `folder_digest` are the sha256s
that model cards and export manifests record and that readers check.
"""

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time

from zoo.errors import ZooError
from zoo.run_folder import RunFolder

#: The lock file every writer of a run folder holds (`run_lock`).
LOCK_FILE = RunFolder.LOCK
#: Locks this process holds: `{lock file's real path: [descriptor, depth]}`.
_held = {}


class FolderBusyError(ZooError, RuntimeError):
    """Another process is writing the run folder; nothing was changed."""


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it over `path` on success.

    The temporary name keeps the target's suffix (Keras checks `.keras` and
    `.weights.h5`). On an exception the temporary file is removed and the
    previous `path` is untouched.

    Example:
        >>> with atomic_path("run/model.keras") as temporary:
        ...     model.save(temporary)
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = ".weights.h5" if name.endswith(".weights.h5") else os.path.splitext(name)[1]
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp" + suffix, dir=folder)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; keep the usual permissions
    try:
        yield temporary
        fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    fsync_folder(folder)


def atomic_write(path, content):
    """Writes `content` (bytes or str) to `path` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)


def atomic_write_json(path, payload, **kwargs):
    """Writes `payload` as indented JSON to `path` atomically."""
    atomic_write(path, json.dumps(payload, indent=2, **kwargs))


def remove_stale_temporaries(folder):
    """Deletes temporary files a killed writer left in `folder` (not recursive)."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(".") and ".tmp" in name:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, name))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_durably(path, data):
    """Writes `data` (bytes) to a new file at `path` and fsyncs it and its folder.

    For staging folders that are renamed into place whole; it refuses to
    overwrite (`FileExistsError`).
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)
    fsync_file(path)
    fsync_folder(os.path.dirname(path))


def fsync_file(path):
    """Flushes the file at `path` to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_folder(path):
    """Makes the renames inside folder `path` durable (skipped where folders cannot be opened or synced)."""
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
        fsync_file(path)
        return
    for root, _, files in os.walk(path, topdown=False):
        for name in files:
            fsync_file(os.path.join(root, name))
        fsync_folder(root)


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


def _link_or_copy(source, destination):
    try:
        os.link(source, destination)
    except OSError:  # no hard links on this file system
        shutil.copy2(source, destination)


def sha256_bytes(content):
    """The sha256 of `content` (bytes), as 64 lowercase hex digits."""
    return hashlib.sha256(content).hexdigest()


def sha256_file(path):
    """The sha256 of the file at `path`, as 64 lowercase hex digits (`sha256sum`'s)."""
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
