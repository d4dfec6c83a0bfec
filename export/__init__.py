"""Export a trained generator to SavedModel (TF Serving) and TFLite (LiteRT).

Works from a saved `.keras` model through the model contract
(`model.contract`, and the methods it names: `latents`, `generate`, with
`encodes` also `encode` and `decode`), so a family with another latent or
sampler exports without a change here; it never imports `training`. The signatures (`export.signatures`) and the TFLite
variants (`export.tflite.VARIANTS`) are tables that one loop in
`export.artifacts` writes, checks and measures; `export_run` writes a version
all or nothing, with its model card; the reading functions check an export
before anything in it runs.
"""

from export.artifacts import ExportError, export_run
from export.reading import (
                            ArtifactError,
                            latent_shape,
                            open_saved_model,
                            open_tflite,
                            read_manifest,
                            read_tflite,
                            verify_export,
)

__all__ = [
    "ArtifactError",
    "ExportError",
    "export_run",
    "latent_shape",
    "open_saved_model",
    "open_tflite",
    "read_manifest",
    "read_tflite",
    "verify_export",
]
