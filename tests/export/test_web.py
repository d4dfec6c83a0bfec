"""`zoo export --web`: the exported .tflite file runs in a browser (LiteRT.js) and draws Python's pixels."""

import json
import os
import shutil

import numpy as np
import pytest

import zoo
from export import browser
from tests.conftest import TINY_FLAGS, zoo_main, zoo_run

SEEDS = range(8)


@pytest.fixture(scope="module")
def tiny_page(tmp_path_factory):
    """A tiny DCGAN run, never exported, given a page by `zoo export RUN --web` (which exports it first)."""
    run = tmp_path_factory.mktemp("web") / "dcgan"
    zoo_run("train", "--model", "dcgan", *TINY_FLAGS, "--epochs", 1, "--steps-per-epoch", 2,
            "--batch-size", 16, "--out", run)
    result = zoo_run("export", run, "--web", "--variants", "float32", "--fd-samples", 0)
    return run, run / "web", result.stdout


@pytest.fixture(scope="module")
def shipped_page(tmp_path_factory):
    """The page of the shipped conditional GAN, written outside its (read-only) folder."""
    cwd = tmp_path_factory.mktemp("shipped-web")
    zoo_run("export", "cgan_fashion_mnist", "--web", cwd=cwd)
    return cwd / "cgan_fashion_mnist_web"


def test_export_web_exports_an_unexported_run_then_writes_the_page(tiny_page):
    run, page, stdout = tiny_page
    assert (run / "exports" / "1" / "model_card.json").is_file()
    card = json.loads((page / "model.json").read_text())
    content = (page / card["file"]).read_bytes()
    manifest = json.loads((run / "exports" / "1" / "model_card.json").read_text())
    assert card["file"] == "generator_float32.tflite" and card["latent_shape"] == [8] and card["num_classes"] == 0
    assert content == (run / "tflite" / "1" / "generator_float32.tflite").read_bytes()
    assert card["sha256"] == manifest["tflite"]["float32"]["sha256"]
    for path in ("index.html", "app.js", "litert/core/index.js", "litert/wasm-utils/index.js",
                 "litert/wasm/litert_wasm_internal.wasm", "litert/wasm/litert_wasm_compat_internal.wasm"):
        assert (page / path).is_file(), path
    assert "web page of export version 1" in stdout


def test_export_web_of_an_exported_run_writes_only_the_page(tiny_page, tmp_path):
    run, _, _ = tiny_page
    manifest = run / "exports" / "1" / "model_card.json"
    before = manifest.stat().st_mtime_ns
    zoo_run("export", run, "--web", "--out", tmp_path / "page")
    assert manifest.stat().st_mtime_ns == before and not (run / "exports" / "2").exists()
    assert json.loads((tmp_path / "page" / "model.json").read_text())["export_version"] == 1


def _draw(tab, seed, label=None):
    """Types a seed (and picks a class) in the page; returns the canvas pixels, `(H, W)` of channel R."""
    if label is not None:
        tab.select_option("#class", str(label))
    tab.fill("#seed", str(seed))
    tab.wait_for_function(
        "([s, l]) => { const c = document.getElementById('image');"
        " return c.dataset.seed === String(s) && (l === null || c.dataset.label === String(l)); }",
        arg=[seed, label])
    width, height, rgba = tab.evaluate(
        "() => { const c = document.getElementById('image');"
        " return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }")
    return np.asarray(rgba, np.int64).reshape(height, width, 4)[..., 0]


def _walk_end(tab, a, b):
    """Sets the page's walk from seed `a` to seed `b` and moves it to the end; returns the walk canvas's RGBA."""
    tab.fill("#seed-a", str(a))
    tab.fill("#seed-b", str(b))
    tab.eval_on_selector("#walk", "e => { e.value = 100; e.dispatchEvent(new Event('input')); }")
    tab.wait_for_timeout(300)
    return tab.evaluate("async () => { await window.zoo.generate(0); const c = document.getElementById('walk-image');"
                        " return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }")


def _open(tab, url):
    tab.goto(url + "index.html")
    tab.wait_for_function("document.body.dataset.ready !== undefined", timeout=120_000)
    assert tab.evaluate("document.body.dataset.ready") == "true", tab.inner_text("#status")


def _only_local(tab, url):
    outside = [request for request in tab.requests if not request.startswith(url) and not request.startswith("data:")]
    assert outside == [], outside


@pytest.mark.slow
def test_browser_draws_the_pixels_of_model_sample_for_seeds_0_to_7(chromium, tiny_page):
    run, page, _ = tiny_page
    model = zoo.load(str(run / "model.keras"))
    expected = model.sample(len(SEEDS), seed=0).numpy()[..., 0].astype(np.int64)
    with browser.serve(page) as url, browser.page() as tab:
        _open(tab, url)
        drawn = np.stack([_draw(tab, seed) for seed in SEEDS])
        walk_end = _walk_end(tab, 3, 5)  # the walk's end is the second seed's image
        timings = tab.evaluate("window.zoo.timings")
        tab.fill("#seed", "-3")  # outside the seed range: a message, not an image
        tab.wait_for_function("document.getElementById('status').classList.contains('error')")
        refused = tab.inner_text("#status")
        assert tab.errors == []
        _only_local(tab, url)
    assert drawn.shape == expected.shape
    assert np.abs(drawn - expected).max() <= 1
    walk_end = np.asarray(walk_end, np.int64).reshape(expected.shape[1:] + (4,))[..., 0]
    assert np.abs(walk_end - expected[5]).max() <= 1
    assert timings["first_image_ms"] > 0 and timings["last_ms"] > 0
    assert "seed -3 is outside [0, 2147483647)" in refused


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.names())
def test_every_family_draws_its_seeds_and_walks_in_the_browser(chromium, family_run, name, tmp_path):
    # The page reads the latent's shape and the classes from the exported card, never the family.
    run = family_run(name)
    status, _, err = zoo_main("export", run, "--web", "--out", tmp_path / "page")
    assert status == 0, err
    model = zoo.load(str(run))
    labels = [seed % model.num_classes for seed in SEEDS[:3]] if model.num_classes else None
    expected = model.sample(3, seed=0, labels=labels).numpy()[..., 0].astype(np.int64)
    with browser.serve(tmp_path / "page") as url, browser.page() as tab:
        _open(tab, url)
        drawn = np.stack([_draw(tab, seed, None if labels is None else labels[seed]) for seed in SEEDS[:3]])
        walk_end = _walk_end(tab, 1, 2)
        assert tab.errors == []
    assert np.abs(drawn - expected).max() <= 1
    walk_end = np.asarray(walk_end, np.int64).reshape(expected.shape[1:] + (4,))[..., 0]
    label = None if labels is None else [labels[2]]  # the class last picked
    assert np.abs(walk_end - model.sample(1, seed=2, labels=label).numpy()[0, ..., 0]).max() <= 1


@pytest.mark.slow
def test_browser_draws_the_requested_class_of_the_shipped_conditional_gan(chromium, shipped_page):
    model = zoo.load("cgan_fashion_mnist")
    labels = [(seed * 3) % 10 for seed in SEEDS]
    expected = model.sample(len(SEEDS), seed=0, labels=labels).numpy()[..., 0].astype(np.int64)
    with browser.serve(shipped_page) as url, browser.page() as tab:
        _open(tab, url)
        options = tab.eval_on_selector_all("#class option", "options => options.map(o => o.textContent)")
        drawn = np.stack([_draw(tab, seed, label) for seed, label in zip(SEEDS, labels)])
        assert tab.errors == []
        _only_local(tab, url)
    assert options[7] == "7: Sneaker" and len(options) == 10
    assert np.abs(drawn - expected).max() <= 1


@pytest.mark.slow
def test_page_refuses_a_tflite_file_that_is_not_the_exported_one(chromium, tiny_page, tmp_path):
    _, page, _ = tiny_page
    copy = tmp_path / "page"
    shutil.copytree(page, copy)
    path = copy / "generator_float32.tflite"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    with browser.serve(copy) as url, browser.page() as tab:
        tab.goto(url + "index.html")
        tab.wait_for_function("document.body.dataset.ready !== undefined", timeout=120_000)
        assert tab.evaluate("document.body.dataset.ready") == "error"
        assert "is not the exported file" in tab.inner_text("#status")


def test_export_web_without_npm_or_with_a_bad_runtime_folder_says_what_to_do(tiny_page, tmp_path):
    run, _, _ = tiny_page
    no_npm = zoo_run("export", run, "--web", "--out", tmp_path / "a", check=False,
                     env={"PATH": os.path.dirname(shutil.which("python3") or "/usr/bin"),
                          "ZOO_CACHE_DIR": str(tmp_path / "cache" / "features")})
    assert no_npm.returncode == 2 and "Traceback" not in no_npm.stderr
    assert "`npm` is not on PATH" in no_npm.stderr and "--litertjs" in no_npm.stderr
    bad = zoo_run("export", run, "--web", "--out", tmp_path / "b", "--litertjs", tmp_path, check=False)
    assert bad.returncode == 2 and "holds no @litertjs/core" in bad.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_export_web_never_writes_into_a_shipped_folder_or_a_foreign_folder(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    result = zoo_run("export", "cgan_fashion_mnist", "--web", "--out", tmp_path / "notes", check=False)
    assert result.returncode == 2 and "not a page written by `zoo export --web`" in result.stderr
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    inside = zoo_run("export", "cgan_fashion_mnist", "--web", "--out",
                     os.path.join(zoo.shipped.folder("cgan_fashion_mnist"), "web"), check=False)
    assert inside.returncode == 2 and "would write into" in inside.stderr
