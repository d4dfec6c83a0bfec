"""Mode-collapse and memorisation diagnostics from classifier outputs and features."""

import numpy as np

from training.metrics.distribution import _pairwise_distances

#: A class counts as covered when it gets at least this share of the uniform
#: share (1 / classes) of the samples: stray misclassifications of a
#: collapsed generator do not make a class covered.
COVERED_FRACTION_OF_UNIFORM = 0.1


def class_histogram(predicted, num_classes):
    """Share of samples predicted as each class, `(num_classes,)`."""
    counts = np.bincount(np.asarray(predicted, np.int64), minlength=num_classes)
    return counts / max(counts.sum(), 1)


def class_coverage(predicted, num_classes):
    """`classes_covered` and `kl_uniform` of the predicted-class histogram.

    `kl_uniform = KL(histogram || uniform)` is 0 when samples spread evenly
    over the classes (as Fashion-MNIST's do) and `log(num_classes)` when
    every sample lands in one class.
    """
    histogram = class_histogram(predicted, num_classes)
    covered = int((histogram >= COVERED_FRACTION_OF_UNIFORM / num_classes).sum())
    nonzero = histogram[histogram > 0]
    kl = float((nonzero * np.log(nonzero * num_classes)).sum())
    return {"classes_covered": covered, "kl_uniform": kl, "class_histogram": histogram.tolist()}


def class_accuracy(predicted, requested):
    """Share of samples classified as the class they were generated for."""
    return float((np.asarray(predicted) == np.asarray(requested)).mean())


def nearest_neighbours(queries, references, chunk=1024):
    """Index and distance of each query's nearest reference, `(n,)` each.

    Works in chunks of queries so that a 10k x 60k distance matrix is never
    held at once.
    """
    indices, distances = [], []
    for start in range(0, len(queries), chunk):
        block = _pairwise_distances(queries[start : start + chunk], references)
        nearest = block.argmin(axis=1)
        indices.append(nearest)
        distances.append(block[np.arange(len(block)), nearest])
    return np.concatenate(indices), np.concatenate(distances)


def memorisation(fake, train, test, quantile=0.05):
    """How many samples sit closer to a training image than real data does.

    Each generated and each held-out real image gets the feature distance to
    its nearest training image. The threshold is the `quantile` of the real
    test distances, so a generator that does not copy has about `quantile`
    of its samples below it; a clearly larger share means near-copies.

    Returns:
        dict with `memorisation` (share below the threshold), the
        `memorisation_baseline` (`quantile`), and per sample the nearest
        training index and distance (`nearest_train_index`,
        `nearest_train_distance`).
    """
    nearest, nearest_distance = nearest_neighbours(fake, train)
    _, test_distance = nearest_neighbours(test, train)
    threshold = np.quantile(test_distance, quantile)
    return {
        "memorisation": float((nearest_distance < threshold).mean()),
        "memorisation_baseline": quantile,
        "nearest_train_index": nearest.tolist(),
        "nearest_train_distance": nearest_distance.tolist(),
    }
