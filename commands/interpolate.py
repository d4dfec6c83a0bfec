"""`zoo interpolate`: a walk through latent space, or a class-to-class morph, as a GIF or a PNG strip."""

from commands.common import (
    UsageError,
    add_artifact_flags,
    add_scale_flag,
    integers,
    model_folder,
    open_generator,
    output_path,
    positive,
    writing,
)


def run(args):
    from zoo.run_folder import RunFolder

    args.run = model_folder(args.run)
    args.out = args.out or output_path(args.run, RunFolder.INTERPOLATION)
    if not args.out.lower().endswith((".gif", ".png")):
        raise UsageError(f"--out {args.out!r}: name a .gif (animation) or a .png (strip) file.")
    with writing(args.run, args.out, "interpolate"):
        _interpolate(args)


def _interpolate(args):
    import zoo
    from reports.images import check_size, grid_layout, write_images
    from zoo import explore

    generator, _ = open_generator(args.run, args.artifact, args.export_version)
    morph = args.labels is not None and len(args.labels) > 1
    frames = explore.path_frames(len(args.labels if morph else args.seeds), args.steps)
    height, width = generator.image_shape[:2]
    if args.out.lower().endswith(".gif"):
        check_size((height * args.scale, width * args.scale), frames, f"--steps {args.steps} --scale {args.scale}",
                   "lower --steps or --scale, or walk fewer seeds per file")
    else:
        layout = grid_layout(frames, (height, width), columns=args.columns or frames, scale=args.scale)
        check_size(layout["size"], 1, f"--steps {args.steps} --scale {args.scale}",
                   "lower --steps or --scale, wrap the strip with --columns, or walk fewer seeds per file")
    try:
        if morph:
            if generator.mix_classes is None:
                raise UsageError(
                    f"--labels {','.join(map(str, args.labels))}: class-to-class morphs need a conditional "
                    "model.keras (exported signatures take integer labels); drop --artifact"
                    + ("" if generator.num_classes else
                       f", and use a conditional model ({', '.join(zoo.registry.conditional_names())})") + ".")
            if len(args.seeds) != 1:
                raise UsageError("--labels with several classes morphs at one latent: give one seed (--seeds 5).")
            frames = explore.morph_classes(generator, args.labels, seed=args.seeds[0], steps=args.steps)
            what = f"classes {' -> '.join(map(str, args.labels))} at seed {args.seeds[0]}"
        else:
            label = args.labels[0] if args.labels else None
            frames = explore.interpolate(generator, args.seeds, steps=args.steps, label=label)
            what = f"seeds {' -> '.join(map(str, args.seeds))}" + (" -> back" if len(args.seeds) > 2 else "")
    except ValueError as error:
        raise UsageError(str(error)) from None
    write_images(args.out, frames, columns=len(frames) if args.columns is None else args.columns,
                 scale=args.scale)
    print(f"{len(frames)} frames ({what}) written to {args.out}")


def add_parser(commands):
    parser = commands.add_parser(
        "interpolate", help="walk between seeds (or morph between classes) as a GIF or a PNG strip",
        description="Spherical interpolation between the latents of two or more seeds (a closed loop "
        "for more than two), or, for conditional models with --labels 0,7, a morph from class to class "
        "at one seed. Writes a looping GIF (.gif) or a strip of frames (.png).",
    )
    parser.add_argument("run", help="run folder, or a shipped model's name (see `zoo list`)")
    parser.add_argument("--seeds", type=integers, default=[0, 1], metavar="S,S[,S...]",
                        help="latent seeds to walk through (default: 0,1); one seed with --labels A,B")
    parser.add_argument("--labels", type=integers, metavar="K[,K...]",
                        help="conditional models: one class for the whole walk, or two or more to "
                        "morph between at one seed (needs model.keras)")
    parser.add_argument("--steps", type=positive, default=32,
                        help="frames from one seed (or class) to the next (default: 32)")
    add_scale_flag(parser, 4)
    parser.add_argument("--columns", type=positive,
                        help=".png strips: frames per row (default: all in one row)")
    add_artifact_flags(parser)
    parser.add_argument("--out", help="walk.gif or strip.png (default: RUN/interpolation.gif; "
                        "NAME_interpolation.gif in the current directory for a shipped model)")
    parser.set_defaults(handler=run)
