"""`zoo train`: train a model with model.fit and write a run folder."""

import argparse
import dataclasses
import inspect
import os

from commands.common import UsageError, assignment, non_negative, positive, positive_float
from training.config import PRECISIONS, STRATEGIES


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
        key, value = assignment(text)
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


def _training_metrics(text):
    """`--metrics fd,dc`: metric groups `GeneratorMetrics` can measure during training."""
    from evaluation.evaluate import METRICS

    names = [name.strip() for name in text.split(",") if name.strip()]
    allowed = sorted(set(METRICS) - {"reconstruction"})
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown training metric {', '.join(unknown) or repr(text)}; choose from {','.join(allowed)}")
    return names


#: What `--resume` may be given besides the folder: how long to train, how often
#: to back up (and --deterministic, checked on its own), and the flags of
#: `zoo` itself (and `argv`, the command line `main` was given); every other flag of
#: `zoo train` sets what its config.json holds.
RESUMABLE = ("out", "resume", "overwrite", "epochs", "backup_every", "deterministic", "command", "verbose", "argv")


def run(args):
    import zoo
    from evaluation.callbacks import metric_callbacks
    from training.config import RunConfig
    from training.train import load_run_config, train

    if zoo.shipped.is_shipped(args.out):
        raise UsageError(f"--out {args.out!r} is a shipped model's folder, which is never written; "
                         "choose another --out.")

    # Before anything runs in TensorFlow (building a model to check the
    # hyperparameters does): a multi-worker strategy must come first.
    from training import distribute
    from training.train import load_run_config as stored

    distribute.make_strategy(stored(args.out).strategy if args.resume else args.strategy)

    if args.resume:
        given = [dest for dest, value in vars(args).items()
                 if dest not in RESUMABLE and value != args.parser.get_default(dest)]
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
                flags = ", ".join("--" + k.replace("_", "-") for k in accepted if k.endswith("lr"))
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
            precision=args.precision,
            strategy=args.strategy,
            learning_rates=learning_rates,
            metrics=args.metrics or [],
            metrics_every=args.metrics_every,
            metrics_samples=args.metrics_samples,
            extractor=args.extractor,
            data_dir=args.data_dir,
            out=args.out,
        )
        _check_held_out(run)
    if train(run, resume=args.resume, overwrite=args.overwrite, backup_every=args.backup_every,
             metric_callbacks=metric_callbacks, command=["zoo", *args.argv]):
        strategy = distribute.make_strategy(run.strategy)
        if distribute.is_chief(strategy):
            print(f"Run written to {args.out}")
        else:
            kind, index = distribute.task()
            print(f"{kind} {index}: trained its share; the chief writes {args.out}")


def _check_held_out(run):
    """Before any training: an image folder's metrics need held-out images, and the run's extractor."""
    from training import data

    if not run.dataset.startswith(data.FOLDER_PREFIX):
        return
    if run.metrics and not run.validation_split:
        raise UsageError(f"--metrics on {run.dataset!r} need images held out from training: pass "
                         "--split 'train[:90%]' --validation-split 'train[90%:]' (an image folder's one "
                         "split, train, sliced).")
    if run.validation_split:
        data.check_held_out(run.dataset, run.split, run.validation_split)
    if run.metrics:
        from evaluation.features import ExtractorUnavailableError, get_extractor

        try:
            get_extractor(run.extractor, run.dataset)
        except ExtractorUnavailableError as error:
            raise UsageError(str(error)) from None


def add_parser(commands):
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
    train.add_argument("--dataset", default="fashion_mnist",
                       help="TFDS dataset name, or folder:PATH (images in one subfolder per class, or flat) "
                       "(default: fashion_mnist)")
    train.add_argument("--split", default="train",
                       help="split to train on, e.g. train or train[:90%%] (default: train)")
    train.add_argument("--validation-split",
                       help="split for validation_data, e.g. test; for an image folder, the held-out slice "
                       "that --metrics and `zoo evaluate` compare with, e.g. train[90%%:]")
    train.add_argument("--epochs", type=positive, help="epochs to train in total (default: 1)")
    train.add_argument("--batch-size", type=positive, default=128, help="default: 128")
    train.add_argument("--steps-per-epoch", type=positive, help="batches per epoch (default: the whole split)")
    train.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise (default: 0)")
    train.add_argument("--lr", type=positive_float, help="learning rate (single-optimizer models)")
    train.add_argument("--d-lr", type=positive_float, help="discriminator learning rate (GANs)")
    train.add_argument("--g-lr", type=positive_float, help="generator learning rate (GANs)")
    train.add_argument("--metrics", type=_training_metrics, metavar="NAME[,NAME...]",
                       help="generator metrics logged as val_* (e.g. fd,dc); with fd, best.keras "
                            "keeps the epoch of lowest val_fd")
    train.add_argument("--metrics-every", type=positive, default=1, metavar="K",
                       help="measure the metrics every K epochs (default: 1)")
    train.add_argument("--metrics-samples", type=positive, default=2000, metavar="N",
                       help="generated and real images per measurement (default: 2000)")
    train.add_argument("--extractor", default="domain", metavar="EXTRACTOR",
                       help="feature extractor of --metrics and of `zoo evaluate`: domain (the dataset's "
                       "shipped classifier, default) or a folder written by `zoo train-classifier` "
                       "(needed for an image folder)")
    train.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own)")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--deterministic", action="store_true",
                       help="TensorFlow op determinism: the same command gives bitwise the same "
                       "weights, also after a crash and resume (somewhat slower)")
    train.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="Keras dtype policy: mixed_bfloat16 or mixed_float16 compute in 16 bits with "
                       "float32 variables (float16 with loss scaling on every optimizer); measure it, "
                       "it is not always faster on a CPU (default: float32)")
    train.add_argument("--strategy", choices=STRATEGIES,
                       help="tf.distribute: mirrored (every local device) or multi_worker (every process "
                       "of the cluster in TF_CONFIG, e.g. {\"cluster\": {\"worker\": [\"host1:12345\", "
                       "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}; worker 0 "
                       "writes OUT, which every worker must be able to read); --batch-size is the global batch")
    train.add_argument("--backup-every", type=non_negative, default=500, metavar="STEPS",
                       help="back up the whole training state every STEPS steps, and after every "
                       "epoch; 0: after epochs only (default: 500)")
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the run in OUT with its stored settings up to --epochs "
                      "(how a finished run is extended); re-running the same command also continues it")
    mode.add_argument("--overwrite", action="store_true", help="replace a run already in OUT")
    train.set_defaults(handler=run, parser=train)
