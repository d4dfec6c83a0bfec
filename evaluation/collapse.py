"""Mode-collapse and memorisation diagnostics from classifier outputs and features."""

import numpy as np

from evaluation.distribution import pairwise_distances

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
        block = pairwise_distances(queries[start : start + chunk], references)
        nearest = block.argmin(axis=1)
        indices.append(nearest)
        distances.append(block[np.arange(len(block)), nearest])
    return np.concatenate(indices), np.concatenate(distances)


def memorisation(fake, train, test, quantile=0.05, seed=0):
    """How many samples sit closer to a training image than unseen real images do.

    Every generated and every real test image gets the feature distance to
    its nearest training image. The test images are split at random (by
    `seed`) into two halves: the `quantile` of the first half's distances is
    the threshold, and the second half, which did not set it, measures how
    many unseen real images fall below it. That share is the baseline: a
    generator that copies nothing scores about the same, up to sampling
    noise (its standard error is about `sqrt(q (1 - q) / (n_test / 2))`, 0.003
    for 10,000 test images at q = 0.05); a clearly larger share means
    near-copies of training images.

    Args:
        fake: features of generated images, `(n, d)`.
        train: features of the training images, `(n_train, d)`.
        test: features of held-out real images, `(n_test, d)`, at least 2.
        quantile: share of the threshold half below the threshold.
        seed: seed of the random split of `test`.

    Returns:
        dict with `memorisation` (share of samples below the threshold),
        `memorisation_baseline` (share of the held-out half of the test
        images below it), `memorisation_threshold` (the distance), and per
        sample the nearest training index and distance
        (`nearest_train_index`, `nearest_train_distance`).

    Example:
        >>> found = memorisation(fake_features, train_features, test_features)
        >>> found["memorisation"] - found["memorisation_baseline"]  # ~0: no copies

    References:
        Meehan et al., "A Non-Parametric Test to Detect Data-Copying in
        Generative Models", AISTATS 2020 (the same idea as a test statistic).
    """
    if len(test) < 2:
        raise ValueError(
            f"memorisation needs at least 2 real test images (got {len(test)}): one half "
            "sets the threshold, the other measures the baseline."
        )
    nearest, nearest_distance = nearest_neighbours(fake, train)
    _, test_distance = nearest_neighbours(test, train)
    order = np.random.default_rng(seed).permutation(len(test_distance))
    calibration, held_out = np.array_split(test_distance[order], 2)
    threshold = np.quantile(calibration, quantile)
    return {
        "memorisation": float((nearest_distance < threshold).mean()),
        "memorisation_baseline": float((held_out < threshold).mean()),
        "memorisation_threshold": float(threshold),
        "nearest_train_index": nearest.tolist(),
        "nearest_train_distance": nearest_distance.tolist(),
    }
