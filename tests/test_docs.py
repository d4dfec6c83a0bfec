"""The README's and docs/'s code blocks are true, each checked the way its tag says.

Every fenced block carries a tag after its language (```` ```bash run ````;
GitHub highlights by the first word and ignores the rest), and an optional
name after the tag that a check below looks for. `run` blocks run: each
page's in document order, in one temporary folder, `zoo` lines through
`commands.cli.main`, other shell lines with bash, Python with `exec`. The
other tags name why a block cannot run here, and their checks go as far as
they can without it (docs/README.md has the table).
"""

import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]

#: tag -> the languages it may carry.
TAGS = {
    "run": {"bash", "python"},
    "setup": {"bash"},
    "ci": {"bash"},
    "long": {"bash"},
    "needs-docker": {"bash"},
    "needs-cluster": {"bash"},
    "needs-phone": {"kotlin", "swift"},
    "serves": {"bash"},
    "rest": {"json"},
    "synopsis": {"text"},
    "layout": {"text"},
}

#: Pages whose `run` blocks train or export (half a minute to minutes); the others run in seconds.
MINUTES = {"README.md", "docs/export.md", "docs/training.md", "docs/evaluation.md", "docs/reliability.md"}


@dataclasses.dataclass
class Block:
    page: str
    line: int
    language: str
    tag: str
    name: str
    body: str

    def __str__(self):
        return f"{self.page}:{self.line} ({self.language} {self.tag})"


FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def read(page):
    return (ROOT / page).read_text()


def blocks(page=None, tag=None, language=None):
    found = []
    for each in [page] if page else PAGES:
        text = read(each)
        for match in FENCE.finditer(text):
            words = match["info"].split()
            found.append(Block(each, text.count("\n", 0, match.start()) + 1, *(words + ["", "", ""])[:3],
                               match["body"]))
    return [b for b in found if (tag is None or b.tag == tag) and (language is None or b.language == language)]


def named(name):
    (block,) = [b for b in blocks() if b.name == name]
    return block


# Shell -------------------------------------------------------------------------


def shell_lines(body):
    """Logical lines of a shell block: continuations joined, blank and comment-only lines dropped."""
    lines = body.replace("\\\n", " ").splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def commands(line):
    """The simple commands of a shell line, as argv lists (split at &&, ||, ; and |; comments dropped)."""
    argvs, current = [], []
    for token in shlex.split(line, comments=True):
        if token in ("&&", "||", ";", "|"):
            argvs.append(current)
            current = []
        else:
            current.append(token)
    return [argv for argv in argvs + [current] if argv]


def zoo_parser():
    from commands.cli import build_parser

    return build_parser()


def subparsers(parser):
    import argparse

    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def check_command(argv, where):
    """A `zoo` command parses with the real parser; `python -m` names a module; `python -c` compiles."""
    if argv[0] == "zoo":
        try:
            zoo_parser().parse_args(argv[1:])
        except SystemExit as stop:
            raise AssertionError(f"{where}: `{shlex.join(argv)}` is refused by zoo's parser") from stop
    if argv[0] in ("python", "python3") and len(argv) > 2:
        if argv[1] == "-m" and argv[2] not in ("pip", "venv"):
            assert importlib.util.find_spec(argv[2]) is not None, f"{where}: no module {argv[2]}"
        if argv[1] == "-c":
            compile(argv[2], where, "exec")


def test_every_block_carries_a_known_tag():
    fences = sum(line.lstrip().startswith("```") for page in PAGES for line in read(page).splitlines())
    found = blocks()
    assert fences == 2 * len(found), "a fence the block finder does not see (indented, or unclosed)"
    for block in found:
        assert block.tag in TAGS, f"{block}: tag {block.tag!r} is none of {sorted(TAGS)}"
        assert block.language in TAGS[block.tag], f"{block}: {block.tag!r} is for {sorted(TAGS[block.tag])}"
    names = [b.name for b in found if b.name]
    assert len(names) == len(set(names)), f"block names used twice: {names}"


def test_readme_is_a_front_door_of_at_most_250_lines():
    assert len(read("README.md").splitlines()) <= 250


def test_every_shell_block_parses_and_its_commands_exist():
    for block in blocks(language="bash"):
        result = subprocess.run(["bash", "-n"], input=block.body, capture_output=True, text=True)
        assert result.returncode == 0, f"{block}: {result.stderr}"
        for line in shell_lines(block.body):
            for argv in commands(line):
                check_command(argv, str(block))


def test_ci_runs_the_readme_test_command():
    (block,) = blocks("README.md", tag="ci")
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == block.body.strip()


def test_setup_commands_install_what_ci_installs():
    ci = (ROOT / ".ci" / "run").read_text()
    needed = {name for group in re.findall(r"missing\+=\(([^)]*)\)", ci) for name in group.split()}
    assert needed >= {"dataset-fashion-mnist", "chromium", "npm"}
    setup = [argv for block in blocks("README.md", tag="setup") for line in shell_lines(block.body)
             for argv in commands(line)]
    apt = [argv[argv.index("install") + 1:] for argv in setup if "apt-get" in argv[:2] and "install" in argv]
    installed = {word for words in apt for word in words if not word.startswith("-")}
    assert installed >= needed, f"the README's apt line misses {needed - installed}"
    assert "python3-venv" in installed  # Debian's python3 has no venv (nor pip) without it
    assert ["python", "-m", "pip", "install", "."] in setup
    assert ["python3", "-m", "venv", ".venv"] in setup


def test_docker_blocks_serve_an_exported_run_with_a_new_enough_server():
    import zoo

    minimum = max(tuple(map(int, zoo.shipped.card(name)["serving"]["minimum_tf_serving"].split(".")))
                  for name in zoo.shipped.names())
    for block in blocks(tag="needs-docker"):
        (argv,) = [argv for line in shell_lines(block.body) for argv in commands(line)]
        mount = argv[argv.index("-v") + 1]
        source, target = mount.split(":")
        model = argv[argv.index("-e") + 1].split("=")[1]
        assert target.rstrip("/") == f"/models/{model}" and source.endswith("/saved_model")
        run = source.removeprefix("$PWD/").removesuffix("/saved_model")
        assert any(f"--out {run}" in b.body for b in blocks(block.page, tag="run")), f"{block}: no run writes {run}"
        image = next(word for word in argv if word.startswith("tensorflow/serving:"))
        assert tuple(map(int, image.split(":")[1].split(".")[:2])) >= minimum


def test_cluster_blocks_name_a_cluster_and_this_task():
    for block in blocks(tag="needs-cluster"):
        exports = [argv[1] for line in shell_lines(block.body) for argv in commands(line) if argv[0] == "export"]
        (config,) = [json.loads(value.split("=", 1)[1]) for value in exports if value.startswith("TF_CONFIG=")]
        assert config["task"]["index"] < len(config["cluster"][config["task"]["type"]])
        assert any("--strategy multi_worker" in line for line in shell_lines(block.body))


def test_synopsis_names_every_command_and_flag_of_the_parser():
    parser = zoo_parser()
    top_level = {s for action in parser._actions for s in action.option_strings}
    (block,) = blocks(tag="synopsis")
    seen, current = {}, None
    for line in block.body.splitlines():
        if line.startswith("zoo "):
            _, word, line = line.split(None, 2) if len(line.split()) > 2 else (*line.split(), "")
            if word in top_level:  # zoo --version, zoo --verbose COMMAND
                current = None
                continue
            current = word
        seen.setdefault(current, set()).update(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line))
    assert set(seen) == set(subparsers(parser)), "the synopsis and the parser have other commands"
    for name, sub in subparsers(parser).items():
        actions = [a for a in sub._actions if a.option_strings and "--help" not in a.option_strings]
        known = {s for action in actions for s in action.option_strings}
        assert seen[name] <= known, f"zoo {name}: the synopsis names {sorted(seen[name] - known)}"
        left_out = [a.option_strings[-1] for a in actions if not seen[name] & set(a.option_strings)]
        assert not left_out, f"zoo {name}: the synopsis leaves out {left_out}"


def test_layout_names_only_what_exists():
    (block,) = blocks(tag="layout")
    package = None
    for line in block.body.splitlines():
        top = re.match(r"^(\w+)/", line)
        if top:
            package = ROOT / top[1]
            assert package.is_dir(), f"layout: {top[1]}/"
        for file in re.findall(r"\b(\w+\.py)\b", line):
            assert any(package.rglob(file)), f"layout: {package.name}/.../{file}"
        for folder in re.findall(r"(?<![\w/])(\w+)/(?!\w)", line[len(top[0]):] if top else line):
            assert any(p.is_dir() for p in package.rglob(folder)), f"layout: {package.name}/.../{folder}/"


# Links, pictures and figures ------------------------------------------------------


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_pages_resolve():
    for page in PAGES:
        text = FENCE.sub("", read(page))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"\w+://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (ROOT / page).parent / path if path else ROOT / page
            assert file.exists(), f"{page}: link to {target}, which does not exist"
            if anchor:
                headings = re.findall(r"^#+ (.*)$", FENCE.sub("", file.read_text()), flags=re.M)
                assert anchor in {slug(h) for h in headings}, f"{page}: no heading #{anchor} in {path or page}"


def test_readme_pictures_are_small_and_drawn_by_the_stated_commands(tmp_path, monkeypatch):
    from PIL import Image, ImageSequence

    readme = read("README.md")
    images = re.findall(r'<img src="([^"]+)"', readme)
    assert images and sum((ROOT / path).stat().st_size for path in images) < 300_000
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs" / "images").mkdir(parents=True)
    for path in images:
        (command,) = re.findall(rf"<!-- {re.escape(path)}: (zoo .*?) -->", readme)
        argv = shlex.split(command)
        assert argv[argv.index("--out") + 1] == path
        status, _, err = run_zoo(argv)
        assert status == 0, err

        def frames(file):
            return [np.asarray(frame.convert("L")) for frame in ImageSequence.Iterator(Image.open(file))]

        drawn, committed = frames(tmp_path / path), frames(ROOT / path)
        assert len(drawn) == len(committed)
        for a, b in zip(drawn, committed):
            np.testing.assert_array_equal(a, b)


#: A column of a shipped-model table -> how to read the figure from a model card.
CARD_COLUMNS = {
    "FD": lambda card: card["metrics"].get("fd"),
    "coverage": lambda card: card["metrics"].get("coverage"),
    "density": lambda card: card["metrics"].get("density"),
    "precision": lambda card: card["metrics"].get("precision"),
    "recall": lambda card: card["metrics"].get("recall"),
    "class accuracy": lambda card: card["metrics"].get("class_accuracy"),
    "PSNR": lambda card: card["metrics"].get("psnr"),
    "SSIM": lambda card: card["metrics"].get("ssim"),
    "kept epoch": lambda card: card["training"]["kept_epoch"],
    "epochs": lambda card: card["training"]["epochs"],
    "wall time (min)": lambda card: card["training"]["wall_time_seconds"] / 60,
    "int8 FD": lambda card: card["tflite"]["int8"]["fd"],
}


def tables(page):
    """Markdown tables of a page, as lists of rows of stripped cells (the header first)."""
    found, rows = [], []
    for line in FENCE.sub("", read(page)).splitlines() + [""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                rows.append(cells)
        elif rows:
            found.append(rows)
            rows = []
    return found


def test_shipped_model_figures_are_their_cards_values():
    import zoo

    shipped = set(zoo.shipped.names())
    checked = set()
    for page in PAGES:
        for header, *rows in tables(page):
            for row in rows:
                names = {cell.strip("`") for cell in row} & shipped
                if not names:
                    continue
                (name,) = names
                card = zoo.shipped.card(name)
                for column, cell in zip(header, row):
                    if column in CARD_COLUMNS:
                        value = CARD_COLUMNS[column](card)
                        if value is None:
                            assert cell in ("", "-"), f"{page}: {name} {column} is {cell}, the card has none"
                            continue
                        decimals = len(cell.partition(".")[2])
                        assert cell == f"{value:.{decimals}f}", f"{page}: {name} {column} {cell}, card {value}"
                        checked.add((page, name, column))
                    else:
                        assert not re.fullmatch(r"[\d.,]+", cell), f"{page}: {name} {column} {cell} is unchecked"
    readme = {(name, column) for page, name, column in checked if page == "README.md"}
    assert readme == {(name, column) for name in shipped for column in ("FD", "coverage")} | {
        (name, "class accuracy") for name in shipped if zoo.shipped.card(name)["image"]["num_classes"]}


def test_readme_table_lists_every_model_family_with_its_shipped_models():
    import zoo

    families = {name for name in zoo.names() if zoo.get(name).__module__.startswith("zoo.")}  # not tests/toys
    (table,) = [t for t in tables("README.md") if t[0][:4] == ["model", "what", "paper", "shipped model"]]
    assert {row[0].strip("`") for row in table[1:]} == families
    shipped = {row[3].strip("`"): row[0].strip("`") for row in table[1:] if row[3] != "-"}
    # Models shipped on other data than Fashion-MNIST have a table of their own, below it.
    (other,) = [t for t in tables("README.md") if t[0][:3] == ["shipped model", "model", "trained on"]]
    shipped.update({row[0].strip("`"): row[1].strip("`") for row in other[1:]})
    assert shipped == {name: zoo.shipped.card(name)["model"] for name in zoo.shipped.names()}
    assert all(zoo.shipped.card(row[3].strip("`"))["dataset"]["name"] == "fashion_mnist"
               for row in table[1:] if row[3] != "-")


# Blocks that need what this machine lacks: checked as far as they can be ----------


def test_phone_code_uses_the_shipped_cards_signatures():
    import zoo

    cards = {name: zoo.shipped.card(name) for name in zoo.shipped.names()}
    for block in blocks(tag="needs-phone"):
        (file,) = set(re.findall(r'"(generator_\w+\.tflite)"', block.body))
        (call,) = re.findall(r"runSignature\(mapOf\((.*?)\), mapOf\((.*?)\), \"(\w+)\"\)", block.body)
        inputs, outputs = (set(re.findall(r'"(\w+)" to', part)) for part in call[:2])
        card = cards["dcgan_fashion_mnist"]  # the page's example names it
        assert f"tflite/1/{file}" in card["files"]
        signature = card["signatures"][call[2]]
        assert "tflite" in signature["artifacts"]
        assert set(signature["tflite_shapes"]["inputs"]) == inputs
        (output,) = outputs
        output_variable = re.search(rf'"{output}" to (\w+)', call[1])[1]
        (allocation,) = [line for line in block.body.splitlines() if f"val {output_variable} =" in line]
        shape = [int(n) for n in re.findall(r"Array\((\d+)\)", allocation)]  # Array(1) { Array(28) ... ByteArray(1)
        assert signature["tflite_shapes"]["outputs"][output] == {"dtype": "uint8", "shape": shape}
    prose = read("docs/mobile-and-browser.md")
    for name in re.findall(r'"(\w+)" to intArrayOf', prose):
        assert any(name in c["signatures"]["generate"]["inputs"] for c in cards.values())


def serve(saved_model, body):
    """What TF Serving's REST API answers to `body` (its documented row and columnar forms)."""
    import tensorflow as tf

    signature = saved_model.signatures[body.get("signature_name", "serving_default")]
    specs = signature.structured_input_signature[1]
    if "instances" in body:
        rows = body["instances"]
        inputs = {name: [row[name] for row in rows] for name in rows[0]}
    else:
        inputs = body["inputs"]
    outputs = signature(**{k: tf.constant(v, specs[k].dtype) for k, v in inputs.items()})
    (images,) = outputs.values()
    return {"predictions" if "instances" in body else "outputs": images.numpy().tolist()}


def test_rest_bodies_are_answered_with_the_images_of_model_sample():
    import tensorflow as tf

    import zoo

    bodies = [json.loads(b.body) for b in blocks(tag="rest")]
    assert {(b["signature_name"], "instances" in b) for b in bodies} >= {
        ("generate", True), ("generate", False), ("serving_default", True), ("serving_default", False)}
    loaded = {}
    for body in bodies:
        # As the page says: the DCGAN, the cGAN for labels, the two-stage VAE for latents.
        name = ("cgan_fashion_mnist" if "label" in json.dumps(body) else "two_stage_vae_fashion_mnist"
                if body["signature_name"] == "serving_default" else "dcgan_fashion_mnist")
        if name not in loaded:
            folder = zoo.shipped.folder(name)
            loaded[name] = zoo.load(name), tf.saved_model.load(str(folder / "saved_model" / "1"))
        model, saved_model = loaded[name]
        answer = serve(saved_model, body)
        images = np.asarray(answer["predictions" if "instances" in body else "outputs"])
        rows = body["instances"] if "instances" in body else [
            dict(zip(body["inputs"], values)) for values in zip(*body["inputs"].values())]
        if body["signature_name"] == "generate":
            expected = np.concatenate([model.sample(1, seed=row["seed"], labels=row.get("label")) for row in rows])
        else:
            z = np.asarray([row["z"] for row in rows], np.float32)
            assert z.shape[1:] == tuple(model.contract.latent_shape)
            expected = (model.generate(z).numpy() * 255).round().clip(0, 255)
        assert images.shape == (len(rows), *model.image_shape)
        assert np.abs(images - np.asarray(expected, int)).max() <= 1


# The `run` blocks ------------------------------------------------------------------


def run_zoo(argv):
    """`zoo ARGV` in this process; returns (exit status, stdout, stderr)."""
    from commands.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv[1:])
        except SystemExit as stop:
            status = stop.code
    return status, out.getvalue(), err.getvalue()


def run_shell(block, cwd):
    """Runs a bash block line by line; returns what each line printed."""
    printed = []
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for line in shell_lines(block.body):
        argvs = commands(line)
        in_process = all(argv[0] == "zoo" for argv in argvs) and not re.search(r"[|;<>$`]", " ".join(
            token for argv in argvs for token in argv))
        if in_process:  # `zoo A && zoo B`
            for argv in argvs:
                status, out, err = run_zoo(argv)
                assert status == 0, f"{block}: `{shlex.join(argv)}` exited {status}:\n{err[-3000:]}"
                printed.append(out)
        else:
            result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", line], cwd=cwd, env=environment,
                                    capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, f"{block}: `{line}` exited {result.returncode}:\n{result.stderr[-3000:]}"
            printed.append(result.stdout)
    return printed


@contextlib.contextmanager
def process_state_kept():
    """`zoo train --deterministic` turns on op determinism for the process: later tests get it back off."""
    from tensorflow.python.framework import config

    was_enabled = config.is_op_determinism_enabled()
    try:
        yield
    finally:
        if not was_enabled:
            config.disable_op_determinism()


def check_sample_shipped(namespace, cwd):
    images = namespace["images"]
    assert images.shape == (16, 28, 28, 1) and images.dtype.name == "uint8"
    np.testing.assert_array_equal(images, namespace["model"].sample(16, seed=0))


def check_train_export_sample(printed, cwd):
    run = cwd / "runs" / "dcgan"
    card = json.loads((run / "exports" / "1" / "model_card.json").read_text())
    assert card["tflite"]["float32"]["written"]
    assert json.loads((run / "history.json").read_text())["epoch"] == [1, 2]
    from PIL import Image

    width, height = Image.open(run / "grid_tflite.png").size
    assert width == height and 8 * 28 <= width < 9 * 28  # 8 x 8 images and the lines between them


def check_fit_script(namespace, cwd):
    history, images = namespace["history"], namespace["images"]
    assert history.history["d_loss"] and len(history.history["val_g_loss"]) == 2
    assert images.shape == (16, 28, 28, 1) and images.dtype.name == "uint8"
    assert (cwd / "dcgan.keras").is_file()
    np.testing.assert_array_equal(images, namespace["model"].sample(16, seed=0))


def check_conditional(namespace, cwd):
    assert namespace["sneakers"].shape == (16, 28, 28, 1)
    assert namespace["mixed"].shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(namespace["mixed"][2:], namespace["model"].sample(1, seed=2, labels=9))
    floats = namespace["floats"]
    assert floats.dtype.name == "float32" and float(floats.numpy().min()) >= -1.0


def check_flow(namespace, cwd):
    model, fast = namespace["model"], namespace["fast"]
    assert namespace["images"].shape == namespace["better"].shape == (4, 28, 28, 1)
    assert model.contract.sampling_options == {"steps": 8, "solver": "euler"}
    assert fast.contract.sampling_options == {"steps": 2, "solver": "euler"}
    np.testing.assert_array_equal(fast.sample(2, seed=5), model.sample(2, seed=5, steps=2))


def check_explore(namespace, cwd):
    frames, lite_frames = namespace["frames"], namespace["lite_frames"]
    assert frames.shape == (96, 28, 28, 1) and frames.dtype.name == "uint8"
    assert np.abs(frames.astype(int) - lite_frames).max() <= 1
    assert (cwd / "walk.gif").stat().st_size > 10_000


def check_metrics_callback(namespace, cwd):
    history = namespace["history"].history
    assert len(history["val_fd"]) == 2 and all(np.isfinite(history["val_fd"]))
    assert 0 <= min(history["val_coverage"]) <= max(history["val_coverage"]) <= 1
    assert (cwd / "best.keras").is_file()


def check_sha256(namespace, cwd):
    assert len(namespace["content"]) > 100_000  # the whole float32 file was read and matched its card


def check_saved_model_digest(printed, cwd):
    card = json.loads((cwd / "runs" / "dcgan" / "exports" / "1" / "model_card.json").read_text())
    assert printed[0].split()[0] == card["saved_model"]["sha256"]


def check_saved_model_cli(printed, cwd):
    # numpy's print of the (2, H, W, C) uint8 batch.
    assert re.search(r"Result for output key images:\n\[\[\[\[\s*\d+\]", printed[0]), printed[0][:300]


def check_backup_script(namespace, cwd):
    from training.callbacks import read_backup_position

    assert read_backup_position(str(cwd / "backup.npz"))["step"] == 20
    assert (cwd / "model.keras").is_file()


#: A block's name -> what its run must have done: (namespace or what each shell line printed, folder).
CHECKS = {
    "sample-shipped": check_sample_shipped,
    "train-export-sample": check_train_export_sample,
    "fit-script": check_fit_script,
    "conditional": check_conditional,
    "flow": check_flow,
    "explore": check_explore,
    "metrics-callback": check_metrics_callback,
    "check-sha256": check_sha256,
    "saved-model-digest": check_saved_model_digest,
    "saved-model-cli": check_saved_model_cli,
    "backup-script": check_backup_script,
}


def test_every_named_block_has_a_check_and_every_check_a_block():
    assert {b.name for b in blocks() if b.name} == set(CHECKS)


RUN_PAGES = [page for page in PAGES if blocks(page, tag="run")]


@pytest.mark.parametrize("page", [pytest.param(page, marks=[pytest.mark.slow] if page in MINUTES else [])
                                  for page in RUN_PAGES])
def test_run_blocks_of_the_page_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with process_state_kept():
        for block in blocks(page, tag="run"):
            if block.language == "python":
                namespace = {"__name__": "__docs__"}
                exec(compile(block.body, f"{page}:{block.line}", "exec"), namespace)
                result = namespace
            else:
                result = run_shell(block, tmp_path)
            if block.name:
                CHECKS[block.name](result, tmp_path)


def test_minutes_names_only_pages_that_run():
    assert MINUTES <= set(RUN_PAGES)
