"""The export command: `.keras` -> SavedModel + TFLite, checked for parity.

Layout written into a run folder:

    saved_model/<version>/      TF Serving version directory
    tflite/generator_float32.tflite
    export.json                 contract, sha256 of the .tflite, parity figures

Everything is written to a staging folder first and moved into place only
after Keras, the SavedModel and the TFLite file agree on the same latents to
within 1/255, so a failed export leaves the previous one untouched.
"""

import hashlib
import json
import os
import shutil
import tempfile

import numpy as np

import zoo
from export.saved_model import INPUT, LABEL, OUTPUT, SIGNATURE, run_saved_model, write_saved_model
from export.tflite import TFLiteConversionError, convert_saved_model, run_tflite
from zoo.images import to_uint8
from zoo.latents import labels_from_seeds

#: Parity is checked on the latents of these seeds.
PARITY_SEEDS = range(16)
#: Largest allowed difference, in uint8 steps, between any two artifacts.
PARITY_TOLERANCE = 1
TFLITE_FILE = "generator_float32.tflite"


class ExportError(RuntimeError):
    """Export failed: bad input, conversion failure or broken parity."""


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _replace(source, destination):
    """Moves `source` over `destination` (file or folder)."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    if os.path.isdir(destination):
        shutil.rmtree(destination)
    os.replace(source, destination)


def export_run(run_dir, version=1):
    """Exports `run_dir/model.keras`; returns the manifest written to export.json.

    Raises:
        ExportError: the model cannot be loaded, converted, or the artifacts
            disagree by more than `PARITY_TOLERANCE`.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ExportError(f"--version must be a positive integer, got {version!r}")
    try:
        model = zoo.load(os.path.join(run_dir, "model.keras"))
    except zoo.registry.ModelFileError as error:
        raise ExportError(str(error)) from None

    staging = tempfile.mkdtemp(prefix=".export-", dir=run_dir)
    try:
        saved_model_dir = os.path.join(staging, "saved_model")
        write_saved_model(model, saved_model_dir)
        # TFLite from a batch-1 graph: a dynamic batch adds Shape/Pack ops that
        # fail builtin-only conversion of Conv2DTranspose and break delegates.
        static_dir = os.path.join(staging, "static_batch")
        write_saved_model(model, static_dir, batch_size=1)
        try:
            content = convert_saved_model(static_dir)
        except TFLiteConversionError as error:
            raise ExportError(str(error)) from None
        tflite_path = os.path.join(staging, TFLITE_FILE)
        with open(tflite_path, "wb") as f:
            f.write(content)

        z = zoo.latents_from_seeds(PARITY_SEEDS, model.latent_dim, model.latent_prior).numpy()
        labels = labels_from_seeds(PARITY_SEEDS, model.num_classes)  # None if unconditional
        outputs = {
            "keras": to_uint8(model.generate(z, labels), model.pixel_range).numpy(),
            "saved_model": run_saved_model(saved_model_dir, z, labels),
            "tflite": run_tflite(tflite_path, z, labels),
        }
        parity = {
            f"{name}_max_abs_diff": int(np.abs(images.astype(int) - outputs["keras"].astype(int)).max())
            for name, images in outputs.items()
            if name != "keras"
        }
        if max(parity.values()) > PARITY_TOLERANCE:
            raise ExportError(
                f"exported generator disagrees with Keras on {len(z)} fixed latents "
                f"({parity}, tolerance {PARITY_TOLERANCE}/255); nothing was replaced."
            )

        saved_model_target = os.path.join(run_dir, "saved_model", str(version))
        tflite_target = os.path.join(run_dir, "tflite", TFLITE_FILE)
        _replace(saved_model_dir, saved_model_target)
        _replace(tflite_path, tflite_target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    inputs = {INPUT: {"dtype": "float32", "shape": [None, model.latent_dim]}}
    if model.num_classes:
        inputs[LABEL] = {"dtype": "int32", "shape": [None], "num_classes": model.num_classes}
    manifest = {
        "model": model.registry_name,
        "signature": SIGNATURE,
        "inputs": inputs,
        # Clients draw z from this prior (zoo.latents.latents_from_seeds).
        "latent_prior": model.latent_prior,
        "outputs": {OUTPUT: {"dtype": "uint8", "shape": [None, *model.image_shape]}},
        "saved_model": {"path": os.path.relpath(saved_model_target, run_dir), "version": version},
        "tflite": {
            "path": os.path.relpath(tflite_target, run_dir),
            "input_shapes": {name: [1, *spec["shape"][1:]] for name, spec in inputs.items()},
            "bytes": os.path.getsize(tflite_target),
            "sha256": _sha256(tflite_target),
        },
        "parity": {"seeds": [PARITY_SEEDS.start, PARITY_SEEDS.stop], "tolerance": PARITY_TOLERANCE, **parity},
    }
    with open(os.path.join(run_dir, "export.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest
