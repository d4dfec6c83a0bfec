"""`zoo interpolate`, `reconstruct`, `traverse`, `sample --scale/--captions` and `report` on shipped models,
as a user runs them."""

import pathlib

import numpy as np
import pytest
from PIL import Image

import zoo
from export.tflite import variant
from reports.images import upscale
from tests.conftest import zoo_run


def _frames(path):
    with Image.open(path) as image:
        frames = []
        for k in range(image.n_frames):
            image.seek(k)
            frames.append(np.asarray(image.convert("L")))
        return np.stack(frames), image.info.get("loop")


@pytest.fixture(scope="module")
def shipped_digests():
    """Every shipped file's sha256 is still the card's after the module's commands (nothing written there)."""
    yield
    for name in zoo.shipped.names():
        zoo.shipped.check_files(name)


def test_interpolate_writes_a_looping_gif_through_the_seeds(tmp_path, shipped_digests):
    result = zoo_run("interpolate", "dcgan_fashion_mnist", "--seeds", "1,2,3", "--steps", 4, "--out", "walk.gif",
                     cwd=tmp_path)
    frames, loop = _frames(tmp_path / "walk.gif")
    assert "12 frames (seeds 1 -> 2 -> 3 -> back)" in result.stdout
    assert frames.shape == (12, 112, 112) and loop == 0  # 3 legs of 4 frames, 4x nearest neighbour
    model = zoo.load("dcgan_fashion_mnist")
    expected = upscale(model.sample(3, seed=1).numpy(), 4)[..., 0]
    np.testing.assert_array_equal(frames[[0, 4, 8]], expected)


def test_interpolate_from_the_int8_file_draws_the_keras_walk_within_its_gate(tmp_path):
    zoo_run("interpolate", "dcgan_fashion_mnist", "--seeds", "1,2", "--steps", 3, "--scale", 1,
            "--out", "keras.png", cwd=tmp_path)
    zoo_run("interpolate", "dcgan_fashion_mnist", "--seeds", "1,2", "--steps", 3, "--scale", 1,
            "--artifact", "tflite:int8", "--out", "int8.png", cwd=tmp_path)
    keras_strip = np.asarray(Image.open(tmp_path / "keras.png"), np.int64)
    int8_strip = np.asarray(Image.open(tmp_path / "int8.png"), np.int64)
    assert keras_strip.shape == (32, 4 * 30 + 2)  # one row of 4 frames, 2 px padding
    difference = np.abs(keras_strip - int8_strip)
    # Not the same file; within the int8 gate's maximum (stated over 5,000 held-out seeds, so a
    # sanity bound for these walk frames, not a guarantee).
    assert 0 < difference.max() <= variant("int8").max_abs_diff


def test_class_morph_needs_model_keras(tmp_path):
    zoo_run("interpolate", "cgan_fashion_mnist", "--seeds", 5, "--labels", "0,7", "--steps", 4,
            "--out", "morph.gif", cwd=tmp_path)
    frames, _ = _frames(tmp_path / "morph.gif")
    model = zoo.load("cgan_fashion_mnist")
    np.testing.assert_array_equal(frames[-1], upscale(model.sample(1, seed=5, labels=7).numpy(), 4)[0, ..., 0])
    refused = zoo_run("interpolate", "cgan_fashion_mnist", "--seeds", 5, "--labels", "0,7", "--artifact", "tflite",
                      "--out", "x.gif", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "need a conditional model.keras" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("args, message", [
    (["interpolate", "dcgan_fashion_mnist", "--out", "walk.jpg"], "name a .gif (animation) or a .png"),
    (["interpolate", "dcgan_fashion_mnist", "--seeds", "4"], "at least two seeds"),
    (["interpolate", "dcgan_fashion_mnist", "--labels", "1,2", "--seeds", "3"], "use a conditional model"),
    (["reconstruct", "dcgan_fashion_mnist"],
     "holds a model without an encoder; reconstructions need an autoencoder (beta_vae, cvae, two_stage_vae, vae)"),
    (["traverse", "cvae_fashion_mnist", "--dims", "0,99"], r"dims=[0, 99]; use latent dimensions in [0, 16)"),
    (["sample", "dcgan_fashion_mnist", "--artifact", "tflite:int4"], "has no TFLite variant 'int4'"),
    (["report", "dcgan_fashion_mnist", "--out", "/proc/no/report.html"], "cannot write or read"),
])
def test_image_commands_refuse_bad_input_in_one_line(tmp_path, args, message):
    result = zoo_run(*args, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_reconstruct_shows_test_images_above_their_reconstructions(tmp_path):
    zoo_run("reconstruct", "cvae_fashion_mnist", "-n", 16, "--scale", 1, cwd=tmp_path)
    grid = np.asarray(Image.open(tmp_path / "cvae_fashion_mnist_reconstructions.png"))
    assert grid.shape == (4 * 30 + 2, 8 * 30 + 2)  # rows: real, rebuilt, real, rebuilt; 8 per row
    from training import data

    images, _ = data.load_images("fashion_mnist", "test", 8)
    np.testing.assert_array_equal(grid[2:30, 2:30], images[0, ..., 0])
    real, rebuilt = grid[2:30, 2:242].astype(int), grid[32:60, 2:242].astype(int)
    assert 0 < np.abs(real - rebuilt).mean() < 40  # close to, not a copy of, the input


def test_reconstruct_an_image_folder_needs_classes_for_a_conditional_vae(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(np.full((40, 60, 3), 60 * k, np.uint8)).save(folder / f"{k}.png")
    refused = zoo_run("reconstruct", "cvae_fashion_mnist", "--images", folder, cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "give their class with --labels" in refused.stderr
    zoo_run("reconstruct", "cvae_fashion_mnist", "--images", folder, "--labels", 3, "--scale", 1,
            "--out", "mine.png", cwd=tmp_path)
    grid = np.asarray(Image.open(tmp_path / "mine.png"))
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2)
    from training import data

    column = [pathlib.Path(f).name for f in data.read_folder(str(folder)).files].index("1.png")  # split order
    np.testing.assert_array_equal(grid[2:30, 2 + 30 * column : 30 + 30 * column], np.full((28, 28), 60))
    # Class subfolders give the classes: no --labels needed.
    for k in range(3):
        (folder / f"class{k}").mkdir()
        (folder / f"{k}.png").rename(folder / f"class{k}" / f"{k}.png")
    zoo_run("reconstruct", "cvae_fashion_mnist", "--images", folder, "--scale", 1, "--out", "classes.png",
            cwd=tmp_path)
    assert np.asarray(Image.open(tmp_path / "classes.png")).shape == (2 * 30 + 2, 3 * 30 + 2)


def test_traverse_writes_one_row_per_dimension(tmp_path):
    zoo_run("traverse", "two_stage_vae_fashion_mnist", "--dims", "0,1,2", "--steps", 5, "--scale", 2,
            "--artifact", "saved_model", cwd=tmp_path)
    grid = np.asarray(Image.open(tmp_path / "two_stage_vae_fashion_mnist_traversal.png"))
    assert grid.shape == (3 * 58 + 2, 5 * 58 + 2)
    first_row = [grid[2:58, 2 + 58 * k : 58 + 58 * k].astype(int) for k in range(5)]
    assert np.abs(first_row[0] - first_row[-1]).mean() > 1  # the swept dimension changes the image


def test_sample_grid_with_captions_and_scale(tmp_path):
    zoo_run("sample", "cgan_fashion_mnist", "-n", 10, "--scale", 2, "--out", "plain.png", cwd=tmp_path)
    zoo_run("sample", "cgan_fashion_mnist", "-n", 10, "--scale", 2, "--captions", "--out", "captioned.png",
            cwd=tmp_path)
    plain = np.asarray(Image.open(tmp_path / "plain.png"))
    captioned = np.asarray(Image.open(tmp_path / "captioned.png"))
    assert plain.shape == (58 + 2, 10 * 58 + 2)  # one class per column, 56 px images
    assert captioned.shape[0] == plain.shape[0] + 12  # a caption band under the row
    band = captioned[58:70, 2:58]
    assert (band > 128).sum() > 10  # text is drawn there ("#0 c0")
    np.testing.assert_array_equal(captioned[2:58, 2:58], plain[2:58, 2:58])


def test_report_of_a_shipped_model_is_written_beside_you(tmp_path):
    zoo_run("report", "cgan_fashion_mnist", cwd=tmp_path)
    text = (tmp_path / "cgan_fashion_mnist_report.html").read_text()
    assert 'alt="val_fd curve"' in text and 'alt="samples of the shipped model"' in text
    assert "<code>int8</code>" in text and "class_accuracy" in text


def test_reconstructions_past_the_pixel_limit_are_refused_before_any_image_is_read(tmp_path, monkeypatch):
    from tests.conftest import zoo_main
    from training import data

    monkeypatch.setattr(data, "load", lambda *args, **kwargs: pytest.fail("read images before refusing"))
    monkeypatch.chdir(tmp_path)
    status, _, err = zoo_main("reconstruct", "cvae_fashion_mnist", "-n", "1000000000")
    assert status == 2
    assert "-n 1000000000 --scale 4 makes an image of 914 x 28,500,000,002 pixels" in err
    assert list(tmp_path.iterdir()) == []
