"""Turns a finished run into a shipped model folder (`zoo.shipped`).

    python -m commands.ship RUN NAME --out saved_models/NAME

The folder gets the run's best model (`best.keras`, kept by `val_fd`, else
`model.keras`) without optimizer state, its `config.json` and
`history.json`, the full export (SavedModel, every `.tflite` variant that
passes its gate, the export's card), a 64-image `samples.png`, and a
`model_card.json`: the export's card plus the evaluator's metrics at the
project's protocol (10,000 generated images vs the 10,000 test images,
domain extractor; for an image folder, its held-out slice through the
run's extractor), how FD moved over training, the hardware and wall time,
and the sha256 of every file. It is built beside `--out` and renamed into
place, so a failure leaves no half-written model.

    python -m commands.ship saved_models/NAME NAME --out NEW --reexport

makes a shipped folder's export again with this checkout's export code (new
gates, card fields), keeping its model and its card's metrics and training
record; swap `NEW` in for the old folder.
"""

import argparse
import json
import os
import platform
import shutil
import sys

import zoo
from evaluation import evaluate as evaluation
from evaluation.features import get_extractor
from export import export_run
from export.tflite import VARIANTS
from reports.images import make_grid, write_png
from training import data
from training.callbacks import read_history
from training.train import load_run_config
from zoo.card import dataset_entry
from zoo.files import atomic_write_json, sha256_file
from zoo.run_folder import RunFolder

#: Metric groups measured for every shipped model (reconstruction for VAEs).
METRICS = ("fd", "dc", "pr", "classes")
#: LiteRT files shipped: the float32 reference and the full-integer file
#: (for NPUs and integer-only accelerators, and the fastest on CPUs). float16,
#: dynamic_int8 and float32_dynamic_batch pass their gates too but are left
#: out so that the shipped models fit the 60 MB of `saved_models/`; `zoo export` of
#: a copy of the folder makes them.
SHIPPED_VARIANTS = ("float32", "int8")


def without_optimizer(model):
    """An uncompiled copy of `model` with the same weights: a `.keras` file without optimizer state."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _training_seconds(logs_dir):
    """Seconds the run trained: for each process that wrote TensorBoard training events (the first
    `zoo train` and every `--resume`), its first event to its last epoch's end, summed, so the time
    between an interrupted process and its resume is not counted."""
    import tensorflow as tf

    train_dir = os.path.join(logs_dir, "train")
    total, measured = 0.0, False
    for name in sorted(os.listdir(train_dir)) if os.path.isdir(train_dir) else []:
        start, end = None, None
        for event in tf.compat.v1.train.summary_iterator(os.path.join(train_dir, name)):
            start = event.wall_time if start is None else min(start, event.wall_time)
            if any(value.tag.startswith("epoch_") for value in event.summary.value):
                end = event.wall_time if end is None else max(end, event.wall_time)
        if end is not None:
            total, measured = total + end - start, True
    return round(total, 1) if measured else None


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def training_record(run_dir, run, history):
    """The card's `training` entry: command, settings, FD curve, hardware, wall time."""
    curve = [
        {"epoch": epoch, **{key: history[key][i] for key in ("val_fd", "val_coverage", "val_class_accuracy")
                            if i < len(history.get(key, [])) and history[key][i] is not None}}
        for i, epoch in enumerate(history.get("epoch", []))
    ]
    curve = [row for row in curve if "val_fd" in row]
    best = min(curve, key=lambda row: row["val_fd"]) if curve else None
    with open(RunFolder(run_dir).config) as f:
        commands = json.load(f).get("commands", [])
    return {
        # As typed: `zoo train ...` (the recorded argv starts with the script's full path).
        "commands": [["zoo", *command[1:]] for command in commands],
        "config": json.loads(run.to_json()),
        "epochs": len(history.get("epoch", [])),
        "kept_epoch": best["epoch"] if best else len(history.get("epoch", [])),
        "kept_because": f"lowest val_fd ({RunFolder.BEST})" if best else f"last epoch ({RunFolder.MODEL})",
        "fd_curve": {"protocol": f"{run.metrics_samples} generated vs {run.metrics_samples} {run.held_out_split} "
                                 f"images, {run.extractor} extractor (biased above the card's metrics at more "
                                 "images)", "rows": curve},
        "wall_time_seconds": _training_seconds(RunFolder(run_dir).logs),
        "wall_time_measured": "each training process's first TensorBoard event to its last epoch's, summed over "
                              "the first run and its resumes; metric measurements included; the CPU may have "
                              "been shared with other work",
        "hardware": {"cpu": _cpu_name(), "cpu_count": os.cpu_count(), "accelerator": None},
        "optimizer_state": "left out of model.keras to save space; compile before training it further",
    }


def ship(run_dir, name, out, n=10000, variants=SHIPPED_VARIANTS, drop_ema=False, average_only=False,
         dataset_source=None, dataset_licence=None):
    """Writes the shipped model `name` from `run_dir` into the new folder `out`; returns its card.

    `drop_ema` ships the trained weights instead of their average (for a
    model whose average measured worse); `average_only` ships the average
    as the model's one network (`model.average_only()`: the same samples
    from a `.keras` file one copy of the weights smaller). `dataset_source`
    and `dataset_licence` say, for an image folder, where its images came
    from and under which licence (the card's `dataset`).
    """
    if drop_ema and average_only:
        raise ValueError("drop_ema and average_only keep opposite weights; choose one.")
    if os.path.exists(out):
        raise FileExistsError(f"{out!r} exists; remove it first (a shipped folder is written once).")
    run = load_run_config(run_dir)
    split = run.held_out_split
    if split is None:
        raise ValueError(f"{run_dir!r} was trained on {run.dataset!r} without a --validation-split: a shipped "
                         "card's figures need held-out images.")
    source = RunFolder(run_dir)
    history = read_history(source.history)
    staging = RunFolder(_staging(out, name))
    for file in (RunFolder.CONFIG, RunFolder.HISTORY):
        shutil.copy2(source.join(file), staging.join(file))
    model = without_optimizer(zoo.load(source.best if os.path.exists(source.best) else source.model))
    raw = model.without_average()
    if (average_only or drop_ema) and raw is None:
        raise ValueError(f"{run_dir!r}: the model keeps no weight average (ema_decay); drop "
                         f"{'--average-only' if average_only else '--drop-ema'}.")
    if average_only:
        model = model.average_only()
    ema_fd = None
    if drop_ema:
        extractor = get_extractor(run.extractor, run.dataset)
        ema_fd = evaluation.evaluate(evaluation.model_generator(model), extractor, run.dataset, metrics=("fd",),
                                     n=n, seed=0, split=split, data_dir=run.data_dir)["fd"]
        model = raw
    model.save(staging.model)

    fd, _ = evaluation.export_fd(run, n)
    dataset = dataset_entry(run.dataset, data.class_names(run.dataset, run.data_dir))
    if dataset_source:
        dataset["source"] = dataset_source
    if dataset_licence:
        dataset["licence"] = dataset_licence
    export_card = export_run(staging.path, version=1, fd=fd, dataset=dataset, variants=list(variants))

    extractor = get_extractor(run.extractor, run.dataset)
    reconstruct = evaluation.model_reconstructor(model)
    measured = evaluation.evaluate(
        evaluation.model_generator(model), extractor, run.dataset,
        metrics=METRICS + (("reconstruction",) if reconstruct else ()), n=n, seed=0,
        split=split, data_dir=run.data_dir, reconstruct=reconstruct)
    measured.pop("nearest_train_index", None)
    if ema_fd is not None:
        measured["fd_of_dropped_ema"] = ema_fd
    if raw is not None and not drop_ema:
        # What the weight average buys: the same FD of the network being trained.
        measured["fd_without_ema"] = evaluation.evaluate(
            evaluation.model_generator(raw), extractor, run.dataset, metrics=("fd",), n=n, seed=0,
            split=split, data_dir=run.data_dir)["fd"]
    labels = [i % model.num_classes for i in range(64)] if model.num_classes else None
    write_png(staging.join(RunFolder.SAMPLES_GRID),
              make_grid(model.sample(64, seed=0, labels=labels).numpy(), columns=model.num_classes or None))

    card = dict(export_card, name=name)
    extractor_kind = "domain" if run.extractor == "domain" else f"the {run.extractor} domain"
    card["metrics"] = {**measured, "protocol": f"{n} generated (seeds 0..{n - 1}) vs {measured['n_real']} "
                                               f"{run.dataset} {split} images, {extractor_kind} extractor "
                                               "(zoo evaluate)"}
    card["training"] = training_record(run_dir, run, history)
    card["export"] = RunFolder.export_paths(export_card["version"]).manifest
    if drop_ema:
        card["ema"] = ("trained with ema_decay; shipped without the averaged copy (ema_decay=0, the trained "
                       "generator's weights), whose FD (metrics.fd_of_dropped_ema) was worse")
    if average_only:
        card["ema"] = ("trained with ema_decay; shipped as the weight average alone (ema_decay=0, the average's "
                       "weights); metrics.fd_without_ema is the trained network's FD")
    return _finish(staging.path, out, card, variants)


def reexport(folder, name, out, n=10000, variants=SHIPPED_VARIANTS):
    """Writes the shipped folder `folder` again into the new folder `out`, with this checkout's export.

    For a shipped model whose training run is gone (`zoo export` refuses a
    shipped folder): `model.keras`, `config.json`, `history.json` and
    `samples.png` are copied byte for byte, the export (SavedModel, LiteRT
    variants, their card, FD at `n` images) is made again, and the card
    keeps the old card's `metrics`, `training` and `ema`, which describe
    the same `model.keras` (checked by its sha256).

    Returns:
        the new folder's card.
    """
    if os.path.exists(out):
        raise FileExistsError(f"{out!r} exists; write the new folder elsewhere, then swap it in.")
    with open(RunFolder(folder).card) as f:
        old = json.load(f)
    if old.get("name") != name:
        raise ValueError(f"{folder!r} holds the shipped model {old.get('name')!r}, not {name!r}")
    staging = RunFolder(_staging(out, name))
    for file in (RunFolder.MODEL, RunFolder.CONFIG, RunFolder.HISTORY, RunFolder.SAMPLES_GRID):
        shutil.copy2(RunFolder(folder).join(file), staging.join(file))
    if sha256_file(staging.model) != old["files"].get(RunFolder.MODEL):
        raise ValueError(f"{folder}/{RunFolder.MODEL} differs from the sha256 its card records, so the card's "
                         "metrics would not describe it; ship the run again instead")
    fd, _ = evaluation.export_fd(load_run_config(staging.path), n)
    export_card = export_run(staging.path, version=1, fd=fd, dataset=old["dataset"], variants=list(variants))
    card = dict(export_card, name=name)
    card.update({key: old[key] for key in ("metrics", "training", "ema") if key in old})
    card["export"] = RunFolder.export_paths(export_card["version"]).manifest
    card["reexported"] = ("the export was made again from the shipped folder (python -m commands.ship "
                          "--reexport; the training run was not kept): model.keras, config.json, history.json "
                          "and samples.png are the earlier ship's, byte for byte, and metrics and training are "
                          "its card's, measured on the same model.keras")
    return _finish(staging.path, out, card, variants)


def _staging(out, name):
    """An empty folder named `name` beside `out`, to build it in (the export names itself after its folder)."""
    staging = os.path.join(os.path.normpath(out) + ".staging", name)
    shutil.rmtree(os.path.dirname(staging), ignore_errors=True)
    os.makedirs(staging)
    return staging


def _finish(staging, out, card, variants):
    """Completes `card` with the variants left out and every file's sha256, writes it, renames `staging` to `out`."""
    card["variants_left_out"] = {
        "names": [v.name for v in VARIANTS if v.name not in variants],
        "why": "size: the shipped folders share a 60 MB budget; copy the folder and `zoo export` the copy "
               "to make them"}
    files = sorted(os.path.relpath(os.path.join(root, f), staging)
                   for root, _, names in os.walk(staging) for f in names)
    card["files"] = {f: sha256_file(os.path.join(staging, f)) for f in files if f != RunFolder.CARD}
    atomic_write_json(RunFolder(staging).card, card)
    os.rename(staging, out)
    os.rmdir(os.path.dirname(staging))
    return card


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m commands.ship", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="finished run folder")
    parser.add_argument("name", help="the shipped model's name, e.g. dcgan_fashion_mnist")
    parser.add_argument("--out", required=True, help="folder to create, e.g. saved_models/NAME")
    parser.add_argument("-n", type=int, default=10000, help="images per set for the metrics (default: 10000)")
    parser.add_argument("--variants", default=",".join(SHIPPED_VARIANTS),
                        help=f"LiteRT variants to ship (default: {','.join(SHIPPED_VARIANTS)})")
    parser.add_argument("--drop-ema", action="store_true",
                        help="ship the trained generator instead of its EMA copy (GANs with ema_decay)")
    parser.add_argument("--average-only", action="store_true",
                        help="ship the weight average as the one network (models with ema_decay): the same "
                             "samples from a .keras file one copy of the weights smaller")
    parser.add_argument("--dataset-source", help="where an image folder's images came from, for the card")
    parser.add_argument("--dataset-licence", help="their licence, for the card")
    parser.add_argument("--reexport", action="store_true",
                        help="RUN is a shipped folder whose training run is gone: export its model.keras "
                             "again, keeping its card's metrics and training record")
    args = parser.parse_args(argv)
    if args.reexport:
        card = reexport(args.run, args.name, args.out, n=args.n, variants=args.variants.split(","))
    else:
        card = ship(args.run, args.name, args.out, n=args.n, variants=args.variants.split(","),
                    drop_ema=args.drop_ema, average_only=args.average_only, dataset_source=args.dataset_source,
                    dataset_licence=args.dataset_licence)
    print(json.dumps({"name": card["name"], "metrics": card["metrics"],
                      "bytes": sum(os.path.getsize(os.path.join(args.out, f)) for f in card["files"])}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
