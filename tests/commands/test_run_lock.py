"""Two writers on one run folder: exactly one works, the other says who holds it and changes nothing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import TINY_FLAGS, digests, zoo_main
from zoo.files import LOCK_FILE

#: Every command that writes into a run folder, as the first writer (a
#: separate process) and as the second (in this process, while the first is
#: stopped with SIGSTOP, holding the lock, so the two overlap for certain).
WRITERS = {
    "train": ["train", "--resume", "--out", "RUN", "--epochs", "2"],
    "export": ["export", "RUN", "--variants", "float32", "--fd-samples", "0"],
    "evaluate": ["evaluate", "RUN", "-n", "500"],
    "report": ["report", "RUN"],
    "sample": ["sample", "RUN", "-n", "256"],
    "interpolate": ["interpolate", "RUN", "--steps", "64"],
    "traverse": ["traverse", "RUN"],
}
#: What each first writer leaves in the folder, to check that it finished its work.
WRITTEN = {
    "train": "history.json", "export": "exports/1/model_card.json", "evaluate": "metrics.json",
    "report": "report.html", "sample": "samples_seed0.png", "interpolate": "interpolation.gif",
    "traverse": "traversal.png",
}
SECOND_WRITERS = {**WRITERS, "reconstruct": ["reconstruct", "RUN"], "export --web": ["export", "RUN", "--web"]}


def _start(args, run):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "commands.cli", *[str(a).replace("RUN", str(run)) for a in args]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)


def _wait_until_it_holds(process, run, timeout=120):
    """Polls the lock file until `process` has written its name there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads((run / LOCK_FILE).read_text())["pid"] == process.pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        if process.poll() is not None:
            raise AssertionError(f"the first writer ended before it was seen holding the lock: "
                                 f"{process.stderr.read()[-2000:]}")
        time.sleep(0.005)
    raise AssertionError("the first writer never took the lock")


@pytest.mark.slow
@pytest.mark.parametrize("first", WRITERS)
def test_the_second_writer_of_a_folder_is_refused_and_changes_nothing(exported_run, tmp_path, first):
    run = tmp_path / "run"
    shutil.copytree(exported_run, run)
    holder = _start(WRITERS[first], run)
    try:
        _wait_until_it_holds(holder, run)
        holder.send_signal(signal.SIGSTOP)  # holding the lock, doing nothing, until SIGCONT
        for second, args in SECOND_WRITERS.items():
            before = digests(run)
            status, _, err = zoo_main(*[str(a).replace("RUN", str(run)) for a in args])
            assert status == 2, (second, err)
            assert f"is being written by pid {holder.pid} (zoo {first}, started at " in err, (second, err)
            assert err.count("\n") == 1, err
            assert digests(run) == before, second
        # Reading the run, writing elsewhere, needs no turn.
        status, _, err = zoo_main("sample", run, "-n", "4", "--out", tmp_path / "elsewhere.png")
        assert status == 0, err
        holder.send_signal(signal.SIGCONT)
        _, err = holder.communicate(timeout=300)
    finally:
        holder.kill()
        holder.wait()
    assert holder.returncode == 0, err
    assert (run / WRITTEN[first]).is_file()


@pytest.mark.slow  # kill -9 of a training process
def test_a_writer_killed_with_sigkill_does_not_block_the_next_one(exported_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(exported_run, run)
    holder = _start(["train", "--resume", "--out", "RUN", "--epochs", "1000"], run)
    try:
        _wait_until_it_holds(holder, run)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    finally:
        holder.kill()
    status, out, err = zoo_main("train", "--resume", "--out", run, "--epochs", "2")
    assert status == 0, err
    assert f"Run written to {run}" in out
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2]


@pytest.mark.slow
def test_two_trainings_started_at_once_in_one_folder_leave_one_run(tmp_path):
    # A scheduler that starts the same job twice: long enough (thousands of
    # steps) that the second start always finds the first still training.
    args = ["train", "--model", "dcgan", *TINY_FLAGS, "--split", "train[:20000]", "--batch-size", "16",
            "--epochs", "1", "--out", "RUN"]
    run = tmp_path / "run"
    processes = [_start(args, run) for _ in range(2)]
    results = [(process.pid, *process.communicate(timeout=600), process.returncode) for process in processes]
    codes = sorted(code for *_, code in results)
    assert codes == [0, 2], results
    (winner, out, _, _), = [r for r in results if r[3] == 0]
    (_, _, err, _), = [r for r in results if r[3] == 2]
    assert f"is being written by pid {winner} (zoo train, started at " in err
    config = json.loads((run / "config.json").read_text())
    assert len(config["commands"]) == 1  # one run, written by one process
    assert json.loads((run / "history.json").read_text())["epoch"] == [1]
