"""Every error a user can cause: one line on stderr, exit status 2, nothing lost.

A table of bad inputs (flags and hyperparameters, damaged or missing run
files, broken datasets, folders that cannot be written), each run through
the `zoo` command against a copy of a real run folder. Each must end with
exit status 2 and one line on stderr that contains the expected words, no
traceback, and leave every file of the run byte for byte as it was.
"""

import hashlib
import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import TINY_TRAIN as TRAIN
from tests.conftest import digests as _digests
from tests.conftest import zoo_main

TINY = ["--set", "image_shape=16,16,1", "--set", "latent_dim=8", "--set", "width=8"]


# Damage done to the copy of the run before the command runs.

def _write(name, content):
    def damage(run, tmp):
        path = run / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return damage


def _truncate(name, keep=0.5):
    def damage(run, tmp):
        path = run / name
        path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])
    return damage


def _remove(name):
    def damage(run, tmp):
        path = run / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return damage


def _foreign_keras_file(run, tmp):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.save(run / "model.keras")


def _image_folder(kind):
    """An image folder `TMP/images`: empty, of broken files, flat, mixing flat and class images, of one
    class, or with an empty class."""
    def damage(run, tmp):
        import io

        from PIL import Image

        folder = tmp / "images"
        folder.mkdir()
        png = io.BytesIO()
        Image.new("L", (8, 8), 128).save(png, format="PNG")
        places = {"empty": [], "broken": [], "flat": ["a.png", "b.png"], "mixed": ["a.png", "cat/b.png", "dog/c.png"],
                  "one class": ["cat/a.png", "cat/b.png"], "empty class": ["cat/a.png", "dog/notes.txt"]}[kind]
        for place in places:
            (folder / place).parent.mkdir(exist_ok=True)
            (folder / place).write_bytes(png.getvalue() if place.endswith(".png") else b"text")
        if kind == "broken":
            for i in range(3):
                (folder / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return damage


def _damaged_classifier(run, tmp):
    classifier = pathlib.Path(__file__).parents[1] / "saved_models" / "fashion_mnist_classifier"
    copy = tmp / "classifier"
    shutil.copytree(classifier, copy)
    data = (copy / "classifier.keras").read_bytes()
    (copy / "classifier.keras").write_bytes(data[: len(data) // 2])
    card = json.loads((copy / "model_card.json").read_text())
    card["files"]["classifier.keras"] = hashlib.sha256((copy / "classifier.keras").read_bytes()).hexdigest()
    (copy / "model_card.json").write_text(json.dumps(card))  # the card agrees with the damaged file


def _damaged_tfds(run, tmp):
    import tensorflow_datasets as tfds

    source = pathlib.Path(tfds.builder("fashion_mnist").data_dir)
    copy = tmp / "tfds" / "fashion_mnist" / source.name
    shutil.copytree(source, copy)
    for record in copy.glob("fashion_mnist-train.tfrecord*"):
        record.write_bytes(record.read_bytes()[:100_000])


def _backup_mid_epoch(run, tmp):
    with np.load(run / "backup.npz") as stored:
        state = {k: stored[k] for k in stored.files}
    meta = json.loads(state["__meta__"].tobytes())
    meta.update(epoch=1, batch=3, step=11)  # killed in the middle of epoch 2
    state["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(run / "backup.npz", "wb") as f:
        np.savez(f, **state)


def _a_file(run, tmp):
    (tmp / "a_file").write_text("not a folder")


#: Holds the run-folder lock of every path written to its stdin, until it ends: another writer.
_HOLDER_SCRIPT = """
import contextlib, sys
from zoo.files import run_lock
with contextlib.ExitStack() as held:
    for line in sys.stdin:
        held.enter_context(run_lock(line.strip(), "zoo train"))
        print("held", flush=True)
"""
_holder = []


@pytest.fixture(scope="module", autouse=True)
def _stop_the_holder():
    yield
    for process in _holder:
        process.kill()
        process.wait()


def _held_by_another_writer(run, tmp):
    if not _holder:
        _holder.append(subprocess.Popen([sys.executable, "-c", _HOLDER_SCRIPT], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True))
    _holder[0].stdin.write(f"{run}\n")
    _holder[0].stdin.flush()
    assert _holder[0].stdout.readline() == "held\n"


BUSY = "is being written by pid"
PIXEL_LIMIT = "-pixel limit of one file"
MEMORY = "of memory and this machine has"

CASES = [
    # Flags and hyperparameters.
    ("a flag list does not take", ["list", "--bogus"], None, "unrecognized arguments: --bogus"),
    ("unknown model", ["train", "--model", "stylegan", "--out", "TMP/new"], None, "unknown model 'stylegan'"),
    ("unknown hyperparameter", [*TRAIN, "--set", "latent_size=3", "--out", "TMP/new"], None,
     "has no hyperparameter 'latent_size'"),
    ("text for a number", [*TRAIN, "--set", "latent_dim=big", "--out", "TMP/new"], None, "expected a number"),
    ("latent_dim 0", [*TRAIN, "--set", "latent_dim=0", "--out", "TMP/new"], None, "latent_dim"),
    ("negative width", [*TRAIN, "--set", "width=-8", "--out", "TMP/new"], None, "width"),
    ("image too small", [*TRAIN, "--set", "image_shape=7,7,1", "--out", "TMP/new"], None, "image_shape"),
    ("no critic steps", ["train", "--model", "wgan_gp", *TINY, "--set", "critic_steps=0", "--out", "TMP/new"],
     None, "critic_steps=0"),
    ("negative penalty", [*TRAIN, "--set", "r1_weight=-1", "--out", "TMP/new"], None, "r1_weight"),
    ("unknown preset", ["train", "--preset", "nope", "--out", "TMP/new"], None, "unknown preset 'nope'"),
    ("GAN flag for a VAE", ["train", "--model", "vae", "--d-lr", "1e-3", "--out", "TMP/new"], None,
     "--d-lr does not apply to model 'vae'"),
    ("unknown training metric", [*TRAIN, "--metrics", "fd,fid", "--out", "TMP/new"], None,
     "unknown training metric fid"),
    ("zero batch", [*TRAIN, "--batch-size", "0", "--out", "TMP/new"], None, "--batch-size"),
    ("negative epochs", [*TRAIN, "--epochs", "-1", "--out", "TMP/new"], None, "--epochs"),
    ("zero learning rate", [*TRAIN, "--lr", "0", "--out", "TMP/new"], None, "--lr"),
    ("batch above the split", [*TRAIN[:-4], "--batch-size", "512", "--epochs", "1", "--out", "TMP/new"], None,
     "fewer than one batch"),
    ("resume and overwrite", [*TRAIN, "--resume", "--overwrite", "--out", "RUN"], None, "not allowed with"),
    ("unknown command", ["trian"], None, "invalid choice: 'trian'"),
    ("truncation above 1", ["sample", "RUN", "--truncation", "2"], None, "truncation=2"),
    ("labels for an unconditional model", ["sample", "RUN", "--labels", "3"], None, "drop --labels"),
    ("sampling steps for a one-step generator", ["sample", "RUN", "--steps", "4"], None,
     "has no sampler option steps"),
    ("a solver for a one-step generator", ["evaluate", "RUN", "--solver", "heun"], None,
     "has no sampler option solver"),
    ("exported steps for a one-step generator", ["export", "RUN", "--steps", "4"], None,
     "has no sampler option steps"),
    ("other steps than the exported file holds", ["sample", "RUN", "--artifact", "tflite", "--steps", "4"], None,
     "the exported tflite holds no sampler options"),
    ("unknown metric", ["evaluate", "RUN", "--metrics", "fid"], None, "unknown metric 'fid'"),
    ("unknown extractor", ["evaluate", "RUN", "--extractor", "clip"], None, "unknown extractor 'clip'"),
    ("reconstruction of a GAN", ["evaluate", "RUN", "--metrics", "reconstruction"], None, "need an autoencoder"),
    ("export of nothing", ["export", "TMP/does-not-exist"], None, "neither a path nor a shipped model"),
    ("sample of nothing", ["sample", "TMP/does-not-exist"], None, "neither a path nor a shipped model"),
    ("unknown artifact", ["evaluate", "RUN", "--artifact", "onnx"], None, "--artifact 'onnx'"),
    ("export version 0", ["export", "RUN", "--version", "0"], None, "--version"),
    ("other settings in a run folder", [*TRAIN, "--seed", "5", "--out", "RUN"], None, "other settings"),
    ("settings with --resume", ["train", "--resume", "--out", "RUN", "--epochs", "2", "--lr", "1e-3"], None,
     "drop --lr"),
    # Damaged or missing run files.
    ("no model.keras", ["export", "RUN"], _remove("model.keras"), "no model file"),
    ("truncated model.keras", ["export", "RUN"], _truncate("model.keras"), "model.keras"),
    ("model.keras not a zip", ["sample", "RUN"], _write("model.keras", "hello"), "not a readable .keras"),
    ("model.keras of another class", ["sample", "RUN"], _foreign_keras_file, "not a zoo model"),
    ("config.json not JSON", [*TRAIN, "--out", "RUN"], _write("config.json", "{oops"), "config.json"),
    ("config.json of another kind", ["train", "--resume", "--out", "RUN", "--epochs", "2"],
     _write("config.json", "[1, 2]"), "config.json"),
    ("no config.json", ["evaluate", "RUN"], _remove("config.json"), "no config.json"),
    ("history.json damaged", ["train", "--resume", "--out", "RUN", "--epochs", "2"],
     _write("history.json", "{\"epoch\": 3"), "history.json"),
    ("backup damaged", ["train", "--resume", "--out", "RUN", "--epochs", "2"], _truncate("backup.npz"),
     "backup"),
    ("fewer epochs than a mid-epoch backup", ["train", "--resume", "--out", "RUN", "--epochs", "1"],
     _backup_mid_epoch, "already trained into epoch 2"),
    ("--deterministic on a run started without it", ["train", "--resume", "--out", "RUN", "--epochs", "2",
                                                      "--deterministic"], None, "--deterministic changes"),
    ("no export", ["evaluate", "RUN", "--artifact", "tflite"], _remove("exports"), "has no export"),
    ("no such export version", ["evaluate", "RUN", "--artifact", "tflite", "--version", "4"], None,
     "has no export version 4 (exported: 1)"),
    ("manifest not JSON", ["evaluate", "RUN", "--artifact", "saved_model"],
     _write("exports/1/model_card.json", "{"), "model_card.json"),
    ("truncated tflite", ["evaluate", "RUN", "--artifact", "tflite"],
     _truncate("tflite/1/generator_float32.tflite"), "tflite"),
    ("tflite variant not exported", ["evaluate", "RUN", "--artifact", "tflite:int8"], None,
     "no TFLite variant 'int8'"),
    ("unknown tflite variant to export", ["export", "RUN", "--variants", "int4"], None,
     "unknown TFLite variant 'int4'"),
    ("damaged saved_model.pb", ["evaluate", "RUN", "--artifact", "saved_model"],
     _truncate("saved_model/1/saved_model.pb"), "saved_model"),
    ("no saved_model", ["evaluate", "RUN", "--artifact", "saved_model"], _remove("saved_model"),
     "saved_model"),
    ("damaged classifier whatever its card says", ["evaluate", "RUN", "--extractor", "TMP/classifier", "-n", "10"],
     _damaged_classifier, "classifier"),
    ("missing FID graph", ["evaluate", "RUN", "--extractor", "fid:TMP/none.pb", "-n", "10"], None,
     "no FID Inception graph"),
    # Datasets.
    ("unknown dataset", [*TRAIN, "--dataset", "fashion_mnst", "--out", "TMP/new"], None,
     "unknown dataset 'fashion_mnst'"),
    ("unknown split", [*TRAIN[:-6], "--split", "validation", "--out", "TMP/new"], None,
     "has no split 'validation'"),
    ("missing image folder", [*TRAIN[:-6], "--dataset", "folder:TMP/nothing", "--out", "TMP/new"], None,
     "does not exist"),
    ("empty image folder", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--out", "TMP/new"],
     _image_folder("empty"), "no .jpg/.jpeg/.png files"),
    ("images that do not decode", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--out", "TMP/new"],
     _image_folder("broken"), "none of the 3 image files"),
    ("conditional model without labels", ["train", "--model", "cgan", *TINY, "--dataset", "folder:TMP/images",
                                          "--out", "TMP/new"], _image_folder("flat"), "needs class labels"),
    ("flat and class images mixed", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--out", "TMP/new"],
     _image_folder("mixed"), "mixes 1 image files at its top level"),
    ("a class folder without images", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--out", "TMP/new"],
     _image_folder("empty class"), "class folder 'dog'"),
    ("conditional model on one class", ["train", "--model", "cgan", *TINY, "--dataset", "folder:TMP/images",
                                        "--out", "TMP/new"], _image_folder("one class"), "one class folder, 'cat'"),
    ("a folder split that is no slice of train", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--split",
                                                  "test", "--out", "TMP/new"], _image_folder("flat"),
     "one split, 'train', which slices"),
    ("folder metrics without held-out images", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--metrics", "fd",
                                                "--out", "TMP/new"], _image_folder("flat"), "need images held out"),
    ("held-out slice overlapping the training slice", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--split",
                                                       "train", "--validation-split", "train[50%:]",
                                                       "--out", "TMP/new"], _image_folder("flat"), "share 1 images"),
    ("no domain classifier for a folder", [*TRAIN[:-6], "--dataset", "folder:TMP/images", "--split", "train[:50%]",
                                           "--validation-split", "train[50%:]", "--metrics", "fd", "--out",
                                           "TMP/new"], _image_folder("flat"), "has no shipped domain classifier"),
    ("a folder classifier without its image shape", ["train-classifier", "--dataset", "folder:TMP/images",
                                                     "--split", "train[:50%]", "--test-split", "train[50%:]",
                                                     "--out", "TMP/new"],
     _image_folder("empty"), "--image-shape H,W,C"),
    ("a folder classifier without a test slice", ["train-classifier", "--dataset", "folder:TMP/images",
                                                  "--image-shape", "8,8,1", "--out", "TMP/new"],
     _image_folder("empty"), "has one split, train"),
    ("truncated dataset files", [*TRAIN, "--data-dir", "TMP/tfds", "--out", "TMP/new"], _damaged_tfds,
     "damaged or truncated"),
    # Output folders that cannot be written.
    ("out below a file", [*TRAIN, "--out", "TMP/a_file/run"], _a_file, "cannot write"),
    ("sample into a file's folder", ["sample", "RUN", "--out", "TMP/a_file/grid.png"], _a_file, "cannot write"),
    # Work that cannot finish: refused before anything is allocated.
    ("a grid scaled past the pixel limit", ["sample", "RUN", "-n", "64", "--scale", "100000"], None, PIXEL_LIMIT),
    ("two billion samples", ["sample", "RUN", "-n", "2000000000"], None, PIXEL_LIMIT),
    ("captions past the pixel limit", ["sample", "RUN", "-n", "90000", "--captions"], None, PIXEL_LIMIT),
    ("a walk past the pixel limit", ["interpolate", "RUN", "--steps", "1000000"], None, PIXEL_LIMIT),
    ("a strip past the pixel limit", ["interpolate", "RUN", "--steps", "100000", "--out", "TMP/strip.png"], None,
     PIXEL_LIMIT),
    ("a traversal past the pixel limit", ["traverse", "RUN", "--steps", "10000000"], None, PIXEL_LIMIT),
    ("evaluating more images than memory holds", ["evaluate", "RUN", "-n", "100000000000"], None, MEMORY),
    ("an FD sample larger than memory", ["export", "RUN", "--fd-samples", "100000000000"], None, MEMORY),
    ("training metrics larger than memory", [*TRAIN, "--metrics", "fd", "--metrics-samples", "100000000000",
                                             "--out", "TMP/new"], None, MEMORY),
    ("a batch larger than memory", [*TRAIN[:-4], "--batch-size", "1000000000", "--epochs", "1", "--out",
                                    "TMP/new"], None, MEMORY),
    ("a classifier batch larger than memory", ["train-classifier", "--batch-size", "1000000000", "--out",
                                               "TMP/classifier"], None, MEMORY),
    # Another process writing the run folder: every writer waits its turn.
    ("train while another writer holds the folder", [*TRAIN, "--out", "RUN"], _held_by_another_writer, BUSY),
    ("resume while another writer holds the folder", ["train", "--resume", "--out", "RUN", "--epochs", "2"],
     _held_by_another_writer, BUSY),
    ("export while another writer holds the folder", ["export", "RUN", "--fd-samples", "0"],
     _held_by_another_writer, BUSY),
    ("a web page into a folder being written", ["export", "RUN", "--web"], _held_by_another_writer, BUSY),
    ("evaluate while another writer holds the folder", ["evaluate", "RUN", "-n", "10"],
     _held_by_another_writer, BUSY),
    ("report while another writer holds the folder", ["report", "RUN"], _held_by_another_writer, BUSY),
    ("sample into a folder being written", ["sample", "RUN"], _held_by_another_writer, BUSY),
    ("interpolate into a folder being written", ["interpolate", "RUN"], _held_by_another_writer, BUSY),
    ("traverse into a folder being written", ["traverse", "RUN"], _held_by_another_writer, BUSY),
    ("reconstruct into a folder being written", ["reconstruct", "RUN"], _held_by_another_writer, BUSY),
]


@pytest.mark.parametrize("args, damage, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(exported_run, tmp_path, args, damage, expected):
    run = tmp_path / "run"
    shutil.copytree(exported_run, run)
    if damage:
        damage(run, tmp_path)
    before = _digests(run)
    args = [str(a).replace("RUN", str(run)).replace("TMP", str(tmp_path)) for a in args]
    status, _, err = zoo_main(*args)
    assert status == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert expected in err and "Traceback" not in err, err
    assert _digests(run) == before
    assert not (tmp_path / "new" / "model.keras").exists()


def _subcommands():
    from commands.cli import build_parser

    (choices,) = [action.choices for action in build_parser()._actions if isinstance(action.choices, dict)]
    return set(choices)


def test_the_corpus_covers_every_command_and_every_writer_of_a_run_folder():
    assert len({c[0] for c in CASES}) == len(CASES)  # one name per case
    assert {c[1][0] for c in CASES} >= _subcommands()
    # Each command that writes into a run folder meets another writer holding it.
    busy = {c[1][0] for c in CASES if c[2] is _held_by_another_writer}
    assert busy == _subcommands() - {"train-classifier", "list"}  # these two never write a run folder
