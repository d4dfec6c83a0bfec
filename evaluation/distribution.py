"""Distances between two sets of feature vectors (real vs generated).

All functions take float arrays `(n, d)` of features and return Python
floats. They are written with numpy because no maintained TensorFlow
library computes them any more (TF-GAN does not import on TF >= 2.16).
"""

import numpy as np


def feature_statistics(features):
    """Mean `(d,)` and covariance `(d, d)` of features, in float64."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


#: Largest imaginary part tolerated in the square root of an eigenvalue,
#: relative to the square root of the largest one (the reference FID code
#: allows 1e-3, absolute). Rounding leaves a covariance negative eigenvalues
#: of about d x 1e-16 of the largest: an imaginary part of ~5e-7 at d = 2048.
IMAGINARY_TOLERANCE = 1e-3


def _covariance(sigma, name):
    """`sigma` as a symmetric float64 matrix, or a ValueError naming what is wrong."""
    sigma = np.atleast_2d(np.asarray(sigma, np.float64))
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1]:
        raise ValueError(f"{name} has shape {sigma.shape}; pass a square (d, d) covariance matrix.")
    asymmetry = float(np.abs(sigma - sigma.T).max())
    if asymmetry > 1e-6 * float(np.abs(sigma).max()):
        raise ValueError(
            f"{name} is not symmetric (max |{name} - {name}.T| = {asymmetry:.3g}); pass a "
            "covariance matrix, e.g. from feature_statistics."
        )
    # eigh reads one triangle only: average away the rounding asymmetry.
    return (sigma + sigma.T) / 2


def _nonnegative_eigenvalues(matrix, name, vectors=False):
    """Eigenvalues (and eigenvectors) of a symmetric PSD `matrix`, rounding noise set to 0.

    The square root of a negative eigenvalue is imaginary. Up to rounding
    that is the noise `scipy.linalg.sqrtm` leaves in `(sigma1 sigma2)^(1/2)`;
    beyond `IMAGINARY_TOLERANCE` the matrix is not positive semi-definite, is
    no covariance, and FD would be meaningless. Eigenvalues within rounding
    of 0 (below `d * eps * largest`, numpy's `matrix_rank` tolerance) count
    as 0: the square root would turn their noise, ~1e-15 of the scale, into
    ~1e-7 of it.
    """
    if vectors:
        eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    else:
        eigenvalues, eigenvectors = np.linalg.eigvalsh(matrix), None
    scale = np.sqrt(max(float(eigenvalues[-1]), 0.0))
    imaginary = np.sqrt(max(-float(eigenvalues[0]), 0.0))
    if imaginary > IMAGINARY_TOLERANCE * scale:
        raise ValueError(
            f"{name} has eigenvalue {eigenvalues[0]:.6g}: its square root has an imaginary "
            f"component of {imaginary:.6g}, more than {IMAGINARY_TOLERANCE:g} x the scale "
            f"{scale:.6g}, so it is not positive semi-definite; pass covariance matrices, "
            "e.g. from feature_statistics."
        )
    rounding = len(eigenvalues) * np.finfo(np.float64).eps * max(float(eigenvalues[-1]), 0.0)
    eigenvalues = np.where(eigenvalues > rounding, eigenvalues, 0.0)
    return (eigenvalues, eigenvectors) if vectors else eigenvalues


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    `||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`; with
    Inception pool features of 10k images this is FID.

    `Tr (sigma1 sigma2)^(1/2)` is the sum of the square roots of the
    eigenvalues of the symmetric `sigma1^(1/2) sigma2 sigma1^(1/2)` (the same
    eigenvalues as `sigma1 sigma2`). Unlike `scipy.linalg.sqrtm` this is
    well defined for singular covariances, which features that are always
    zero (dead ReLUs) give: no regularising offset, no "Matrix is singular"
    warning, and the exact value.

    Args:
        mu1, mu2: means `(d,)`.
        sigma1, sigma2: covariances `(d, d)`, symmetric positive semi-definite.

    Returns:
        The distance, a float (0 for identical Gaussians, up to rounding).

    Raises:
        ValueError: a covariance is not square and symmetric, or has a
            negative eigenvalue whose square root's imaginary part exceeds
            `IMAGINARY_TOLERANCE` of the scale (not rounding noise).

    Example:
        >>> frechet_distance([1.0], [[4.0]], [3.0], [[9.0]])  # (1 - 3)^2 + (2 - 3)^2
        5.0

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
        to a Local Nash Equilibrium", NeurIPS 2017.
        Dowson & Landau, "The Frechet distance between multivariate normal
        distributions", J. Multivariate Analysis 1982.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = _covariance(sigma1, "sigma1"), _covariance(sigma2, "sigma2")
    if not mu1.shape == mu2.shape == sigma1.shape[:1] == sigma2.shape[:1] or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"shapes do not match: mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, "
            f"sigma2 {sigma2.shape}; pass statistics of features of one dimension d."
        )
    eigenvalues1, eigenvectors1 = _nonnegative_eigenvalues(sigma1, "sigma1", vectors=True)
    _nonnegative_eigenvalues(sigma2, "sigma2")  # only checked: its trace enters as it is
    root1 = (eigenvectors1 * np.sqrt(eigenvalues1)) @ eigenvectors1.T
    product = root1 @ sigma2 @ root1
    product_eigenvalues = _nonnegative_eigenvalues(
        (product + product.T) / 2, "sigma1^(1/2) sigma2 sigma1^(1/2)"
    )
    trace_covmean = np.sqrt(product_eigenvalues).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean)


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


def _row_ids(*arrays):
    """Integer ids of the rows of `arrays`, shared: bitwise-equal rows get equal ids."""
    rows = np.ascontiguousarray(np.concatenate([np.asarray(x, np.float64) for x in arrays]))
    _, ids = np.unique(rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1]))).ravel(),
                       return_inverse=True)
    return np.split(ids.ravel(), np.cumsum([len(x) for x in arrays[:-1]]))


def pairwise_distances(a, b, chunk=512, ids=None):
    """Euclidean distances `(len(a), len(b))`, float32, computed in row chunks.

    `(|x|^2 + |y|^2) - 2 x.y` in float64, rounded to float32, so k-NN
    comparisons see the same distance for a pair of points wherever it is
    computed: the norms are added first, so `(x, y)` and `(y, x)` round
    alike (`|x|^2 - 2 x.y + |y|^2` did not, which broke ties at random), and
    float32 rounding absorbs the last-bit differences of the products.

    Args:
        a, b: features `(n, d)` and `(m, d)`.
        chunk: rows of `a` per float64 block (`chunk x m x 8` bytes).
        ids: optional `(ids_a, ids_b)`, integer ids of the rows of `a` and
            `b`, equal for bitwise-equal rows: those rows are then at
            distance exactly 0 (the formula leaves ~1e-7 of their norm),
            which ties with zero k-NN radii need.

    Returns:
        float32 `(len(a), len(b))`.

    Example:
        >>> pairwise_distances(np.zeros((2, 3)), np.ones((4, 3)))  # (2, 4), all sqrt(3)
    """
    a = np.ascontiguousarray(a, np.float64)
    b = np.ascontiguousarray(b, np.float64)
    a_sq, b_sq = (a * a).sum(axis=1), (b * b).sum(axis=1)
    out = np.empty((len(a), len(b)), np.float32)
    for start in range(0, len(a), chunk):
        stop = start + chunk
        sq = a[start:stop] @ b.T
        sq *= -2.0
        sq += a_sq[start:stop, None] + b_sq[None]
        out[start:stop] = np.sqrt(np.maximum(sq, 0.0, out=sq), out=sq)
        if ids is not None:
            out[start:stop][ids[0][start:stop, None] == ids[1][None]] = 0.0
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

    Density and coverage are prdc's (Naeem et al.'s code): with `r_i` the
    distance of real `i` to its `dc_k`-th nearest other real,
    `density = 1 / (dc_k M) sum_j sum_i [d(fake_j, real_i) < r_i]` and
    `coverage = 1 / N sum_i [min_j d(real_i, fake_j) < r_i]`: strictly
    inside, so a set of distinct points scores 1 and 1 against itself, and a
    real point with `dc_k` copies (`r_i` = 0) contains no fake, not even
    its own copy. Precision and recall keep Kynkaanniemi et al.'s `<=`
    (prdc uses `<` there too); they differ only on ties.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(100, 8))
        >>> precision_recall_density_coverage(x, x)["density"]
        1.0

    Returns:
        dict with `precision`, `recall`, `density`, `coverage`.

    References:
        Kynkaanniemi et al., "Improved Precision and Recall Metric for
        Assessing Generative Models", NeurIPS 2019.
        Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
        Models", ICML 2020.
    """
    real_ids, fake_ids = _row_ids(real, fake)
    real_distances = pairwise_distances(real, real, ids=(real_ids, real_ids))
    fake_distances = pairwise_distances(fake, fake, ids=(fake_ids, fake_ids))
    fake_to_real = pairwise_distances(fake, real, ids=(fake_ids, real_ids))  # (n_fake, n_real)
    # Entry k of a row sorted ascending: the k-th neighbour, the point itself
    # (distance 0) being entry 0; with duplicates, the k-th other point.
    radius = lambda d, k: np.partition(d, k, axis=1)[:, k]  # noqa: E731
    # Precision and recall count a point on a ball's boundary as inside, as
    # Kynkaanniemi et al.'s code does; density and coverage strictly inside,
    # as Naeem et al.'s (prdc) does. On a set of distinct points against
    # itself each k-ball then holds the point and its k - 1 nearest
    # neighbours, not k + 1 points: density 1, not (k + 1) / k.
    in_real_pr = fake_to_real <= radius(real_distances, pr_k)[None, :]
    in_fake_pr = fake_to_real.T <= radius(fake_distances, pr_k)[None, :]
    in_real_dc = fake_to_real < radius(real_distances, dc_k)[None, :]
    return {
        "precision": float(in_real_pr.any(axis=1).mean()),
        "recall": float(in_fake_pr.any(axis=1).mean()),
        "density": float(in_real_dc.sum(axis=1).mean() / dc_k),
        "coverage": float(in_real_dc.any(axis=0).mean()),
    }
