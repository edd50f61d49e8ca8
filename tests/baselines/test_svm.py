"""χ² kernels against scikit-learn; one-vs-rest SVMs against plain scikit-learn SVMs."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from sklearn.metrics.pairwise import additive_chi2_kernel
from sklearn.metrics.pairwise import chi2_kernel as sklearn_chi2_kernel
from sklearn.svm import SVC

from baselines.svm import (
    ABSENT_CLASS_SCORE,
    LinearFVClassifier,
    MultiChannelChi2SVM,
    chi2_distance,
    chi2_kernel,
    multichannel_chi2_kernel,
)


def histograms(rng, n, d, sparsity=0.4):
    x = rng.random((n, d))
    x[rng.random((n, d)) < sparsity] = 0.0  # zero denominators happen
    return x


def test_chi2_kernel_matches_sklearn():
    rng = np.random.default_rng()
    X, Y = histograms(rng, 37, 53), histograms(rng, 29, 53)
    for gamma in (1.0, 0.05):
        np.testing.assert_allclose(chi2_kernel(X, Y, gamma=gamma),
                                   sklearn_chi2_kernel(X, Y, gamma=gamma), rtol=0, atol=1e-10)
    np.testing.assert_allclose(chi2_kernel(X), sklearn_chi2_kernel(X), rtol=0, atol=1e-10)
    np.testing.assert_allclose(chi2_distance(X, Y), -additive_chi2_kernel(X, Y), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-25, 1e25])
def test_chi2_distance_outside_float32_range_uses_exact_division(scale):
    rng = np.random.default_rng()
    X, Y = histograms(rng, 9, 30) * scale, histograms(rng, 7, 30) * scale
    np.testing.assert_allclose(chi2_distance(X, Y), -additive_chi2_kernel(X, Y), rtol=1e-12)


def test_chi2_rejects_negative_and_mismatched_inputs():
    with pytest.raises(ValueError, match="negative"):
        chi2_kernel(np.array([[1.0, -1.0]]))
    with pytest.raises(ValueError, match="same number of features"):
        chi2_distance(np.ones((2, 3)), np.ones((2, 4)))


def test_symmetric_path_equals_full_computation():
    rng = np.random.default_rng()
    X = histograms(rng, 41, 17)
    np.testing.assert_array_equal(chi2_distance(X), chi2_distance(X, X.copy()))


def test_chi2_parallel_equals_serial():
    rng = np.random.default_rng()
    X, Y = histograms(rng, 70, 40), histograms(rng, 33, 40)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = chi2_distance(X, Y), chi2_distance(X)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        parallel = chi2_distance(X, Y), chi2_distance(X)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])


def test_multichannel_kernel_formula():
    rng = np.random.default_rng()
    X, Y = histograms(rng, 6, 10), histograms(rng, 4, 10)
    channels = [(0, 4), (4, 10)]
    means = [0.7, 1.9]
    ours = multichannel_chi2_kernel([chi2_distance(X[:, a:b], Y[:, a:b]) for a, b in channels],
                                    means)
    expected = np.ones((6, 4))
    for (a, b), mean in zip(channels, means, strict=True):
        expected *= sklearn_chi2_kernel(X[:, a:b], Y[:, a:b], gamma=1.0 / mean)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def blobs(rng, n_per_class, n_classes, d):
    centers = rng.random((n_classes, d)) * 3
    X = np.concatenate([np.abs(c + 0.3 * rng.standard_normal((n_per_class, d))) for c in centers])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return X, y


def test_multichannel_svm_equals_one_vs_rest_svc():
    rng = np.random.default_rng()
    X, y = blobs(rng, 12, 3, 8)
    X_test, _ = blobs(rng, 5, 3, 8)
    model = MultiChannelChi2SVM(C=10.0, channels=[(0, 3), (3, 8)]).fit(X, y)
    d_train = [-additive_chi2_kernel(X[:, a:b]) for a, b in [(0, 3), (3, 8)]]
    means = [d.sum() / (d.shape[0] * (d.shape[0] - 1)) for d in d_train]
    np.testing.assert_allclose(model.mean_distances_, means, rtol=1e-12)
    k_train = np.exp(-sum(d / m for d, m in zip(d_train, means, strict=True)))
    k_test = np.exp(-sum(-additive_chi2_kernel(X_test[:, a:b], X[:, a:b]) / m
                         for (a, b), m in zip([(0, 3), (3, 8)], means, strict=True)))
    expected = np.stack([SVC(kernel="precomputed", C=10.0).fit(k_train, y == k)
                         .decision_function(k_test) for k in range(3)], axis=1)
    np.testing.assert_allclose(model.decision_function(X_test), expected, rtol=1e-6, atol=1e-8)
    assert model.score(*blobs(np.random.default_rng(1), 5, 3, 8)) >= 0  # runs end to end


def test_absent_classes_get_the_documented_score():
    rng = np.random.default_rng()
    X, y = blobs(rng, 8, 3, 6)
    y = np.where(y == 1, 3, y)  # classes 0, 2, 3 present; 1 and 4 absent
    for model in (MultiChannelChi2SVM(n_classes=5), LinearFVClassifier(n_classes=5)):
        scores = model.fit(X, y).decision_function(X)
        assert scores.shape == (24, 5)
        assert np.all(scores[:, [1, 4]] == ABSENT_CLASS_SCORE)
        assert np.all(scores[:, [0, 2, 3]] > ABSENT_CLASS_SCORE)
        assert np.mean(model.predict(X) == y) > 0.9


def test_linear_classifier_equals_sklearn_linear_svc_kernel():
    rng = np.random.default_rng()
    X, y = blobs(rng, 10, 3, 5)
    X_test, _ = blobs(rng, 4, 3, 5)
    model = LinearFVClassifier(C=0.5).fit(X, y)
    expected = np.stack([SVC(kernel="linear", C=0.5).fit(X, y == k).decision_function(X_test)
                         for k in range(3)], axis=1)
    np.testing.assert_allclose(model.decision_function(X_test), expected, rtol=1e-6, atol=1e-6)
    # only the primal weights are kept, not the training set
    assert all(est.coef_.shape == (5,) for est in model.estimators_)


def test_auto_C_uses_groups_and_is_deterministic():
    rng = np.random.default_rng()
    X, y = blobs(rng, 12, 2, 4)
    groups = np.tile(np.arange(6), 4)
    first = MultiChannelChi2SVM(C="auto", C_grid=(0.1, 1.0, 10.0)).fit(X, y, groups=groups)
    second = MultiChannelChi2SVM(C="auto", C_grid=(0.1, 1.0, 10.0)).fit(X, y, groups=groups)
    assert first.C_ in (0.1, 1.0, 10.0) and first.C_ == second.C_
    assert set(first.cv_scores_) == {0.1, 1.0, 10.0}
    best = max(first.cv_scores_.values())
    assert first.cv_scores_[first.C_] == best
    np.testing.assert_array_equal(first.decision_function(X), second.decision_function(X))


def test_bad_parameters_are_explained():
    X, y = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="'C' parameter"):
        MultiChannelChi2SVM(C=-1).fit(X, y)
    with pytest.raises(ValueError, match="does not fit"):
        MultiChannelChi2SVM(channels=[(0, 5)]).fit(X, y)
    with pytest.raises(ValueError, match="negative"):
        MultiChannelChi2SVM().fit(-X, y)
    with pytest.raises(ValueError, match="LabelEncoder"):
        LinearFVClassifier().fit(X, np.array([0.5, 1, 0, 1]))
