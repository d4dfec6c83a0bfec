"""`zoo export`: a run's generator to SavedModel and LiteRT files, and a browser page."""

import contextlib
import os

from commands.common import (
    UsageError,
    add_sampling_flags,
    inside,
    model_folder,
    native_stderr_to_devnull,
    non_negative,
    output_path,
    positive,
    sampling_options,
    writing,
)


def run(args):
    import zoo
    from export.reading import read_manifest, versions
    from zoo.run_folder import RunFolder

    args.run = model_folder(args.run)
    if not args.web:
        if args.out:
            raise UsageError("--out names the folder of the --web page; add --web, or drop --out.")
        with writing(args.run, args.run, "export", has_out=False):
            _export(args)
        return
    # --web: the page of an existing export (the latest, or --version); a run
    # that has none is exported first.
    exporting = not versions(args.run) and not zoo.shipped.is_shipped(args.run)
    with writing(args.run, args.run if exporting else args.out or output_path(args.run, RunFolder.WEB), "export",
                 has_out=not exporting):
        if exporting:
            _export(args)
        _web(args, read_manifest(args.run, args.version))


def _web(args, manifest):
    import zoo
    from export.web import write_web
    from zoo.run_folder import RunFolder

    name = os.path.basename(os.path.normpath(args.run))
    out = args.out or output_path(args.run, RunFolder.WEB)
    if os.path.abspath(out) == os.path.abspath(args.run) or (
            zoo.shipped.is_shipped(args.run) and inside(out, args.run)):
        raise UsageError(f"--out {out!r} would write into {args.run!r}; name a folder of its own.")
    card = write_web(args.run, out, manifest, name=name, variant=args.web_variant, node_modules=args.litertjs)
    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(out) for f in files)
    print(f"web page of export version {card['export_version']} ({card['file']}) written to {out} "
          f"({size / 1e6:.1f} MB; LiteRT.js {card['runtime'].split()[-1]}). Serve the folder with any static "
          f"file server, e.g. `python -m http.server -d {out}`, and open http://localhost:8000/.")


def _export(args):
    import zoo
    from evaluation.evaluate import export_fd
    from export import export_run
    from training.train import RunFolderError, load_run_config
    from zoo.card import dataset_entry
    from zoo.run_folder import RunFolder

    if zoo.shipped.is_shipped(args.run):
        raise UsageError(f"{args.run!r} is a shipped model, already exported (its saved_model/, tflite/ and "
                         "exports/ folders); its folder is never written. To export it again, copy the "
                         "folder and export the copy; `zoo export NAME --web` writes its browser page.")
    try:
        run = load_run_config(args.run)
    except RunFolderError:  # a model.keras from a user's own script: no run settings
        run = None
    if run is not None and args.fd_samples:
        from zoo.limits import check_samples
        from zoo.registry import constructor_arguments

        shape = {**constructor_arguments(zoo.get(run.model)), **run.model_config}["image_shape"]
        check_samples(args.fd_samples, shape, f"--fd-samples {args.fd_samples}")
    fd, fd_note = export_fd(run, args.fd_samples)
    dataset = None
    if run is not None:
        dataset = dataset_entry(run.dataset, _class_names(run))
    variants = args.variants.split(",") if args.variants else None
    # The int8 calibrator prints from C++ ("fully_quantize: 0, ..."); errors arrive as exceptions.
    with contextlib.nullcontext() if args.verbose else native_stderr_to_devnull():
        manifest = export_run(args.run, version=args.version or 1, force=args.force, fd=fd, dataset=dataset,
                              variants=variants, sampling=sampling_options(args))
    version = manifest["version"]
    print(f"exported version {version} of {args.run} ({fd_note}):")
    print(f"  SavedModel  {manifest['saved_model']['path']}/  signatures: {', '.join(manifest['signatures'])}")
    held_out = manifest["held_out"]
    print(f"  {'variant':22s} {'written':8s} {'bytes':>9s} {'ms':>7s} {'PSNR':>6s} {'p99':>4s} {'max':>4s} {'FD':>7s}"
          f"   (PSNR and per-image max pixel difference vs Keras on {held_out['n']:,} held-out seeds)")
    for name, entry in manifest["tflite"].items():
        if "held_out" not in entry:
            print(f"  {name:22s} no       ({entry.get('reason', '')[:80]})")
            continue
        measured, latency = entry["held_out"], entry["latency_ms"]
        differences = measured["per_image_max_abs_diff"]
        fd_text = "-" if entry["fd"] is None else f"{entry['fd']:.2f}"
        ms_text = "-" if latency is None else f"{latency['median']:.3f}"
        psnr_text = "same" if measured["psnr"] is None else f"{measured['psnr']:.1f}"
        print(f"  {name:22s} {'yes' if entry['written'] else 'no':8s} {entry.get('bytes', 0):9d} "
              f"{ms_text:>7s} {psnr_text:>6s} {differences['p99']:4d} {differences['max']:4d} {fd_text:>7s}"
              + (f"  ({entry['failed']})" if entry["failed"] else ""))
    print(f"  model card: {RunFolder(args.run).manifest(version)}")


def _class_names(run):
    """Class names of a run's TFDS dataset, or None (image folders, unavailable datasets)."""
    from training import data

    try:
        return data.class_names(run.dataset, run.data_dir)
    except data.DatasetUnavailableError:
        return None



def add_parser(commands):
    export = commands.add_parser(
        "export", help="export a run's generator to SavedModel and TFLite",
        description="Write version N of a run's export: RUN/saved_model/N (TF Serving layout, with "
        "warm-up requests and the model card), RUN/tflite/N/generator_<variant>.tflite (float32, "
        "float16, dynamic_int8, int8, float32_dynamic_batch: each variant that keeps its quality "
        "threshold) and RUN/exports/N/model_card.json. Other versions are not touched.",
    )
    export.add_argument("run", help="run folder holding model.keras")
    export.add_argument("--version", type=positive,
                        help="export version to write (default: 1); with --web, the version whose page "
                        "is written (default: the latest)")
    export.add_argument("--force", action="store_true",
                        help="also write quantized variants that fail their quality threshold")
    export.add_argument("--variants", metavar="NAME[,NAME...]",
                        help="TFLite variants to convert (default: all; float32 is always written)")
    add_sampling_flags(export, "the exported files sample")
    export.add_argument("--fd-samples", type=non_negative, default=10000, metavar="N",
                        help="images for each variant's FD against the test split (default: 10000; "
                        "0: gate on PSNR and pixel differences only)")
    export.add_argument("--web", action="store_true",
                        help="write a static page that runs the .tflite file in the browser with LiteRT.js; "
                        "only the page is written when the run is already exported")
    export.add_argument("--out", metavar="DIR",
                        help="with --web: the page's folder (default: RUN/web; NAME_web in the current "
                        "directory for a shipped model)")
    export.add_argument("--web-variant", default="float32", metavar="VARIANT",
                        help="the .tflite variant the page runs (default: float32)")
    export.add_argument("--litertjs", metavar="DIR",
                        help="a node_modules folder holding @litertjs/core (default: installed once with npm "
                        "into ~/.cache/keras-gen-zoo)")
    export.set_defaults(handler=run)
