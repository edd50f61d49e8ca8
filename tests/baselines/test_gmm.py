"""DiagonalGMM against a slow float64 EM written from the definition, and against scikit-learn."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.mixture import GaussianMixture

from baselines.codebook import fit_codebook, nearest_word
from baselines.gmm import DiagonalGMM


def mixture_sample(rng, n=600, dim=3, k=4, spread=6.0):
    centres = rng.normal(0, spread, size=(k, dim))
    scales = rng.uniform(0.5, 1.5, size=(k, dim))
    labels = rng.integers(0, k, n)
    return (centres[labels] + rng.normal(size=(n, dim)) * scales[labels]), centres


def reference_em(x, labels, k, iterations, reg=1e-6):
    """EM for a diagonal GMM in float64, per component and per dimension (Bishop §9.2.2)."""
    n = len(x)
    resp = np.zeros((n, k))
    resp[np.arange(n), labels] = 1.0

    def m_step(resp):
        counts = resp.sum(axis=0) + 10 * np.finfo(np.float32).eps
        means = (resp.T @ x) / counts[:, None]
        variances = np.stack([(resp[:, j, None] * (x - means[j]) ** 2).sum(axis=0) / counts[j]
                              for j in range(k)]) + reg
        weights = counts / n
        return weights / weights.sum(), means, variances

    weights, means, variances = m_step(resp)
    bound = None
    for _ in range(iterations):
        log_joint = np.stack([np.log(weights[j]) + norm.logpdf(x, means[j], np.sqrt(variances[j])).sum(axis=1)
                              for j in range(k)], axis=1)
        log_p = logsumexp(log_joint, axis=1)
        bound = log_p.mean()
        resp = np.exp(log_joint - log_p[:, None])
        weights, means, variances = m_step(resp)
    return weights, means, variances, bound


@pytest.mark.parametrize("iterations", [1, 4])
def test_em_matches_the_float64_reference_from_the_same_start(iterations):
    rng = np.random.default_rng()
    x, _ = mixture_sample(rng)
    x = x.astype(np.float32).astype(np.float64)  # the values ours sees in float32
    labels = nearest_word(x, fit_codebook(x, 4, seed=3))
    weights, means, variances, bound = reference_em(x, labels, 4, iterations)
    gmm = DiagonalGMM(4, max_iter=iterations, tol=0.0, random_state=3).fit(x)
    assert gmm.n_iter_ == iterations and not gmm.converged_
    np.testing.assert_allclose(gmm.weights_, weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gmm.means_, means, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gmm.covariances_, variances, rtol=1e-3, atol=1e-4)
    assert gmm.lower_bound_ == pytest.approx(bound, rel=1e-5)


def test_posteriors_and_likelihoods_match_sklearn_with_the_same_parameters():
    rng = np.random.default_rng()
    x, _ = mixture_sample(rng)
    gmm = DiagonalGMM(4, random_state=0).fit(x)
    sk = GaussianMixture(4, covariance_type="diag")
    sk.weights_, sk.means_, sk.covariances_ = gmm.weights_, gmm.means_, gmm.covariances_
    sk.precisions_cholesky_ = 1.0 / np.sqrt(gmm.covariances_)
    probe = rng.normal(0, 6, size=(200, 3))
    np.testing.assert_allclose(gmm.predict_proba(probe), sk.predict_proba(probe), atol=1e-4)
    np.testing.assert_allclose(gmm.score_samples(probe), sk.score_samples(probe), rtol=1e-5,
                               atol=1e-3)
    assert gmm.predict_proba(probe).dtype == np.float64
    np.testing.assert_allclose(gmm.predict_proba(probe).sum(axis=1), 1.0, rtol=1e-5)


def test_fits_overlapping_mixtures_as_well_as_sklearn():
    """On overlapping components (the regime of descriptor data) the random k-means start
    does as well as scikit-learn's k-means++ one: the median gap in mean log-likelihood over
    ten samples is under 0.01 nats per dimension (each sample's gap goes either way)."""
    rng = np.random.default_rng()
    gaps = []
    for _ in range(10):
        x, _ = mixture_sample(rng, n=3000, dim=4, k=8, spread=2.0)
        ours = DiagonalGMM(8, random_state=0).fit(x).score_samples(x).mean()
        sk = GaussianMixture(8, covariance_type="diag", reg_covar=1e-6, random_state=0).fit(x)
        gaps.append((sk.score_samples(x).mean() - ours) / x.shape[1])
    assert np.median(gaps) < 0.01


def test_likelihood_never_decreases_over_iterations():
    rng = np.random.default_rng()
    x, _ = mixture_sample(rng, n=2000, dim=5, k=6, spread=2.0)
    bounds = [DiagonalGMM(6, max_iter=i, tol=0.0, random_state=1).fit(x).lower_bound_
              for i in range(1, 9)]
    assert all(b >= a - 1e-4 for a, b in zip(bounds, bounds[1:], strict=False))
    assert bounds[-1] > bounds[0]


def test_same_seed_same_fit_and_convergence_flag():
    rng = np.random.default_rng()
    x, _ = mixture_sample(rng)
    a = DiagonalGMM(4, random_state=5, max_iter=200).fit(x)
    b = DiagonalGMM(4, random_state=5, max_iter=200).fit(x)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.converged_ and a.n_iter_ < 200


@pytest.mark.parametrize("kwargs, data, message", [
    ({"n_components": 10}, np.zeros((5, 2)), "at least n_components=10"),
    ({"n_components": 0}, np.zeros((5, 2)), "'n_components' parameter"),
    ({"n_components": 2, "max_iter": 0}, np.zeros((5, 2)), "'max_iter' parameter"),
    ({"n_components": 2}, np.zeros(5), "2-D array"),
])
def test_bad_input_is_refused_clearly(kwargs, data, message):
    with pytest.raises(ValueError, match=message):
        DiagonalGMM(**kwargs).fit(data)
