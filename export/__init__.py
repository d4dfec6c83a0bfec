"""Export a trained generator to SavedModel (TF Serving) and TFLite (LiteRT).

Works from a saved `.keras` model and the zoo model surface (`generator`,
`latent_dim`, `pixel_range`); it never imports `training`. `export_run`
writes an export all or nothing; the reading functions check one before
anything in it runs.
"""

from export.artifacts import ExportError, export_run
from export.reading import ArtifactError, open_saved_model, open_tflite, read_manifest, verify_export

__all__ = [
    "ArtifactError",
    "ExportError",
    "export_run",
    "open_saved_model",
    "open_tflite",
    "read_manifest",
    "verify_export",
]
