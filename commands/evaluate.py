"""`zoo evaluate`: measure a generator against real data."""

import json

from commands.common import (
    UsageError,
    add_artifact_flags,
    add_sampling_flags,
    model_folder,
    open_generator,
    output_path,
    positive,
    sampling_options,
    writing,
)


def run(args):
    from zoo.run_folder import RunFolder

    args.run = model_folder(args.run)
    out = output_path(args.run, RunFolder.METRICS)
    with writing(args.run, out, "evaluate", has_out=False):
        _evaluate(args, out)


def _evaluate(args, out):
    from evaluation import evaluate as evaluation
    from evaluation.features import get_extractor
    from training.train import load_run_config
    from zoo.explore import seeded
    from zoo.files import atomic_write_json
    from zoo.limits import check_samples
    from zoo.run_folder import RunFolder

    try:
        metrics = evaluation.parse_metrics(args.metrics) if args.metrics else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    run = load_run_config(args.run)
    sampling = sampling_options(args)
    generator, model = open_generator(args.run, args.artifact, args.export_version, sampling)
    check_samples(args.n, generator.image_shape, f"-n {args.n}")
    generate = seeded(generator)
    reconstruct = evaluation.model_reconstructor(model) if model is not None else None
    split = args.split or run.held_out_split
    if split is None:
        raise UsageError(f"{run.dataset!r} has one split, and {args.run!r} was trained without a "
                         "--validation-split to hold images out; pass the held-out slice, e.g. --split "
                         "'train[90%:]' (an evaluation against images it trained on flatters it).")
    extractor = get_extractor(args.extractor or run.extractor, run.dataset)
    metrics = metrics or evaluation.default_metrics(extractor, autoencoder=reconstruct is not None)
    try:
        result = evaluation.evaluate(
            generate, extractor, run.dataset, metrics=metrics, n=args.n, seed=args.seed,
            split=split, data_dir=run.data_dir, reconstruct=reconstruct, train_split=run.split,
        )
    except evaluation.MetricUnavailableError as error:
        raise UsageError(str(error)) from None
    nearest = result.pop("nearest_train_index", None)
    if nearest is not None:
        atomic_write_json(output_path(args.run, RunFolder.NEAREST_TRAIN),
                          {"artifact": args.artifact, "seed": args.seed, "nearest_train_index": nearest})
    result["artifact"] = args.artifact
    if model is not None and model.contract.sampling_options:
        result["sampling"] = model.contract.sampling_options
    atomic_write_json(out, result)
    print(json.dumps(result, indent=2))


def add_parser(commands):
    evaluate = commands.add_parser(
        "evaluate", help="measure a run's generator against real data",
        description="Generate N images from an artifact, compare them with N real images "
        "in a feature space and write RUN/metrics.json.",
    )
    evaluate.add_argument("run", help="run folder, or a shipped model's name (see `zoo list`)")
    evaluate.add_argument("--metrics", help="comma list of fd,kid,is,pr,dc,coverage,classes,"
                          "memorisation,reconstruction (default: fd,kid,is,pr,dc,classes; "
                          "plus reconstruction for VAEs)")
    evaluate.add_argument("-n", "--n", type=positive, default=10000, help="images per set (default: 10000)")
    add_artifact_flags(evaluate)
    add_sampling_flags(evaluate)
    evaluate.add_argument("--extractor",
                          help="domain (the dataset's classifier), fid:GRAPH.pb (the 2015 FID "
                          "Inception network), inception[:imagenet|:FILE|:random] (Keras InceptionV3), "
                          "or a folder written by train-classifier (default: the run's, domain unless "
                          "`zoo train --extractor` named another)")
    evaluate.add_argument("--split", help="real reference split (default: test; for an image folder, the "
                          "run's --validation-split)")
    evaluate.add_argument("--seed", type=int, default=0, help="first latent seed (default: 0)")
    evaluate.set_defaults(handler=run)
