"""The file names of a run folder, written once: `RunFolder(path)`.

A run folder is what `zoo train` writes and every other command reads or
adds to; a shipped model's folder (`zoo.shipped`) has the same layout plus
a top-level `model_card.json` and `samples.png`:

    model.keras, best.keras         the last epoch's model; the lowest val_fd's
    config.json, history.json       run settings (and commands); per-epoch logs
    backup.npz                      the whole training state, for resuming
    samples/, logs/                 a grid per epoch; TensorBoard
    saved_model/N/                  export version N: TF Serving layout
    tflite/N/                       export version N: one file per variant
    exports/N/model_card.json       export version N's manifest (its commit)
    metrics.json, nearest_train.json, report.html, samples_seed<S>.png,
    interpolation.gif, traversal.png, reconstructions.png, web/
                                    what the other commands write by default
    .zoo.lock, .export-XXXX/        the writers' lock; a running export's staging

Names are class attributes (relative, `/`-separated, as manifests record
them); an instance joins them to its folder. `zoo` holds this so that
`training` and `export`, which both import `zoo`, share it.

Example:
    >>> folder = RunFolder("runs/dcgan")
    >>> folder.model
    'runs/dcgan/model.keras'
    >>> folder.manifest(2)
    'runs/dcgan/exports/2/model_card.json'
    >>> RunFolder.export_paths(2).saved_model
    'saved_model/2'
"""

import collections
import os

from zoo.card import CARD_FILE

#: Export version N's run-relative paths, in the order they are installed:
#: the manifest last, because its rename commits the version.
ExportPaths = collections.namedtuple("ExportPaths", ["tflite", "saved_model", "manifest"])


class RunFolder:
    """The names of the files in the run folder `path`, and their paths.

    Args:
        path: the run folder (it need not exist yet).

    Example:
        >>> folder = RunFolder("runs/dcgan")
        >>> folder.history
        'runs/dcgan/history.json'
        >>> folder.tflite(1)
        'runs/dcgan/tflite/1'
    """

    MODEL = "model.keras"
    #: The model of the epoch with the lowest `val_fd`, with `--metrics fd`.
    BEST = "best.keras"
    CONFIG = "config.json"
    HISTORY = "history.json"
    BACKUP = "backup.npz"
    SAMPLES = "samples"
    LOGS = "logs"
    SAVED_MODEL = "saved_model"
    TFLITE = "tflite"
    EXPORTS = "exports"
    #: Each export version's manifest, and a shipped folder's own card.
    CARD = CARD_FILE
    METRICS = "metrics.json"
    NEAREST_TRAIN = "nearest_train.json"
    REPORT = "report.html"
    INTERPOLATION = "interpolation.gif"
    TRAVERSAL = "traversal.png"
    RECONSTRUCTIONS = "reconstructions.png"
    WEB = "web"
    #: A shipped folder's 64-image grid.
    SAMPLES_GRID = "samples.png"
    #: The lock file every writer of a run folder holds (`zoo.files.run_lock`).
    LOCK = ".zoo.lock"
    #: Export staging folders (and the snapshot of what they replace) start with this.
    STAGING_PREFIX = ".export-"
    #: The lock file of older versions' exports.
    OLD_EXPORT_LOCK = ".export.lock"

    #: What training resumes from; a non-chief worker starts with copies.
    STATE = (CONFIG, HISTORY, BACKUP, MODEL, BEST)
    #: What the folder holds besides its config: removed by `--overwrite`
    #: (with any staging folders), so no grid, log or export of the old
    #: model survives next to the new one.
    OUTPUTS = (MODEL, BEST, BACKUP, HISTORY, SAMPLES, LOGS, SAVED_MODEL, TFLITE, EXPORTS, METRICS, NEAREST_TRAIN,
               OLD_EXPORT_LOCK)

    def __init__(self, path):
        self.path = os.fspath(path)

    def __repr__(self):
        return f"RunFolder({self.path!r})"

    def join(self, relative):
        """The path of `relative`, a `/`-separated path inside the folder (as manifests record them)."""
        return os.path.join(self.path, *relative.split("/"))

    @property
    def model(self):
        return self.join(self.MODEL)

    @property
    def best(self):
        return self.join(self.BEST)

    @property
    def config(self):
        return self.join(self.CONFIG)

    @property
    def history(self):
        return self.join(self.HISTORY)

    @property
    def backup(self):
        return self.join(self.BACKUP)

    @property
    def samples(self):
        return self.join(self.SAMPLES)

    @property
    def logs(self):
        return self.join(self.LOGS)

    @property
    def exports(self):
        """The folder holding one folder per export version."""
        return self.join(self.EXPORTS)

    @property
    def card(self):
        return self.join(self.CARD)

    @staticmethod
    def samples_file(seed):
        """The name `zoo sample --seed SEED` writes by default."""
        return f"samples_seed{seed}.png"

    @classmethod
    def export_paths(cls, version):
        """`ExportPaths` of export version `version`, run-relative and `/`-separated."""
        return ExportPaths(f"{cls.TFLITE}/{version}", f"{cls.SAVED_MODEL}/{version}",
                           f"{cls.EXPORTS}/{version}/{cls.CARD}")

    def saved_model(self, version):
        """Export version `version`'s SavedModel folder (TF Serving layout)."""
        return self.join(self.export_paths(version).saved_model)

    def tflite(self, version):
        """Export version `version`'s folder of `.tflite` files."""
        return self.join(self.export_paths(version).tflite)

    def manifest(self, version):
        """Export version `version`'s manifest (its model card)."""
        return self.join(self.export_paths(version).manifest)

    def staging_folders(self):
        """Paths of the export staging folders in the folder (a killed export's leftovers), sorted."""
        try:
            names = sorted(os.listdir(self.path))
        except OSError:
            return []
        return [os.path.join(self.path, name) for name in names if name.startswith(self.STAGING_PREFIX)]

    def overwritten(self):
        """Paths `--overwrite` removes: `OUTPUTS` and staging folders, whether they exist or not."""
        return [self.join(name) for name in self.OUTPUTS] + self.staging_folders()
