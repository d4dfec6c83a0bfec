"""A run's training report: one self-contained HTML page.

`write_report(run_dir, out)` reads what a run folder holds (`config.json`,
`history.json`, `samples/epoch_NNN.png`, `metrics.json`, the latest
`exports/N/model_card.json`; a shipped folder's `model_card.json` and
`samples.png`) and writes a page with everything embedded: the plots
(matplotlib) and the grids as PNG data URIs, no scripts, no external
files, so it opens offline and can be mailed as one file. The page and its
CSS are `templates/report.html`, the pieces a run may lack and the table rows
`templates/report_parts.html` (package data, `string.Template`); every value
put in them is HTML-escaped.
"""

import base64
import functools
import html
import importlib.resources
import io
import json
import os
import re
import string

import numpy as np

from zoo.files import atomic_write

#: At most this many epoch grids in the strip (first and last always).
MAX_GRIDS = 12
#: Logged values drawn as metric curves (lower panel), the rest are losses.
METRIC_KEYS = ("fd", "kid", "coverage", "density", "precision", "recall", "class_accuracy", "classes_covered",
               "kl_uniform", "psnr", "ssim", "is")


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _png_uri(content):
    return "data:image/png;base64," + base64.b64encode(content).decode("ascii")


def _figure_uri(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return _png_uri(buffer.getvalue())


def _series(history, key):
    """`(epochs, values)` of a logged value, skipping epochs where it was not measured."""
    epochs = history.get("epoch") or list(range(1, len(history[key]) + 1))
    pairs = [(e, v) for e, v in zip(epochs, history[key]) if isinstance(v, (int, float)) and np.isfinite(v)]
    return [e for e, _ in pairs], [v for _, v in pairs]


def _is_metric(key):
    return key.removeprefix("val_") in METRIC_KEYS


def plot_curves(history, keys, title, ylabel, size=(6.4, 3.4)):
    """A PNG data URI of the curves of `keys` against the epoch, or None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    drawn = [(key, *_series(history, key)) for key in keys]
    drawn = [(key, epochs, values) for key, epochs, values in drawn if values]
    if not drawn:
        return None
    figure, axes = pyplot.subplots(figsize=size)
    for key, epochs, values in drawn:
        axes.plot(epochs, values, marker="o" if len(values) < 30 else None, markersize=3,
                  linestyle="--" if key.startswith("val_") else "-", label=key)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    uri = _figure_uri(figure)
    pyplot.close(figure)
    return uri


def epoch_grids(run_dir):
    """`[(epoch, png bytes)]` of the per-epoch sample grids, at most `MAX_GRIDS`, evenly spaced."""
    folder = os.path.join(run_dir, "samples")
    try:
        names = sorted(n for n in os.listdir(folder) if re.fullmatch(r"epoch_\d+\.png", n))
    except OSError:
        return []
    if len(names) > MAX_GRIDS:
        picks = np.unique(np.round(np.linspace(0, len(names) - 1, MAX_GRIDS)).astype(int))
        names = [names[i] for i in picks]
    grids = []
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            grids.append((int(name[6:-4]), f.read()))
    return grids


def latest_export_card(run_dir):
    """The manifest of the highest export version, or None."""
    folder = os.path.join(run_dir, "exports")
    try:
        versions = sorted(int(n) for n in os.listdir(folder) if n.isdigit())
    except OSError:
        return None
    for version in reversed(versions):
        card = _read_json(os.path.join(folder, str(version), "model_card.json"))
        if card is not None:
            return card
    return None


def _number(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


class _Html(str):
    """Markup filled from a template: `_fill` inserts it as is, and escapes every other value."""


@functools.cache
def _templates():
    """`(page, {name: piece})`: `templates/report.html` and the pieces of `templates/report_parts.html`."""
    folder = importlib.resources.files("reports") / "templates"
    page = string.Template(folder.joinpath("report.html").read_text(encoding="utf-8"))
    parts = folder.joinpath("report_parts.html").read_text(encoding="utf-8")
    pieces = {name: string.Template(body.strip())
              for name, body in re.findall(r'<template id="(\w+)">(.*?)</template>', parts, re.DOTALL)}
    return page, pieces


def _fill(template, **values):
    """`template` with its placeholders set to `values`, each HTML-escaped unless it is `_Html`."""
    if isinstance(template, str):
        template = _templates()[1][template]
    return _Html(template.substitute(
        {key: value if isinstance(value, _Html) else html.escape(str(value)) for key, value in values.items()}))


def _join(pieces):
    return _Html("".join(pieces))


def variant_table(card):
    """The export's LiteRT variants: size, latency, PSNR, pixel difference, FD and its change."""
    rows = []
    seeds = (card.get("held_out") or {}).get("n")
    for name, entry in card.get("tflite", {}).items():
        # Exports made before the held-out seeds: the figures of the 100 quality seeds.
        held_out = entry.get("held_out") or {}
        quality = entry.get("quality") or {}
        differences = held_out.get("per_image_max_abs_diff") or {"max": quality.get("max_abs_diff")}
        psnr = held_out.get("psnr", quality.get("psnr"))
        latency = (entry.get("latency_ms") or {}).get("median")
        change = entry.get("fd_increase")
        rows.append(_fill(
            "variant_row",
            name=name,
            written="yes" if entry.get("written") else f"no ({entry.get('failed') or entry.get('reason') or ''})",
            size=f"{entry['bytes'] / 1e6:.2f} MB" if entry.get("bytes") else "-",
            latency=f"{latency:.3f}" if latency is not None else "-",
            psnr="identical" if (held_out or quality) and psnr is None else _number(psnr),
            p99=_number(differences.get("p99")),
            max=_number(differences.get("max")),
            fd=_number(entry.get("fd"), 4),
            fd_change=f"{change:+.2%}" if isinstance(change, (int, float)) else "-",
        ))
    held_out_seeds = _fill("held_out_seeds", seeds=f"{seeds:,}") if seeds else ""
    return _fill("variant_table", held_out=held_out_seeds, rows=_join(rows))


def _evaluation(metrics):
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    return _fill("evaluation", rows=_join(_fill("metric_row", metric=k, value=_number(v, 4)) for k, v in shown.items()))


def _samples(run_dir):
    grids = epoch_grids(run_dir)
    if grids:
        return _fill("epoch_grids", figures=_join(_fill("epoch_grid", epoch=e, uri=_png_uri(png)) for e, png in grids))
    if os.path.isfile(os.path.join(run_dir, "samples.png")):
        with open(os.path.join(run_dir, "samples.png"), "rb") as f:
            return _fill("shipped_grid", uri=_png_uri(f.read()))
    return _fill("no_grids")


def _json_file(heading, file, content):
    return _fill("json_file", heading=heading, file=file, json=json.dumps(content, indent=2)) if content else ""


def build_report(run_dir, title=None):
    """The HTML text of the report of `run_dir` (see the module docstring), filled from `templates/report.html`."""
    config = _read_json(os.path.join(run_dir, "config.json")) or {}
    history = _read_json(os.path.join(run_dir, "history.json")) or {}
    metrics = _read_json(os.path.join(run_dir, "metrics.json"))
    shipped_card = _read_json(os.path.join(run_dir, "model_card.json"))
    export_card = latest_export_card(run_dir)
    title = title or os.path.basename(os.path.normpath(run_dir))

    losses = [k for k in history
              if k not in ("epoch", "stopped") and not _is_metric(k) and isinstance(history[k], list)]
    uri = plot_curves(history, losses, "losses (dashed: validation)", "loss") if losses else None
    curves = [(key, plot_curves(history, [key], key, key.removeprefix("val_"), size=(4.6, 3.0)))
              for key in history if key != "epoch" and _is_metric(key)]
    curves = [_fill("metric_curve", key=key, uri=uri) for key, uri in curves if uri]
    final = metrics or (shipped_card or {}).get("metrics")

    page, _ = _templates()
    return _fill(
        page,
        title=title,
        model=config.get("model", "?"),
        dataset=config.get("dataset", "?"),
        epochs=len(history.get("epoch") or []),
        batch_size=config.get("batch_size", "?"),
        stopped=_fill("stopped", stopped=json.dumps(history["stopped"])) if "stopped" in history else "",
        losses=_fill("loss_curves", uri=uri) if uri else _fill("no_loss_curves"),
        metric_curves=_fill("metric_curves", images=_join(curves)) if curves else _fill("no_metric_curves"),
        evaluation=_evaluation(final) if final else "",
        samples=_samples(run_dir),
        export=_fill("export", version=export_card.get("version"), variants=variant_table(export_card))
        if export_card else "",
        model_card=_json_file("Model card", "model_card.json", export_card or shipped_card),
        run_settings=_json_file("Run settings", "config.json", config),
    )


def write_report(run_dir, out, title=None):
    """Writes the report of `run_dir` to `out` (atomically); returns its size in bytes."""
    content = build_report(run_dir, title).encode()
    atomic_write(out, content)
    return len(content)
