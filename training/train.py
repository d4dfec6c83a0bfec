"""The train command: builds a model, fits it, writes a run folder.

A run folder holds `model.keras` (saved after every epoch), `config.json`
(everything needed to reproduce the run), `history.json`, `samples/` (a
grid per epoch from fixed latents) and `logs/` (TensorBoard).
"""

import json
import os
import shutil
import sys

import keras

import zoo
from training import data
from training.callbacks import JSONHistory, SampleGrid, TerminateOnNonFinite, read_history
from training.config import RunConfig, environment

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"


class RunFolderError(RuntimeError):
    """The run folder would be overwritten, or cannot be resumed."""


def _paths(out):
    return {
        "model": os.path.join(out, MODEL_FILE),
        "config": os.path.join(out, CONFIG_FILE),
        "history": os.path.join(out, HISTORY_FILE),
        "samples": os.path.join(out, "samples"),
        "logs": os.path.join(out, "logs"),
    }


#: What a run folder holds besides its config: removed by --overwrite, so no
#: grid, log or export of the old model survives next to the new one.
RUN_OUTPUTS = (MODEL_FILE, HISTORY_FILE, "samples", "logs", "saved_model", "tflite",
               "export.json", "metrics.json", "nearest_train.json")


def _remove_run_outputs(out):
    for name in RUN_OUTPUTS:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def load_run_config(out):
    """The `RunConfig` stored in a run folder."""
    path = _paths(out)["config"]
    if not os.path.isfile(path):
        raise RunFolderError(f"{out!r} has no {CONFIG_FILE}; is it a run folder?")
    with open(path) as f:
        return RunConfig.from_json(f.read())


def train(run, resume=False, overwrite=False, verbose="auto"):
    """Trains `run.model` on `run.dataset` and writes the run folder `run.out`.

    Args:
        run: the `RunConfig`.
        resume: continue the run in `run.out` from its `model.keras`
            (weights, optimizer states and random stream) up to `run.epochs`.
        overwrite: allow replacing an existing run in `run.out`.

    Returns:
        The trained model.
    """
    paths = _paths(run.out)
    existing = os.path.exists(paths["model"]) or os.path.exists(paths["config"])
    if existing and not (resume or overwrite):
        raise RunFolderError(
            f"{run.out!r} already holds a run; pass --resume to continue it, "
            "--overwrite to replace it, or choose another --out."
        )
    initial_epoch = 0
    if resume:
        if not os.path.exists(paths["model"]):
            raise RunFolderError(f"nothing to resume: {paths['model']!r} does not exist.")
        model = zoo.load(paths["model"])
        initial_epoch = len(read_history(paths["history"]).get("epoch", []))
        if initial_epoch >= run.epochs:
            raise RunFolderError(
                f"{run.out!r} has already trained {initial_epoch} epochs; ask for "
                f"more with --epochs (got {run.epochs})."
            )
    else:
        keras.utils.set_random_seed(run.seed)
        model = zoo.create(run.model, **run.model_config)
        model.compile(**model.default_optimizers(**run.learning_rates))

    train_data = data.load(
        run.dataset, run.split, model=model, batch_size=run.batch_size,
        seed=run.seed, data_dir=run.data_dir, shuffle=True,
    )
    if run.steps_per_epoch:
        train_data = train_data.repeat()
    validation_data = None
    if run.validation_split:
        validation_data = data.load(
            run.dataset, run.validation_split, model=model,
            batch_size=run.batch_size, data_dir=run.data_dir, shuffle=False,
        )

    if overwrite and not resume:
        # Only now that model and data are known good: a failed start keeps the old run.
        _remove_run_outputs(run.out)
    os.makedirs(run.out, exist_ok=True)
    commands = []
    if resume and os.path.exists(paths["config"]):
        with open(paths["config"]) as f:
            commands = json.load(f).get("commands", [])
    with open(paths["config"], "w") as f:
        f.write(run.to_json(environment=environment(), commands=commands + [sys.argv]))
    callbacks = [
        TerminateOnNonFinite(),
        keras.callbacks.ModelCheckpoint(paths["model"]),
        JSONHistory(paths["history"]),
        SampleGrid(paths["samples"], n=run.grid_size, seed=run.grid_seed, log_dir=paths["logs"]),
        keras.callbacks.TensorBoard(paths["logs"]),
    ]
    model.fit(
        train_data,
        epochs=run.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=run.steps_per_epoch,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the tf.data pipeline shuffles
    )
    return model
