"""A static web page that runs an exported `.tflite` generator in the browser with LiteRT.js.

`write_web(run_dir, out)` writes a folder that any static file server can
serve (no Python on the server):

| file | what |
|---|---|
| `index.html`, `app.js` | the page: a seed (and class) draws an image, a slider walks between two seeds |
| `model.json` | the file's name and sha256, latent size, classes, image shape |
| `generator_<variant>.tflite` | the exported file, checked against the export's manifest |
| `litert/` | LiteRT.js (`@litertjs/core`, WebAssembly) and its `package.json` (version, licence) |

The page checks the file's sha256 (WebCrypto) before LiteRT parses it. It
runs the file's own signatures: `generate` for a seed, `latents` and
`serving_default` for the walk, so the browser draws exactly the pixels
Python, TF Serving and a phone draw for the same seed.

LiteRT.js comes from the npm registry, pinned by `web/package-lock.json`
(integrity hashes), installed once with `npm ci` into the cache
(`~/.cache/keras-gen-zoo/litertjs-VERSION`, or `$ZOO_CACHE_DIR/..`), or
taken from a `node_modules` folder you name. Only the two WebAssembly builds
the loader picks from without extra browser features (with and without
relaxed SIMD) are copied, about 19 MB of the package's 38 MB.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

from export.reading import latent_shape, read_tflite
from zoo.errors import ZooError
from zoo.files import fsync_tree, sha256_bytes

PAGE = pathlib.Path(__file__).with_name("web")
#: The LiteRT.js release the page is written and tested against.
RUNTIME_VERSION = json.loads((PAGE / "package.json").read_text())["dependencies"]["@litertjs/core"]
#: What the page needs of the npm packages: `(package, file inside it, path under litert/)`.
RUNTIME_FILES = (
    ("@litertjs/core", "dist/index.js", "core/index.js"),
    ("@litertjs/wasm-utils", "dist/index.js", "wasm-utils/index.js"),
    *(("@litertjs/core", f"wasm/{name}", f"wasm/{name}")
      for name in ("litert_wasm_internal.js", "litert_wasm_internal.wasm",
                   "litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm")),
)


class WebExportError(ZooError, ValueError):
    """LiteRT.js cannot be had (no npm, offline, a folder without it), or `out` is not a page folder."""


def runtime_cache():
    """Where `npm ci` installs LiteRT.js once (`ZOO_CACHE_DIR` moves it, as it does the feature cache)."""
    base = os.environ.get("ZOO_CACHE_DIR")
    root = pathlib.Path(base).parent if base else pathlib.Path.home() / ".cache" / "keras-gen-zoo"
    return root / f"litertjs-{RUNTIME_VERSION}"


def _check_runtime(node_modules):
    """`node_modules` if it holds every runtime file of the pinned release, else a WebExportError."""
    node_modules = pathlib.Path(node_modules)
    package = node_modules / "@litertjs" / "core" / "package.json"
    try:
        version = json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise WebExportError(
            f"{node_modules} holds no @litertjs/core (no {package}); pass a node_modules folder where "
            f"`npm install @litertjs/core@{RUNTIME_VERSION}` was run, or leave --litertjs out to "
            "install it with npm.") from None
    if version != RUNTIME_VERSION:
        raise WebExportError(
            f"{node_modules} holds @litertjs/core {version}; the page is written for {RUNTIME_VERSION}: "
            f"`npm install @litertjs/core@{RUNTIME_VERSION}` there, or leave --litertjs out.")
    missing = [f"{name}/{inside}" for name, inside, _ in RUNTIME_FILES
               if not (node_modules / name / inside).is_file()]
    if missing:
        raise WebExportError(f"{node_modules} lacks {', '.join(missing)}; reinstall @litertjs/core there.")
    return node_modules


def runtime(node_modules=None):
    """The `node_modules` folder holding LiteRT.js, installing it with `npm ci` on first use.

    Args:
        node_modules: a folder that already holds `@litertjs/core` at
            `RUNTIME_VERSION` (offline machines); None uses the cache.

    Raises:
        WebExportError: npm is missing or fails (e.g. offline), or the
            folder named lacks the runtime.
    """
    if node_modules is not None:
        return _check_runtime(node_modules)
    cache = runtime_cache()
    installed = cache / "node_modules"
    if installed.is_dir():
        return _check_runtime(installed)
    npm = shutil.which("npm")
    if npm is None:
        raise WebExportError(
            "the web page needs LiteRT.js from the npm registry, and `npm` is not on PATH: install "
            f"Node.js (with npm), or pass --litertjs DIR, a node_modules folder holding @litertjs/core "
            f"{RUNTIME_VERSION}.")
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PAGE / name, staging / name)
        # `npm ci` installs exactly the lock file's packages, checking their integrity hashes.
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                                cwd=staging, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            raise WebExportError(
                f"`npm ci` could not install @litertjs/core {RUNTIME_VERSION} "
                f"({' '.join(lines[:2])[:300] or f'exit status {result.returncode}'}); check the "
                "network to the npm registry, or pass --litertjs DIR, a node_modules folder holding it.")
        _check_runtime(staging / "node_modules")
        try:
            os.rename(staging, cache)  # another process may have installed it meanwhile
        except OSError:
            if not installed.is_dir():
                raise
        return installed
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_web(run_dir, out, manifest, name, variant="float32", node_modules=None):
    """Writes the browser page of an export version to the folder `out`, all or nothing.

    Args:
        run_dir: the run folder.
        out: the folder to write; an existing page there is replaced whole
            (the new one is complete before the old one goes).
        manifest: `export.read_manifest(run_dir, version)`.
        name: the title the page shows.
        variant: the `.tflite` variant (`float32`, the reference, by default).
        node_modules: a folder holding LiteRT.js (see `runtime`).

    Returns:
        The `model.json` written.

    Raises:
        ArtifactError: the variant is missing or its file differs from the manifest.
        WebExportError: LiteRT.js cannot be had.
    """
    content = read_tflite(run_dir, manifest, variant)
    entry = manifest["tflite"][variant]
    modules = runtime(node_modules)
    card = {
        "name": name,
        "model": manifest["model"],
        "export_version": manifest["version"],
        "variant": variant,
        "file": os.path.basename(entry["path"]),
        "sha256": sha256_bytes(content),
        "latent_shape": list(latent_shape(manifest)),
        "latent_prior": manifest["latent"]["prior"],
        "num_classes": manifest["image"]["num_classes"],
        "class_names": (manifest.get("dataset") or {}).get("class_names"),
        "image_shape": manifest["image"]["shape"],
        "runtime": f"@litertjs/core {RUNTIME_VERSION}",
    }
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}-", dir=parent)
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the page from a web server
        for page_file in ("index.html", "app.js"):
            shutil.copyfile(PAGE / page_file, os.path.join(staging, page_file))
        with open(os.path.join(staging, card["file"]), "wb") as f:
            f.write(content)
        with open(os.path.join(staging, "model.json"), "w") as f:
            json.dump(card, f, indent=2)
        for package, inside, target in RUNTIME_FILES:
            destination = os.path.join(staging, "litert", *target.split("/"))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copyfile(modules / package / inside, destination)
        # Provenance and licence (Apache-2.0) of the runtime copied above.
        shutil.copyfile(modules / "@litertjs" / "core" / "package.json",
                        os.path.join(staging, "litert", "package.json"))
        fsync_tree(staging)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return card


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_in(staging, out):
    """Renames the complete `staging` folder to `out`; an old `out` is moved aside, then removed."""
    old = None
    if os.path.lexists(out):
        if not os.path.isdir(out) or (os.listdir(out) and not os.path.isfile(os.path.join(out, "model.json"))):
            raise WebExportError(
                f"{out} exists and is not a page written by `zoo export --web`; name another --out "
                "or remove it.")
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}-old-", dir=os.path.dirname(out))
        os.rename(out, os.path.join(old, "page"))
    os.rename(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
