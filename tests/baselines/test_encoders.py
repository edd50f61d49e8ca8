"""Encoders: scikit-learn's estimator checks and slow NumPy references of the formulas."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from baselines.encoders import VLAD, BagOfWords, FisherVector


@pytest.fixture(autouse=True)
def one_blas_thread():
    """k-means / GMM on tiny inputs: OpenMP threads only add spin time on a shared machine."""
    with threadpool_limits(1):
        yield


@parametrize_with_checks([BagOfWords(n_words=4), FisherVector(n_components=2), VLAD(n_words=3)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def descriptor_sets(rng, n_sets=6, dim=6):
    centres = rng.standard_normal((4, dim)) * 4
    sets = []
    for _ in range(n_sets):
        n = int(rng.integers(5, 30))
        sets.append(centres[rng.integers(0, 4, n)] + rng.standard_normal((n, dim)))
    return sets


def test_bag_of_words_matches_reference():
    rng = np.random.default_rng()
    sets = descriptor_sets(rng)
    sets.append(np.empty((0, 6)))  # an empty video
    bow = BagOfWords(n_words=5, random_state=3).fit(sets)
    encoded = bow.transform(sets)
    assert encoded.shape == (len(sets), 5)
    for s, row in zip(sets, encoded, strict=True):
        if len(s) == 0:
            assert not row.any()
            continue
        nearest = np.argmin(((s[:, None, :] - bow.codebook_[None]) ** 2).sum(-1), axis=1)
        np.testing.assert_allclose(row, np.bincount(nearest, minlength=5) / len(s))


def test_bag_of_words_is_deterministic_and_subsamples():
    rng = np.random.default_rng()
    sets = descriptor_sets(rng, n_sets=8)
    first = BagOfWords(n_words=4, max_descriptors=40, random_state=7).fit(sets)
    second = BagOfWords(n_words=4, max_descriptors=40, random_state=7).fit(sets)
    np.testing.assert_array_equal(first.codebook_, second.codebook_)
    assert first.codebook_.shape == (4, 6)


def reference_fisher_vector(descriptors, pca, gmm):
    z = pca.transform(descriptors)
    posteriors = gmm.predict_proba(z)
    T, D = z.shape
    K = gmm.n_components
    g_mu = np.zeros((K, D))
    g_sigma = np.zeros((K, D))
    for k in range(K):
        w, mu, sigma = gmm.weights_[k], gmm.means_[k], np.sqrt(gmm.covariances_[k])
        for t in range(T):
            u = (z[t] - mu) / sigma
            g_mu[k] += posteriors[t, k] * u
            g_sigma[k] += posteriors[t, k] * (u * u - 1)
        g_mu[k] /= T * np.sqrt(w)
        g_sigma[k] /= T * np.sqrt(2 * w)
    fv = np.concatenate([g_mu.ravel(), g_sigma.ravel()])
    fv = np.sign(fv) * np.abs(fv) ** 0.5
    return fv / np.linalg.norm(fv)


def test_fisher_vector_matches_reference():
    rng = np.random.default_rng()
    sets = descriptor_sets(rng, dim=8)
    fv = FisherVector(n_components=3, random_state=1).fit(sets)
    assert fv.pca_.n_components_ == 4  # D/2
    encoded = fv.transform(sets)
    assert encoded.shape == (len(sets), 2 * 3 * 4)
    for s, row in zip(sets, encoded, strict=True):
        np.testing.assert_allclose(row, reference_fisher_vector(s, fv.pca_, fv.gmm_),
                                   rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(encoded, axis=1), 1.0)
    assert not fv.transform([np.empty((0, 8))]).any()


def test_vlad_matches_reference():
    rng = np.random.default_rng()
    sets = descriptor_sets(rng, dim=4)
    vlad = VLAD(n_words=3).fit(sets)
    for s, row in zip(sets, vlad.transform(sets), strict=True):
        nearest = np.argmin(((s[:, None, :] - vlad.codebook_[None]) ** 2).sum(-1), axis=1)
        v = np.stack([(s[nearest == k] - vlad.codebook_[k]).sum(0) for k in range(3)]).ravel()
        v = np.sign(v) * np.sqrt(np.abs(v))
        np.testing.assert_allclose(row, v / np.linalg.norm(v), rtol=1e-10)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="'n_words' parameter of BagOfWords must be an int"):
        BagOfWords(n_words=0).fit(np.ones((5, 2)))
    bow = BagOfWords(n_words=2).fit([np.random.default_rng(0).random((6, 3))])
    with pytest.raises(ValueError, match="expecting 3 features"):
        bow.transform([np.ones((2, 4))])
    with pytest.raises(ValueError, match="different dimensions"):
        BagOfWords(n_words=2).fit([np.ones((3, 2)), np.ones((3, 4))])
