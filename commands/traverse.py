"""`zoo traverse`: one row per latent dimension, swept while the others stay put."""

from commands.common import (
    UsageError,
    add_artifact_flags,
    add_scale_flag,
    integers,
    model_folder,
    open_generator,
    output_path,
    positive,
    positive_float,
    writing,
)


def run(args):
    from zoo.run_folder import RunFolder

    args.run = model_folder(args.run)
    out = args.out or output_path(args.run, RunFolder.TRAVERSAL)
    with writing(args.run, out, "traverse"):
        _traverse(args, out)


def _traverse(args, out):
    from reports.images import check_size, grid_layout, make_grid, write_png
    from zoo import explore

    generator, _ = open_generator(args.run, args.artifact, args.export_version)
    dims = args.dims if args.dims is not None else list(range(min(8, generator.latent_size)))
    label = None
    if args.labels is not None:
        if len(args.labels) != 1:
            raise UsageError("--labels: give one class for the traversal (e.g. --labels 7).")
        label = args.labels[0]
    layout = grid_layout(len(dims) * args.steps, generator.image_shape, columns=args.steps, scale=args.scale)
    check_size(layout["size"], 1, f"{len(dims)} dimensions x --steps {args.steps} --scale {args.scale}",
               "lower --steps or --scale, or sweep fewer --dims per file")
    try:
        frames = explore.traverse(generator, dims, value_range=args.range, steps=args.steps,
                                  seed=args.seed, label=label)
    except ValueError as error:
        raise UsageError(str(error)) from None
    write_png(out, make_grid(frames, columns=args.steps, scale=args.scale))
    print(f"dimensions {','.join(map(str, dims))} swept over [-{args.range:g}, {args.range:g}] around seed "
          f"{args.seed}'s latent, one row each, written to {out}")


def add_parser(commands):
    parser = commands.add_parser(
        "traverse", help="one row per latent dimension, swept from -R to R (most telling for VAEs)",
        description="Holds the latent of --seed and sets one dimension at a time to --steps values "
        "in [-R, R] (prior standard deviations): each row shows what that dimension controls. The "
        "latent is the one the model samples from (for a two-stage model, the second stage's).",
    )
    parser.add_argument("run", help="run folder, or a shipped model's name (see `zoo list`)")
    parser.add_argument("--dims", type=integers, metavar="D[,D...]",
                        help="latent dimensions, one row each (default: the first 8)")
    parser.add_argument("--range", type=positive_float, default=3.0, metavar="R",
                        help="sweep from -R to R (default: 3)")
    parser.add_argument("--steps", type=positive, default=9, help="images per row (default: 9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent held fixed (default: 0)")
    parser.add_argument("--labels", type=integers, metavar="K",
                        help="conditional models: the class (default: the seed's, seed %% classes)")
    add_scale_flag(parser, 4)
    add_artifact_flags(parser)
    parser.add_argument("--out", help="PNG path (default: RUN/traversal.png; NAME_traversal.png in the "
                        "current directory for a shipped model)")
    parser.set_defaults(handler=run)
