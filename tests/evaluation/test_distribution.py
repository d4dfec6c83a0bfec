"""Distribution metrics against closed forms and limiting cases."""

import warnings

import numpy as np
import pytest

from evaluation import collapse
from evaluation import distribution as dist


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    b = rng.normal(size=(4, 4))
    sigma1, sigma2 = a @ a.T + np.eye(4), b @ b.T + np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    # Closed form with the symmetric square root of sigma1^(1/2) sigma2 sigma1^(1/2).
    w, v = np.linalg.eigh(sigma1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    w2, v2 = np.linalg.eigh(root1 @ sigma2 @ root1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2) - 2 * np.sum(np.sqrt(w2))
    assert dist.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_one_dimensional_gaussians():
    # (m1 - m2)^2 + (s1 - s2)^2 in one dimension.
    assert dist.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)


def _rotation(d, seed):
    """A random orthogonal `(d, d)` matrix."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


@pytest.mark.parametrize("rotated", [False, True])
def test_frechet_distance_of_singular_covariances_matches_the_closed_form_without_warnings(rotated):
    # Zero variances (features that are always 0, like dead ReLUs) make both
    # covariances singular. For covariances that commute (here diagonal in one
    # basis) FD = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    a = np.array([4.0, 0.0, 9.0, 0.0, 1.0])
    b = np.array([1.0, 0.0, 16.0, 25.0, 0.0])
    mu1, mu2 = np.array([1.0, 0.0, 0.0, 0.0, 2.0]), np.array([0.0, 0.0, 0.0, 0.0, 0.0])
    expected = 1.0 + 4.0 + (2 - 1) ** 2 + 0 + (3 - 4) ** 2 + (0 - 5) ** 2 + (1 - 0) ** 2
    q = _rotation(5, 0) if rotated else np.eye(5)
    sigma1, sigma2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    sigma1, sigma2 = (sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's sqrtm warned "Matrix is singular" here
        got = dist.frechet_distance(q @ mu1, sigma1, q @ mu2, sigma2)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_dead_features_leave_the_frechet_distance_of_the_live_ones_unchanged():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(500, 16)), rng.normal(size=(500, 16)) * 1.3 + 0.2
    dead = [3, 7, 8]
    real[:, dead] = fake[:, dead] = 0.0  # singular covariances, as with the domain extractor
    live = [i for i in range(16) if i not in dead]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with_dead = dist.frechet_distance(*dist.feature_statistics(real), *dist.feature_statistics(fake))
    without = dist.frechet_distance(*dist.feature_statistics(real[:, live]),
                                    *dist.feature_statistics(fake[:, live]))
    assert with_dead == pytest.approx(without, rel=1e-10)
    assert with_dead > 1.0


def test_frechet_distance_drops_a_negligible_imaginary_part_of_the_square_root():
    # An eigenvalue of -1e-14 (rounding) would give sqrt an imaginary part of
    # 1e-7, far below 1e-3 of the scale: treated as 0.
    sigma1, sigma2 = np.diag([1.0, 4.0, 0.0]), np.diag([4.0, 1.0, -1e-14])
    assert dist.frechet_distance(np.zeros(3), sigma1, np.zeros(3), sigma2) == pytest.approx(2.0, abs=1e-9)


def test_frechet_distance_refuses_a_square_root_with_a_large_imaginary_part():
    # Eigenvalue -0.25: its square root is 0.5i, a quarter of the scale sqrt(4).
    sigma1, sigma2 = np.diag([1.0, 4.0, 1.0]), np.diag([4.0, 1.0, -0.25])
    with pytest.raises(ValueError, match=r"sigma2 has eigenvalue -0\.25: .* imaginary component of 0\.5"):
        dist.frechet_distance(np.zeros(3), sigma1, np.zeros(3), sigma2)
    with pytest.raises(ValueError, match="sigma1 has eigenvalue -0.25"):
        dist.frechet_distance(np.zeros(3), sigma2, np.zeros(3), sigma1)


def test_frechet_distance_refuses_matrices_that_are_not_covariances():
    with pytest.raises(ValueError, match="sigma2 is not symmetric"):
        dist.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="shapes do not match"):
        dist.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_fd_and_kid_of_a_set_with_itself_are_zero():
    features = np.random.default_rng(1).normal(size=(500, 16))
    mu, sigma = dist.feature_statistics(features)
    assert dist.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-6)
    kid, _ = dist.kernel_inception_distance(features, features, subsets=50, subset_size=200)
    shifted, _ = dist.kernel_inception_distance(features, features + 1.0, subsets=50, subset_size=200)
    # Subsets of one finite set share points, which biases the estimate
    # slightly negative; it is still negligible next to a real difference.
    assert abs(kid) < 0.01 * shifted


def test_kid_is_unbiased_near_zero_for_two_samples_of_one_distribution_and_grows_with_shift():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    same, _ = dist.kernel_inception_distance(a, b, subsets=20, subset_size=500)
    shifted, _ = dist.kernel_inception_distance(a, b + 0.5, subsets=20, subset_size=500)
    assert abs(same) < 0.01 < shifted


def test_kid_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    assert dist.kernel_inception_distance(a, b, 5, 100, seed=7) == dist.kernel_inception_distance(a, b, 5, 100, seed=7)


def test_inception_score_is_the_number_of_equally_used_confident_classes():
    confident = np.eye(10)[np.arange(1000) % 10]
    assert dist.inception_score(confident, splits=5)[0] == pytest.approx(10.0, rel=1e-6)
    collapsed = np.eye(10)[np.zeros(1000, int)]
    assert dist.inception_score(collapsed, splits=5)[0] == pytest.approx(1.0, rel=1e-6)
    uncertain = np.full((1000, 10), 0.1)
    assert dist.inception_score(uncertain, splits=5)[0] == pytest.approx(1.0, rel=1e-6)


def test_prdc_of_identical_sets_is_one():
    features = np.random.default_rng(4).normal(size=(300, 5))
    result = dist.precision_recall_density_coverage(features, features)
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0
    assert result["density"] >= 1.0


def test_prdc_of_disjoint_clusters_is_zero():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(200, 5))
    fake = rng.normal(size=(200, 5)) + 100.0
    result = dist.precision_recall_density_coverage(real, fake)
    assert result == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_coverage_and_recall_drop_when_a_mode_is_missing():
    rng = np.random.default_rng(6)
    centres = np.array([[0.0, 0.0], [50.0, 0.0]])
    real = np.concatenate([rng.normal(size=(200, 2)) + c for c in centres])
    one_mode = rng.normal(size=(400, 2))
    result = dist.precision_recall_density_coverage(real, one_mode)
    assert result["precision"] > 0.9
    assert result["coverage"] == pytest.approx(0.5, abs=0.05)
    assert result["recall"] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("d", [5, 2048])
def test_density_and_coverage_of_distinct_points_against_themselves_are_exactly_one(d):
    # With dc_k = 5 the ball of real i reaches its 5th nearest other point,
    # which lies on the boundary: strictly inside are i itself (distance 0)
    # and its 4 nearest neighbours, so the N balls hold 5N fakes in all and
    # density = 5N / (5 N) = 1 (counting the boundary gave 6/5). Every ball
    # holds its own point's copy: coverage 1. A copy in another buffer checks
    # that a distance is the same whichever matrix computes it.
    features = np.random.default_rng(4).normal(size=(300, d))
    result = dist.precision_recall_density_coverage(features, features.copy())
    assert result == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}


def test_density_and_coverage_of_duplicated_points_match_prdc_by_hand():
    # 1-D points, dc_k = 2. Each real ball reaches its 2nd nearest other real:
    # the three 0s have two copies at 0: radius 0, a ball that holds nothing;
    # 10: |10-11| = 1, |10-13| = 3 -> radius 3; 11: 1, 2 -> 2; 13: 2, 3 -> 3.
    real = np.array([0.0, 0.0, 0.0, 10.0, 11.0, 13.0])[:, None]
    fake = np.array([0.0, 10.0, 12.0, 20.0])[:, None]
    # Fakes strictly inside: 0 -> none; 10 -> balls of 10 (0 < 3) and 11
    # (1 < 2), not 13 (3 is its radius); 12 -> 10 (2 < 3), 11 (1 < 2), 13
    # (1 < 3); 20 -> none. density = (0 + 2 + 3 + 0) / (2 x 4).
    # Covered: 10, 11 and 13; the 0s not, though a fake sits on them: 3 / 6.
    result = dist.precision_recall_density_coverage(real, fake, dc_k=2)
    assert result["density"] == 5 / 8 and result["coverage"] == 3 / 6  # `<=`: 9 / 8 and 1


def test_every_point_twice_leaves_every_ball_empty_at_k_1():
    # Each real point's nearest other point is its copy: every radius is 0,
    # so no fake is strictly inside any ball, not even one on a real point.
    distinct = np.random.default_rng(9).normal(size=(150, 64))
    real = np.repeat(distinct, 2, axis=0)  # 300 rows: across a chunk of the distance matrix
    result = dist.precision_recall_density_coverage(real, distinct, dc_k=1)
    assert result["density"] == result["coverage"] == 0.0  # `<=`: density 2, coverage 1
    # Six copies give radius 0 at the default k = 5. |x|^2 + |y|^2 - 2 x.y
    # leaves a point ~1e-7 of its norm from its copy, by amounts that vary
    # with the matrix product's shape; with these points that put 18 fakes
    # inside radius-0 balls here before copies were set to exactly 0.
    points = np.random.default_rng(0).normal(size=(10, 64)) * 100.0
    result = dist.precision_recall_density_coverage(np.repeat(points, 6, axis=0), points)
    assert result["density"] == result["coverage"] == 0.0


def test_a_fake_on_the_boundary_of_a_real_ball_is_outside_it():
    # k = 1, radii: real 0 -> 1, real 1 -> 1, real 3 -> 2. The fake at 2 is
    # on real 1's boundary and inside real 3's ball; the fake at -1 is on
    # real 0's boundary only. density = (1 + 0) / (1 x 2); covered: real 3.
    real, fake = np.array([[0.0], [1.0], [3.0]]), np.array([[2.0], [-1.0]])
    result = dist.precision_recall_density_coverage(real, fake, pr_k=1, dc_k=1)
    assert result["density"] == 0.5 and result["coverage"] == 1 / 3  # `<=`: 3 / 2 and 1
    # Precision keeps Kynkaanniemi et al.'s `<=`: both fakes are in the real manifold.
    assert result["precision"] == 1.0  # `<`: 1 / 2


def test_class_coverage_counts_classes_and_kl_to_uniform():
    uniform = collapse.class_coverage(np.arange(1000) % 10, 10)
    assert uniform["classes_covered"] == 10 and uniform["kl_uniform"] == pytest.approx(0.0, abs=1e-12)
    single = collapse.class_coverage(np.zeros(1000, int), 10)
    assert single["classes_covered"] == 1 and single["kl_uniform"] == pytest.approx(np.log(10))
    # Stray predictions (0.2% each) do not count as covering a class.
    stray = np.concatenate([np.zeros(982, int), np.arange(1, 10).repeat(2)])
    assert collapse.class_coverage(stray, 10)["classes_covered"] == 1


def test_a_class_is_covered_with_a_tenth_of_its_uniform_share_for_any_number_of_classes():
    # Four classes: the threshold is 0.1 / 4 = 2.5% of the samples, not 1%.
    predicted = np.repeat([0, 1, 2, 3], [950, 30, 20, 0])
    found = collapse.class_coverage(predicted, 4)
    assert found["classes_covered"] == 2  # 3% counts, 2% does not
    shares = np.array([0.95, 0.03, 0.02])
    assert found["kl_uniform"] == pytest.approx(float((shares * np.log(shares * 4)).sum()), rel=1e-12)
    assert found["class_histogram"] == pytest.approx([0.95, 0.03, 0.02, 0.0])
    # A hundred classes: 0.1% is enough (2 of 2000 samples), 1 of 2000 is not.
    predicted = np.concatenate([np.zeros(1997, int), [5, 5, 6]])
    assert collapse.class_coverage(predicted, 100)["classes_covered"] == 2
    assert collapse.COVERED_FRACTION_OF_UNIFORM == 0.1


def test_class_accuracy():
    assert collapse.class_accuracy([1, 2, 3, 3], [1, 2, 0, 3]) == 0.75


def _nearest_distance(queries, references):
    return np.linalg.norm(queries[:, None] - references[None], axis=-1).min(axis=1)


def test_memorisation_baseline_is_measured_on_test_images_that_did_not_set_the_threshold():
    rng = np.random.default_rng(7)
    train, test = rng.normal(size=(300, 4)), rng.normal(size=(60, 4))
    found = collapse.memorisation(rng.normal(size=(50, 4)), train, test, quantile=0.2, seed=3)
    # The same split recomputed by brute force: threshold from one half, baseline from the other.
    order = np.random.default_rng(3).permutation(60)
    calibration, held_out = _nearest_distance(test[order[:30]], train), _nearest_distance(test[order[30:]], train)
    threshold = np.quantile(calibration, 0.2)
    assert found["memorisation_threshold"] == pytest.approx(threshold, rel=1e-5)
    assert found["memorisation_baseline"] == float((held_out < threshold).mean())
    # Moving the held-out half away from the training images changes the
    # baseline (to 0) and not the threshold: the two halves play separate parts.
    moved = test.copy()
    moved[order[30:]] += 100.0
    far = collapse.memorisation(rng.normal(size=(50, 4)), train, moved, quantile=0.2, seed=3)
    assert far["memorisation_threshold"] == found["memorisation_threshold"]
    assert far["memorisation_baseline"] == 0.0


def test_memorisation_of_an_honest_generator_is_near_its_baseline_and_copies_score_one():
    rng = np.random.default_rng(8)
    train, test = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    honest = collapse.memorisation(rng.normal(size=(2000, 8)), train, test)
    # Standard error of each share: sqrt(0.05 * 0.95 / 1000) ~ 0.007 (baseline), 0.005 (samples).
    assert abs(honest["memorisation"] - honest["memorisation_baseline"]) < 0.03
    assert abs(honest["memorisation_baseline"] - 0.05) < 0.03
    copies = collapse.memorisation(train[:200] + 1e-4, train, test)
    assert copies["memorisation"] == 1.0
    assert copies["memorisation_baseline"] == honest["memorisation_baseline"]  # same real data and split
    assert copies["nearest_train_index"] == list(range(200))
    with pytest.raises(ValueError, match="at least 2 real test images \\(got 1\\)"):
        collapse.memorisation(train[:5], train, test[:1])


def test_nearest_neighbours_in_chunks_match_brute_force():
    rng = np.random.default_rng(8)
    queries, references = rng.normal(size=(37, 6)), rng.normal(size=(50, 6))
    index, distance = collapse.nearest_neighbours(queries, references, chunk=8)
    brute = np.linalg.norm(queries[:, None] - references[None], axis=-1)
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-4, atol=1e-4)
