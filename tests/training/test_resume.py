"""Crash-safe training: kill -9 at any moment, run the same command again, get the same bits."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from training.kill_resume import (
    KILL_DURING_SAVE,
    ROOT,
    check_files,
    child_environment,
    compare,
    kill_targets,
    run_with_kills,
    train_command,
)

# The slow tier: kill -9 runs of real `zoo train` processes.
pytestmark = pytest.mark.slow

EPOCHS, BACKUP_EVERY, SPLIT = 2, 1, "train[:640]"  # 20 steps per epoch at batch 32
STEPS_PER_EPOCH = 640 // 32


def _command(out, epochs=EPOCHS):
    return train_command(out, epochs, BACKUP_EVERY, "dcgan", split=SPLIT)


def _run(args, check=True):
    result = subprocess.run(args, cwd=ROOT, env=child_environment(), capture_output=True, text=True,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same command, never interrupted."""
    out = tmp_path_factory.mktemp("reference") / "run"
    _run(_command(out))
    return out


def _assert_bitwise_equal(reference, resumed):
    found = compare(reference, resumed)
    assert found["state_arrays"] > 40  # weights, both optimizers, RNG state, loss trackers
    assert found["state_arrays_differing"] == [] and found["history_equal"]
    assert found["model_keras_arrays"] > 40 and found["model_keras_arrays_differing"] == []


def test_resume_after_kills_at_random_steps_gives_identical_weights(reference, tmp_path):
    out = tmp_path / "killed"
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    targets = kill_targets(3, EPOCHS * STEPS_PER_EPOCH, rng)
    records = run_with_kills(_command(out), out, targets, rng)
    assert len(records) == 3, records
    for record in records:  # every file read back after every kill
        assert record["files_checked"] >= 2
    _assert_bitwise_equal(reference, out)


@pytest.mark.parametrize("which, target", [("backup", 25), ("model", 1)])  # 1: end of epoch 1 of 2
def test_kill_during_a_save_keeps_the_previous_file_and_resumes_identically(reference, tmp_path,
                                                                            which, target):
    out = tmp_path / "run"
    command = _command(out)
    killed = _run([sys.executable, "-c", KILL_DURING_SAVE, which, str(target), *command[3:]], check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    name = "backup.npz" if which == "backup" else "model.keras"
    assert any(p.startswith(f".{name}.") for p in leftovers), leftovers  # the kill hit the write
    if target > 1:
        assert name in check_files(out)  # the previous good file is whole
    else:
        assert not (out / name).exists()  # the first one: complete or not at all
    if which == "backup":
        # The 24th backup survives: step 0 (the first, at train begin), steps 1-20,
        # the end of epoch 1 (step 20 again), steps 21 and 22.
        with np.load(out / "backup.npz") as stored:
            assert json.loads(stored["__meta__"].tobytes())["step"] == target - 3
    _run(command)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # stale temporaries removed
    _assert_bitwise_equal(reference, out)


def test_rerunning_a_finished_command_says_complete_and_changes_nothing(reference, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(reference, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file() and p.name != "config.json"}
    result = _run(_command(copy))
    assert "is complete (2 epochs); nothing to do" in result.stdout
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file() and p.name != "config.json"} == before


def test_resume_extends_a_finished_run_exactly_like_a_longer_run(reference, tmp_path):
    longer = tmp_path / "longer"
    _run(_command(longer, epochs=3))
    extended = tmp_path / "extended"
    import shutil

    shutil.copytree(reference, extended)
    _run([*_command(extended)[:3], "train", "--resume", "--out", str(extended), "--epochs", "3"])
    _assert_bitwise_equal(longer, extended)
    commands = json.loads((extended / "config.json").read_text())["commands"]
    assert "--resume" in commands[-1]


def test_other_settings_in_the_same_folder_are_refused(reference, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(reference, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    command = _command(copy)
    command[command.index("--seed") + 1] = "4"
    result = _run(command, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "seed 3 -> 4" in result.stderr and "--overwrite" in result.stderr
    longer = _command(copy, epochs=5)
    result = _run(longer, check=False)
    assert result.returncode == 2 and "--resume" in result.stderr and "--epochs 5" in result.stderr
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()} == before


def test_overwrite_replaces_a_run_whose_backup_is_damaged(reference, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(reference, copy)
    (copy / "backup.npz").write_bytes(b"PK\x03\x04 damaged")
    result = _run([*_command(copy), "--overwrite"])
    assert "Run written to" in result.stdout
    _assert_bitwise_equal(reference, copy)
