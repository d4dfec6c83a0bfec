"""`benchmarks/README.md` is what `benchmarks/tables.py` writes from `benchmarks/results/*.json`.

The script runs as a subprocess (tests and benchmarks never import each
other); it needs only the standard library, so each run takes well under a
second.
"""

import ast
import json
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).parents[1]
TABLES = ROOT / "benchmarks" / "tables.py"
RESULTS = ROOT / "benchmarks" / "results"


def _tables(*args):
    return subprocess.run([sys.executable, str(TABLES), *map(str, args)], check=False, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def _results_copy(tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(RESULTS, folder)
    return folder


def test_the_committed_page_is_what_the_script_writes():
    result = _tables("--check")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_every_results_file_has_a_section(tmp_path):
    # The committed files pass (above); a new one that no section names stops the script, page unwritten.
    results = _results_copy(tmp_path)
    (results / "new_benchmark_cpu2.json").write_text(json.dumps({"benchmark": "new_benchmark"}))
    page = tmp_path / "README.md"
    result = _tables("--results", results, "--out", page)
    assert result.returncode == 1
    assert "new_benchmark_cpu2.json" in result.stderr and "in no section" in result.stderr
    assert not page.exists()


def test_a_missing_results_file_stops_the_script(tmp_path):
    results = _results_copy(tmp_path)
    (results / "kill_resume_cpu2.json").unlink()
    result = _tables("--results", results, "--out", tmp_path / "README.md")
    assert result.returncode == 1 and "kill_resume_cpu2.json" in result.stderr


def test_check_finds_a_stale_page_and_writing_mends_it(tmp_path):
    results = _results_copy(tmp_path)
    page = tmp_path / "README.md"
    page.write_text((ROOT / "benchmarks" / "README.md").read_text())
    measured = json.loads((results / "faces_epoch_cpu2.json").read_text())
    measured["images_per_s"] = 12345.6
    (results / "faces_epoch_cpu2.json").write_text(json.dumps(measured))
    stale = _tables("--check", "--results", results, "--out", page)
    assert stale.returncode == 1
    assert "stale" in stale.stderr and "python benchmarks/tables.py" in stale.stderr and "12,345.6" in stale.stderr
    assert _tables("--results", results, "--out", page).returncode == 0
    assert "| images/s | 12,345.6 |" in page.read_text()
    assert _tables("--check", "--results", results, "--out", page).returncode == 0


def test_the_prose_holds_no_figures():
    # Figures come from the results files; the hand-written prose of tables.py names things only. Code
    # spans (`float32`, `kill -9`) and names with digits in them (InceptionV3) are not figures.
    tree = ast.parse(TABLES.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef)) and ast.get_docstring(node) is not None}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 120
                and id(node) not in docstrings):
            prose = re.sub(r"`[^`]*`", "", node.value)
            found += [f"line {node.lineno}: {m.group()!r}" for m in re.finditer(r"(?<![\w.])\d[\d,.]*(?!\w)", prose)]
    assert found == []
