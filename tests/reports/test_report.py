"""`zoo report`: one self-contained HTML page whose curves and grids a browser shows."""

import html
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from export import browser
from reports.report import write_report
from tests.conftest import TINY_FLAGS, zoo_run


@pytest.fixture(scope="module")
def reported_run(tmp_path_factory):
    """A tiny run with metrics during training, an export and an evaluation, and its report."""
    run = tmp_path_factory.mktemp("report") / "dcgan"
    zoo_run("train", "--model", "dcgan", *TINY_FLAGS, "--epochs", 3, "--steps-per-epoch", 2,
            "--batch-size", 16, "--metrics", "fd,dc", "--metrics-samples", 100, "--out", run)
    zoo_run("export", run, "--variants", "float32,float16", "--fd-samples", 0)
    zoo_run("evaluate", run, "-n", 200, "--metrics", "fd,dc")
    result = zoo_run("report", run)
    return run, run / "report.html", result.stdout


def test_report_embeds_everything_and_names_what_it_shows(reported_run):
    run, report, stdout = reported_run
    text = report.read_text()
    assert "report written to" in stdout
    # Self-contained: every image a data URI, no script, no link to another file.
    sources = re.findall(r'src="([^"]*)"', text)
    assert sources and all(source.startswith("data:image/png;base64,") for source in sources)
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert text.count('alt="samples after epoch') == 4  # epochs 0 (before training) to 3
    assert 'alt="loss curves"' in text and 'alt="val_fd curve"' in text and 'alt="val_coverage curve"' in text
    assert "<code>float16</code>" in text and "generator_float32.tflite" in text  # variant table, card
    metrics = json.loads((run / "metrics.json").read_text())
    assert f"{metrics['fd']:.4g}" in text


def test_report_escapes_every_value_a_run_folder_holds(tmp_path):
    # No double quote: json.dumps would turn it into \\" before the page escapes it.
    crafted = "<script>alert(1)</script>&'"
    run = tmp_path / "run"
    (run / "exports" / "3").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": crafted, "dataset": crafted, "batch_size": crafted}))
    (run / "history.json").write_text(json.dumps({"epoch": [1, 2], crafted: [1.0, 0.5], "stopped": crafted}))
    (run / "metrics.json").write_text(json.dumps({crafted: crafted}))
    (run / "exports" / "3" / "model_card.json").write_text(json.dumps(
        {"version": crafted, "tflite": {crafted: {"written": False, "failed": crafted}}}))
    write_report(str(run), str(tmp_path / "report.html"), title=crafted)
    text = (tmp_path / "report.html").read_text()
    escaped = html.escape(crafted)
    assert "<script" not in text and "alert(1)</script>" not in text
    for shown in [f"<title>{escaped}: training report</title>", f"<h1>{escaped}</h1>",  # title
                  f"model <code>{escaped}</code>, dataset <code>{escaped}</code>", f"batch {escaped}",  # config
                  f"stopped: {html.escape(json.dumps(crafted))}",  # history
                  f"<td>{escaped}</td><td>{escaped}</td>",  # metrics.json key and value
                  f"(version {escaped})", f"<code>{escaped}</code></td><td>no ({escaped})</td>",  # export card
                  f"<pre>{html.escape(json.dumps({'model': crafted}, indent=2)[:-2])}"]:  # config.json
        assert shown in text, shown


def _visible_images(tab):
    """`[(alt, width, height, pixels)]` of every image as the browser lays it out and paints it."""
    found = []
    for handle in tab.query_selector_all("img"):
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        shot = np.asarray(Image.open(io.BytesIO(handle.screenshot())).convert("L"), np.float64)
        found.append((handle.get_attribute("alt"), box["width"], box["height"], shot))
    return found


def test_report_shows_curves_and_grids_in_a_browser_without_network(chromium, reported_run, tmp_path):
    _, report, _ = reported_run
    with browser.page() as tab:
        tab.goto(report.as_uri())
        tab.wait_for_load_state("load")
        assert tab.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        images = _visible_images(tab)
        tab.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        requests = list(tab.requests)
    assert requests == [report.as_uri()]  # the page itself, nothing else
    plots = [(alt, w, h, px) for alt, w, h, px in images if alt.endswith("curve") or alt.endswith("curves")]
    grids = [(alt, w, h, px) for alt, w, h, px in images if alt.startswith("samples after epoch")]
    assert {alt for alt, *_ in plots} == {"loss curves", "val_fd curve", "val_density curve", "val_coverage curve"}
    assert len(grids) == 4
    for alt, width, height, pixels in plots:
        # A matplotlib figure: about 6.4 x 3.4 inches at 100 dpi, lines and text on white.
        assert width >= 400 and height >= 200, (alt, width, height)
        assert pixels.std() > 10 and (pixels < 128).mean() > 0.01, alt
    for alt, width, height, pixels in grids:
        assert width == 180 and height >= 150, (alt, width, height)
        assert pixels.std() > 5, alt  # generated images on black, not an empty box
