"""Distances between two sets of feature vectors (real vs generated).

All functions take float arrays `(n, d)` of features and return Python
floats. They are written with numpy/scipy because no maintained TensorFlow
library computes them any more (TF-GAN does not import on TF >= 2.16).
"""

import numpy as np
import scipy.linalg


def feature_statistics(features):
    """Mean `(d,)` and covariance `(d, d)` of features, in float64."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    `||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`; with
    Inception pool features of 10k images this is FID.

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
        to a Local Nash Equilibrium", NeurIPS 2017.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # Near-singular product: regularise both covariances slightly.
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real  # imaginary parts are numerical noise
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def kernel_inception_distance(real, fake, subsets=100, subset_size=1000, seed=0):
    """Unbiased MMD^2 with the cubic polynomial kernel, over random subsets.

    `k(x, y) = (x.y / d + 1)^3`. Returns `(mean, std)` over `subsets` draws of
    `min(subset_size, n)` examples from each set.

    References:
        Binkowski et al., "Demystifying MMD GANs", ICLR 2018.
    """
    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)
    d = real.shape[1]
    m = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        estimates.append(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean()
        )
    return float(np.mean(estimates)), float(np.std(estimates))


def inception_score(probabilities, splits=10):
    """exp(E_x KL(p(y|x) || p(y))), mean and std over `splits` folds.

    Args:
        probabilities: `(n, classes)` class probabilities of generated images.

    References:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016.
    """
    probabilities = np.asarray(probabilities, np.float64)
    scores = []
    for part in np.array_split(probabilities, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _pairwise_distances(a, b, chunk=2048):
    """Euclidean distances `(len(a), len(b))`, computed in row chunks."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    b_sq = (b * b).sum(axis=1)
    out = np.empty((len(a), len(b)), np.float32)
    for start in range(0, len(a), chunk):
        block = a[start : start + chunk]
        sq = (block * block).sum(axis=1)[:, None] - 2 * block @ b.T + b_sq[None]
        out[start : start + chunk] = np.sqrt(np.maximum(sq, 0))
    return out


def precision_recall_density_coverage(real, fake, pr_k=3, dc_k=5):
    """k-NN manifold metrics of a generated set against a real set.

    - precision: share of fakes inside the real manifold (union of balls
      reaching each real point's `pr_k`-th neighbour); recall: share of reals
      inside the fake manifold (Kynkaanniemi et al. 2019, k = 3).
    - density: how many real balls (`dc_k`-th neighbour) contain each fake,
      / `dc_k`, averaged (can exceed 1); coverage: share of real points whose
      ball holds at least one fake (Naeem et al. 2020, k = 5). Coverage falls
      when modes are dropped.

    Returns:
        dict with `precision`, `recall`, `density`, `coverage`.

    References:
        Kynkaanniemi et al., "Improved Precision and Recall Metric for
        Assessing Generative Models", NeurIPS 2019.
        Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
        Models", ICML 2020.
    """
    real_distances = _pairwise_distances(real, real)
    fake_distances = _pairwise_distances(fake, fake)
    fake_to_real = _pairwise_distances(fake, real)  # (n_fake, n_real)
    # Column 0 of a sorted row is the point itself (distance 0).
    radius = lambda d, k: np.partition(d, k, axis=1)[:, k]  # noqa: E731
    in_real_pr = fake_to_real <= radius(real_distances, pr_k)[None, :]
    in_fake_pr = fake_to_real.T <= radius(fake_distances, pr_k)[None, :]
    in_real_dc = fake_to_real <= radius(real_distances, dc_k)[None, :]
    return {
        "precision": float(in_real_pr.any(axis=1).mean()),
        "recall": float(in_fake_pr.any(axis=1).mean()),
        "density": float(in_real_dc.sum(axis=1).mean() / dc_k),
        "coverage": float(in_real_dc.any(axis=0).mean()),
    }
