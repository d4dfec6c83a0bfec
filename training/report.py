"""A run's training report: one self-contained HTML page.

`write_report(run_dir, out)` reads what a run folder holds (`config.json`,
`history.json`, `samples/epoch_NNN.png`, `metrics.json`, the latest
`exports/N/model_card.json`; a shipped folder's `model_card.json` and
`samples.png`) and writes a page with everything embedded: the plots
(matplotlib) and the grids as PNG data URIs, no scripts, no external
files, so it opens offline and can be mailed as one file.
"""

import base64
import html
import io
import json
import os
import re

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
    return html.escape(str(value))


def _table(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
        rows.append([
            f"<code>{html.escape(name)}</code>",
            "yes" if entry.get("written") else html.escape(f"no ({entry.get('failed') or entry.get('reason') or ''})"),
            f"{entry['bytes'] / 1e6:.2f} MB" if entry.get("bytes") else "-",
            f"{latency:.3f}" if latency is not None else "-",
            "identical" if (held_out or quality) and psnr is None else _number(psnr),
            _number(differences.get("p99")),
            _number(differences.get("max")),
            _number(entry.get("fd"), 4),
            f"{change:+.2%}" if isinstance(change, (int, float)) else "-",
        ])
    over = f" on {seeds:,} held-out seeds" if seeds else ""
    return _table(["variant", "written", "size", "ms / image", f"PSNR (dB){over}", "p99 max diff", "max diff",
                   "FD", "FD change"], rows)


def _metrics_table(metrics):
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    return _table(["metric", "value"], [[html.escape(k), _number(v, 4)] for k, v in shown.items()])


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; } .plots img { max-width: 100%; }
.strip { display: flex; gap: .6rem; overflow-x: auto; padding-bottom: .5rem; }
figure { margin: 0; text-align: center; font-size: .8rem; color: #555; }
figure img { width: 180px; image-rendering: pixelated; background: #000; }
table { border-collapse: collapse; font-size: .85rem; } td, th { border: 1px solid #ddd; padding: .2rem .5rem; }
th { background: #f4f4f4; } pre { background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: .75rem; }
.note { color: #666; }
"""


def build_report(run_dir, title=None):
    """The HTML text of the report of `run_dir` (see the module docstring)."""
    config = _read_json(os.path.join(run_dir, "config.json")) or {}
    history = _read_json(os.path.join(run_dir, "history.json")) or {}
    metrics = _read_json(os.path.join(run_dir, "metrics.json"))
    shipped_card = _read_json(os.path.join(run_dir, "model_card.json"))
    export_card = latest_export_card(run_dir)
    title = title or os.path.basename(os.path.normpath(run_dir))
    epochs = history.get("epoch") or []
    parts = [f"<h1>{html.escape(title)}</h1>"]
    summary = [f"model <code>{html.escape(str(config.get('model', '?')))}</code>",
               f"dataset <code>{html.escape(str(config.get('dataset', '?')))}</code>",
               f"{len(epochs)} epochs of batch {config.get('batch_size', '?')}"]
    if "stopped" in history:
        summary.append(f"<strong>stopped: {html.escape(json.dumps(history['stopped']))}</strong>")
    parts.append(f"<p>{', '.join(summary)}.</p>")

    parts.append("<h2>Losses</h2>")
    losses = [k for k in history if k not in ("epoch", "stopped") and not _is_metric(k) and isinstance(history[k], list)]
    uri = plot_curves(history, losses, "losses (dashed: validation)", "loss") if losses else None
    parts.append(f'<div class="plots"><img alt="loss curves" src="{uri}"></div>' if uri
                 else '<p class="note">history.json holds no losses.</p>')

    parts.append("<h2>Metrics during training</h2>")
    plots = [(key, plot_curves(history, [key], key, key.removeprefix("val_"), size=(4.6, 3.0)))
             for key in history if key != "epoch" and _is_metric(key)]
    plots = [(key, uri) for key, uri in plots if uri]
    if plots:
        parts.append('<div class="plots">' + "".join(
            f'<img alt="{html.escape(key)} curve" src="{uri}">' for key, uri in plots) + "</div>")
        parts.append('<p class="note">Measured during training on a few thousand images (<code>--metrics</code>): '
                     "compare epochs with them; quote <code>zoo evaluate</code>'s figures at 10,000.</p>")
    else:
        parts.append('<p class="note">None measured: train with <code>--metrics fd,dc</code> to see FD and '
                     "coverage per epoch.</p>")

    final = metrics or (shipped_card or {}).get("metrics")
    if final:
        parts.append("<h2>Evaluation</h2>" + _metrics_table(final))

    parts.append("<h2>Samples over training</h2>")
    grids = epoch_grids(run_dir)
    if grids:
        parts.append('<p class="note">The same latents every epoch; epoch 0 is before training.</p>'
                     '<div class="strip">' + "".join(
                         f'<figure><img alt="samples after epoch {e}" src="{_png_uri(png)}">'
                         f"<figcaption>epoch {e}</figcaption></figure>" for e, png in grids) + "</div>")
    elif os.path.isfile(os.path.join(run_dir, "samples.png")):
        with open(os.path.join(run_dir, "samples.png"), "rb") as f:
            parts.append('<div class="strip"><figure><img alt="samples of the shipped model" '
                         f'src="{_png_uri(f.read())}"><figcaption>seeds 0..63</figcaption></figure></div>')
    else:
        parts.append('<p class="note">No sample grids in this folder.</p>')

    card = export_card or shipped_card
    if export_card:
        parts.append(f"<h2>Export (version {export_card.get('version')})</h2>" + variant_table(export_card))
        parts.append('<p class="note">ms per image at batch 1, 2 threads; PSNR and max difference against the '
                     "float32 Keras generator; FD change against the float32 Keras generator's FD.</p>")
    if card:
        parts.append("<h2>Model card</h2><details><summary>model_card.json</summary><pre>"
                     + html.escape(json.dumps(card, indent=2)) + "</pre></details>")
    if config:
        parts.append("<h2>Run settings</h2><details><summary>config.json</summary><pre>"
                     + html.escape(json.dumps(config, indent=2)) + "</pre></details>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}: training report</title><link rel=\"icon\" href=\"data:,\">"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write_report(run_dir, out, title=None):
    """Writes the report of `run_dir` to `out` (atomically); returns its size in bytes."""
    content = build_report(run_dir, title).encode()
    atomic_write(out, content)
    return len(content)
