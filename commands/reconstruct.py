"""`zoo reconstruct`: real images beside a VAE's reconstructions of them."""

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


def real_images(run, shape, n, images_folder=None, split=None):
    """The first `n` images of a split of the run's dataset (or of an image folder) in `shape`, uint8, with
    labels (-1 where there are none).

    The split defaults to the run's held-out one (`test`, or an image
    folder's validation split), else a folder's whole `train`.
    """
    import numpy as np

    from training import data
    from training.train import load_run_config

    if images_folder is not None:
        source, split, data_dir = data.FOLDER_PREFIX + images_folder, data.FOLDER_SPLIT, None
    else:
        config = load_run_config(run)
        source, data_dir = config.dataset, config.data_dir
        split = split or config.held_out_split or data.FOLDER_SPLIT
    # Pixel range (0, 255): the images come back resized and converted, still on the uint8 scale.
    batches = data.load(source, split, image_shape=tuple(shape), pixel_range=(0.0, 255.0), batch_size=n,
                        shuffle=False, data_dir=data_dir)
    images, labels = next(iter(batches.take(1)))
    return np.round(images.numpy()).astype(np.uint8), labels.numpy()


def run(args):
    from zoo.run_folder import RunFolder

    args.run = model_folder(args.run)
    out = args.out or output_path(args.run, RunFolder.RECONSTRUCTIONS)
    with writing(args.run, out, "reconstruct"):
        _reconstruct(args, out)


def _reconstruct(args, out):
    from reports.images import check_size, grid_layout, make_grid, write_png
    from zoo import explore

    generator, _ = open_generator(args.run, args.artifact, args.export_version)
    if generator.reconstruct is None:
        import zoo

        autoencoders = ", ".join(name for name in zoo.names() if zoo.get(name).encodes)
        raise UsageError(f"{args.run!r} holds a model without an encoder; reconstructions need an "
                         f"autoencoder ({autoencoders}).")
    shape = generator.image_shape
    columns = min(8, args.n)
    # Rows of up to 8 real images, each followed by its row of reconstructions.
    layout = grid_layout(2 * columns * -(-args.n // columns), shape, columns=columns, scale=args.scale)
    check_size(layout["size"], 1, f"-n {args.n} --scale {args.scale}",
               "lower -n or --scale, or write several files")
    images, labels = real_images(args.run, shape, args.n, args.images, args.split)
    if generator.num_classes:
        if args.labels is not None:
            labels = [args.labels[i % len(args.labels)] for i in range(len(images))]
        elif (labels < 0).any():
            raise UsageError("these images have no labels, and the model is conditional: give their class "
                             "with --labels K (or one per image, K,K,...).")
    elif args.labels is not None:
        raise UsageError("--labels: this model is unconditional; drop --labels.")
    try:
        frames = explore.reconstruct(generator, images, labels if generator.num_classes else None)
    except ValueError as error:
        raise UsageError(str(error)) from None
    write_png(out, make_grid(frames, columns=min(8, len(images)), scale=args.scale))
    print(f"{len(images)} images and their reconstructions written to {out} (rows: real, reconstructed)")


def add_parser(commands):
    parser = commands.add_parser(
        "reconstruct", help="VAEs: real images beside their reconstructions",
        description="Encodes real images (the run's dataset, test split, or --images FOLDER) to their "
        "posterior means and decodes them. Writes a PNG: a row of real images, then the row of their "
        "reconstructions, 8 per row.",
    )
    parser.add_argument("run", help="run folder, or a shipped model's name (see `zoo list`)")
    parser.add_argument("-n", "--n", type=positive, default=16, help="number of images (default: 16)")
    parser.add_argument("--images", metavar="FOLDER",
                        help="JPEG/PNG files to reconstruct instead of the dataset (a folder as `zoo train` "
                        "reads one: its first N in split order, centre-cropped and resized to the model's "
                        "shape, with their classes if it has class subfolders)")
    parser.add_argument("--split", help="dataset split (default: the run's held-out one: test, or an image "
                        "folder's --validation-split)")
    parser.add_argument("--labels", type=integers, metavar="K[,K...]",
                        help="conditional models: the class of images that have none (one, or one per image)")
    add_scale_flag(parser, 4)
    add_artifact_flags(parser)
    parser.add_argument("--out", help="PNG path (default: RUN/reconstructions.png; NAME_reconstructions.png "
                        "in the current directory for a shipped model)")
    parser.set_defaults(handler=run)
