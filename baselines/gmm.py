"""Diagonal-covariance Gaussian mixtures fitted by EM in float32, started from faiss k-means.

The Fisher-vector encoder (:class:`baselines.encoders.FisherVector`) needs a 256-component
diagonal GMM per descriptor channel, refitted in every fold on up to 100 000 PCA-projected
descriptors. scikit-learn's :class:`~sklearn.mixture.GaussianMixture` does the same EM, but
its k-means start (a full Lloyd run from k-means++ seeds) and its per-iteration passes
(``logsumexp`` and separate products for the means and the variances) make it the largest
piece of a small dataset's classical run (``docs/profile.md``). :class:`DiagonalGMM` keeps
scikit-learn's algorithm and conventions — a k-means start turned into hard responsibilities,
an M-step, then E/M steps until the mean log-likelihood gains less than ``tol``, ``reg_covar``
added to every variance — with two changes: the k-means start is faiss's
(:func:`baselines.codebook.fit_codebook`), and each E-step is one float32 matrix product
of ``[x, x²]`` with the stacked natural parameters followed by an in-place softmax, so that
one iteration reads the data twice (E and M) and allocates nothing of size ``N × K`` beyond
the responsibilities. ``python -m bench perf --only gmm`` measures it against scikit-learn
(time and mean log-likelihood on the same sample).

faiss starts k-means from centres drawn among the points, not from k-means++ seeds (which
take longer than the whole EM for 256 components). On overlapping components — descriptor
data — the two starts end at likelihoods that differ either way by a few thousandths of a
nat per dimension (``tests/baselines/test_gmm.py``); on a few well-separated clusters a
random start can put two centres in one cluster and none in another, which k-means++ avoids.

Determinism: the fit is seeded (``random_state``) and bitwise repeatable in one environment;
float32 matrix products round differently with the instruction set and thread count, so two
machines agree to float32 precision, not bitwise.

References
----------
.. [1] Dempster, A. P., Laird, N. M. and Rubin, D. B. "Maximum likelihood from incomplete
   data via the EM algorithm", JRSS B 39(1), 1977.
.. [2] Bishop, C. M. *Pattern Recognition and Machine Learning*, §9.2, Springer 2006.
"""

from __future__ import annotations

import numbers

import numpy as np

from baselines.codebook import fit_codebook, nearest_word

__all__ = ["DiagonalGMM", "MAX_ITER"]

#: EM iterations at most. On the small folder set's dense MBH descriptors, 30 iterations
#: give the Fisher vectors the accuracy of a converged fit at a third of its time
#: (``docs/profile.md``).
MAX_ITER = 30
#: Least float32 increment added to every component's soft count (scikit-learn's ``10 eps``),
#: so that a component that lost all its points divides by a positive number.
_COUNT_FLOOR = 10 * np.finfo(np.float32).eps


def _check_int(value, name: str, low: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"The {name!r} parameter of DiagonalGMM must be an int >= {low}. "
                         f"Got {value!r} instead.")


class DiagonalGMM:
    """A Gaussian mixture with diagonal covariances, fitted by EM.

    Parameters
    ----------
    n_components : int
        Number of Gaussians ``K``.
    max_iter : int, default :data:`MAX_ITER`
        EM iterations at most.
    tol : float, default 1e-3
        Convergence threshold on the gain of the mean per-sample log-likelihood (nats), as in
        scikit-learn.
    reg_covar : float, default 1e-6
        Added to every variance.
    random_state : int, default 0
        Seed of the k-means start.

    Attributes
    ----------
    weights_ : ndarray (K,)
    means_ : ndarray (K, D)
    covariances_ : ndarray (K, D)
        Variances (diagonal covariances), float64.
    n_iter_ : int
        EM iterations run.
    converged_ : bool
        Whether the gain fell under ``tol`` before ``max_iter``.
    lower_bound_ : float
        Mean per-sample log-likelihood of the training data at the last E-step.
    """

    def __init__(self, n_components: int, *, max_iter: int = MAX_ITER, tol: float = 1e-3,
                 reg_covar: float = 1e-6, random_state: int = 0):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.random_state = random_state

    @property
    def n_features_in_(self) -> int:
        return self.means_.shape[1]

    # -- the two steps
    def _set_parameters(self, counts: np.ndarray, sums: np.ndarray, n: int) -> None:
        """M-step from the soft counts ``(K,)`` and the sums of ``[x, x²]`` ``(K, 2D)``."""
        dim = sums.shape[1] // 2
        counts = counts.astype(np.float64) + _COUNT_FLOOR
        means = sums[:, :dim] / counts[:, None]
        variances = np.maximum(sums[:, dim:] / counts[:, None] - means**2, 0.0) + self.reg_covar
        self.weights_ = counts / n
        self.weights_ /= self.weights_.sum()
        self.means_, self.covariances_ = means, variances

    def _natural_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """``(W, c)`` with ``log w_k + log N(x | μ_k, σ²_k) = [x, x²] · W[:, k] + c_k``."""
        precisions = 1.0 / self.covariances_
        dim = self.means_.shape[1]
        W = np.concatenate([self.means_ * precisions, -0.5 * precisions], axis=1).T
        c = (np.log(self.weights_)
             - 0.5 * (dim * np.log(2 * np.pi) + np.log(self.covariances_).sum(axis=1)
                      + (self.means_**2 * precisions).sum(axis=1)))
        return np.ascontiguousarray(W, dtype=np.float32), c.astype(np.float32)

    def _posteriors(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Responsibilities ``(N, K)`` float32 and per-sample log-likelihoods ``(N,)`` float64
        of ``features = [x, x²]`` (float32)."""
        W, c = self._natural_parameters()
        joint = features @ W
        joint += c
        peak = joint.max(axis=1, keepdims=True)
        joint -= peak
        np.exp(joint, out=joint)
        total = joint.sum(axis=1, keepdims=True)
        joint /= total
        log_likelihood = (np.log(total[:, 0].astype(np.float64)) + peak[:, 0])
        return joint, log_likelihood

    @staticmethod
    def _features(X) -> np.ndarray:
        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"DiagonalGMM expects a 2-D array (n_samples, n_features); "
                             f"got shape {x.shape}.")
        return np.concatenate([x, x * x], axis=1)

    # -- public API
    def fit(self, X) -> DiagonalGMM:
        """Fit on ``X`` ``(n_samples, n_features)``; at least ``n_components`` rows."""
        _check_int(self.n_components, "n_components", 1)
        _check_int(self.max_iter, "max_iter", 1)
        x = np.asarray(X, dtype=np.float32)
        features = self._features(x)
        n = x.shape[0]
        if n < self.n_components:
            raise ValueError(f"DiagonalGMM needs at least n_components={self.n_components} "
                             f"samples; got n_samples={n}.")
        centres = fit_codebook(x, self.n_components, seed=self.random_state)
        labels = nearest_word(x, centres)
        counts = np.bincount(labels, minlength=self.n_components)
        sums = np.zeros((self.n_components, features.shape[1]))
        np.add.at(sums, labels, features.astype(np.float64))
        self._set_parameters(counts, sums, n)
        previous, self.converged_ = -np.inf, False
        for iteration in range(1, self.max_iter + 1):
            resp, log_likelihood = self._posteriors(features)
            self.lower_bound_ = float(log_likelihood.mean())
            self._set_parameters(resp.sum(axis=0), (resp.T @ features).astype(np.float64), n)
            self.n_iter_ = iteration
            if abs(self.lower_bound_ - previous) < self.tol:
                self.converged_ = True
                break
            previous = self.lower_bound_
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Posterior of each component for each row of ``X``: ``(N, K)``, rows sum to 1.

        Computed in float32 and returned in float64, so that the sums a Fisher vector takes
        over thousands of descriptors accumulate in float64.
        """
        return self._posteriors(self._features(X))[0].astype(np.float64)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood ``log p(x)`` of each row of ``X``, ``(N,)`` float64."""
        return self._posteriors(self._features(X))[1]
