"""What the `zoo` subcommands share: the user-error type, flag parsers and model lookup."""

import argparse
import ast
import contextlib
import os
import sys


class UsageError(ValueError):
    """A flag value the user can fix.

    The one user error that does not derive from `zoo.errors.ZooError`:
    every command module imports it, `zoo --help` imports every command
    module, and `--help` answers without importing Keras, which importing
    anything from `zoo` does. The command line catches it beside `ZooError`.
    """


def option_value(text):
    """A `--set key=value` value: a Python literal (`16`, `(28, 28, 1)`, `False`), else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def assignment(text):
    """`key=value` -> (key, `option_value(value)`), as `--set` takes it."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got {text!r}")
    return key.strip(), option_value(raw)


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def integers(text):
    """`3` or `0,1,2` -> a list of ints."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 3 or 0,1,2, got {text!r}") from None


def model_folder(text):
    """A run folder named on the command line, or the checked folder of a shipped model."""
    import zoo

    return zoo.shipped.resolve(text)


def output_path(run, name):
    """Where a command writes `name` for `run`: inside a run folder, in the current
    directory for a shipped model (its folder is never written)."""
    import zoo

    if zoo.shipped.is_shipped(run):
        return f"{os.path.basename(os.path.normpath(run))}_{name}"
    return os.path.join(run, name)


def writing(run, out, command, has_out=True):
    """The run folder's lock (`zoo.files.run_lock`) while `command` writes `out`, if `out` is in `run`.

    Writers of a run folder take turns; a command writing elsewhere (`--out`
    outside the folder, or next to a shipped model, whose folder is never
    written) reads the run and needs no lock. `has_out`: the command has an
    `--out` flag to suggest.
    """
    import zoo
    from zoo.files import run_lock

    if zoo.shipped.is_shipped(run) or not inside(out, run):
        return contextlib.nullcontext()
    return run_lock(run, f"zoo {command}", advice="wait for it to finish, " + (
        "or write elsewhere with --out" if has_out else "then run the command again"))


def inside(path, folder):
    """Whether `path` is `folder` or lies under it."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


ARTIFACT_HELP = ("keras (model.keras, the default), saved_model or tflite[:VARIANT], VARIANT one of "
                 "float32 (default), float16, dynamic_int8, int8, float32_dynamic_batch")


def add_artifact_flags(parser):
    """`--artifact` and `--version`: which of a run's artifacts a command runs."""
    parser.add_argument("--artifact", default="keras", help=ARTIFACT_HELP)
    parser.add_argument("--version", dest="export_version", type=positive, metavar="N",
                        help="export version of --artifact (default: the latest)")


def add_sampling_flags(parser, what="images are made"):
    """`--steps`, `--solver`, `--guidance`: options of a multi-step sampler (the contract's `sampling_options`)."""
    parser.add_argument("--steps", type=positive, metavar="N",
                        help=f"multi-step samplers: the steps {what} with (default: the model's)")
    parser.add_argument("--solver", metavar="NAME",
                        help="multi-step samplers: the ODE solver, euler or heun (default: the model's)")
    parser.add_argument("--guidance", type=float, metavar="SCALE",
                        help="conditional multi-step samplers: the classifier-free guidance scale (1: off; "
                        "default: the model's)")


def sampling_options(args):
    """`{option: value}` of the sampler flags given (`add_sampling_flags`)."""
    given = {"steps": args.steps, "solver": args.solver, "guidance": args.guidance}
    return {name: value for name, value in given.items() if value is not None}


def add_scale_flag(parser, default):
    """`--scale K`: nearest-neighbour enlargement of the images a command writes."""
    parser.add_argument("--scale", type=positive, default=default, metavar="K",
                        help=f"enlarge images K times, nearest neighbour (default: {default})")


def open_artifact(run, artifact, version=None):
    """`(signatures, manifest)` of an exported artifact, or `(None, None)` for `keras`.

    The exported files alone, each checked (digests, ops) before it runs.
    """
    kind, _, variant = artifact.partition(":")
    if kind == "keras":
        if variant:
            raise UsageError(f"--artifact {artifact!r}: keras has no variants; use keras")
        return None, None
    if kind not in ("saved_model", "tflite"):
        raise UsageError(f"--artifact {artifact!r}: use keras, saved_model or tflite[:VARIANT]")
    from export import open_saved_model, open_tflite, read_manifest

    manifest = read_manifest(run, version)
    if kind == "saved_model":
        if variant:
            raise UsageError(f"--artifact {artifact!r}: saved_model has no variants; use saved_model")
        return open_saved_model(run, manifest).signatures, manifest
    return open_tflite(run, manifest, variant or "float32").signatures, manifest


def open_generator(run, artifact, version=None, sampling=None):
    """`(zoo.explore.Generator, model or None)` for a run's artifact (see `open_artifact`).

    `sampling`: sampler options (`sampling_options`) the Keras model samples
    with; an exported artifact holds its export's and takes no others.
    """
    import zoo
    from zoo.explore import Generator
    from zoo.run_folder import RunFolder

    signatures, manifest = open_artifact(run, artifact, version)
    if signatures is None:
        model = zoo.load(RunFolder(run).model)
        try:
            model = model.with_sampling(**(sampling or {}))
        except ValueError as error:
            raise UsageError(str(error)) from None
        return Generator.from_model(model), model
    from export.reading import latent_shape

    exported = manifest.get("contract", {}).get("sampling_options", {})
    differ = {name: value for name, value in (sampling or {}).items() if exported.get(name) != value}
    if differ:
        flags = " ".join(f"--{name} {value}" for name, value in differ.items())
        holds = ", ".join(f"{name} {value}" for name, value in exported.items()) or "no sampler options"
        raise UsageError(f"{flags}: the exported {artifact} holds {holds} (its card's contract); export "
                         f"again with {flags}, or use --artifact keras.")

    return Generator.from_signatures(signatures, latent_shape(manifest), manifest["image"]["num_classes"],
                                     manifest["image"]["shape"]), None


@contextlib.contextmanager
def native_stderr_to_devnull():
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
