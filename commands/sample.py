"""`zoo sample`: a grid of samples."""

from commands.common import (
    UsageError,
    add_artifact_flags,
    add_sampling_flags,
    add_scale_flag,
    integers,
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
    out = args.out or output_path(args.run, RunFolder.samples_file(args.seed))
    with writing(args.run, out, "sample"):
        _sample(args, out)


def _sample(args, out):
    from reports.images import check_size, grid_layout, make_grid, write_png
    from zoo import explore
    from zoo.latents import labels_from_seeds

    generator, _ = open_generator(args.run, args.artifact, args.export_version, sampling_options(args))
    labels, columns = None, None
    if args.labels is not None:
        if not generator.num_classes:
            raise UsageError("--labels: this model is unconditional; drop --labels.")
        columns = len(args.labels) if len(args.labels) > 1 else None
    elif generator.num_classes and args.n >= generator.num_classes:
        columns = generator.num_classes  # default labels cycle: one class per column

    def check_grid(captions=None):
        layout = grid_layout(args.n, generator.image_shape, columns=columns, scale=args.scale, captions=captions)
        check_size(layout["size"], 1, f"-n {args.n} --scale {args.scale}",
                   "lower --scale or -n, or write several grids (--seed S -n N, then --seed S+N, ...)")

    check_grid()  # before anything is made for each image
    if args.labels is not None:  # repeated to n images: one class per column when several are named
        labels = [args.labels[i % len(args.labels)] for i in range(args.n)]
    captions = None
    if args.captions:
        seeds = range(args.seed, args.seed + args.n)
        shown = labels if labels is not None else labels_from_seeds(seeds, generator.num_classes)
        captions = [f"#{s}" + (f" c{int(k)}" if shown is not None else "")
                    for s, k in zip(seeds, shown if shown is not None else seeds)]
        check_grid(captions)  # captions widen the cells
    try:
        images = explore.sample(generator, args.n, seed=args.seed, truncation=args.truncation, labels=labels)
    except ValueError as error:
        raise UsageError(str(error)) from None
    write_png(out, make_grid(images, columns=columns, scale=args.scale, captions=captions))
    print(f"{args.n} samples written to {out}")


def add_parser(commands):
    sample = commands.add_parser("sample", help="write a grid of samples from a run's model")
    sample.add_argument("run", help="run folder holding model.keras, or a shipped model's name (see `zoo list`)")
    sample.add_argument("-n", "--n", type=positive, default=64, help="number of samples (default: 64)")
    sample.add_argument("--seed", type=int, default=0, help="first latent seed (default: 0)")
    sample.add_argument("--truncation", type=float, default=1.0,
                        help="psi in (0, 1]: scale the latents by psi (default: 1, off)")
    sample.add_argument("--labels", type=integers, metavar="K[,K...]",
                        help="conditional models: the class of every image (3), or classes to "
                        "repeat, one per grid column (0,1,2); default: every class in turn")
    add_sampling_flags(sample)
    add_scale_flag(sample, 1)
    sample.add_argument("--captions", action="store_true",
                        help="write each image's seed (#S) and, for conditional models, class (cK) under it")
    add_artifact_flags(sample)
    sample.add_argument("--out", help="PNG path (default: RUN/samples_seed<SEED>.png; for a shipped model "
                        "NAME_samples_seed<SEED>.png in the current directory)")
    sample.set_defaults(handler=run)
