"""The run-folder lock: one writer at a time, named to the others, gone with its process."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from export import files
from export.files import LOCK_FILE, FolderBusyError, run_lock

pytest.importorskip("fcntl")

# A writer in another process. It loads export/files.py by path, so that it
# starts in a fraction of a second (the `export` package imports TensorFlow).
HOLDER = textwrap.dedent("""
    import importlib.util, sys, time
    spec = importlib.util.spec_from_file_location("files", sys.argv[1])
    files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(files)
    with files.run_lock(sys.argv[2], "zoo train"):
        print("held", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def holder(tmp_path):
    """Starts another process that holds `folder`'s lock; yields the function that starts it."""
    started = []

    def hold(folder):
        process = subprocess.Popen([sys.executable, "-c", HOLDER, files.__file__, str(folder)],
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "held\n"
        started.append(process)
        return process

    yield hold
    for process in started:
        process.kill()
        process.wait()


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


def test_a_writer_killed_with_sigkill_leaves_no_lock_behind(tmp_path, holder):
    run = tmp_path / "run"
    process = holder(run)
    assert json.loads((run / LOCK_FILE).read_text())["pid"] == process.pid
    process.send_signal(signal.SIGKILL)
    process.wait()
    with run_lock(run, "zoo evaluate"):
        assert json.loads((run / LOCK_FILE).read_text())["command"] == "zoo evaluate"
    assert not (run / LOCK_FILE).exists()  # released: the folder keeps no trace of it


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with run_lock(tmp_path, "zoo export"):
        with run_lock(tmp_path, "zoo export"):  # export_run inside the export command
            pass
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


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
