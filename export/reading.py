"""Reading an export back: `export.json` first, then each artifact checked against it.

Every command that runs exported files goes through these functions, so a
damaged, half-replaced or foreign export stops with one `ArtifactError` that
names the file and says what to do, instead of a TensorFlow or LiteRT trace:

- `read_manifest(run_dir)`: the parsed and validated `export.json`;
- `open_saved_model(run_dir, manifest)`: the SavedModel's `serving_default`
  as `(z, labels=None) -> uint8 images`, after checking its files against
  the digests in `export.json`, its graph against `export.allowed_ops`, and
  its signature against the contract;
- `open_tflite(run_dir, manifest, variant)`: the same for the `.tflite` file;
- `verify_export(run_dir)`: all checks, nothing loaded.

Files are read once: the bytes that were hashed are the bytes that are run
(the SavedModel from a private copy), so a file replaced between check and
load cannot slip through. While an export is being replaced (or after one
was killed) the files `export.json` describes may sit in the exporter's
snapshot folder, `RUN/.export-*/previous/`; they are found there by digest.
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf
from google.protobuf.message import DecodeError

from export.allowed_ops import disallowed_ops, parse_saved_model
from export.artifacts import MANIFEST_FILE, STAGING_PREFIX, run_path
from export.files import folder_digest, relative_files, sha256_bytes
from export.saved_model import INPUT, LABEL, OUTPUT, SIGNATURE, feeds
from export.tflite import batched_runner, interpreter
from zoo.latents import PRIORS


class ArtifactError(ValueError):
    """export.json or an exported artifact is missing, damaged, incomplete or unsafe to run."""


def _again(run_dir):
    return f"re-run `zoo export {run_dir}`"


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _sha256(value):
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _relative_path(value):
    """A `/`-separated path that stays inside the run folder."""
    return (isinstance(value, str) and "\\" not in value and not value.startswith("/")
            and all(part not in ("", ".", "..") for part in value.split("/")))


def _batch_shape(rank):
    return lambda value: (isinstance(value, list) and len(value) == rank and value[0] is None
                          and all(_positive_int(size) for size in value[1:]))


#: (key, test, what it must be) for every field a reader relies on.
_FIELDS = [
    ("model", lambda v: isinstance(v, str) and bool(v), "a model name"),
    ("signature", lambda v: v == SIGNATURE, repr(SIGNATURE)),
    ("latent_prior", lambda v: v in PRIORS, f"one of {', '.join(PRIORS)}"),
    ("inputs", lambda v: isinstance(v, dict) and set(v) <= {INPUT, LABEL},
     f"an object with {INPUT!r} [and {LABEL!r}]"),
    ("inputs.z.dtype", lambda v: v == "float32", "'float32'"),
    ("inputs.z.shape", _batch_shape(2), "[null, latent_dim] with latent_dim a positive integer"),
    ("outputs.images.dtype", lambda v: v == "uint8", "'uint8'"),
    ("outputs.images.shape", _batch_shape(4), "[null, height, width, channels] with positive sizes"),
    ("saved_model.path", _relative_path, "a relative path inside the run folder"),
    ("saved_model.version", _positive_int, "a positive integer"),
    ("saved_model.sha256", _sha256, "a sha256 (64 lowercase hex digits)"),
    ("saved_model.files", lambda v: isinstance(v, dict) and "saved_model.pb" in v
     and all(_relative_path(name) and _sha256(digest) for name, digest in v.items()),
     "{relative path: sha256} of the SavedModel's files, saved_model.pb included"),
    ("tflite.path", lambda v: _relative_path(v) and v.endswith(".tflite"),
     "a relative path to a .tflite file"),
    ("tflite.bytes", lambda v: _positive_int(v), "the file's size, a positive integer"),
    ("tflite.sha256", _sha256, "a sha256 (64 lowercase hex digits)"),
]
_LABEL_FIELDS = [
    ("inputs.label.dtype", lambda v: v == "int32", "'int32'"),
    ("inputs.label.shape", lambda v: v == [None], "[null]"),
    ("inputs.label.num_classes", _positive_int, "a positive integer"),
]


def _validate(manifest, path, run_dir):
    def fail(problem):
        raise ArtifactError(
            f"{path}: {problem}; the export is damaged or was written by an older `zoo export`: "
            f"{_again(run_dir)}."
        )

    if not isinstance(manifest, dict):
        fail(f"expected a JSON object, got {type(manifest).__name__}")
    conditional = isinstance(manifest.get("inputs"), dict) and LABEL in manifest["inputs"]
    fields = _FIELDS + (_LABEL_FIELDS if conditional else [])
    for key, test, expected in fields:
        value = manifest
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                fail(f"{key} is missing")
            value = value[part]
        if not test(value):
            fail(f"{key} must be {expected}, got {value!r}")
    if folder_digest(manifest["saved_model"]["files"]) != manifest["saved_model"]["sha256"]:
        fail("saved_model.files do not add up to saved_model.sha256")


def read_manifest(run_dir):
    """The validated contents of `run_dir/export.json`.

    Guarantees the keys readers use: `inputs.z.shape[1]` (latent size, a
    positive int), `inputs.label.num_classes` for conditional models,
    `latent_prior`, `outputs.images.shape`, and the paths and digests of
    `saved_model` and `tflite`.

    Raises:
        ArtifactError: the file is missing, not JSON, lacks a key or holds a
            value of the wrong type; the message names the file and says to
            re-run `zoo export`.

    Example:
        manifest = read_manifest("runs/dcgan")
        generate = open_tflite("runs/dcgan", manifest)
        latent_dim = manifest["inputs"]["z"]["shape"][1]
    """
    path = os.path.join(run_dir, MANIFEST_FILE)
    try:
        with open(path, "rb") as f:
            content = f.read()
    except FileNotFoundError:
        raise ArtifactError(
            f"{path} does not exist: {run_dir!r} has no export; run `zoo export {run_dir}` first."
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
    return manifest


def _copies(run_dir):
    """Folders in run-folder layout that may hold exported files: the run, then export snapshots."""
    try:
        names = sorted(os.listdir(run_dir))
    except OSError:
        names = []
    snapshots = [os.path.join(run_dir, name, "previous") for name in names if name.startswith(STAGING_PREFIX)]
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
            what = "truncated" if len(content) < entry["bytes"] else "not the file export.json records"
            problem = f"{path} is {what}{size}: its sha256 differs from export.json's"
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
        return f"{source} holds files export.json does not list ({', '.join(sorted(present - set(files)))})"
    shutil.rmtree(destination, ignore_errors=True)
    for name, digest in files.items():
        with open(run_path(source, name), "rb") as f:
            content = f.read()
        if sha256_bytes(content) != digest:
            return f"{source}/{name} differs from the sha256 in export.json"
        target = run_path(destination, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
    return None


def _contract(manifest, batch):
    """`{name: (dtype, shape)}` of the inputs and of the output, with `batch` as batch size."""
    inputs = {name: (spec["dtype"], [batch, *spec["shape"][1:]]) for name, spec in manifest["inputs"].items()}
    output = manifest["outputs"][OUTPUT]
    return inputs, {OUTPUT: (output["dtype"], [batch, *output["shape"][1:]])}


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
    signature = graphs[0].signature_def.get(SIGNATURE) if graphs else None
    if signature is None:
        raise _damaged(f"{display} has no 'serve' graph with a {SIGNATURE!r} signature", run_dir)
    found = ({name: _tensor_spec(info) for name, info in signature.inputs.items()},
             {name: _tensor_spec(info) for name, info in signature.outputs.items()})
    expected = _contract(manifest, None)
    if found != expected:
        raise _damaged(f"{display}'s signature {found} does not match export.json's {expected}", run_dir)


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
        A callable taking latents `(n, latent_dim)` (and int labels `(n,)`
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
            signature = loaded.signatures[SIGNATURE]
        except Exception as error:  # TensorFlow raises many types here
            first = (str(error).strip().splitlines() or [""])[0][:300]
            problem = f"TensorFlow cannot load {display} ({type(error).__name__}: {first})"
            raise _damaged(problem, run_dir) from None
    finally:
        # The variables were read into memory by `load`.
        shutil.rmtree(private, ignore_errors=True)

    def run(z, labels=None):
        return signature(**feeds(z, labels))[OUTPUT].numpy()

    run.saved_model = loaded  # keeps the restored variables alive with the signature
    return run


def _variant(entry):
    return os.path.basename(entry["path"]).removeprefix("generator_").removesuffix(".tflite")


def _tflite_entry(run_dir, manifest, variant):
    entry = manifest["tflite"]
    exported = _variant(entry)
    if variant != exported:
        raise ArtifactError(
            f"{os.path.join(run_dir, MANIFEST_FILE)} records no TFLite variant {variant!r} "
            f"(it has {exported!r}); use that, or export the variant first."
        )
    return entry


def _open_interpreter(run_dir, manifest, variant, num_threads):
    entry = _tflite_entry(run_dir, manifest, variant)
    display = run_path(run_dir, entry["path"])
    content = _read_tflite(run_dir, entry)
    try:
        runner = interpreter(content, num_threads).get_signature_runner(SIGNATURE)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
    except (ValueError, RuntimeError) as error:
        first = (str(error).strip().splitlines() or [""])[0][:300]
        raise _damaged(f"LiteRT cannot load {display} ({first})", run_dir) from None
    found = tuple({name: (tf.dtypes.as_dtype(detail["dtype"]).name, detail["shape"].tolist())
                   for name, detail in part.items()} for part in (inputs, outputs))
    expected = _contract(manifest, 1)
    if found != expected:
        raise _damaged(f"{display}'s signature {found} does not match export.json's {expected}", run_dir)
    return runner


def open_tflite(run_dir, manifest, variant="float32", num_threads=2):
    """The export's `.tflite` file as `(z, labels=None) -> uint8 images`, checked before it runs.

    Args:
        run_dir: the run folder.
        manifest: `read_manifest(run_dir)`.
        variant: the file `tflite/generator_<variant>.tflite`; export writes `float32`.
        num_threads: LiteRT interpreter threads.

    Raises:
        ArtifactError: export.json records no such variant, or the file is
            missing, truncated, differs from its sha256, or LiteRT cannot
            load it or finds another signature.
    """
    return batched_runner(_open_interpreter(run_dir, manifest, variant, num_threads))


def verify_export(run_dir):
    """Checks an export like the readers do, without running it; returns its manifest.

    Example:
        python -c "import export; export.verify_export('runs/dcgan')"
    """
    manifest = read_manifest(run_dir)
    private = tempfile.mkdtemp(prefix="zoo-saved-model-")
    try:
        _verified_saved_model(run_dir, manifest, private)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    _open_interpreter(run_dir, manifest, _variant(manifest["tflite"]), num_threads=1)
    return manifest
