"""Evaluate a generator against real data with a feature extractor.

The generator is any callable `generate(n, seed) -> uint8 (n, H, W, C)`, so
the Keras model, the SavedModel and the `.tflite` file are evaluated the same
way and their differences are differences of the artifacts.
"""

import os
import pathlib

import numpy as np

from evaluation import collapse, distribution
from evaluation.reconstruction import reconstruction_metrics
from training import data
from zoo.errors import ZooError
from zoo.explore import Generator, seeded

#: Metric groups and the keys each writes.
METRICS = {
    "fd": ("fd",),
    "kid": ("kid", "kid_std"),
    "is": ("is", "is_std"),
    "pr": ("precision", "recall"),
    "dc": ("density", "coverage"),
    "coverage": ("coverage",),
    "classes": ("classes_covered", "kl_uniform"),  # + class_accuracy if conditional
    "memorisation": ("memorisation", "memorisation_baseline"),
    "reconstruction": ("psnr", "ssim", "ms_ssim"),
}
DEFAULT_METRICS = ("fd", "kid", "is", "pr", "dc", "classes")
#: Metrics that need the extractor's class probabilities.
CLASS_METRICS = ("is", "classes")


class MetricUnavailableError(ZooError, ValueError):
    """A requested metric cannot be computed with this extractor or model."""


def default_metrics(extractor, autoencoder=False):
    """The default metrics this extractor (and model) can compute."""
    names = [m for m in DEFAULT_METRICS if extractor.num_classes or m not in CLASS_METRICS]
    return tuple(names) + (("reconstruction",) if autoencoder else ())


def cache_dir():
    """Where real-data features are cached (`ZOO_CACHE_DIR` overrides)."""
    default = pathlib.Path.home() / ".cache" / "keras-gen-zoo" / "features"
    return pathlib.Path(os.environ.get("ZOO_CACHE_DIR", default))


def real_features(extractor, dataset, split, n, data_dir=None, image_shape=None):
    """Features and probabilities of the first `n` images of a split (None: all), cached.

    The cache key holds the dataset, split, extractor name, the sha256 of its
    weights and `n`, so a retrained extractor never reuses stale statistics.
    An extractor whose `weights_sha256` is not a sha256 (64 hex digits) names
    no particular weights, and an image folder's files can change under the
    same name, so their features are recomputed, never cached. A folder's
    images are resized to `image_shape` (the generated images' shape).
    """
    if not _is_sha256(extractor.weights_sha256) or dataset.startswith(data.FOLDER_PREFIX):
        images, _ = data.load_images(dataset, split, n, data_dir, image_shape)
        return extractor(images)
    key = f"{dataset}-{split}-{extractor.name}-{extractor.weights_sha256[:16]}-{n or 'all'}"
    path = cache_dir() / (key.replace("/", "_").replace(":", "_") + ".npz")
    if path.is_file():
        cached = np.load(path)
        # Extractors without a class head (FID) store no probabilities.
        probabilities = cached["probabilities"] if "probabilities" in cached.files else None
        return cached["features"], probabilities
    images, _ = data.load_images(dataset, split, n, data_dir)
    features, probabilities = extractor(images)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp.npz")  # processes filling the cache at once
    arrays = {"features": features}
    if probabilities is not None:  # None would be pickled, which np.load refuses
        arrays["probabilities"] = probabilities
    np.savez(temporary, **arrays)
    os.replace(temporary, path)
    return features, probabilities


def _is_sha256(value):
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def model_generator(model):
    """`generate(n, seed)` for a zoo model, as `evaluate` takes it (`zoo.explore.seeded`)."""
    return seeded(Generator.from_model(model))


def model_reconstructor(model):
    """`reconstruct(images, labels)` for a zoo autoencoder, as `evaluate` takes it, or None.

    Returns uint8 `(inputs, reconstructions)`: the real images in the
    model's shape, exactly as training fed them, and the model's output.
    """
    if not model.contract.encodes:
        return None
    from zoo.images import to_uint8

    def reconstruct(images, labels):
        scaled = data.normalise_images(images, model.image_shape, model.pixel_range)
        inputs = (scaled, labels.astype("int32")) if model.num_classes else scaled
        outputs = model.predict(inputs, batch_size=500, verbose=0)
        return (to_uint8(scaled, model.pixel_range).numpy(),
                to_uint8(outputs, model.pixel_range).numpy())

    return reconstruct


def generate_in_chunks(generate, n, seed, chunk=500):
    """Calls `generate` in chunks; image i still comes from seed + i.

    Returns:
        `(images, labels)`: labels are the requested classes when `generate`
        returns `(images, labels)` (conditional models), else None.
    """
    parts = [generate(min(chunk, n - start), seed + start) for start in range(0, n, chunk)]
    if isinstance(parts[0], tuple):
        return (np.concatenate([np.asarray(p[0]) for p in parts]),
                np.concatenate([np.asarray(p[1]) for p in parts]))
    return np.concatenate([np.asarray(p) for p in parts]), None


def parse_metrics(text):
    """'fd,kid' -> ("fd", "kid"), rejecting unknown names."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        named = ", ".join(map(repr, unknown)) or repr(text)
        raise MetricUnavailableError(
            f"unknown metric {named}; "
            f"choose from {', '.join(METRICS)}"
        )
    return names


def evaluate(generate, extractor, dataset, metrics=DEFAULT_METRICS, n=10000, seed=0,
             split="test", data_dir=None, reconstruct=None, progress=None, train_split="train"):
    """Computes `metrics` for a generator; returns a flat dict of floats.

    Args:
        generate: `(n, seed) -> uint8 images`, or `-> (images, labels)` for a
            conditional generator (then "classes" adds `class_accuracy`).
        extractor: a feature extractor (see `features.get_extractor`).
        dataset: TFDS name of the real data.
        metrics: names from `METRICS`.
        n: generated images, and real images of `split` (up to its size).
        seed: first latent seed.
        split: real reference split (test: held out from training).
        reconstruct: for autoencoders, `(uint8 images, labels) -> (uint8
            inputs as the model sees them, uint8 reconstructions)`; needed by
            "reconstruction". The inputs come back because a model trained at
            another resolution or channel count sees resized real images.
        progress: called with a stage name after generation, after feature
            extraction and after each metric (`2 + len(metrics)` calls).
        train_split: the images the generator trained on, which
            "memorisation" searches (an image folder's training slice).

    Returns:
        dict with the keys of the requested metrics plus `extractor`,
        `extractor_sha256`, `n`, `n_real`, `dataset`, `split`, `seed`.
    """
    missing = [m for m in metrics if m in CLASS_METRICS and not extractor.num_classes]
    if missing:
        raise MetricUnavailableError(
            f"{extractor.name} gives no class probabilities, so it cannot compute "
            f"{', '.join(missing)}; drop them or use --extractor domain."
        )
    if "reconstruction" in metrics and reconstruct is None:
        raise MetricUnavailableError(
            "reconstruction metrics need an autoencoder's Keras model (a VAE with --artifact keras)"
        )
    step = progress or (lambda stage: None)
    fake_images, requested = generate_in_chunks(generate, n, seed)
    step("generate")
    result = {"extractor": extractor.name, "extractor_sha256": extractor.weights_sha256,
              "n": int(len(fake_images)), "dataset": dataset, "split": split, "seed": seed}
    needs_features = set(metrics) - {"reconstruction"}
    if needs_features:
        real, _ = real_features(extractor, dataset, split, n, data_dir, fake_images.shape[1:])
        fake, fake_probabilities = extractor(fake_images)
        result["n_real"] = int(len(real))
    step("features")
    prdc = {}  # computed once for pr, dc and coverage

    def manifold(keys):
        if not prdc:
            prdc.update(distribution.precision_recall_density_coverage(real, fake))
        return {key: prdc[key] for key in keys}

    def memorised():
        # Nearest neighbours among the whole training split.
        train, _ = real_features(extractor, dataset, train_split, None, data_dir, fake_images.shape[1:])
        found = collapse.memorisation(fake, train, real)
        return {**{k: found[k] for k in METRICS["memorisation"]},
                "nearest_train_index": found["nearest_train_index"]}

    def reconstructed():
        images, labels = data.load_images(dataset, split, n, data_dir, fake_images.shape[1:])
        return reconstruction_metrics(*reconstruct(images, labels))

    def classes():
        predicted = fake_probabilities.argmax(axis=1)
        found = collapse.class_coverage(predicted, extractor.num_classes)
        if requested is not None:
            found["class_accuracy"] = collapse.class_accuracy(predicted, requested)
        return found

    compute = {
        "fd": lambda: {"fd": distribution.frechet_distance(
            *distribution.feature_statistics(real), *distribution.feature_statistics(fake))},
        "kid": lambda: dict(zip(METRICS["kid"], distribution.kernel_inception_distance(real, fake, seed=seed))),
        "is": lambda: dict(zip(METRICS["is"], distribution.inception_score(fake_probabilities))),
        "pr": lambda: manifold(METRICS["pr"]),
        "dc": lambda: manifold(METRICS["dc"]),
        "coverage": lambda: manifold(METRICS["coverage"]),
        "classes": classes,
        "memorisation": memorised,
        "reconstruction": reconstructed,
    }
    for name in metrics:
        result.update(compute[name]())
        step(name)
    return result


def export_fd(run, n):
    """`fd(generate)` for `export_run`: the evaluator's FD at `n` images, or None where it cannot run.

    FD needs the run's extractor (a TFDS dataset's domain classifier, or the
    one `--extractor` named) and its held-out split; without them the
    variants are gated by PSNR and pixel differences only.
    """
    from evaluation.features import ExtractorUnavailableError, get_extractor

    if not n or run is None:
        return None, "FD not measured (--fd-samples 0)" if not n else "FD not measured (no config.json)"
    split = run.held_out_split
    if split is None:
        return None, f"FD not measured: {run.dataset!r} was trained without a --validation-split to compare with"
    try:
        extractor = get_extractor(run.extractor, run.dataset)
        if not run.dataset.startswith(data.FOLDER_PREFIX):  # read (and cached) now: a missing split says so here
            real_features(extractor, run.dataset, split, n, data_dir=run.data_dir)
    except (ExtractorUnavailableError, data.DatasetUnavailableError) as error:
        return None, f"FD not measured: {error}"

    def fd(generate):
        return evaluate(generate, extractor, run.dataset, metrics=["fd"], n=n, seed=0,
                        split=split, data_dir=run.data_dir)["fd"]

    kind = "domain" if run.extractor == "domain" else extractor.name
    return fd, f"FD on {n} images vs the {run.dataset} {split} split ({kind} extractor)"
