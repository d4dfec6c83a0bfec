"""Reading an export back: its manifest (`exports/N/model_card.json`) first, then each artifact checked against it.

Every command that runs exported files goes through these functions, so a
damaged, half-replaced or foreign export stops with one `ArtifactError` that
names the file and says what to do, instead of a TensorFlow or LiteRT trace:

- `read_manifest(run_dir, version=None)`: the parsed and validated manifest
  of a version (default: the latest);
- `open_saved_model(run_dir, manifest)`: the SavedModel's `serving_default`
  as `(z, labels=None) -> uint8 images` (and every signature in
  `.signatures`), after checking its files against the manifest's digests,
  its graph against `export.allowed_ops`, and its signatures against the
  contract;
- `open_tflite(run_dir, manifest, variant)`: the same for a `.tflite` file;
- `read_tflite(run_dir, manifest, variant)`: the checked bytes of a
  `.tflite` file, for a runtime elsewhere (the browser page);
- `verify_export(run_dir, version=None)`: all checks, nothing loaded.

Files are read once: the bytes that were hashed are the bytes that are run
(the SavedModel from a private copy), so a file replaced between check and
load cannot slip through. While an export is being replaced (or after one
was killed) the files a manifest describes may sit in the exporter's
snapshot folder, `RUN/.export-*/previous/`; they are found there by digest.
"""

import json
import math
import os
import shutil
import tempfile

import tensorflow as tf
from google.protobuf.message import DecodeError

from export.allowed_ops import disallowed_ops, parse_saved_model
from export.artifacts import versions
from export.install import run_path
from export.saved_model import OUTPUT, SIGNATURE, feeds, runners
from export.tflite import VARIANTS, BatchedRunner, interpreter
from zoo.card import SCHEMA_VERSION
from zoo.errors import ZooError
from zoo.files import folder_digest, relative_files, sha256_bytes
from zoo.latents import PRIORS
from zoo.run_folder import RunFolder


class ArtifactError(ZooError, ValueError):
    """A manifest or an exported artifact is missing, damaged, incomplete or unsafe to run."""


def _again(run_dir):
    return f"re-run `zoo export {run_dir}`"


def _dims(value):
    return isinstance(value, list) and all(_positive_int(size) or size is None for size in value)


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _sha256(value):
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _relative_path(value):
    """A `/`-separated path that stays inside the run folder."""
    return (isinstance(value, str) and "\\" not in value and not value.startswith("/")
            and all(part not in ("", ".", "..") for part in value.split("/")))


def _tensor_contract(value):
    return isinstance(value, dict) and bool(value) and all(
        isinstance(spec, dict) and isinstance(spec.get("dtype"), str) and _dims(spec.get("shape"))
        for spec in value.values())


def _signature_contracts(value):
    return isinstance(value, dict) and SIGNATURE in value and all(
        isinstance(entry, dict) and _tensor_contract(entry.get("inputs")) and _tensor_contract(entry.get("outputs"))
        for entry in value.values())


def _variant_entries(value):
    known = {variant.name for variant in VARIANTS}
    if not isinstance(value, dict) or not value.get("float32", {}).get("written") or set(value) - known:
        return False
    return all(isinstance(entry, dict) and isinstance(entry.get("written"), bool) and (
        not entry["written"] or (_relative_path(entry.get("path")) and entry["path"].endswith(".tflite")
                                 and _positive_int(entry.get("bytes")) and _sha256(entry.get("sha256"))))
        for entry in value.values())


#: (key, test, what it must be) for every field a reader relies on.
_FIELDS = [
    ("schema_version", lambda v: v == SCHEMA_VERSION, str(SCHEMA_VERSION)),
    ("kind", lambda v: v == "generator", "'generator'"),
    ("model", lambda v: isinstance(v, str) and bool(v), "a model name"),
    ("version", _positive_int, "a positive integer"),
    ("latent.dim", _positive_int, "the latent size, a positive integer"),
    ("latent.prior", lambda v: v in PRIORS, f"one of {', '.join(PRIORS)}"),
    ("image.shape", lambda v: isinstance(v, list) and len(v) == 3 and all(map(_positive_int, v)),
     "[height, width, channels] with positive sizes"),
    ("image.num_classes", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
     "an integer >= 0"),
    ("signatures", _signature_contracts,
     "{name: {inputs, outputs}} with serving_default, each tensor {dtype, shape}"),
    ("saved_model.path", _relative_path, "a relative path inside the run folder"),
    ("saved_model.version", _positive_int, "a positive integer"),
    ("saved_model.sha256", _sha256, "a sha256 (64 lowercase hex digits)"),
    ("saved_model.files", lambda v: isinstance(v, dict) and "saved_model.pb" in v
     and all(_relative_path(name) and _sha256(digest) for name, digest in v.items()),
     "{relative path: sha256} of the SavedModel's files, saved_model.pb included"),
    ("tflite", _variant_entries,
     "{variant: {written, path, bytes, sha256}} with a written float32 variant"),
]


def latent_shape(manifest):
    """The shape of one latent an export's `latents` signature returns, as a tuple.

    Cards since the model contract state `latent.shape`; older ones (the
    shipped models') only `latent.dim`, a vector's length.
    """
    latent = manifest["latent"]
    return tuple(latent["shape"]) if "shape" in latent else (latent["dim"],)


def _validate(manifest, path, run_dir):
    def fail(problem):
        raise ArtifactError(
            f"{path}: {problem}; the export is damaged or was written by an older `zoo export`: "
            f"{_again(run_dir)}."
        )

    if not isinstance(manifest, dict):
        fail(f"expected a JSON object, got {type(manifest).__name__}")
    for key, test, expected in _FIELDS:
        value = manifest
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                fail(f"{key} is missing")
            value = value[part]
        if not test(value):
            fail(f"{key} must be {expected}, got {value!r}")
    shape = manifest["latent"].get("shape", [manifest["latent"]["dim"]])
    if not (isinstance(shape, list) and shape and all(map(_positive_int, shape))
            and math.prod(shape) == manifest["latent"]["dim"]):
        fail(f"latent.shape must be a list of positive sizes whose product is latent.dim, got {shape!r}")
    if folder_digest(manifest["saved_model"]["files"]) != manifest["saved_model"]["sha256"]:
        fail("saved_model.files do not add up to saved_model.sha256")


def read_manifest(run_dir, version=None):
    """The validated manifest (model card) of an exported version of `run_dir`.

    Guarantees the keys readers use: `latent.dim` (and `latent.shape`,
    see `latent_shape`), `latent.prior`,
    `image.shape`, `image.num_classes`, the `signatures` contract, and the
    paths and digests of `saved_model` and of every written `tflite` variant.

    Args:
        run_dir: the run folder.
        version: the export version; None reads the latest.

    Raises:
        ArtifactError: there is no such version, or its manifest is missing,
            not JSON, lacks a key or holds a value of the wrong type; the
            message names the file and says to re-run `zoo export`.

    Example:
        manifest = read_manifest("runs/dcgan")
        generate = open_tflite("runs/dcgan", manifest, "int8")
        shape = latent_shape(manifest)
    """
    if version is None:
        found = versions(run_dir)
        if not found:
            raise ArtifactError(
                f"{run_dir!r} has no export (no exports/N/model_card.json); run `zoo export {run_dir}` first."
            )
        version = found[-1]
    path = RunFolder(run_dir).manifest(version)
    try:
        with open(path, "rb") as f:
            content = f.read()
    except FileNotFoundError:
        have = ", ".join(map(str, versions(run_dir))) or "none"
        raise ArtifactError(
            f"{path} does not exist: {run_dir!r} has no export version {version} (exported: {have}); "
            f"run `zoo export {run_dir} --version {version}` first."
        ) from None
    except OSError as error:
        raise ArtifactError(f"cannot read {path} ({error.strerror}).") from None
    try:
        manifest = json.loads(content)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise ArtifactError(
            f"{path} is not valid JSON ({error}): the export is damaged or incomplete; {_again(run_dir)}."
        ) from None
    _validate(manifest, path, run_dir)
    if manifest["version"] != version:
        raise ArtifactError(f"{path} describes version {manifest['version']}, not {version}; {_again(run_dir)}.")
    return manifest


def _copies(run_dir):
    """Folders in run-folder layout that may hold exported files: the run, then export snapshots."""
    snapshots = [os.path.join(staging, "previous") for staging in RunFolder(run_dir).staging_folders()]
    return [run_dir, *snapshots]


def _damaged(problem, run_dir):
    return ArtifactError(f"{problem}: the export is damaged or incomplete; {_again(run_dir)}.")


def _read_tflite(run_dir, entry):
    """The bytes of the `.tflite` file whose sha256 `entry` records."""
    problem = None
    for root in _copies(run_dir):
        path = run_path(root, entry["path"])
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError:
            problem = problem or f"{path} is missing"
            continue
        if sha256_bytes(content) == entry["sha256"]:
            return content
        if problem is None:
            size = f" ({len(content)} of {entry['bytes']} bytes)" if len(content) != entry["bytes"] else ""
            what = "truncated" if len(content) < entry["bytes"] else "not the file the manifest records"
            problem = f"{path} is {what}{size}: its sha256 differs from the manifest's"
    raise _damaged(problem, run_dir)


def _copy_saved_model(run_dir, entry, destination):
    """Copies the SavedModel files `entry` lists into `destination`, checking every sha256."""
    problem = None
    for root in _copies(run_dir):
        source = run_path(root, entry["path"])
        found = _copy_checked(source, entry["files"], destination)
        if found is None:
            return
        problem = problem or found
    raise _damaged(problem, run_dir)


def _copy_checked(source, files, destination):
    """None if `source` holds exactly `files` with their digests (now copied), else the problem."""
    if not os.path.isdir(source):
        return f"{source} is missing"
    present = set(relative_files(source))
    if set(files) - present:
        return f"{source} lacks {', '.join(sorted(set(files) - present))}"
    if present - set(files):
        return f"{source} holds files the manifest does not list ({', '.join(sorted(present - set(files)))})"
    shutil.rmtree(destination, ignore_errors=True)
    for name, digest in files.items():
        with open(run_path(source, name), "rb") as f:
            content = f.read()
        if sha256_bytes(content) != digest:
            return f"{source}/{name} differs from the sha256 in the manifest"
        target = run_path(destination, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
    return None


def _contract(manifest, target, batch):
    """`{signature: ({input: (dtype, shape)}, {output: (dtype, shape)})}` for `target` at `batch`.

    Scalar inputs (`truncation`) keep their empty shape.
    """
    def shapes(specs):
        return {name: (spec["dtype"], [batch, *spec["shape"][1:]] if spec["shape"] else [])
                for name, spec in specs.items()}

    return {name: (shapes(entry["inputs"]), shapes(entry["outputs"]))
            for name, entry in manifest["signatures"].items() if target in entry.get("artifacts", [])}


def _tensor_spec(info):
    """`(dtype name, shape)` of a signature's TensorInfo, shape None if of unknown rank."""
    try:
        dtype = tf.dtypes.as_dtype(info.dtype).name
    except TypeError:  # not a dtype TensorFlow knows
        dtype = f"enum {info.dtype}"
    if info.tensor_shape.unknown_rank:
        return dtype, None
    return dtype, [d.size if d.size >= 0 else None for d in info.tensor_shape.dim]


def _check_saved_model(content, manifest, display, run_dir):
    """Parses `saved_model.pb` bytes; refuses foreign ops and a signature unlike the contract."""
    try:
        saved_model = parse_saved_model(content)
    except DecodeError:
        raise _damaged(f"{display}/saved_model.pb is not a SavedModel (it does not parse)", run_dir) from None
    refused = disallowed_ops(saved_model)
    if refused:
        listed = "; ".join(f"{op} (in {', '.join(places[:3])})" for op, places in refused.items())
        raise ArtifactError(
            f"{display} is not a SavedModel this project's exporter writes: it uses ops outside "
            f"export.allowed_ops: {listed}. It was not run; export the run again with `zoo export`, "
            "and run SavedModels from elsewhere only in a sandbox."
        )
    graphs = [graph for graph in saved_model.meta_graphs if "serve" in graph.meta_info_def.tags]
    if not graphs or SIGNATURE not in graphs[0].signature_def:
        raise _damaged(f"{display} has no 'serve' graph with a {SIGNATURE!r} signature", run_dir)
    found = {name: ({key: _tensor_spec(info) for key, info in signature.inputs.items()},
                    {key: _tensor_spec(info) for key, info in signature.outputs.items()})
             for name, signature in graphs[0].signature_def.items() if not name.startswith("__")}
    expected = _contract(manifest, "saved_model", None)
    if found != expected:
        raise _damaged(f"{display}'s signatures {found} do not match the manifest's {expected}", run_dir)


def _verified_saved_model(run_dir, manifest, private):
    entry = manifest["saved_model"]
    display = run_path(run_dir, entry["path"])
    _copy_saved_model(run_dir, entry, private)
    with open(os.path.join(private, "saved_model.pb"), "rb") as f:
        _check_saved_model(f.read(), manifest, display, run_dir)
    return display


def open_saved_model(run_dir, manifest):
    """The export's SavedModel as `(z, labels=None) -> uint8 images`, checked before it runs.

    Args:
        run_dir: the run folder.
        manifest: `read_manifest(run_dir)`.

    Returns:
        A callable taking latents `(n, *latent_shape)` (and int labels `(n,)`
        for conditional models) and returning uint8 `(n, H, W, C)`.

    Raises:
        ArtifactError: the version folder is missing, has missing, extra or
            changed files, does not parse, uses ops outside
            `export.allowed_ops`, has another signature, or TensorFlow cannot
            load it.
    """
    private = tempfile.mkdtemp(prefix="zoo-saved-model-")
    try:
        display = _verified_saved_model(run_dir, manifest, private)
        try:
            loaded = tf.saved_model.load(private)
        except Exception as error:  # TensorFlow raises many types here
            first = (str(error).strip().splitlines() or [""])[0][:300]
            problem = f"TensorFlow cannot load {display} ({type(error).__name__}: {first})"
            raise _damaged(problem, run_dir) from None
    finally:
        # The variables were read into memory by `load`.
        shutil.rmtree(private, ignore_errors=True)

    return Artifact(runners(loaded))


class Artifact:
    """An opened export: `serving_default` as `(z, labels=None) -> uint8 images`.

    `signatures` holds every signature as `{name: (**inputs) -> {output:
    numpy}}`, what `zoo.explore.Generator.from_signatures` takes.
    """

    def __init__(self, signatures):
        self.signatures = signatures

    def __call__(self, z, labels=None):
        return self.signatures[SIGNATURE](**feeds(z, labels))[OUTPUT]


def _tflite_entry(run_dir, manifest, variant):
    entry = manifest["tflite"].get(variant)
    if entry is None or not entry["written"]:
        written = [name for name, found in manifest["tflite"].items() if found["written"]]
        why = f" ({entry.get('failed') or entry.get('reason')})" if entry else ""
        raise ArtifactError(
            f"version {manifest['version']} of {run_dir!r} has no TFLite variant {variant!r}{why}; "
            f"it has {', '.join(written)}. Use one of those, or `zoo export {run_dir} --force` to write "
            "variants that failed their quality gate."
        )
    return entry


def _lite_specs(details):
    return {key: (tf.dtypes.as_dtype(detail["dtype"]).name, detail["shape_signature"].tolist())
            for key, detail in details.items()}


def _open_interpreter(run_dir, manifest, variant, num_threads):
    entry = _tflite_entry(run_dir, manifest, variant)
    display = run_path(run_dir, entry["path"])
    content = _read_tflite(run_dir, entry)
    try:
        instance = interpreter(content, num_threads)
        signatures = {name: instance.get_signature_runner(name) for name in instance.get_signature_list()}
        found = {name: tuple(_lite_specs(part) for part in (runner.get_input_details(), runner.get_output_details()))
                 for name, runner in signatures.items()}
    except (ValueError, RuntimeError) as error:
        first = (str(error).strip().splitlines() or [""])[0][:300]
        raise _damaged(f"LiteRT cannot load {display} ({first})", run_dir) from None
    batch = entry.get("batch_size", 1)
    expected = _contract(manifest, "tflite", -1 if batch is None else batch)
    if found != expected:
        raise _damaged(f"{display}'s signatures {found} do not match the manifest's {expected}", run_dir)
    return {name: BatchedRunner(runner) for name, runner in signatures.items()}


def open_tflite(run_dir, manifest, variant="float32", num_threads=2):
    """A `.tflite` variant as `(z, labels=None) -> uint8 images`, checked before it runs.

    Every signature of the file is in `.signatures` (`generate`, `latents`,
    ...), as `(**inputs) -> {output: numpy}`, batch by batch.

    Args:
        run_dir: the run folder.
        manifest: `read_manifest(run_dir, version)`.
        variant: the file `tflite/N/generator_<variant>.tflite` (see
            `export.tflite.VARIANTS`).
        num_threads: LiteRT interpreter threads.

    Raises:
        ArtifactError: the version has no such variant (or it failed its
            gate), or the file is missing, truncated, differs from its
            sha256, or LiteRT cannot load it or finds other signatures.
    """
    return Artifact(_open_interpreter(run_dir, manifest, variant, num_threads))


def read_tflite(run_dir, manifest, variant="float32"):
    """The bytes of a `.tflite` variant, checked against the manifest's sha256, for a runtime elsewhere.

    `open_tflite` runs the file here; this hands it on (the browser page of
    `export.web`, a benchmark's own interpreter). The bytes returned are the
    bytes that were hashed.

    Args:
        run_dir: the run folder.
        manifest: `read_manifest(run_dir, version)`.
        variant: the file `tflite/N/generator_<variant>.tflite` (see
            `export.tflite.VARIANTS`); its entry is `manifest["tflite"][variant]`.

    Returns:
        The file's bytes.

    Raises:
        ArtifactError: the version has no such variant (or it failed its
            gate), or the file is missing, truncated or differs from its sha256.

    Example:
        >>> manifest = read_manifest("runs/dcgan")
        >>> content = read_tflite("runs/dcgan", manifest, "int8")
        >>> len(content) == manifest["tflite"]["int8"]["bytes"]
        True
    """
    return _read_tflite(run_dir, _tflite_entry(run_dir, manifest, variant))


def verify_export(run_dir, version=None):
    """Checks an export version like the readers do, without running it; returns its manifest.

    Example:
        python -c "import export; export.verify_export('runs/dcgan')"
    """
    manifest = read_manifest(run_dir, version)
    private = tempfile.mkdtemp(prefix="zoo-saved-model-")
    try:
        _verified_saved_model(run_dir, manifest, private)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    for name, entry in manifest["tflite"].items():
        if entry["written"]:
            _open_interpreter(run_dir, manifest, name, num_threads=1)
    return manifest
