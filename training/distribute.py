"""Training under tf.distribute: the strategy, its input pipeline, and who writes the run folder.

`zoo train --strategy mirrored` trains on every local device (GPUs, or CPUs
split into logical devices) with `tf.distribute.MirroredStrategy`;
`--strategy multi_worker` on several machines (or processes) with
`MultiWorkerMirroredStrategy`, each started with the same command and a
`TF_CONFIG` naming the cluster and its own task. The models keep the
results independent of the replica count: each replica differentiates its
share of the loss averaged over the global batch (`zoo.base.replica_share`),
draws its noise out of the global batch's draws (`zoo.base.replica_draw`),
and Keras's metrics sum over replicas. What still sees only a replica's
examples is listed in docs/devices.md (batch norm unless
`synchronized_batch_norm=True`, minibatch standard deviation, PacGAN
packing, dropout masks and DiffAugment draws).
"""

import contextlib
import functools
import json
import os
import shutil
import tempfile

import tensorflow as tf

from training.config import STRATEGIES
from zoo.errors import ZooError


class StrategyError(ZooError, RuntimeError):
    """The strategy cannot be set up as asked (bad TF_CONFIG, batch not divisible)."""


def task():
    """`(type, index)` of this process's task in `TF_CONFIG`, checked."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise StrategyError(
            "--strategy multi_worker needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}; '
            "set it in every worker's environment (task index 0 is the chief).")
    try:
        config = json.loads(text)
        own = config["task"]
        workers = config["cluster"]["worker"]
        kind, index = own["type"], int(own["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise StrategyError(f"TF_CONFIG={text!r} is not a cluster spec ({type(error).__name__}: {error}); "
                            "see --strategy's help for its form.") from None
    if kind not in ("worker", "chief") or (kind == "worker" and not 0 <= index < len(workers)):
        raise StrategyError(f"TF_CONFIG task {own!r} is not one of the cluster's workers {workers!r}.")
    return kind, index


@functools.cache
def make_strategy(name):
    """The `tf.distribute.Strategy` named by `--strategy`, or None for the default device.

    One instance per name and process: MultiWorkerMirroredStrategy must be
    created before TensorFlow runs anything ("Collective ops must be
    configured at program startup"), so `zoo train` creates it first and
    `training.train.train` gets the same one.

    Build the model and compile it inside `strategy.scope()`: Keras 3 under
    MirroredStrategy fails in `fit` when Adam creates its variables lazily
    ("You must feed a value for placeholder tensor"); `GAN.compile` and
    `GenerativeModel.compile` build their optimizers at once.
    """
    if name is None:
        return None
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        task()
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:  # "Collective ops must be configured at program startup"
            raise StrategyError(
                f"MultiWorkerMirroredStrategy cannot start in this process ({error}); call "
                "training.distribute.make_strategy('multi_worker') before anything else uses TensorFlow."
            ) from None
    raise StrategyError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}.")


def scope(strategy):
    """`strategy.scope()`, or no scope for the default device."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def is_chief(strategy):
    """Whether this process writes the run folder: always, except on non-chief workers."""
    if strategy is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    kind, index = task()
    has_chief = "chief" in json.loads(os.environ["TF_CONFIG"])["cluster"]
    return kind == "chief" or (not has_chief and index == 0)


def check_batch(strategy, batch_size):
    """The global batch must split evenly into replicas (equal shares of the mean)."""
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise StrategyError(
            f"--batch-size {batch_size} does not split into {replicas} equal replica batches; "
            f"use a multiple of {replicas}, e.g. {batch_size // replicas * replicas or replicas}.")


def distribute(strategy, dataset, batch_size):
    """Global batches of `dataset` split into replica batches, in order.

    Replica `r` (counted over all workers) gets examples
    `r * b ... (r + 1) * b - 1` of each global batch, `b` the replica
    batch, which is the order `zoo.base.replica_draw` assumes. Every worker
    builds the same deterministic stream and keeps its own rows, so no
    auto-sharding policy decides which examples a worker sees.
    """
    if strategy is None:
        return dataset
    per_replica = batch_size // strategy.num_replicas_in_sync
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF

    def worker_stream(context):
        per_worker = batch_size // context.num_input_pipelines
        start = context.input_pipeline_id * per_worker

        def rows(*batch):
            return tuple(part[start:start + per_worker] for part in batch)

        local = dataset.with_options(options).map(rows, num_parallel_calls=tf.data.AUTOTUNE)
        return local.rebatch(per_replica).prefetch(tf.data.AUTOTUNE)

    return strategy.distribute_datasets_from_function(worker_stream)


@contextlib.contextmanager
def writable_folder(out, chief, state_files=()):
    """The folder this process writes: `out` on the chief, a temporary copy of its state elsewhere.

    Non-chief workers run the same callbacks as the chief into a folder that
    is deleted afterwards (their files would race with the chief's). It
    starts with copies of the chief's `state_files`, so every worker's
    callbacks see the same files and do the same work: reading a metric's
    variable under MultiWorkerMirroredStrategy is a collective operation, and
    workers that read different variables wait on each other for ever.
    """
    if chief:
        yield out
        return
    folder = tempfile.mkdtemp(prefix="zoo-worker-")
    try:
        for name in state_files:
            if os.path.isfile(os.path.join(out, name)):
                shutil.copy2(os.path.join(out, name), folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
