"""Export a trained generator to SavedModel (TF Serving) and TFLite (LiteRT).

Works from a saved `.keras` model and the zoo model surface (`generator`,
`latent_dim`, `pixel_range`); it never imports `training`.
"""

from export.artifacts import ExportError, export_run

__all__ = ["ExportError", "export_run"]
