"""The train command: builds a model, fits it, writes a run folder.

A run folder holds `model.keras` (saved after every epoch), `backup.npz`
(the whole training state, every `backup_every` steps and after every
epoch), `config.json` (everything needed to reproduce the run),
`history.json`, `samples/` (a grid per epoch from fixed latents) and `logs/`
(TensorBoard). Every file is written atomically (`zoo.files`).

Running the same command again continues the run from its backup, so a
pre-empted job is simply started again; with `deterministic=True` the result
is bitwise the one an uninterrupted run gives.
"""

import contextlib
import json
import os
import shutil
import sys

import keras
import tensorflow as tf

import zoo
from training import data, distribute
from training.callbacks import (
    AtomicModelCheckpoint,
    BackupError,
    JSONHistory,
    NonFiniteError,
    SampleGrid,
    TerminateOnNonFinite,
    TrainingBackup,
    best_of_history,
    read_backup_position,
    read_history,
    record_stop,
)
from training.config import RunConfig, environment
from zoo.errors import ZooError
from zoo.files import atomic_write, remove_stale_temporaries, run_lock
from zoo.limits import check_batch, check_samples
from zoo.run_folder import RunFolder

#: Default of `--backup-every`: steps between backups (about a minute of a
#: Fashion-MNIST DCGAN on a 2-core CPU; its 8 MB backup takes 0.04 s to write).
BACKUP_EVERY = 500


class RunFolderError(ZooError, RuntimeError):
    """The run folder would be overwritten, or cannot be resumed."""


def _remove_run_outputs(out):
    for path in RunFolder(out).overwritten():
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def load_run_config(out):
    """The `RunConfig` stored in a run folder.

    Raises:
        RunFolderError: no `config.json`, or it is damaged.
    """
    path = RunFolder(out).config
    if not os.path.isfile(path):
        raise RunFolderError(f"{out!r} has no {RunFolder.CONFIG}; is it a run folder?")
    try:
        with open(path) as f:
            return RunConfig.from_json(f.read())
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise RunFolderError(
            f"{path!r} is damaged ({type(error).__name__}: {error}); restore it from a copy, "
            "or start over with --overwrite."
        ) from None


def _settings(run):
    """The settings that decide a run's result: everything but the folder and the length."""
    payload = json.loads(run.to_json())
    payload.pop("out")
    payload.pop("epochs")
    return payload


def _differences(old, new):
    a, b = _settings(old), _settings(new)
    return ", ".join(f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def _trained(folder):
    """`(epoch, batch, step)` the `RunFolder`'s saved state has reached, or None if it has none."""
    try:
        history = read_history(folder.history)  # damaged: refused now, not after an epoch
        position = read_backup_position(folder.backup)
        if position is None and os.path.exists(folder.model):
            # A run without a backup (older versions): model.keras after its last epoch.
            epochs = len(history.get("epoch", []))
            return {"epoch": epochs, "batch": 0, "step": None}
    except (BackupError, ValueError) as error:
        raise RunFolderError(str(error)) from None
    return position


def train(run, resume=False, overwrite=False, verbose="auto", backup_every=BACKUP_EVERY, metric_callbacks=None,
          command=None):
    """Trains `run.model` on `run.dataset` and writes the run folder `run.out`.

    A folder that already holds a run with the same settings is continued
    from its latest backup (also mid-epoch); a finished one is left as it is.

    Args:
        run: the `RunConfig`.
        resume: continue the run in `run.out` up to `run.epochs` (how a
            finished run is extended); `run` comes from its config.json.
        overwrite: replace the run in `run.out`, whatever its settings.
        backup_every: steps between backups of the training state (0: only
            after each epoch).
        metric_callbacks: for a run with `run.metrics`, a function
            `(run, folder, best) -> callbacks` that measure them each epoch
            into the logs (`evaluation.callbacks.metric_callbacks`, which
            `zoo train` passes); `folder` is the `RunFolder` written and
            `best` the best FD of the history resumed, or None.
        command: the command line to record in config.json's `commands`
            (default `sys.argv`).

    Returns:
        The model, or None when the run was already complete.

    Raises:
        RunFolderError: the folder holds another run, or cannot be resumed.
        NonFiniteError: a loss or weight became non-finite; the last good
            files are kept and `history.json` records where.
        zoo.files.FolderBusyError: another process is writing `run.out`.
    """
    command = list(sys.argv if command is None else command)
    if not distribute.is_chief(distribute.make_strategy(run.strategy)):
        return _train(run, resume, overwrite, verbose, backup_every, metric_callbacks, command)  # only the chief writes
    with run_lock(run.out, "zoo train", advice="wait for it to finish, or choose another --out"):
        return _train(run, resume, overwrite, verbose, backup_every, metric_callbacks, command)


def _train(run, resume, overwrite, verbose, backup_every, metric_callbacks, command):
    if run.metrics and metric_callbacks is None:
        raise ValueError(f"run.metrics={list(run.metrics)} needs metric_callbacks "
                         "(evaluation.callbacks.metric_callbacks measures them).")
    folder = RunFolder(run.out)
    existing = os.path.exists(folder.config) or os.path.exists(folder.model)
    if existing and not (resume or overwrite):
        stored = load_run_config(run.out)
        if _settings(stored) != _settings(run):
            raise RunFolderError(
                f"{run.out!r} holds a run with other settings ({_differences(stored, run)}); "
                "pass --overwrite to replace it, or choose another --out."
            )
        if stored.epochs != run.epochs:
            raise RunFolderError(
                f"{run.out!r} holds this run for {stored.epochs} epochs, not {run.epochs}; to "
                f"extend it use `zoo train --resume --out {run.out} --epochs {run.epochs}`."
            )
        resume = True  # the same command again: continue where it stopped
    if resume and not existing:
        raise RunFolderError(f"nothing to resume: {run.out!r} holds no run.")

    trained = _trained(folder) if resume else None
    if resume:
        _check_classes(run, folder)
    if trained is not None:
        reached = trained["epoch"] + (1 if trained["batch"] else 0)  # epochs begun
        if reached > run.epochs:
            raise RunFolderError(
                f"{run.out!r} has already trained into epoch {reached}; ask for at least "
                f"that many with --epochs (got {run.epochs})."
            )
        if trained["epoch"] == run.epochs:
            print(f"{run.out!r} is complete ({trained['epoch']} epochs); nothing to do.")
            return None

    if run.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(run.seed)
    strategy = distribute.make_strategy(run.strategy)
    distribute.check_batch(strategy, run.batch_size)
    with dtype_policy(run.precision), distribute.scope(strategy):
        if trained is not None and trained["step"] is None:
            model = zoo.load(folder.model)  # no backup: continue from the last epoch's model
        else:
            model = zoo.create(run.model, **run.model_config)
            model.compile(**model.default_optimizers(**run.learning_rates))
    _check_memory(run, model)
    backup = TrainingBackup(folder.backup, every=backup_every)
    try:
        position = backup.restore(model) if trained is not None else None
    except BackupError as error:
        raise RunFolderError(str(error)) from None
    chief = distribute.is_chief(strategy)
    with distribute.writable_folder(run.out, chief, RunFolder.STATE) as written:
        return _fit(run, model, backup, position, trained, strategy, resume, overwrite and chief, verbose,
                    RunFolder(written), metric_callbacks, command)


def _check_classes(run, folder):
    """Refuses to resume a run whose dataset's classes changed (an image folder's class subfolders)."""
    if not os.path.exists(folder.config):
        return
    with open(folder.config) as f:
        stored = json.load(f).get("class_names")
    if stored is None:
        return
    now = data.class_names(run.dataset, run.data_dir)
    if stored != now:
        raise RunFolderError(
            f"the classes of {run.dataset!r} changed since {run.out!r} started ({stored} then, {now} now), so "
            "its labels would mean other classes; restore the folder's class subfolders, or start a new run.")


def _fit(run, model, backup, position, trained, strategy, resume, overwrite, verbose, folder, metric_callbacks,
         command):
    """Fits `model` from `position`, writing the `RunFolder` `folder`."""

    start_step = position["step"] if position else 0
    train_data, per_pass = data.stream(
        run.dataset, run.split, model=model, batch_size=run.batch_size, seed=run.seed,
        data_dir=run.data_dir, start_step=start_step,
    )
    steps_per_epoch = run.steps_per_epoch or per_pass
    if trained is not None and trained["step"] is None:  # no backup: after the last epoch
        position = {"epoch": trained["epoch"], "batch": 0, "step": trained["epoch"] * steps_per_epoch}
        backup.position = position
        train_data, _ = data.stream(
            run.dataset, run.split, model=model, batch_size=run.batch_size, seed=run.seed,
            data_dir=run.data_dir, start_step=position["step"],
        )
    train_data = distribute.distribute(strategy, train_data, run.batch_size)
    validation_data = None
    if run.validation_split:
        validation_data = data.load(
            run.dataset, run.validation_split, model=model,
            batch_size=run.batch_size, data_dir=run.data_dir, shuffle=False,
        )

    out = folder.path  # run.out, or a non-chief worker's own folder
    if overwrite and not resume:
        # Only now that model and data are known good: a failed start keeps the old run.
        _remove_run_outputs(out)
    _writable(out)
    remove_stale_temporaries(out)
    remove_stale_temporaries(folder.samples)
    backup.path = folder.backup  # restored from run.out; written where this process writes
    commands = []
    if resume and os.path.exists(folder.config):
        with open(folder.config) as f:
            commands = json.load(f).get("commands", [])
    class_names = data.class_names(run.dataset, run.data_dir)
    atomic_write(folder.config, run.to_json(environment=environment(), commands=commands + [command],
                                            class_names=class_names))
    callbacks = [
        TerminateOnNonFinite(),
        AtomicModelCheckpoint(folder.model),
        # Before the history and TensorBoard: they log val_*.
        *(metric_callbacks(run, folder, best_of_history(read_history(folder.history)) if resume else None)
          if run.metrics else []),
        JSONHistory(folder.history),
        SampleGrid(folder.samples, n=run.grid_size, seed=run.grid_seed, log_dir=folder.logs),
        keras.callbacks.TensorBoard(folder.logs),
        backup,  # last: an epoch's backup is written once every other callback has finished it
    ]
    try:
        with data.damaged_files_reported(run.dataset):
            model.fit(
                train_data,
                epochs=run.epochs,
                initial_epoch=position["epoch"] if position else 0,
                steps_per_epoch=steps_per_epoch,
                validation_data=validation_data,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # the stream is shuffled (and resumable)
            )
    except NonFiniteError as error:
        record_stop(folder.history, {"reason": "non-finite", "message": str(error), **error.details})
        raise
    finally:
        backup.end_fit()  # fit may end by an exception, without on_train_end
    return model


@contextlib.contextmanager
def dtype_policy(name):
    """Keras's global dtype policy set to `name` while models are built.

    Layers keep the policy they were built with, so the policy is set only
    around building and restored after.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _check_memory(run, model):
    """Refuses a batch, or a metric sample, that cannot fit in this machine's memory, before any data loads."""
    if run.metrics:
        check_samples(run.metrics_samples, model.image_shape, f"--metrics-samples {run.metrics_samples}")
    workers = 1
    if run.strategy == "multi_worker":
        workers = len(json.loads(os.environ["TF_CONFIG"])["cluster"]["worker"])
    per_worker = f" ({run.batch_size // workers} per worker)" if workers > 1 else ""
    check_batch(run.batch_size // workers, model, f"--batch-size {run.batch_size}{per_worker}",
                ", or spread it over several machines with --strategy multi_worker")


def _writable(out):
    """Creates `out` and checks that files can be written in it."""
    try:
        os.makedirs(out, exist_ok=True)
        atomic_write(os.path.join(out, ".write-test"), b"")
        os.remove(os.path.join(out, ".write-test"))
    except OSError as error:
        raise RunFolderError(
            f"cannot write to {out!r} ({error.strerror}); choose a writable --out."
        ) from None
