"""Run settings: one frozen dataclass, written as JSON beside every artifact."""

import dataclasses
import json
import platform
from typing import Optional

#: `precision` values: Keras dtype policies the networks can be built with.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
#: `strategy` values: tf.distribute strategies `training.distribute` sets up.
STRATEGIES = ("mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything besides the model's hyperparameters that defines a run.

    `model_config` holds the constructor arguments the model was built with,
    so `config.json` alone rebuilds the same model and run.
    """

    model: str
    model_config: dict
    dataset: str = "fashion_mnist"
    split: str = "train"
    validation_split: Optional[str] = None
    preset: Optional[str] = None
    epochs: int = 1
    batch_size: int = 128
    steps_per_epoch: Optional[int] = None
    seed: int = 0
    #: TensorFlow's op determinism: bitwise-reproducible runs and resumes.
    deterministic: bool = False
    #: Keras dtype policy the networks are built with (`PRECISIONS`);
    #: variables stay float32.
    precision: str = "float32"
    #: A `STRATEGIES` name, or None for the default device.
    strategy: Optional[str] = None
    learning_rates: dict = dataclasses.field(default_factory=dict)
    #: Generator metrics (`evaluation.evaluate.METRICS` groups, e.g.
    #: ["fd", "dc"]) measured every `metrics_every` epochs on
    #: `metrics_samples` images; logged as `val_*`, and `best.keras` is kept by FD.
    metrics: list = dataclasses.field(default_factory=list)
    metrics_every: int = 1
    metrics_samples: int = 2000
    #: The feature extractor of its metrics and of `zoo evaluate`: "domain"
    #: (the dataset's shipped classifier) or a folder written by `zoo
    #: train-classifier` (`evaluation.features.get_extractor`).
    extractor: str = "domain"
    grid_size: int = 64
    grid_seed: int = 0
    data_dir: Optional[str] = None
    out: str = "runs/run"

    @property
    def held_out_split(self):
        """The split metrics and evaluation compare with: a TFDS dataset's `test`, an image folder's
        `validation_split` (None if it has none: a folder's one split is `train`)."""
        return self.validation_split if self.dataset.startswith("folder:") else "test"

    def to_json(self, **extra):
        """JSON text of the settings plus `extra` (e.g. versions, command)."""
        payload = dataclasses.asdict(self)
        payload.update(extra)
        return json.dumps(payload, indent=2, sort_keys=True, default=list)

    @classmethod
    def from_json(cls, text):
        """Settings from `to_json` text; ValueError if they are not a run's settings."""
        payload = json.loads(text)
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON object of run settings")
        names = {f.name for f in dataclasses.fields(cls)}
        run = cls(**{k: v for k, v in payload.items() if k in names})
        kinds = {"model": str, "model_config": dict, "dataset": str, "split": str,
                 "epochs": int, "batch_size": int, "seed": int, "learning_rates": dict}
        for name, kind in kinds.items():
            value = getattr(run, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"{name}={value!r} is not a {kind.__name__}")
        return run


def environment():
    """Versions that decide whether a run reproduces."""
    import keras
    import numpy
    import tensorflow
    import tensorflow_datasets

    import zoo

    return {
        "python": platform.python_version(),
        "zoo": zoo.__version__,
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "tensorflow_datasets": tensorflow_datasets.__version__,
        "numpy": numpy.__version__,
    }
