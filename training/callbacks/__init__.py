"""Keras callbacks for generative training runs, one module per concern.

- `history`: the run's `history.json`: `JSONHistory`, `read_history`,
  `record_stop`, `best_of_history`.
- `nonfinite`: stopping on NaN or infinity: `TerminateOnNonFinite`,
  `NonFiniteError`.
- `checkpoints`: atomic model files: `AtomicModelCheckpoint`,
  `BestModelCheckpoint`.
- `samples`: `SampleGrid`, a sample grid from fixed seeds after every epoch.
- `backup`: the training backup: `TrainingBackup`, `BackupError`,
  `read_backup_position`.
- `state`: what training state consists of: `training_state_variables`
  (saved by the backup, checked by `TerminateOnNonFinite`).

Every name above is importable from `training.callbacks` itself. The
callbacks that measure a generator during training (`GeneratorMetrics`,
`CollapseGuard`) are in `evaluation.callbacks`.
"""

from training.callbacks.backup import BackupError, TrainingBackup, read_backup_position
from training.callbacks.checkpoints import AtomicModelCheckpoint, BestModelCheckpoint
from training.callbacks.history import (
    JSONHistory,
    best_of_history,
    read_history,
    record_stop,
)
from training.callbacks.nonfinite import NonFiniteError, TerminateOnNonFinite
from training.callbacks.samples import SampleGrid
from training.callbacks.state import training_state_variables

__all__ = [
    "AtomicModelCheckpoint", "BackupError", "BestModelCheckpoint",
    "JSONHistory", "NonFiniteError", "SampleGrid", "TerminateOnNonFinite", "TrainingBackup",
    "best_of_history", "read_backup_position", "read_history", "record_stop", "training_state_variables",
]
