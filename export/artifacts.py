"""The export command: `.keras` -> SavedModel + TFLite variants, measured, gated, then committed.

Layout of version N in a run folder:

    saved_model/N/                      TF Serving version directory; assets.extra/
                                        holds model_card.json and tf_serving_warmup_requests
    tflite/N/generator_<variant>.tflite one file per variant that passed its gate
                                        (each embeds the model card as metadata);
                                        generator_<S>steps_<variant>.tflite for a
                                        sampler of S steps
    exports/N/model_card.json           the version's manifest and model card: contract,
                                        digests, parity and quantization figures

An export is all or nothing, also when the process is killed at any moment:

1. Everything is written under `RUN/.export-XXXX/new/` and checked there:
   the SavedModel's ops against `export.allowed_ops`; Keras, the SavedModel
   and the float32 `.tflite` file agree on the quality seeds to 1/255 (else
   nothing is replaced); every variant is measured against Keras on the
   held-out seeds (`HELD_OUT_SEEDS`), and a quantized one is dropped (unless
   `force`) when it loses more quality there than its `Variant` allows.
2. `export.install` puts it in place: snapshots what it replaces, renames
   the version's tflite and SavedModel folders in and
   `exports/N/model_card.json` last (that rename is the commit), then
   deletes the staging folder.

Re-exporting version N touches version N only. Until the commit the old
manifest still describes the previous export, whose files are at their paths
or in `previous/`; `export.reading` finds them by their digests, so a reader
sees the old export or the new one, never a mix. A failed export puts the old
files back at once; a killed one is rolled back (or, if it had committed,
cleaned up) by the next export of the same run.
"""

import json
import math
import os
import re
import tempfile
import time
from fractions import Fraction

import numpy as np
import tensorflow as tf

import zoo
from export import install
from export.allowed_ops import disallowed_ops, parse_saved_model
from export.install import run_path
from export.saved_model import (
    ASSETS_EXTRA,
    WARMUP_FILE,
    load_signatures,
    warmup_records,
    write_saved_model,
)
from export.signatures import MAX_BATCH, SAVED_MODEL, TFLITE, signatures_for
from export.tflite import (
    CALIBRATION_SAMPLES,
    CARD_METADATA,
    VARIANTS,
    TFLiteConversionError,
    convert_saved_model,
    latency_ms,
    op_report,
    signature_runners,
    with_metadata,
)
from zoo import card as cards
from zoo.errors import ZooError
from zoo.explore import Generator, seeded
from zoo.files import file_digests, folder_digest, fsync_tree, run_lock, sha256_file, write_durably
from zoo.latents import SEED_LIMIT, labels_from_seeds
from zoo.run_folder import RunFolder

#: Every artifact is compared with Keras on the images of these seeds.
QUALITY_SEEDS = range(100)
#: Full-integer calibration draws these seeds (`CALIBRATION_SAMPLES` of them).
CALIBRATION_SEEDS = range(10**6, 10**6 + CALIBRATION_SAMPLES)
#: The seeds every variant's pixel thresholds are stated on. No threshold,
#: calibration or parity check looked at them: they are disjoint from the
#: quality seeds, the calibration seeds and the evaluator's FD seeds
#: (0 .. n - 1). 5,000 batch-1 invokes cost about a second per variant for
#: the shipped 28x28 generators.
HELD_OUT_SEEDS = range(2 * 10**6, 2 * 10**6 + 5000)
#: Percentiles of the per-image max pixel difference recorded over the held-out seeds.
HELD_OUT_PERCENTILES = ("50", "90", "99", "99.9")
#: Largest difference, in uint8 steps, between Keras, the SavedModel and float32 TFLite.
PARITY_TOLERANCE = 1
#: Largest difference between the latents Python and an artifact make from one seed.
LATENT_TOLERANCE = 1e-5


class ExportError(ZooError, RuntimeError):
    """Export failed: bad input, a conversion failure or broken parity.

    Another writer of the same folder is `zoo.files.FolderBusyError` instead.
    """


def versions(run_dir):
    """Exported versions of `run_dir` (those with a manifest), ascending."""
    try:
        names = os.listdir(RunFolder(run_dir).exports)
    except OSError:
        return []
    found = [int(name) for name in names if re.fullmatch(r"[1-9][0-9]*", name)
             and os.path.isfile(RunFolder(run_dir).manifest(name))]
    return sorted(found)


def export_run(run_dir, version=1, force=False, fd=None, dataset=None, latency_runs=200, variants=None,
               sampling=None):
    """Exports `run_dir/model.keras` as version `version`; returns its manifest (the model card).

    Args:
        run_dir: a run folder holding `model.keras` (and `config.json`).
        version: the version to write; other versions are not touched.
        force: also write quantized variants that fail their quality gate.
        fd: optional `fd(generate) -> float`, where `generate(n, seed)`
            returns uint8 images (or `(images, labels)`) like
            `evaluation.evaluate.model_generator`; the command line
            passes the evaluator's FD so that `export` need not import
            `training`. Without it FD deltas are null and gates use PSNR and
            pixel differences.
        dataset: `zoo.card.dataset_entry(...)` of the training data.
        latency_runs: timed invokes per variant.
        variants: names of the `export.tflite.VARIANTS` to convert (default:
            all); float32 is always among them.
        sampling: sampler options every artifact is made with (the
            contract's `sampling_options`, e.g. `{"steps": 4}`; default the
            model's): `generate` and the TFLite files hold that many steps.

    Raises:
        ExportError: the model cannot be loaded or converted, or the
            SavedModel or float32 file disagrees with Keras.
        zoo.files.FolderBusyError: another command is writing `run_dir`.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ExportError(f"--version must be a positive integer, got {version!r}")
    known = [variant.name for variant in VARIANTS]
    unknown = sorted(set(variants or ()) - set(known))
    if unknown:
        raise ExportError(f"unknown TFLite variant {', '.join(map(repr, unknown))}; use some of {', '.join(known)}")
    chosen = [variant for variant in VARIANTS if variants is None or variant.name in variants
              or variant.name == "float32"]
    model_file = RunFolder(run_dir).model
    try:
        model = zoo.load(model_file)
    except zoo.registry.ModelFileError as error:
        raise ExportError(str(error)) from None
    try:
        model = model.with_sampling(**(sampling or {}))
    except ValueError as error:
        raise ExportError(str(error)) from None
    context = {
        "model_sha256": sha256_file(model_file),
        "config": _read_config(run_dir),
        "dataset": dataset,
        "fd": fd,
        "force": force,
        "latency_runs": latency_runs,
        "name": os.path.basename(os.path.abspath(run_dir)),
        "variants": chosen,
    }
    with run_lock(run_dir, "zoo export"):
        install.recover_unlocked(run_dir)
        staging = tempfile.mkdtemp(prefix=install.STAGING_PREFIX, dir=run_dir)
        try:
            manifest = stage_version(model, os.path.join(staging, "new"), version, context)
            # The version's folders, then its manifest: that rename commits.
            install.install(run_dir, staging, list(RunFolder.export_paths(version)))
        except BaseException:
            install.roll_back(run_dir, staging)  # if this fails too, the next export finishes it
            install.discard(staging)
            raise
        install.discard(staging)
    return manifest


def _read_config(run_dir):
    try:
        with open(RunFolder(run_dir).config) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None  # a model saved from a user's own script


def _seed_inputs(model, seeds):
    """`generate` inputs for `seeds`: the seeds, and for conditional models their default classes."""
    inputs = {"seed": np.asarray(seeds, np.int32)}
    labels = labels_from_seeds(seeds, model.num_classes)
    if labels is not None:
        inputs["label"] = labels
    return inputs


def difference_figures(images, reference):
    """How uint8 `images` differ from Keras's `reference`: the `quality` figures a card records.

    Returns:
        `{"max_abs_diff", "psnr"}`: the largest |pixel difference| in uint8
        steps, and the PSNR over every pixel (null when identical).

    Example:
        >>> difference_figures(np.full((1, 2, 2, 1), 3, np.uint8), np.zeros((1, 2, 2, 1), np.uint8))
        {'max_abs_diff': 3, 'psnr': 38.59}
    """
    difference = images.astype(np.int64) - reference.astype(np.int64)
    mse = float(np.mean(difference.astype(np.float64) ** 2))
    psnr = None if mse == 0 else round(10.0 * math.log10(255.0**2 / mse), 2)
    return {"max_abs_diff": int(np.abs(difference).max()), "psnr": psnr}


def percentile_rank(percentile, n):
    """The rank, among `n` values sorted ascending, of the recorded `percentile` ("99.9"): ceil(q n / 100).

    A recorded percentile is that order statistic (the "inverted_cdf"
    definition in exact arithmetic; numpy's float arithmetic takes the next
    value for "99.9" of 5,000), so at most `n - rank` of the values lie above it.
    """
    return math.ceil(Fraction(percentile) * n / 100)


def held_out_figures(images, reference):
    """How uint8 `images` of the held-out seeds differ from Keras's `reference`.

    Returns:
        `{"per_image_max_abs_diff": {"p50", "p90", "p99", "p99.9", "max"},
        "psnr"}`: percentiles (see `percentile_rank`) and maximum of each
        image's largest |pixel difference| in uint8 steps, and the PSNR over
        every pixel of every image (null when identical).
    """
    difference = np.abs(images.astype(np.int16) - reference.astype(np.int16))
    ordered = np.sort(difference.reshape(len(images), -1).max(axis=1))  # (n,)
    figures = {f"p{q}": int(ordered[percentile_rank(q, len(ordered)) - 1]) for q in HELD_OUT_PERCENTILES}
    return {"per_image_max_abs_diff": {**figures, "max": int(ordered[-1])},
            "psnr": difference_figures(images, reference)["psnr"]}


def _references(model):
    """What Keras makes of the quality and held-out seeds: images, latents, and VAE reconstructions."""
    seeds = QUALITY_SEEDS
    labels = labels_from_seeds(seeds, model.num_classes)
    reference = {
        "images": model.sample(len(seeds), seed=seeds.start, labels=labels).numpy(),
        "z": model.latents(seeds).numpy(),
    }
    start = time.perf_counter()
    reference["held_out"] = model.sample(len(HELD_OUT_SEEDS), seed=HELD_OUT_SEEDS.start,
                                         labels=labels_from_seeds(HELD_OUT_SEEDS, model.num_classes)).numpy()
    reference["held_out_seconds"] = time.perf_counter() - start
    if model.contract.encodes:
        # The model's own samples as test inputs: export has no dataset.
        from zoo.images import from_uint8, to_uint8

        x = from_uint8(reference["images"], model.pixel_range)
        z_mean, _ = model.encode(x, None if labels is None else tf.constant(labels, tf.int32))
        reference["reconstruction"] = to_uint8(
            model.decode(z_mean, labels), model.pixel_range).numpy()
    return reference


def _measure(signatures, model, reference):
    """Compares an artifact's `{name: runner}` with Keras on the quality seeds."""
    inputs = _seed_inputs(model, QUALITY_SEEDS)
    z = signatures["latents"](seed=inputs["seed"])["z"]
    result = {
        "latents_max_abs_diff": float(np.abs(z - reference["z"]).max()),
        **difference_figures(signatures["generate"](**inputs)["images"], reference["images"]),
    }
    z_inputs = {"z": reference["z"], **({"label": inputs["label"]} if "label" in inputs else {})}
    result["serving_default_max_abs_diff"] = difference_figures(
        signatures["serving_default"](**z_inputs)["images"], reference["images"])["max_abs_diff"]
    if "reconstruction" in reference:
        images = {"images": reference["images"], **({"label": inputs["label"]} if "label" in inputs else {})}
        result["reconstruct_max_abs_diff"] = difference_figures(
            signatures["reconstruct"](**images)["images"], reference["reconstruction"])["max_abs_diff"]
    return result


def _measure_held_out(signatures, model, reference):
    """`held_out_figures` of an artifact's `generate` on the held-out seeds, which seeds, and the seconds it took."""
    seeds = HELD_OUT_SEEDS
    start = time.perf_counter()
    images = signatures["generate"](**_seed_inputs(model, seeds))["images"]
    seconds = time.perf_counter() - start
    return {"seeds": [seeds.start, seeds.stop], "n": len(seeds), **held_out_figures(images, reference["held_out"]),
            "seconds": round(seconds, 2)}


def _held_out_entry(reference):
    """The card's `held_out`: which seeds the variants' thresholds are stated on, and how they are measured."""
    seeds = HELD_OUT_SEEDS
    return {
        "seeds": [seeds.start, seeds.stop],
        "n": len(seeds),
        "reference": "Keras model.sample of the same seeds (conditional models: each seed's default class)",
        "disjoint_from": {"quality_seeds": [QUALITY_SEEDS.start, QUALITY_SEEDS.stop],
                          "calibration_seeds": [CALIBRATION_SEEDS.start, CALIBRATION_SEEDS.stop],
                          "fd_seeds": "the evaluator's 0 .. n - 1"},
        "per_image_max_abs_diff": "an image's largest |pixel - Keras pixel|, in uint8 steps",
        "percentiles": "pQ is the ceil(Q * n / 100)-th smallest per-image value, in exact arithmetic: at most "
                       "n - ceil(Q * n / 100) of the n images lie above it; max is the largest",
        "psnr": "10 log10(255^2 / MSE), the MSE over every pixel of the n images",
        "keras_seconds": round(reference["held_out_seconds"], 2),
    }


def _statement(variant):
    """A variant's thresholds in words, each with the sample it is stated on."""
    seeds, n = HELD_OUT_SEEDS, len(HELD_OUT_SEEDS)
    return (f"over the {n:,} held-out seeds {seeds.start}..{seeds.stop - 1}, against Keras: the 99th percentile "
            f"of per-image max pixel difference <= {variant.p99_abs_diff} and the maximum over the {n:,} <= "
            f"{variant.max_abs_diff} (uint8 steps); PSNR over them >= {variant.min_psnr} dB. FD (where measured, "
            f"see metrics.fd_protocol) at most {variant.max_fd_increase:.0%} above the Keras generator's")


def _artifact_generator(signatures, model):
    """`generate(n, seed)` of an artifact's signatures, as the evaluator takes it."""
    contract = model.contract
    return seeded(Generator.from_signatures(signatures, contract.latent_shape, contract.num_classes,
                                            contract.image_shape))


def _representative_dataset(model, signature_keys):
    """Calibration inputs for full-integer quantization: `CALIBRATION_SAMPLES` per signature.

    Seeds far from the quality seeds, their default classes, their latents,
    and for encoders the model's own samples (export has no dataset).
    """
    seeds = CALIBRATION_SEEDS
    inputs = _seed_inputs(model, seeds)
    z = model.latents(seeds).numpy()
    images = model.sample(len(seeds), seed=seeds.start, labels=inputs.get("label")).numpy() \
        if model.contract.encodes else None

    def rows():
        for i in range(len(seeds)):
            label = {"label": inputs["label"][i : i + 1]} if "label" in inputs else {}
            by_signature = {
                "serving_default": {"z": z[i : i + 1], **label},
                "generate": {"seed": inputs["seed"][i : i + 1], **label},
                "latents": {"seed": inputs["seed"][i : i + 1]},
            }
            if images is not None:
                by_signature["encode"] = by_signature["reconstruct"] = {"images": images[i : i + 1], **label}
            for key in signature_keys:
                yield key, by_signature[key]

    return rows


def _gate(variant, quality, held_out, fd_increase):
    """Why `variant` fails its thresholds, or None if it passes.

    Latents are checked on the quality seeds, pixels on the held-out seeds.
    """
    problems = []
    if quality["latents_max_abs_diff"] > LATENT_TOLERANCE:
        problems.append(f"latents differ by {quality['latents_max_abs_diff']:.2g} > {LATENT_TOLERANCE}")
    n, difference = len(HELD_OUT_SEEDS), held_out["per_image_max_abs_diff"]
    if difference["p99"] > variant.p99_abs_diff:
        problems.append(f"99th percentile of per-image max pixel difference over {n} held-out seeds "
                        f"{difference['p99']} > {variant.p99_abs_diff}")
    if difference["max"] > variant.max_abs_diff:
        problems.append(f"max pixel difference over {n} held-out seeds {difference['max']} > {variant.max_abs_diff}")
    if held_out["psnr"] is not None and held_out["psnr"] < variant.min_psnr:
        problems.append(f"PSNR over {n} held-out seeds {held_out['psnr']} dB < {variant.min_psnr} dB")
    if fd_increase is not None and fd_increase > variant.max_fd_increase:
        problems.append(f"FD +{100 * fd_increase:.1f}% > +{100 * variant.max_fd_increase:.0f}%")
    return "; ".join(problems) or None


def stage_version(model, new, version, context):
    """Writes, measures and checks export version `version` of `model` in the folder `new`; returns its manifest.

    The first half of `export_run`, which then installs `new` in the run
    folder all or nothing (`export.install`); `new` is laid out like a run
    folder (`saved_model/N`, `tflite/N`, `exports/N/model_card.json`) and
    nothing outside it is touched.

    Args:
        model: the loaded zoo model.
        new: the folder to write.
        version: the export version.
        context: what `export_run` knows besides the model: `model_sha256`,
            `config` (the run's `config.json` or None), `dataset`, `fd`,
            `force`, `latency_runs` (see `export_run`), `name` (the run's)
            and `variants` (the `export.tflite.VARIANTS` to write).

    Raises:
        ExportError: the SavedModel uses ops outside `export.allowed_ops`,
            or an artifact disagrees with Keras.
    """
    paths = RunFolder.export_paths(version)
    saved_model_path, tflite_path = paths.saved_model, paths.tflite
    saved_model_dir = RunFolder(new).saved_model(version)
    served = signatures_for(model, SAVED_MODEL)
    write_saved_model(model, saved_model_dir)
    warmup_records(model, served, os.path.join(saved_model_dir, ASSETS_EXTRA, WARMUP_FILE))
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        refused = disallowed_ops(parse_saved_model(f.read()))
    if refused:
        raise ExportError(
            f"the exported SavedModel uses ops that export.allowed_ops does not list: {', '.join(refused)}; "
            "review them, then re-derive the list (python -m tests.export.test_allowed_ops)."
        )
    reference = _references(model)
    fd = context["fd"]
    keras_fd = fd(seeded(Generator.from_model(model))) if fd else None
    saved_model_quality = _measure(load_signatures(saved_model_dir), model, reference)
    _check_parity("the SavedModel", saved_model_quality)

    lite = signatures_for(model, TFLITE)
    contents, variants = _tflite_variants(model, new, tflite_path, lite, context, reference, keras_fd)

    card = _card(model, version, context, served, lite, variants, keras_fd, saved_model_quality,
                 _held_out_entry(reference))
    # Each .tflite holds a copy without the .tflite digests (each file's
    # digest depends on the copy it holds).
    tflite_files = [entry["path"] for entry in variants.values() if entry.get("path")]
    embedded = json.dumps(cards.without_files(card, tflite_files), indent=2).encode()
    for filename, content in contents.items():
        content = with_metadata(content, CARD_METADATA, embedded)
        write_durably(run_path(new, f"{tflite_path}/{filename}"), content)
    for entry in variants.values():
        if entry.get("path"):
            entry["bytes"] = os.path.getsize(run_path(new, entry["path"]))
            entry["sha256"] = sha256_file(run_path(new, entry["path"]))
            card["files"][entry["path"]] = entry["sha256"]
    # The SavedModel holds a copy written before its own digests join the
    # card (adding the copy changes them).
    inner = os.path.join(saved_model_dir, ASSETS_EXTRA, cards.CARD_FILE)
    write_durably(inner, json.dumps(cards.without_files(card, []), indent=2).encode())
    fsync_tree(saved_model_dir)
    files = file_digests(saved_model_dir)
    card["saved_model"]["files"] = files
    card["saved_model"]["sha256"] = folder_digest(files)
    card["files"].update({f"{saved_model_path}/{name}": digest for name, digest in files.items()})
    card["files"] = dict(sorted(card["files"].items()))
    fsync_tree(run_path(new, tflite_path))
    write_durably(RunFolder(new).manifest(version), json.dumps(card, indent=2).encode())
    fsync_tree(new)
    return card


def _tflite_variants(model, new, tflite_path, lite, context, reference, keras_fd):
    """Converts, measures and gates each chosen variant; returns `({filename: bytes}, {variant: entry})`."""
    keys = [signature.name for signature in lite]
    # TFLite from static-batch graphs: a dynamic batch adds Shape/Pack ops that
    # fail builtin-only conversion of some generators and break delegates.
    sources, contents, variants = {}, {}, {}
    os.makedirs(run_path(new, tflite_path), exist_ok=True)
    for variant in context["variants"]:
        graph = (variant.batch_size, variant.quantization == "int8")
        if graph not in sources:
            sources[graph] = os.path.join(os.path.dirname(new), f"tflite_graph_{len(sources)}")
            write_saved_model(model, sources[graph], TFLITE, batch_size=graph[0], integer_tail=graph[1])
        try:
            content = convert_saved_model(
                sources[graph], keys, variant.quantization,
                _representative_dataset(model, keys) if variant.quantization == "int8" else None)
        except TFLiteConversionError as error:
            if variant.batch_size is None:  # optional: written only where it converts
                variants[variant.name] = {"written": False, "reason": str(error)}
                continue
            raise ExportError(f"{variant.name}: {error}") from None
        runners = signature_runners(content)
        quality = _measure(runners, model, reference)
        if variant.name == "float32":
            _check_parity("the float32 .tflite file", quality)
        held_out = _measure_held_out(runners, model, reference)
        variant_fd = context["fd"](_artifact_generator(runners, model)) if context["fd"] else None
        fd_increase = None if variant_fd is None else variant_fd / keras_fd - 1.0
        failed = _gate(variant, quality, held_out, fd_increase)
        if variant.name == "float32" and failed:
            raise ExportError(f"the float32 .tflite file fails its quality gate ({failed}); nothing was replaced.")
        entry = {
            "written": failed is None or context["force"],
            "batch_size": variant.batch_size,
            "thresholds": {**variant.thresholds(), "statement": _statement(variant)},
            "quality": quality,
            "held_out": held_out,
            "fd": variant_fd,
            "fd_increase": fd_increase,
            "failed": failed,
            "latency_ms": latency_ms(content, runs=context["latency_runs"]) if variant.batch_size else None,
            **op_report(content),
        }
        if entry["written"]:
            contents[variant.filename(model.contract)] = content
            entry["path"] = f"{tflite_path}/{variant.filename(model.contract)}"
        variants[variant.name] = entry
    return contents, variants


def _check_parity(what, quality):
    if quality["max_abs_diff"] > PARITY_TOLERANCE or quality["serving_default_max_abs_diff"] > PARITY_TOLERANCE \
            or quality.get("reconstruct_max_abs_diff", 0) > PARITY_TOLERANCE \
            or quality["latents_max_abs_diff"] > LATENT_TOLERANCE:
        raise ExportError(
            f"{what} disagrees with Keras on {len(QUALITY_SEEDS)} fixed seeds ({quality}; tolerance "
            f"{PARITY_TOLERANCE}/255, latents {LATENT_TOLERANCE}); nothing was replaced."
        )


def _card(model, version, context, served, lite, variants, keras_fd, saved_model_quality, held_out):
    """The version's model card and manifest (files are filled in by `stage_version`)."""
    config = context["config"] or {}
    dataset = context["dataset"] or cards.dataset_entry(config.get("run", {}).get("dataset", "unknown"))
    contract = {s.name: {**s.contract(model, None), "artifacts": list(s.targets)} for s in served}
    for signature in lite:
        contract[signature.name]["tflite_shapes"] = signature.contract(model, 1)
    low, high = model.pixel_range
    return cards.new_card(
        "generator",
        name=context["name"],
        version=version,
        dataset=dataset,
        training={"command": config.get("commands") or config.get("command"), "config": config or None},
        metrics={"fd": keras_fd, "fd_protocol": "the command line's evaluator (zoo export)" if keras_fd else None},
        files={RunFolder.MODEL: context["model_sha256"]},
        model=model.registry_name,
        contract=model.contract.to_json(),
        latent={"shape": list(model.contract.latent_shape), "dim": math.prod(model.contract.latent_shape),
                "prior": model.latent_prior,
                "seeds": [0, SEED_LIMIT], "function": "zoo.latents.latents_from_seeds"},
        image={"shape": list(model.image_shape), "dtype": "uint8",
               "pixel_normalisation": f"the network works in [{low}, {high}]; signatures return uint8 "
                                      f"pixels = round(clip((x - {low}) * 255 / {high - low}, 0, 255))",
               "num_classes": model.num_classes},
        signatures=contract,
        limits={"max_batch": MAX_BATCH, "seed_range": [0, SEED_LIMIT],
                "label_range": [0, model.num_classes] if model.num_classes else None, "truncation": "(0, 1]"},
        parity={"seeds": [QUALITY_SEEDS.start, QUALITY_SEEDS.stop], "tolerance": PARITY_TOLERANCE,
                "latent_tolerance": LATENT_TOLERANCE, "saved_model": saved_model_quality},
        saved_model={"path": RunFolder.export_paths(version).saved_model, "version": version},
        held_out=held_out,
        tflite=variants,
        serving={"minimum_tf_serving": "2.21", "warmup": f"{ASSETS_EXTRA}/{WARMUP_FILE}"},
    )
