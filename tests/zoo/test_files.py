"""Files on disk: atomic writes, and the run-folder lock (one writer at a time, named to others, gone with
its process)."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from zoo import files
from zoo.files import (
    LOCK_FILE,
    FolderBusyError,
    atomic_path,
    atomic_write,
    atomic_write_json,
    remove_stale_temporaries,
    run_lock,
)

# A writer in another process. It imports zoo.files without the zoo
# package's __init__ (which imports Keras), so that it starts in a fraction
# of a second.
HOLDER = textwrap.dedent("""
    import sys, time, types
    package = types.ModuleType("zoo")
    package.__path__ = [sys.argv[1]]
    sys.modules["zoo"] = package
    from zoo.files import run_lock
    with run_lock(sys.argv[2], "zoo train"):
        print("held", flush=True)
        time.sleep(600)
""")
needs_flock = pytest.mark.skipif(sys.platform == "win32", reason="no flock: run_lock takes no lock")


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "run" / "config.json"
    atomic_write(path, "old")
    atomic_write(path, b"new")
    atomic_write_json(tmp_path / "run" / "history.json", {"loss": [1.5]})
    assert path.read_bytes() == b"new"
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == {"loss": [1.5]}
    assert sorted(os.listdir(tmp_path / "run")) == ["config.json", "history.json"]


def test_a_writer_that_fails_midway_keeps_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.weights.h5"
    path.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as temporary:
            assert temporary.endswith(".tmp.weights.h5")  # Keras checks the suffix
            with open(temporary, "wb") as f:
                f.write(b"half of the new")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["model.weights.h5"]


def test_atomic_write_keeps_the_usual_permissions(tmp_path):
    atomic_write(tmp_path / "metrics.json", "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "metrics.json").st_mode & 0o777 == 0o666 & ~mask


def test_remove_stale_temporaries_deletes_only_what_a_killed_writer_left(tmp_path):
    (tmp_path / ".model.keras.abc123.tmp.keras").write_bytes(b"torn")
    (tmp_path / "model.keras").write_bytes(b"whole")
    (tmp_path / ".zoo.lock").write_text("{}")
    (tmp_path / "samples").mkdir()
    remove_stale_temporaries(tmp_path)
    remove_stale_temporaries(tmp_path / "missing")  # no folder yet: nothing to do
    assert sorted(os.listdir(tmp_path)) == [".zoo.lock", "model.keras", "samples"]


@pytest.fixture
def holder(tmp_path):
    """Starts another process that holds `folder`'s lock; yields the function that starts it."""
    started = []

    def hold(folder):
        package = os.path.dirname(files.__file__)
        process = subprocess.Popen([sys.executable, "-c", HOLDER, package, str(folder)], stdout=subprocess.PIPE,
                                   text=True)
        assert process.stdout.readline() == "held\n"
        started.append(process)
        return process

    yield hold
    for process in started:
        process.kill()
        process.wait()


@needs_flock
def test_a_second_writer_is_refused_with_the_holders_pid_command_and_start(tmp_path, holder):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"weights")
    process = holder(run)
    with pytest.raises(FolderBusyError) as refused:
        with run_lock(run, "zoo export"):
            (run / "model.keras").write_bytes(b"other weights")  # never reached
    message = str(refused.value)
    assert f"is being written by pid {process.pid} (zoo train, started at 20" in message
    assert "wait for it to finish" in message
    assert (run / "model.keras").read_bytes() == b"weights"


@needs_flock
@pytest.mark.slow  # kill -9 of a process
def test_a_writer_killed_with_sigkill_leaves_no_lock_behind(tmp_path, holder):
    run = tmp_path / "run"
    process = holder(run)
    assert json.loads((run / LOCK_FILE).read_text())["pid"] == process.pid
    process.send_signal(signal.SIGKILL)
    process.wait()
    with run_lock(run, "zoo evaluate"):
        assert json.loads((run / LOCK_FILE).read_text())["command"] == "zoo evaluate"
    assert not (run / LOCK_FILE).exists()  # released: the folder keeps no trace of it


@needs_flock
def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with run_lock(tmp_path, "zoo export"):
        with run_lock(tmp_path, "zoo export"):  # export_run inside the export command
            pass
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


@needs_flock
def test_a_folder_made_only_for_the_lock_is_removed_and_others_keep_no_lock_file(tmp_path):
    with run_lock(tmp_path / "new", "zoo train"):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()  # a failed start leaves no empty run folder
    with run_lock(tmp_path / "written", "zoo train"):
        (tmp_path / "written" / "config.json").write_text("{}")
    assert os.listdir(tmp_path / "written") == ["config.json"]
    existing = tmp_path / "existing"
    existing.mkdir()
    with run_lock(existing, "zoo train"):
        pass
    assert existing.is_dir() and os.listdir(existing) == []


@needs_flock
def test_a_lock_file_removed_while_waiting_is_not_taken(tmp_path, monkeypatch):
    # A writer that opened the lock file just before its holder removed it
    # (with the holder's empty folder) must lock the new file, not the old one.
    run = tmp_path / "run"
    run.mkdir()
    real_open, opened = os.open, []

    def open_then_lose_the_race(path, flags, mode=0o777):
        descriptor = real_open(path, flags, mode)
        if not opened and str(path).endswith(LOCK_FILE):
            opened.append(path)
            os.remove(path)  # the previous holder cleans up between our open and our flock
        return descriptor

    monkeypatch.setattr(os, "open", open_then_lose_the_race)
    with run_lock(run, "zoo train"):
        held = os.stat(run / LOCK_FILE)
        assert json.loads((run / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert len(opened) == 1 and held.st_nlink == 1
