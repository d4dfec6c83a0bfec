"""Kill `zoo train` with SIGKILL at random moments, re-run it, compare bit for bit.

A reference run trains uninterrupted. A second run of the same command is
killed (`kill -9`) at random training steps, checked for damaged files,
and started again with the same command until it finishes. The final
training state (every weight, both optimizers' states, random-number
state, loss trackers), `model.keras` and `history.json` must be bitwise
equal to the reference's. Prints JSON.

    python benchmarks/kill_resume.py --kills 5 --epochs 4

The driver is `training.kill_resume`, which tests/training/test_resume.py
runs briefly in CI; this script runs it at length and records the figures.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from training.kill_resume import (  # noqa: E402
    KILL_DURING_SAVE,
    ROOT,
    check_files,
    child_environment,
    compare,
    kill_targets,
    run_with_kills,
    temporary_files,
    train_command,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan", help="a registered model, at its TINY_CONFIG")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--backup-every", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        start = time.time()
        subprocess.run(train_command(folder / "reference", args.epochs, args.backup_every, args.model),
                       cwd=ROOT, env=child_environment(), check=True, capture_output=True)
        reference_seconds = time.time() - start
        start = time.time()
        total_steps = args.epochs * 1280 // 32
        records = run_with_kills(train_command(folder / "killed", args.epochs, args.backup_every, args.model),
                                 folder / "killed", kill_targets(args.kills, total_steps, rng), rng)
        result = {
            "benchmark": "kill_resume",
            "command": " ".join(train_command("RUN", args.epochs, args.backup_every, args.model)[1:]),
            "kills": records,
            "steps_per_epoch": 1280 // 32,
            "kills_landed": len(records),
            "kills_during_a_save": sum(bool(r["temporary_files_left"]) for r in records),
            **compare(folder / "reference", folder / "killed"),
            "reference_seconds": round(reference_seconds, 1),
            "killed_run_seconds": round(time.time() - start, 1),
        }
        injected = []
        for which, target in (("backup", 2 * 40 + 7), ("model", 3)):  # mid-epoch 3 / 3rd epoch's save
            out = folder / f"kill_during_{which}"
            command = train_command(out, args.epochs, args.backup_every, args.model)
            killed = subprocess.run([sys.executable, "-c", KILL_DURING_SAVE, which, str(target), *command[3:]],
                                    cwd=ROOT, env=child_environment(), capture_output=True)
            record = {"kill_during": f"write {target} of {'backup.npz' if which == 'backup' else 'model.keras'}",
                      "exit": killed.returncode, "temporary_files_left": temporary_files(out),
                      "files_checked": len(check_files(out))}
            subprocess.run(command, cwd=ROOT, env=child_environment(), check=True, capture_output=True)
            found = compare(folder / "reference", out)
            record["bitwise_equal"] = not (found["state_arrays_differing"] or found["model_keras_arrays_differing"])
            injected.append(record)
        result["kills_during_a_save_injected"] = injected
    result["bitwise_equal"] = not (result["state_arrays_differing"] or result["model_keras_arrays_differing"])
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from environment import environment

    result.update(environment())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
