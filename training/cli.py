"""The `zoo` command line: train, export, sample, evaluate, train-classifier, list.

This is the one module that ties `zoo`, `training` and `export` together.
"""

import argparse
import ast
import contextlib
import dataclasses
import importlib.metadata
import inspect
import json
import os
import pathlib
import re
import sys


class UsageError(ValueError):
    """A flag value the user can fix."""


def _parse_assignment(text):
    """`key=value` -> (key, python value); value parsed as a literal if it is one."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--set expects key=value, got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _model_arguments(model_name, preset_name, assignments):
    """Constructor arguments from a preset and `--set` overrides, validated."""
    import zoo
    from zoo.registry import constructor_arguments

    arguments = {}
    if preset_name:
        try:
            preset_model, arguments = zoo.preset(preset_name)
        except ValueError as error:
            raise UsageError(str(error)) from None
        if model_name and model_name != preset_model:
            raise UsageError(
                f"preset {preset_name!r} is for model {preset_model!r}, not {model_name!r}"
            )
        model_name = preset_model
    if not model_name:
        raise UsageError("name a model with --model (see `zoo list`) or a --preset")
    try:
        accepted = constructor_arguments(zoo.get(model_name))
    except ValueError as error:
        raise UsageError(str(error)) from None
    for text in assignments:
        key, value = _parse_assignment(text)
        if key not in accepted:
            raise UsageError(
                f"--set {key}=...: model {model_name!r} has no hyperparameter {key!r}; "
                f"it accepts: {', '.join(sorted(accepted))}"
            )
        default = accepted[key]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"--set {key}={value!r}: expected a number like {default!r}")
        if isinstance(default, tuple) and not isinstance(value, (tuple, list)):
            raise UsageError(f"--set {key}={value!r}: expected a tuple like {','.join(map(str, default))}")
        arguments[key] = value
    try:  # the model's own checks (image sizes, step counts), before anything is written
        zoo.create(model_name, **arguments)
    except (ValueError, TypeError) as error:
        raise UsageError(f"model {model_name!r} rejects these hyperparameters: {error}") from None
    return model_name, arguments


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _model_folder(text):
    """A run folder named on the command line, or the checked folder of a shipped model."""
    import zoo

    return zoo.shipped.resolve(text)


def _output_path(run, name):
    """Where a command writes `name` for `run`: inside a run folder, in the current
    directory for a shipped model (its folder is never written)."""
    import zoo

    if zoo.shipped.is_shipped(run):
        return f"{os.path.basename(os.path.normpath(run))}_{name}"
    return os.path.join(run, name)


def cmd_train(args):
    import zoo
    from training.config import RunConfig
    from training.train import load_run_config, train

    if zoo.shipped.is_shipped(args.out):
        raise UsageError(f"--out {args.out!r} is a shipped model's folder, which is never written; "
                         "choose another --out.")

    if args.resume:
        settings = ("model", "preset", "set", "dataset", "split", "validation_split", "batch_size",
                    "steps_per_epoch", "seed", "lr", "d_lr", "g_lr", "data_dir",
                    "metrics", "metrics_every", "metrics_samples")
        given = [d for d in settings if getattr(args, d) != args.parser.get_default(d)]
        if given:
            flags = ", ".join("--" + d.replace("_", "-") for d in given)
            raise UsageError(
                f"--resume continues with the settings in {os.path.join(args.out, 'config.json')}; "
                f"drop {flags}, or start a new run (another --out, or --overwrite)."
            )
        # The folder named now is the run, even if it was moved or copied.
        run = dataclasses.replace(load_run_config(args.out), out=args.out)
        if args.epochs is not None:
            run = dataclasses.replace(run, epochs=args.epochs)
        if args.deterministic and not run.deterministic:
            raise UsageError(
                f"--deterministic changes how {args.out!r} trains, and it was not started with it: "
                "drop the flag, or start a new run with it (another --out, or --overwrite)."
            )
    else:
        model_name, model_config = _model_arguments(args.model, args.preset, args.set)
        import zoo

        # Flags override the learning rates a preset records.
        learning_rates = zoo.preset_learning_rates(args.preset) if args.preset else {}
        learning_rates.update({
            k: v for k, v in (("lr", args.lr), ("d_lr", args.d_lr), ("g_lr", args.g_lr)) if v is not None
        })

        accepted = [p for p in inspect.signature(zoo.get(model_name).default_optimizers).parameters if p != "self"]
        for key in learning_rates:
            if key not in accepted:
                flags = ", ".join("--" + k.replace("_", "-") for k in accepted)
                raise UsageError(
                    f"--{key.replace('_', '-')} does not apply to model {model_name!r}; use {flags}"
                )
        run = RunConfig(
            model=model_name,
            model_config=model_config,
            dataset=args.dataset,
            split=args.split,
            validation_split=args.validation_split,
            preset=args.preset,
            epochs=args.epochs or 1,
            batch_size=args.batch_size,
            steps_per_epoch=args.steps_per_epoch,
            seed=args.seed,
            deterministic=args.deterministic,
            learning_rates=learning_rates,
            metrics=args.metrics or [],
            metrics_every=args.metrics_every,
            metrics_samples=args.metrics_samples,
            data_dir=args.data_dir,
            out=args.out,
        )
    if train(run, resume=args.resume, overwrite=args.overwrite, backup_every=args.backup_every):
        print(f"Run written to {args.out}")


def cmd_export(args):
    from export import export_run
    from training.metrics.evaluate import export_fd
    from zoo.card import dataset_entry
    from training.train import RunFolderError, load_run_config

    import zoo

    args.run = _model_folder(args.run)
    if zoo.shipped.is_shipped(args.run):
        raise UsageError(f"{args.run!r} is a shipped model, already exported (its saved_model/, tflite/ and "
                         "exports/ folders); its folder is never written. To export it again, copy the "
                         "folder and export the copy.")
    try:
        run = load_run_config(args.run)
    except RunFolderError:  # a model.keras from a user's own script: no run settings
        run = None
    fd, fd_note = export_fd(run, args.fd_samples)
    dataset = None
    if run is not None:
        dataset = dataset_entry(run.dataset, _class_names(run))
    variants = args.variants.split(",") if args.variants else None
    # The int8 calibrator prints from C++ ("fully_quantize: 0, ..."); errors arrive as exceptions.
    with contextlib.nullcontext() if args.verbose else _native_stderr_to_devnull():
        manifest = export_run(args.run, version=args.version, force=args.force, fd=fd, dataset=dataset,
                              variants=variants)
    version = manifest["version"]
    print(f"exported version {version} of {args.run} ({fd_note}):")
    print(f"  SavedModel  {manifest['saved_model']['path']}/  signatures: {', '.join(manifest['signatures'])}")
    print(f"  {'variant':22s} {'written':8s} {'bytes':>9s} {'ms':>7s} {'PSNR':>6s} {'max diff':>8s} {'FD':>7s}")
    for name, entry in manifest["tflite"].items():
        if "quality" not in entry:
            print(f"  {name:22s} no       ({entry.get('reason', '')[:80]})")
            continue
        quality, latency = entry["quality"], entry["latency_ms"]
        fd_text = "-" if entry["fd"] is None else f"{entry['fd']:.2f}"
        ms_text = "-" if latency is None else f"{latency['median']:.3f}"
        psnr_text = "same" if quality["psnr"] is None else f"{quality['psnr']:.1f}"
        print(f"  {name:22s} {'yes' if entry['written'] else 'no':8s} {entry.get('bytes', 0):9d} "
              f"{ms_text:>7s} {psnr_text:>6s} {quality['max_abs_diff']:8d} {fd_text:>7s}"
              + (f"  ({entry['failed']})" if entry["failed"] else ""))
    print(f"  model card: {os.path.join(args.run, 'exports', str(version), 'model_card.json')}")


def _class_names(run):
    """Class names of a run's TFDS dataset, or None (image folders, unavailable datasets)."""
    from training import data

    try:
        return data.class_names(run.dataset, run.data_dir)
    except data.DatasetUnavailableError:
        return None


def _training_metrics(text):
    """`--metrics fd,dc`: metric groups `GeneratorMetrics` can measure during training."""
    from training.metrics.evaluate import METRICS

    names = [name.strip() for name in text.split(",") if name.strip()]
    allowed = sorted(set(METRICS) - {"reconstruction"})
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown training metric {', '.join(unknown) or repr(text)}; choose from {','.join(allowed)}")
    return names


def _labels(text):
    """`--labels 3` or `--labels 0,1,2` -> a list of ints."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class numbers like 3 or 0,1,2, got {text!r}") from None


def cmd_sample(args):
    import zoo
    from training.images import make_grid, write_png

    args.run = _model_folder(args.run)
    model = zoo.load(os.path.join(args.run, "model.keras"))
    labels, columns = None, None
    if args.labels is not None:
        if not model.num_classes:
            raise UsageError(f"--labels: {model.registry_name!r} is unconditional; drop --labels.")
        # Repeated to n images: one class per column when several are named.
        labels = [args.labels[i % len(args.labels)] for i in range(args.n)]
        columns = len(args.labels) if len(args.labels) > 1 else None
    elif model.num_classes and args.n >= model.num_classes:
        columns = model.num_classes  # default labels cycle: one class per column
    try:
        images = model.sample(args.n, seed=args.seed, truncation=args.truncation, labels=labels).numpy()
    except ValueError as error:
        raise UsageError(str(error)) from None
    out = args.out or _output_path(args.run, f"samples_seed{args.seed}.png")
    write_png(out, make_grid(images, columns=columns))
    print(f"{args.n} samples written to {out}")


def _artifact_generator(run, artifact, version=None):
    """`(generate(n, seed), model or None)` for a run's artifact.

    `generate` returns uint8 images, or `(images, labels)` for conditional
    models (image i asked for class `(seed + i) % num_classes`).
    """
    import zoo
    import numpy as np

    from export.signatures import MAX_BATCH
    from training.metrics.evaluate import model_generator
    from zoo.latents import labels_from_seeds

    kind, _, variant = artifact.partition(":")
    if kind == "keras":
        model = zoo.load(os.path.join(run, "model.keras"))
        return model_generator(model), model
    if kind not in ("saved_model", "tflite"):
        raise UsageError(f"--artifact {artifact!r}: use keras, saved_model or tflite[:VARIANT]")
    from export import open_saved_model, open_tflite, read_manifest

    # The exported artifacts alone, each checked (digests, ops) before it
    # runs; their `generate` signature makes the latents from the seeds.
    manifest = read_manifest(run, version)
    num_classes = manifest["image"]["num_classes"]
    if kind == "saved_model":
        signatures = open_saved_model(run, manifest).signatures
    else:
        signatures = open_tflite(run, manifest, variant or "float32").signatures

    def generate(n, seed):
        seeds = range(seed, seed + n)
        labels = labels_from_seeds(seeds, num_classes)
        inputs = {"seed": list(seeds), **({"label": labels} if labels is not None else {})}
        images = np.concatenate([
            signatures["generate"](**{key: value[start : start + MAX_BATCH] for key, value in inputs.items()})["images"]
            for start in range(0, n, MAX_BATCH)])
        return images if labels is None else (images, labels)

    return generate, None


def cmd_evaluate(args):
    from training.metrics import evaluate as evaluation
    from training.metrics.features import get_extractor
    from training.files import atomic_write_json
    from training.train import load_run_config

    try:
        metrics = evaluation.parse_metrics(args.metrics) if args.metrics else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    args.run = _model_folder(args.run)
    run = load_run_config(args.run)
    generate, model = _artifact_generator(args.run, args.artifact, args.export_version)
    reconstruct = evaluation.model_reconstructor(model) if model is not None else None
    extractor = get_extractor(args.extractor, run.dataset)
    metrics = metrics or evaluation.default_metrics(extractor, autoencoder=reconstruct is not None)
    try:
        result = evaluation.evaluate(
            generate, extractor, run.dataset, metrics=metrics, n=args.n, seed=args.seed,
            split=args.split, data_dir=run.data_dir, reconstruct=reconstruct,
        )
    except evaluation.MetricUnavailableError as error:
        raise UsageError(str(error)) from None
    nearest = result.pop("nearest_train_index", None)
    if nearest is not None:
        atomic_write_json(_output_path(args.run, "nearest_train.json"),
                          {"artifact": args.artifact, "seed": args.seed, "nearest_train_index": nearest})
    result["artifact"] = args.artifact
    atomic_write_json(_output_path(args.run, "metrics.json"), result)
    print(json.dumps(result, indent=2))


def cmd_train_classifier(args):
    from training.metrics.classifier import train_classifier

    out = args.out or os.path.join("saved_models", f"{args.dataset}_classifier")
    card = train_classifier(
        args.dataset, out, epochs=args.epochs, batch_size=args.batch_size,
        seed=args.seed, data_dir=args.data_dir, command=["zoo", *sys.argv[1:]],
    )
    print(json.dumps(card, indent=2))


def cmd_list(args):
    import zoo
    from training import data
    from zoo.registry import constructor_arguments

    print("Models (zoo train --model NAME --set key=value):")
    for name in zoo.names():
        cls = zoo.get(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"  {name:10s} {cls.__name__}: {summary}")
        defaults = ", ".join(f"{k}={v!r}" for k, v in constructor_arguments(cls).items())
        print(f"             {defaults}")
    print("\nPresets (zoo train --preset NAME):")
    for name in sorted(zoo.PRESETS):
        model_name, arguments = zoo.preset(name)
        rates = zoo.preset_learning_rates(name)
        print(f"  {name:24s} {model_name}: {arguments}" + (f" {rates}" if rates else ""))
    print("\nShipped models (zoo sample NAME, zoo.load(NAME); 10k generated vs the 10k test images):")
    for name in zoo.shipped.names():
        card = zoo.shipped.card(name)
        measured = card.get("metrics", {})
        figures = ", ".join(f"{key} {measured[key]:.3g}" for key in ("fd", "coverage", "class_accuracy", "psnr")
                            if isinstance(measured.get(key), (int, float)))
        print(f"  {name:28s} {card.get('model', '?')}: {figures}")
    print("\nDatasets (zoo train --dataset NAME; any TFDS image dataset works):")
    for name in data.KNOWN_DATASETS:
        print(f"  {name:14s} {data.availability(name, args.data_dir)}")


def version():
    """The installed package's version, read without importing TensorFlow."""
    try:
        return importlib.metadata.version("keras-gen-zoo")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        source = (pathlib.Path(__file__).parents[1] / "zoo" / "__init__.py").read_text()
        return re.search(r'__version__ = "([^"]+)"', source).group(1)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (and exit status 2), not the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser():
    parser = _Parser(
        prog="zoo",
        description="Train, export and sample Keras GANs and VAEs.",
    )
    parser.add_argument("--version", action="version", version=f"zoo {version()}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines (C++ start-up messages, warnings)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    train = commands.add_parser(
        "train", help="train a model with model.fit and write a run folder",
        description="Train a model on a TFDS image dataset. Writes OUT/model.keras "
        "(every epoch), config.json, history.json, samples/epoch_NNN.png and "
        "TensorBoard logs in OUT/logs.",
    )
    train.add_argument("--model", help="registered model name (see `zoo list`)")
    train.add_argument("--preset", help="named hyperparameter set (see `zoo list`)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a constructor argument, e.g. --set latent_dim=128 "
                       "--set image_shape=32,32,3 (repeatable)")
    train.add_argument("--dataset", default="fashion_mnist", help="TFDS dataset name (default: fashion_mnist)")
    train.add_argument("--split", default="train", help="TFDS split to train on (default: train)")
    train.add_argument("--validation-split", help="TFDS split for validation_data, e.g. test")
    train.add_argument("--epochs", type=_positive, help="epochs to train in total (default: 1)")
    train.add_argument("--batch-size", type=_positive, default=128, help="default: 128")
    train.add_argument("--steps-per-epoch", type=_positive, help="batches per epoch (default: the whole split)")
    train.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise (default: 0)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (single-optimizer models)")
    train.add_argument("--d-lr", type=_positive_float, help="discriminator learning rate (GANs)")
    train.add_argument("--g-lr", type=_positive_float, help="generator learning rate (GANs)")
    train.add_argument("--metrics", type=_training_metrics, metavar="NAME[,NAME...]",
                       help="generator metrics logged as val_* (e.g. fd,dc); with fd, best.keras "
                            "keeps the epoch of lowest val_fd")
    train.add_argument("--metrics-every", type=_positive, default=1, metavar="K",
                       help="measure the metrics every K epochs (default: 1)")
    train.add_argument("--metrics-samples", type=_positive, default=2000, metavar="N",
                       help="generated and real images per measurement (default: 2000)")
    train.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own)")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--deterministic", action="store_true",
                       help="TensorFlow op determinism: the same command gives bitwise the same "
                       "weights, also after a crash and resume (somewhat slower)")
    train.add_argument("--backup-every", type=_non_negative, default=500, metavar="STEPS",
                       help="back up the whole training state every STEPS steps, and after every "
                       "epoch; 0: after epochs only (default: 500)")
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the run in OUT with its stored settings up to --epochs "
                      "(how a finished run is extended); re-running the same command also continues it")
    mode.add_argument("--overwrite", action="store_true", help="replace a run already in OUT")
    train.set_defaults(handler=cmd_train, parser=train)

    export = commands.add_parser(
        "export", help="export a run's generator to SavedModel and TFLite",
        description="Write version N of a run's export: RUN/saved_model/N (TF Serving layout, with "
        "warm-up requests and the model card), RUN/tflite/N/generator_<variant>.tflite (float32, "
        "float16, dynamic_int8, int8, float32_dynamic_batch: each variant that keeps its quality "
        "threshold) and RUN/exports/N/model_card.json. Other versions are not touched.",
    )
    export.add_argument("run", help="run folder holding model.keras")
    export.add_argument("--version", type=_positive, default=1, help="export version to write (default: 1)")
    export.add_argument("--force", action="store_true",
                        help="also write quantized variants that fail their quality threshold")
    export.add_argument("--variants", metavar="NAME[,NAME...]",
                        help="TFLite variants to convert (default: all; float32 is always written)")
    export.add_argument("--fd-samples", type=_non_negative, default=10000, metavar="N",
                        help="images for each variant's FD against the test split (default: 10000; "
                        "0: gate on PSNR and pixel differences only)")
    export.set_defaults(handler=cmd_export)

    sample = commands.add_parser("sample", help="write a grid of samples from a run's model")
    sample.add_argument("run", help="run folder holding model.keras, or a shipped model's name (see `zoo list`)")
    sample.add_argument("-n", "--n", type=_positive, default=64, help="number of samples (default: 64)")
    sample.add_argument("--seed", type=int, default=0, help="first latent seed (default: 0)")
    sample.add_argument("--truncation", type=float, default=1.0,
                        help="psi in (0, 1]: scale the latents by psi (default: 1, off)")
    sample.add_argument("--labels", type=_labels, metavar="K[,K...]",
                        help="conditional models: the class of every image (3), or classes to "
                        "repeat, one per grid column (0,1,2); default: every class in turn")
    sample.add_argument("--out", help="PNG path (default: RUN/samples_seed<SEED>.png; for a shipped model NAME_samples_seed<SEED>.png in the current directory)")
    sample.set_defaults(handler=cmd_sample)

    evaluate = commands.add_parser(
        "evaluate", help="measure a run's generator against real data",
        description="Generate N images from an artifact, compare them with N real images "
        "in a feature space and write RUN/metrics.json.",
    )
    evaluate.add_argument("run", help="run folder, or a shipped model's name (see `zoo list`)")
    evaluate.add_argument("--metrics", help="comma list of fd,kid,is,pr,dc,coverage,classes,"
                          "memorisation,reconstruction (default: fd,kid,is,pr,dc,classes; "
                          "plus reconstruction for VAEs)")
    evaluate.add_argument("-n", "--n", type=_positive, default=10000, help="images per set (default: 10000)")
    evaluate.add_argument("--artifact", default="keras",
                          help="keras, saved_model or tflite[:VARIANT], VARIANT one of float32 (default), "
                          "float16, dynamic_int8, int8, float32_dynamic_batch (default: keras)")
    evaluate.add_argument("--version", dest="export_version", type=_positive, metavar="N",
                          help="export version of --artifact (default: the latest)")
    evaluate.add_argument("--extractor", default="domain",
                          help="domain (the dataset's classifier, default), fid:GRAPH.pb (the 2015 FID "
                          "Inception network), inception[:imagenet|:FILE|:random] (Keras InceptionV3), "
                          "or a folder written by train-classifier")
    evaluate.add_argument("--split", default="test", help="real reference split (default: test)")
    evaluate.add_argument("--seed", type=int, default=0, help="first latent seed (default: 0)")
    evaluate.set_defaults(handler=cmd_evaluate)

    classifier = commands.add_parser(
        "train-classifier", help="train the domain classifier that evaluation uses as feature extractor",
        description="Train a small CNN on a labelled dataset; writes classifier.keras and "
        "model_card.json (with its test accuracy) to OUT.",
    )
    classifier.add_argument("--dataset", default="fashion_mnist", help="labelled TFDS dataset (default: fashion_mnist)")
    classifier.add_argument("--epochs", type=_positive, default=5, help="default: 5")
    classifier.add_argument("--batch-size", type=_positive, default=128, help="default: 128")
    classifier.add_argument("--seed", type=int, default=0, help="default: 0")
    classifier.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own)")
    classifier.add_argument("--out", help="folder to write (default: saved_models/DATASET_classifier)")
    classifier.set_defaults(handler=cmd_train_classifier)

    listing = commands.add_parser("list", help="list models, presets and datasets")
    listing.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own)")
    listing.set_defaults(handler=cmd_list)
    return parser


def _user_errors():
    from export import ArtifactError, ExportError
    from training.data import DatasetUnavailableError, LabelMismatchError
    from training.callbacks import BackupError
    from training.train import RunFolderError
    from training.metrics.features import ExtractorUnavailableError
    from zoo.registry import ModelFileError
    from zoo.shipped import ShippedModelError

    return (UsageError, ShippedModelError, ExportError, ArtifactError, DatasetUnavailableError, RunFolderError, ModelFileError,
            ExtractorUnavailableError, LabelMismatchError, BackupError)


@contextlib.contextmanager
def _native_stderr_to_devnull():
    """Points file descriptor 2 at /dev/null: what TensorFlow's C++ side prints goes nowhere."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _quiet_native_logs():
    """Silences what TensorFlow's C++ side prints to stderr while it loads.

    `TF_CPP_MIN_LOG_LEVEL` does not cover the lines absl writes before its
    logging is initialised (CUDA probes, "All log messages before
    absl::InitializeLog()"), so file descriptor 2 points at /dev/null while
    TensorFlow is imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_to_devnull():
        import tensorflow as tf
    import logging
    import warnings

    tf.get_logger().setLevel("ERROR")
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")
    # The project's own warnings (e.g. skipped image files) as one line each.
    warnings.formatwarning = lambda message, category, *rest, **kwargs: f"zoo: warning: {message}\n"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        _quiet_native_logs()
    try:
        args.handler(args)
    except _user_errors() as error:
        print(f"zoo {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zoo {args.command}: interrupted; files written so far are kept.", file=sys.stderr)
        return 130
    except _stops() as error:
        print(f"zoo {args.command}: {_one_line(error)}", file=sys.stderr)
        return 1
    except OSError as error:  # a path the user named cannot be written or read
        where = f" {error.filename!r}" if error.filename else ""
        print(f"zoo {args.command}: error: cannot write or read{where} ({error.strerror or error}); "
              "check the path and its permissions.", file=sys.stderr)
        return 2
    return 0


def _stops():
    from training.callbacks import NonFiniteError

    return (NonFiniteError,)


def _one_line(error):
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
