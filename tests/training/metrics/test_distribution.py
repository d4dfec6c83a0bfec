"""Distribution metrics against closed forms and limiting cases."""

import numpy as np
import pytest

from training.metrics import collapse, distribution as dist


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


def test_class_coverage_counts_classes_and_kl_to_uniform():
    uniform = collapse.class_coverage(np.arange(1000) % 10, 10)
    assert uniform["classes_covered"] == 10 and uniform["kl_uniform"] == pytest.approx(0.0, abs=1e-12)
    single = collapse.class_coverage(np.zeros(1000, int), 10)
    assert single["classes_covered"] == 1 and single["kl_uniform"] == pytest.approx(np.log(10))
    # Stray predictions (0.2% each) do not count as covering a class.
    stray = np.concatenate([np.zeros(982, int), np.arange(1, 10).repeat(2)])
    assert collapse.class_coverage(stray, 10)["classes_covered"] == 1


def test_class_accuracy():
    assert collapse.class_accuracy([1, 2, 3, 3], [1, 2, 0, 3]) == 0.75


def test_memorisation_flags_copies_of_training_images():
    rng = np.random.default_rng(7)
    train = rng.normal(size=(500, 8))
    test = rng.normal(size=(200, 8))
    honest = collapse.memorisation(rng.normal(size=(200, 8)), train, test)
    copies = collapse.memorisation(train[:200] + 1e-4, train, test)
    assert honest["memorisation"] < 0.15
    assert copies["memorisation"] == 1.0
    assert copies["nearest_train_index"] == list(range(200))


def test_nearest_neighbours_in_chunks_match_brute_force():
    rng = np.random.default_rng(8)
    queries, references = rng.normal(size=(37, 6)), rng.normal(size=(50, 6))
    index, distance = collapse.nearest_neighbours(queries, references, chunk=8)
    brute = np.linalg.norm(queries[:, None] - references[None], axis=-1)
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-4, atol=1e-4)
