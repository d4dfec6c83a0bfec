"""Files that appear complete or not at all.

Every file a run writes (model, backup, config, history, grids, metrics) goes
through `atomic_write`: the bytes go to a temporary name in the same folder,
are flushed to disk, and the temporary file is renamed over the target. A
rename within one file system is atomic, so a crash or `kill -9` at any moment
leaves either the previous file or the new one, never a torn mix. Keras
itself writes `.keras` and weight files in place, hence `atomic_path`.
"""

import contextlib
import json
import os
import tempfile


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
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_folder(folder)


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


def _fsync(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder):
    # The rename itself is durable only once the folder entry is flushed.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
