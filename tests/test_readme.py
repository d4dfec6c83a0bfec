"""The README's code and commands are true."""

import pathlib
import re

import numpy as np

README = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
CI = (pathlib.Path(__file__).parents[1] / ".ci" / "run").read_text()


def _code_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_fit_script_example_runs(tmp_path, monkeypatch):
    example = _code_blocks("python")[0]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    history, images = namespace["history"], namespace["images"]
    assert history.history["d_loss"] and len(history.history["val_g_loss"]) == 2
    assert images.shape == (16, 28, 28, 1) and images.dtype.name == "uint8"
    assert (tmp_path / "dcgan.keras").is_file()
    np.testing.assert_array_equal(images, namespace["model"].sample(16, seed=0))


def test_conditional_example_runs():
    example = _code_blocks("python")[1]
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["sneakers"].shape == (16, 28, 28, 1)
    assert namespace["mixed"].shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(namespace["mixed"][2:], namespace["model"].sample(1, seed=2, labels=9))
    floats = namespace["floats"]
    assert floats.dtype.name == "float32" and float(floats.numpy().min()) >= -1.0


def test_ci_runs_the_readme_test_command():
    test_command = _code_blocks("bash")[1].strip()
    assert CI.strip().splitlines()[-1] == test_command


def test_explore_example_runs(tmp_path, monkeypatch):
    example = _code_blocks("python")[2]
    assert "explore.interpolate" in example
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    frames, lite_frames = namespace["frames"], namespace["lite_frames"]
    assert frames.shape == (96, 28, 28, 1) and frames.dtype.name == "uint8"
    assert np.abs(frames.astype(int) - lite_frames).max() <= 1
    assert (tmp_path / "walk.gif").stat().st_size > 10_000
