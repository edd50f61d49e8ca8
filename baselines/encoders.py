"""Encoders that turn a video's set of local descriptors into one fixed-length vector.

:class:`BagOfWords` (hard-assignment k-means histograms), :class:`FisherVector` (improved
Fisher vectors on a diagonal GMM) and :class:`VLAD` are scikit-learn transformers.

Input convention (every method of every encoder):

* **a list (or 1-D object array) of 2-D arrays** ``[(n_1, D), (n_2, D), ...]`` — one set of
  local descriptors per video; a set may be empty (``(0, D)``) and then encodes to zeros;
* **a 2-D numeric array** ``(n_samples, D)`` — each row is a set holding a single descriptor.
  This is what scikit-learn's generic estimator checks feed in, and it makes the encoders
  usable on per-frame features too.

``fit`` pools the descriptors of all sets, draws at most ``max_descriptors`` of them with a
seeded generator and learns the vocabulary from that sample; ``transform`` returns one row per
set.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from baselines.codebook import check_backend, fit_codebook, nearest_word
from baselines.gmm import DiagonalGMM

__all__ = ["BagOfWords", "FisherVector", "VLAD", "as_descriptor_sets"]


def _is_set_list(X) -> bool:
    if isinstance(X, np.ndarray):
        return X.dtype == object and X.ndim == 1
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and all(isinstance(x, np.ndarray) and x.ndim == 2 for x in X)
    return False


def as_descriptor_sets(X, n_features: int | None = None, name: str = "X") -> list[np.ndarray]:
    """Validate the list-of-sets form; returns float64 C-contiguous (n_i, D) arrays.

    Parameters
    ----------
    X : list or 1-D object array of (n_i, D) arrays
    n_features : int, optional
        Required D (the one seen in ``fit``).
    name : str
        Name used in error messages.
    """
    sets = [np.asarray(x) for x in X]
    if not sets:
        raise ValueError(f"{name} holds no descriptor sets; pass at least one (n_i, D) array.")
    dims = {s.shape[1] if s.ndim == 2 else None for s in sets}
    if None in dims:
        bad = next(i for i, s in enumerate(sets) if s.ndim != 2)
        raise ValueError(f"{name}[{bad}] has shape {sets[bad].shape}; every set must be a 2-D (n_i, D) array.")
    if len(dims) != 1:
        raise ValueError(f"The descriptor sets of {name} have different dimensions {sorted(dims)}.")
    dim = dims.pop()
    if n_features is not None and dim != n_features:
        raise ValueError(f"X has {dim} features, but the encoder is expecting {n_features} features as input.")
    return [check_array(s, dtype=np.float64, order="C", ensure_min_samples=0, input_name=name)
            for s in sets]


def _check_int(value, name: str, owner: str, low: int, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        kind = f"an int in the range [{low}, inf)" + (" or None" if allow_none else "")
        raise ValueError(f"The '{name}' parameter of {owner} must be {kind}. Got {value!r} instead.")


def _power_l2(v: np.ndarray) -> np.ndarray:
    """Signed square root then row-wise L2 normalisation (zero rows stay zero)."""
    v = np.sign(v) * np.sqrt(np.abs(v))
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


class _SetEncoder(TransformerMixin, BaseEstimator):
    """Shared input handling: sets or 2-D arrays, pooled and subsampled for ``fit``."""

    def _sets(self, X, reset: bool) -> list[np.ndarray] | np.ndarray:
        """A list of sets, or a validated 2-D array (one descriptor per set)."""
        if _is_set_list(X):
            sets = as_descriptor_sets(X, None if reset else self.n_features_in_)
            if reset:
                self.n_features_in_ = sets[0].shape[1]
            return sets
        return validate_data(self, X, dtype=np.float64, order="C", reset=reset)

    def _training_sample(self, data) -> np.ndarray:
        pooled = data if isinstance(data, np.ndarray) else np.concatenate(data, axis=0)
        rng = np.random.default_rng(self.random_state)
        if pooled.shape[0] > self.max_descriptors:
            keep = np.sort(rng.choice(pooled.shape[0], self.max_descriptors, replace=False))
            pooled = pooled[keep]
        return pooled

    def fit(self, X, y=None):
        """Learn the vocabulary from a seeded sample of the pooled training descriptors.

        Parameters
        ----------
        X : list of (n_i, D) arrays, or (n_samples, D) array
            Descriptor sets (see the module docstring).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        sample = self._training_sample(self._sets(X, reset=True))
        self._fit_sample(sample)
        return self

    def transform(self, X) -> np.ndarray:
        """Encode each set; returns ``(n_sets, n_output_features)`` float64."""
        check_is_fitted(self)
        data = self._sets(X, reset=False)
        if isinstance(data, np.ndarray):
            return self._encode_all(data, np.ones(data.shape[0], dtype=np.int64))
        lengths = np.array([s.shape[0] for s in data], dtype=np.int64)
        return self._encode_all(np.concatenate(data, axis=0), lengths)


class _CodebookEncoder(_SetEncoder):
    """k-means vocabulary shared by BagOfWords and VLAD (:mod:`baselines.codebook`)."""

    def _check_params(self) -> None:
        owner = type(self).__name__
        _check_int(self.n_words, "n_words", owner, 2)
        _check_int(self.max_descriptors, "max_descriptors", owner, 1)
        check_backend(self.backend, owner)

    def _fit_sample(self, sample: np.ndarray) -> None:
        if sample.shape[0] < self.n_words:
            raise ValueError(
                f"{type(self).__name__} needs at least n_words={self.n_words} training descriptors; "
                f"got n_samples={sample.shape[0]}. Lower n_words or give more descriptors."
            )
        self.codebook_ = fit_codebook(sample, self.n_words, seed=self.random_state,
                                      backend=self.backend)

    def _assign(self, descriptors: np.ndarray) -> np.ndarray:
        return nearest_word(descriptors, self.codebook_, backend=self.backend)


class BagOfWords(_CodebookEncoder):
    """Bag of visual words: k-means vocabulary, hard assignment, L1-normalised histograms.

    Parameters
    ----------
    n_words : int, default 4000
        Vocabulary size (Laptev et al. 2008 and Wang et al. 2009 use 4000).
    max_descriptors : int, default 100000
        At most this many training descriptors, drawn with ``random_state``, feed k-means
        (Laptev et al. cluster a subset of 100 000 features).
    random_state : int, default 0
        Seed of the sample and of k-means.
    backend : {"faiss", "sklearn"}, default "faiss"
        k-means and assignment library (:mod:`baselines.codebook`): faiss's Lloyd k-means
        and exact float32 search, or scikit-learn's mini-batch k-means (3 initialisations)
        and float64 ``pairwise_distances_argmin``.

    Attributes
    ----------
    codebook_ : (n_words, D) ndarray

    Notes
    -----
    An empty set encodes to the zero vector. ``python -m bench perf --only codebook``
    compares the two backends' time and quantisation error.

    References
    ----------
    .. [1] Sivic, J. and Zisserman, A. "Video Google: a text retrieval approach to object
       matching in videos", ICCV 2003. :doi:`10.1109/ICCV.2003.1238663`
    .. [2] Laptev, I. et al. "Learning realistic human actions from movies", CVPR 2008.
       :doi:`10.1109/CVPR.2008.4587756`
    """

    def __init__(self, n_words=4000, max_descriptors=100000, random_state=0, backend="faiss"):
        self.n_words = n_words
        self.max_descriptors = max_descriptors
        self.random_state = random_state
        self.backend = backend

    def _encode_all(self, descriptors: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        set_index = np.repeat(np.arange(lengths.size), lengths)
        counts = np.zeros((lengths.size, self.n_words))
        np.add.at(counts, (set_index, self._assign(descriptors)), 1.0)
        return counts / np.maximum(lengths, 1)[:, None]


class VLAD(_CodebookEncoder):
    """Vector of Locally Aggregated Descriptors (Jégou et al. 2010).

    Sum of the residuals ``x - c_k`` of the descriptors assigned to each k-means centre,
    concatenated (``n_words * D``), signed-square-rooted and L2-normalised.

    Parameters
    ----------
    n_words : int, default 64
    max_descriptors : int, default 100000
    random_state : int, default 0
    backend : {"faiss", "sklearn"}, default "faiss"
        As in :class:`BagOfWords`.

    References
    ----------
    .. [1] Jégou, H., Douze, M., Schmid, C. and Pérez, P. "Aggregating local descriptors into
       a compact image representation", CVPR 2010. :doi:`10.1109/CVPR.2010.5540039`
    """

    def __init__(self, n_words=64, max_descriptors=100000, random_state=0, backend="faiss"):
        self.n_words = n_words
        self.max_descriptors = max_descriptors
        self.random_state = random_state
        self.backend = backend

    def _encode_all(self, descriptors: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        set_index = np.repeat(np.arange(lengths.size), lengths)
        words = self._assign(descriptors)
        residuals = np.zeros((lengths.size,) + self.codebook_.shape)
        np.add.at(residuals, (set_index, words), descriptors - self.codebook_[words])
        v = residuals.reshape(lengths.size, -1)
        return _power_l2(v)


class FisherVector(_SetEncoder):
    """Improved Fisher vectors (Perronnin, Sánchez & Mensink 2010).

    Descriptors are PCA-projected to ``pca_dim`` dimensions, a diagonal-covariance GMM with
    ``n_components`` Gaussians is fitted, and a set ``X = {x_t}`` (T descriptors) is encoded by
    the gradients of its average log-likelihood w.r.t. the means and standard deviations,
    normalised by the Fisher information:

    ``G_μk = 1/(T√w_k) Σ_t γ_t(k) (x_t − μ_k)/σ_k``,
    ``G_σk = 1/(T√(2w_k)) Σ_t γ_t(k) [(x_t − μ_k)²/σ_k² − 1]``,

    concatenated as ``[G_μ1..G_μK, G_σ1..G_σK]`` (``2 * K * pca_dim`` values), then power
    normalisation ``sign(z)√|z|`` and L2 normalisation.

    Parameters
    ----------
    n_components : int, default 256
        Number of Gaussians (Wang & Schmid 2013 use 256).
    pca_dim : int or None, default None
        PCA output dimension; None = half the descriptor dimension (at least 1), as in Wang &
        Schmid 2013.
    max_descriptors : int, default 100000
        Size of the seeded training sample for PCA and the GMM.
    random_state : int, default 0

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
    gmm_ : baselines.gmm.DiagonalGMM

    Notes
    -----
    No gradient w.r.t. the mixture weights (Perronnin et al. drop it too). An empty set
    encodes to the zero vector. The GMM is :class:`baselines.gmm.DiagonalGMM`: EM in float32
    from a faiss k-means start, ``reg_covar=1e-6``, at most :data:`baselines.gmm.MAX_ITER`
    iterations.

    References
    ----------
    .. [1] Perronnin, F., Sánchez, J. and Mensink, T. "Improving the Fisher kernel for
       large-scale image classification", ECCV 2010. :doi:`10.1007/978-3-642-15561-1_11`
    .. [2] Sánchez, J., Perronnin, F., Mensink, T. and Verbeek, J. "Image classification with
       the Fisher vector: theory and practice", IJCV 2013. :doi:`10.1007/s11263-013-0636-x`
    .. [3] Wang, H. and Schmid, C. "Action recognition with improved trajectories", ICCV 2013.
       :doi:`10.1109/ICCV.2013.441`
    """

    def __init__(self, n_components=256, pca_dim=None, max_descriptors=100000, random_state=0):
        self.n_components = n_components
        self.pca_dim = pca_dim
        self.max_descriptors = max_descriptors
        self.random_state = random_state

    def _check_params(self) -> None:
        _check_int(self.n_components, "n_components", "FisherVector", 1)
        _check_int(self.pca_dim, "pca_dim", "FisherVector", 1, allow_none=True)
        _check_int(self.max_descriptors, "max_descriptors", "FisherVector", 1)

    def _fit_sample(self, sample: np.ndarray) -> None:
        dim = max(1, sample.shape[1] // 2) if self.pca_dim is None else self.pca_dim
        if dim > min(sample.shape):
            raise ValueError(
                f"FisherVector: pca_dim={dim} exceeds min(n_samples, n_features) of the "
                f"training sample (n_samples={sample.shape[0]}, n_features={sample.shape[1]}); "
                "lower pca_dim or give more descriptors."
            )
        if sample.shape[0] < self.n_components:
            raise ValueError(
                f"FisherVector needs at least n_components={self.n_components} training "
                f"descriptors; got n_samples={sample.shape[0]}."
            )
        self.pca_ = PCA(n_components=dim, random_state=self.random_state).fit(sample)
        self.gmm_ = DiagonalGMM(self.n_components, random_state=self.random_state).fit(
            self.pca_.transform(sample))

    def _encode_all(self, descriptors: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        n_sets, dim = lengths.size, self.pca_.n_components_
        out = np.zeros((n_sets, 2 * self.n_components * dim))
        if descriptors.shape[0] == 0:
            return out
        z = self.pca_.transform(descriptors)
        posteriors = self.gmm_.predict_proba(z)  # (N, K)
        weights, means = self.gmm_.weights_, self.gmm_.means_
        sigma = np.sqrt(self.gmm_.covariances_)  # (K, D) standard deviations
        if np.all(lengths == 1):  # one descriptor per set: all at once
            u = (z[:, None, :] - means[None]) / sigma[None]  # (N, K, D)
            g_mu = posteriors[:, :, None] * u / np.sqrt(weights)[None, :, None]
            g_sigma = posteriors[:, :, None] * (u * u - 1) / np.sqrt(2 * weights)[None, :, None]
            out = np.concatenate([g_mu.reshape(n_sets, -1), g_sigma.reshape(n_sets, -1)], axis=1)
            return _power_l2(out)
        stops = np.cumsum(lengths)
        for i, (start, stop) in enumerate(zip(stops - lengths, stops, strict=True)):
            if stop == start:
                continue
            gamma, zt, T = posteriors[start:stop], z[start:stop], stop - start
            s0 = gamma.sum(axis=0)[:, None]
            s1 = gamma.T @ zt
            s2 = gamma.T @ (zt * zt)
            g_mu = (s1 - s0 * means) / sigma / (T * np.sqrt(weights)[:, None])
            g_sigma = (((s2 - 2 * means * s1 + s0 * means**2) / sigma**2 - s0)
                       / (T * np.sqrt(2 * weights)[:, None]))
            out[i] = np.concatenate([g_mu.ravel(), g_sigma.ravel()])
        return _power_l2(out)
