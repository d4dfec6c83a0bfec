import os
import pathlib
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import zoo  # noqa: E402
from tests import toys  # noqa: E402

# The test-only families join the registry before any test collects its models from it.
toys.register()

#: The checkout's root.
ROOT = pathlib.Path(__file__).resolve().parents[1]

def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="run the slow tier too (kill -9 runs, full exports, the browser, several workers)")


def pytest_collection_modifyitems(config, items):
    """Without --slow, the tests marked slow are deselected: `python -m pytest` is the fast tier."""
    if config.getoption("--slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


TINY_SHAPE = (16, 16, 1)
TINY = {"image_shape": TINY_SHAPE, "latent_dim": 8, "width": 8, "seed": 1}
#: The same tiny networks, as `zoo train` flags.
TINY_FLAGS = ["--set", "image_shape=16,16,1", "--set", "latent_dim=8", "--set", "width=8"]


def tiny_model(name, **overrides):
    """A registered model small enough to train a step in well under a second (its `TINY_CONFIG`)."""
    model = zoo.create(name, **{**zoo.get(name).TINY_CONFIG, "seed": 1, **overrides})
    model.compile(**model.default_optimizers())
    return model


def tiny_images(model, n=8, seed=0):
    """Random images in the model's shape and pixel range."""
    low, high = model.pixel_range
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, (n, *model.image_shape)).astype("float32")


def tiny_labels(n=8):
    """Class labels for `tiny_images` (conditional models use them, others ignore them)."""
    return np.arange(n, dtype="int64") % 3


#: The families the fast tier runs the registry-wide batteries on: one of each kind the
#: contract tells apart (a GAN; an encoder with class labels; a multi-step sampler with an
#: image-shaped latent). The slow tier (`--slow`) runs them on every registered family.
FAST_FAMILIES = ("dcgan", "cvae", "toy_steps")


def families(names=None):
    """`names` (default: every registered family) as parameters, those outside FAST_FAMILIES marked slow."""
    return [pytest.param(name, marks=() if name in FAST_FAMILIES else pytest.mark.slow, id=name)
            for name in (zoo.names() if names is None else names)]


@pytest.fixture(params=families())
def model_name(request):
    return request.param


def zoo_cli(*args, check=True, env=None, cwd=None):
    """Runs `zoo ARGS` in a subprocess, as a user would.

    `env` adds to (or, None values, removes from) the environment.
    """
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    if cwd is not None:  # the source tree stays importable from another directory
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [root, environment.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "commands.cli", *map(str, args)],
        capture_output=True, text=True, env=environment, timeout=600, cwd=cwd,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"zoo {args} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def zoo_main(*args):
    """Runs `zoo ARGS` in this process (`commands.cli.main`); returns `(exit status, stdout, stderr)`."""
    import contextlib
    import io

    from commands.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as stop:  # argparse
            status = stop.code
    return status, out.getvalue(), err.getvalue()


def zoo_run(*args, check=True, env=None, cwd=None):
    """`zoo ARGS` in this process, answered as `zoo_cli` answers: a `CompletedProcess`.

    The fast tier's way to run a command: no TensorFlow import per call. `env`
    and `cwd` apply for the call only. Output written below Python (TensorFlow's
    C++ log lines) is not captured; a test of that runs `zoo_cli`.
    """
    import contextlib

    with contextlib.ExitStack() as scope:
        if cwd is not None:
            scope.enter_context(contextlib.chdir(cwd))
        if env:
            saved = dict(os.environ)
            scope.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
            for key, value in env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        status, out, err = zoo_main(*args)
    if check and status != 0:
        raise AssertionError(f"zoo {args} failed ({status}):\n{err[-3000:]}")
    return subprocess.CompletedProcess([str(a) for a in args], status, out, err)


#: `zoo train` of a tiny DCGAN: 8 steps of 32 images, seconds on a CPU.
TINY_TRAIN = ["train", "--model", "dcgan", *TINY_FLAGS, "--split", "train[:256]", "--batch-size", "32",
              "--epochs", "1"]


@pytest.fixture(scope="session")
def exported_run(tmp_path_factory):
    """A finished tiny run with a float32 export; copy it before changing anything in it."""
    run = tmp_path_factory.mktemp("exported") / "run"
    status, _, err = zoo_main(*TINY_TRAIN, "--out", run)
    assert status == 0, err
    status, _, err = zoo_main("export", run, "--variants", "float32", "--fd-samples", "0")
    assert status == 0, err
    return run


#: `python -c FAMILY_RUN NAME OUT`: `zoo train` of a family's `TINY_CONFIG` (2 epochs of 2 steps on
#: Fashion-MNIST), then `zoo export` of every variant.
FAMILY_RUN = """
import sys

from commands.cli import main
from tests import toys
from training.kill_resume import tiny_flags

toys.register()

name, out = sys.argv[1:]
status = main(["train", "--model", name, *tiny_flags(name), "--split", "train[:64]", "--batch-size", "16",
               "--epochs", "2", "--steps-per-epoch", "2", "--out", out])
sys.exit(status or main(["export", out, "--fd-samples", "0"]))
"""


@pytest.fixture(scope="session")
def family_run(request, tmp_path_factory, worker_id):
    """`run(name)`: a run folder of the registered family `name`, trained by `zoo train` and exported whole.

    Made once for the whole test session (`FAMILY_RUN`): the first test
    process that asks makes it while the others wait, and all of them read
    it. A process that would wait makes, meanwhile, another family's run that
    the session's tests ask for and no process has started (the test files
    ask in the same order, so otherwise one process idles while the other
    makes each run). A run is made in a Python process of its own: the TFLite
    converter keeps what it allocated for the process's life, gigabytes over
    a multi-step sampler's unrolled graphs and every variant. Copy it before
    changing anything in it but the files the image commands write (their run
    lock keeps two test processes from writing it at once).
    """
    import fcntl

    # Shared by the test processes of one session (pytest-xdist's workers have a base folder each).
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    (shared / "family_runs").mkdir(exist_ok=True)
    # Every process collects every test: the families any of them will ask for, in the order they ask.
    wanted = list(dict.fromkeys(
        value for item in request.session.items if "family_run" in getattr(item, "fixturenames", ())
        for value in (item.callspec.params.values() if hasattr(item, "callspec") else ())
        if isinstance(value, str) and value in zoo.names()))

    def folder_of(name):
        return shared / "family_runs" / name

    def made(name):
        return (folder_of(name) / "exports" / "1" / "model_card.json").is_file()

    def make(name):  # with the family's lock held
        if made(name):
            return
        shutil.rmtree(folder_of(name), ignore_errors=True)  # a run a failed process left half-made
        result = subprocess.run([sys.executable, "-c", FAMILY_RUN, name, str(folder_of(name))], capture_output=True,
                                text=True, timeout=1800, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert result.returncode == 0, result.stderr[-3000:]

    def make_another(busy):
        """Makes one wanted run other than `busy` that no process holds; False when there is none."""
        for other in wanted:
            if other == busy or made(other):
                continue
            with open(shared / "family_runs" / f"{other}.lock", "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the file closes
                except BlockingIOError:
                    continue
                make(other)
                return True
        return False

    def run(name):
        with open(shared / "family_runs" / f"{name}.lock", "w") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # another process makes it
                    if not make_another(busy=name):
                        fcntl.flock(lock, fcntl.LOCK_EX)
                        break
            make(name)
        return folder_of(name)

    return run


def digests(folder):
    """`{relative path: sha256}` of every file under `folder`."""
    import hashlib
    import pathlib

    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_image_folder(root):
    """Writes a flat (unlabelled) folder: 6 PNG + 2 JPEG images of varied sizes, 2 broken ones and junk.

    Of the 10 image files, `truncated.png` (a real PNG signature cut off) and
    `broken.png` do not decode; `notes.txt` is not an image, and the
    subfolder `thumbs/` holds no image, so it is no class.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    (root / "thumbs").mkdir(parents=True)
    (root / "thumbs" / "index.txt").write_text("not an image")
    for i in range(6):
        image = rng.integers(0, 256, (40 + i, 30 + 2 * i, 3), dtype=np.uint8)
        (root / f"img{i}.PNG").write_bytes(tf.io.encode_png(image).numpy())
    for i in range(2):
        image = rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)
        (root / f"photo{i}.jpg").write_bytes(tf.io.encode_jpeg(image).numpy())
    (root / "broken.png").write_bytes(b"not really a png")
    # A real PNG signature, cut off after 40 bytes: only decoding finds it.
    truncated = tf.io.encode_png(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).numpy()[:40]
    (root / "truncated.png").write_bytes(truncated)
    (root / "notes.txt").write_text("ignored")


def write_labelled_folder(root, per_class=(12, 8, 10), size=(20, 24)):
    """Writes a folder of class subfolders `cat/`, `dog/`, `fox/`, as `image_dataset_from_directory` reads.

    Class `k` has `per_class[k]` PNG images of one grey level, 40 + 80 k
    (so a test can tell the classes apart), of `size` pixels (height,
    width); a third of each class's files sit one folder deeper
    (`cat/more/...`), and a hidden folder `.cache/` with images is no class.

    Returns:
        The class names, sorted: `["cat", "dog", "fox"]`.
    """
    import tensorflow as tf

    names = ["cat", "dog", "fox"][: len(per_class)]
    for index, (name, count) in enumerate(zip(names, per_class)):
        (root / name / "more").mkdir(parents=True)
        image = np.full((*size, 1), 40 + 80 * index, np.uint8)
        for i in range(count):
            sub = root / name / ("more" if i % 3 == 2 else "")
            (sub / f"{name}{i:02d}.png").write_bytes(tf.io.encode_png(image).numpy())
    (root / ".cache").mkdir()
    (root / ".cache" / "x.png").write_bytes(tf.io.encode_png(np.zeros((4, 4, 1), np.uint8)).numpy())
    return names


@pytest.fixture(scope="session")
def chromium():
    """The Chromium `export.browser` drives, for the page tests; skipped without it, failed in CI.

    In CI (`CI=true`) `.ci/run` installs it, so a missing Chromium there is a
    failure, not a silent skip. Session-scoped: a test is skipped before its
    other fixtures train or export anything.
    """
    from export.browser import CHROMIUM

    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM
