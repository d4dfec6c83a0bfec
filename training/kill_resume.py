"""Kills `zoo train` with SIGKILL at chosen moments, runs it again, and compares the result bit for bit.

The driver of the crash-safety check: `run_with_kills` starts a training
command, SIGKILLs it once its backup has passed each target step, checks
that every file of the run folder still reads back (`check_files`), and
starts the same command again until it finishes; `compare` then lists the
arrays of the final training state, `model.keras` and `history.json` that
differ from an uninterrupted run's. `KILL_DURING_SAVE` kills a run in the
middle of writing `backup.npz` or `model.keras`.

`tests/training/test_resume.py` runs it briefly in CI and
`benchmarks/kill_resume.py` at length, recording the figures. It lives
here, in the package, rather than in either tree, because both use it and
neither may import the other; and it is a reliability check of `zoo train`
a user can run on their own machine and storage, e.g.

    python benchmarks/kill_resume.py --kills 5 --epochs 4

Commands run in a child process with this checkout on `PYTHONPATH`
(`child_environment`), from `ROOT`.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np

#: The folder holding the packages: the children's working directory and `PYTHONPATH`.
ROOT = pathlib.Path(__file__).resolve().parents[1]


def tiny_flags(model):
    """A registered model's `TINY_CONFIG` as `zoo train --set` flags."""
    import zoo

    flags = []
    for key, value in zoo.get(model).TINY_CONFIG.items():
        flags += ["--set", f"{key}={','.join(map(str, value)) if isinstance(value, tuple) else value}"]
    return flags


def train_command(out, epochs, backup_every, model, split="train[:1280]"):
    """The `zoo train` command the check kills: `model`'s tiny networks (its `TINY_CONFIG`), deterministic
    ops, a backup every `backup_every` steps.

    Example:
        >>> subprocess.run(train_command("runs/reference", 4, 1, "dcgan"), cwd=ROOT, env=child_environment())
    """
    return [sys.executable, "-m", "commands.cli", "train", "--model", model, *tiny_flags(model),
            "--split", split, "--batch-size", "32", "--epochs", str(epochs), "--seed", "3",
            "--deterministic", "--backup-every", str(backup_every), "--out", str(out)]


#: Fault injection: run with `python -c KILL_DURING_SAVE {backup|model} N zoo-args...`,
#: the child SIGKILLs itself in the middle of its N-th write of `backup.npz`
#: (np.savez) or `model.keras` (Model.save), after some bytes are on disk.
KILL_DURING_SAVE = """
import os, signal, sys
import numpy as np
import keras
which, target, calls = sys.argv[1], int(sys.argv[2]), [0]

def kill_midway(path_or_file):
    calls[0] += 1
    if calls[0] == target:
        if hasattr(path_or_file, "write"):
            path_or_file.write(b"PK\\x03\\x04 partial archive")
            path_or_file.flush()
        else:
            open(path_or_file, "wb").write(b"PK\\x03\\x04 partial archive")
        os.kill(os.getpid(), signal.SIGKILL)

if which == "backup":
    savez = np.savez
    np.savez = lambda file, **arrays: (kill_midway(file), savez(file, **arrays))
else:
    save = keras.Model.save
    keras.Model.save = lambda self, path, *a, **k: (kill_midway(path), save(self, path, *a, **k))
from commands.cli import main
sys.exit(main(sys.argv[3:]))
"""


def child_environment():
    """The environment of the commands: this one, with TensorFlow's C++ logs off and this checkout importable."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def _step(out):
    """Training steps in the run's backup, or -1 while there is none (or it is being replaced)."""
    try:
        with np.load(out / "backup.npz") as stored:
            return json.loads(stored["__meta__"].tobytes())["step"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return -1


def temporary_files(out):
    """Names, relative to `out`, of the temporary files a write killed midway left under the run folder `out`."""
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*.tmp*"))


def check_files(out):
    """Every file of the run folder reads back; returns the names checked."""
    import zoo
    from training.callbacks import read_history

    checked = []
    for name in ("config.json", "history.json"):
        if (out / name).exists():
            json.loads((out / name).read_text())
            checked.append(name)
    read_history(str(out / "history.json"))
    if (out / "model.keras").exists():
        zoo.load(out / "model.keras")
        checked.append("model.keras")
    if (out / "backup.npz").exists():
        with np.load(out / "backup.npz") as stored:
            for key in stored.files:
                stored[key]
        checked.append("backup.npz")
    for png in (out / "samples").glob("*.png") if (out / "samples").exists() else []:
        import tensorflow as tf

        tf.io.decode_png(png.read_bytes())
        checked.append(f"samples/{png.name}")
    return checked


def run_with_kills(command, out, targets, rng, timeout=600):
    """Runs `command`, SIGKILLs it once its backup passes each of `targets` (steps), re-runs until done.

    Each kill lands a random 0-50 ms after the backup reached the target
    step: in a step, between steps or in the middle of writing a file.
    Returns one record per kill: the step aimed at, the backup's step after
    the kill, the temporary files it left (a kill during a save) and how
    many files were checked to read back.
    """
    records = []
    for target in sorted(targets):
        process = subprocess.Popen(command, cwd=ROOT, env=child_environment(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + timeout
        while process.poll() is None and _step(out) < target and time.time() < deadline:
            time.sleep(0.002)
        time.sleep(float(rng.uniform(0, 0.05)))
        if process.poll() is not None:
            break  # finished before the kill
        process.send_signal(signal.SIGKILL)
        process.wait()
        records.append({"aimed_after_step": int(target), "backup_step_after_kill": _step(out),
                        "temporary_files_left": temporary_files(out), "files_checked": len(check_files(out))})
    result = subprocess.run(command, cwd=ROOT, env=child_environment(), capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"resumed run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return records


def kill_targets(kills, total_steps, rng):
    """`kills` distinct random steps in [1, total_steps - 4] (the run must still be going)."""
    return sorted(int(s) for s in rng.choice(np.arange(1, total_steps - 3), kills, replace=False))


def final_state(out):
    """Arrays of the final backup, and of every variable `model.keras` restores."""
    import zoo
    from training.callbacks import training_state_variables

    with np.load(out / "backup.npz") as stored:
        state = {k: stored[k] for k in stored.files}
    model = zoo.load(out / "model.keras")
    saved = {f"{group}/{i}": np.asarray(v) for group, variables in training_state_variables(model).items()
             if group != "metrics" for i, v in enumerate(variables)}
    return state, saved


def compare(reference, resumed):
    """Names of the arrays that differ, or that only one run has."""
    def differing(a, b):
        return sorted(k for k in set(a) | set(b) if k not in a or k not in b or not np.array_equal(a[k], b[k]))

    (a, ma), (b, mb) = final_state(reference), final_state(resumed)
    histories = [json.loads((o / "history.json").read_text()) for o in (reference, resumed)]
    return {
        "state_arrays": len(a),
        "state_arrays_differing": differing(a, b),
        "history_equal": histories[0] == histories[1],
        "model_keras_arrays": len(ma),
        "model_keras_arrays_differing": differing(ma, mb),
    }
