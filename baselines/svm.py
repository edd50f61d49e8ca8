"""χ² kernels and the one-vs-rest SVMs of the classical track.

* :func:`chi2_distance`, :func:`chi2_kernel` — Numba, parallel over row blocks of X;
  ``chi2_kernel`` gives the values of ``sklearn.metrics.pairwise.chi2_kernel``.
* :func:`multichannel_chi2_kernel` and :class:`MultiChannelChi2SVM` — the multichannel χ²
  kernel SVM of Zhang et al. 2007 / Laptev et al. 2008 for bag-of-words histograms.
* :class:`LinearFVClassifier` — linear SVMs for Fisher vectors (Perronnin et al. 2010).

Both classifiers are one-vs-rest: one binary SVM per class, ``decision_function`` returns
``(n_samples, n_classes)`` scores for every class ``0 .. n_classes - 1`` — the method
protocol of :mod:`bench.methods`. A class absent from the training labels gets the constant
score :data:`ABSENT_CLASS_SCORE` (finite, far below any SVM margin), so it never wins the
argmax but metrics that rank scores still work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from baselines import _kernels

__all__ = [
    "ABSENT_CLASS_SCORE",
    "chi2_distance",
    "chi2_kernel",
    "multichannel_chi2_kernel",
    "MultiChannelChi2SVM",
    "LinearFVClassifier",
]

#: Score given to classes that had no training example.
ABSENT_CLASS_SCORE = -1e6
#: Default grid searched when ``C="auto"``.
DEFAULT_C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


def _non_negative(X: np.ndarray, name: str) -> np.ndarray:
    X = check_array(X, dtype=np.float64, order="C", input_name=name)
    if (X < 0).any():
        raise ValueError(
            f"{name} contains negative values; the χ² distance is defined for histograms "
            "(non-negative features)."
        )
    return X


def _float32_safe(X: np.ndarray) -> bool:
    """Whether all non-zero values lie in [1e-18, 1e18] (the kernel's fast reciprocal path)."""
    nonzero = X[X != 0]
    return bool(nonzero.size == 0 or (nonzero.min() >= 1e-18 and nonzero.max() <= 1e18))


def chi2_distance(X: np.ndarray, Y: np.ndarray | None = None) -> np.ndarray:
    """Additive χ² distance between the rows of X and Y.

    ``D[i, j] = Σ_k (X[i, k] - Y[j, k])² / (X[i, k] + Y[j, k])``, terms with a zero
    denominator skipped. This is ``-sklearn.metrics.pairwise.additive_chi2_kernel(X, Y)``;
    Zhang et al. and Laptev et al. write the same distance with a factor ½, which cancels in
    the multichannel kernel (it divides by the mean distance).

    Parameters
    ----------
    X : (n_x, d) array_like, non-negative
    Y : (n_y, d) array_like, non-negative, optional (default: X)

    Returns
    -------
    (n_x, n_y) float64 ndarray

    References
    ----------
    .. [1] Zhang, J., Marszałek, M., Lazebnik, S. and Schmid, C. "Local features and kernels
       for classification of texture and object categories: a comprehensive study", IJCV
       2007. :doi:`10.1007/s11263-006-9794-4`
    """
    X = _non_negative(X, "X")
    Y = X if Y is None else _non_negative(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features; got {X.shape[1]} and {Y.shape[1]}."
        )
    symmetric = Y is X
    out = np.empty((X.shape[0], Y.shape[0]), dtype=np.float64)
    _kernels._chi2_distance(X, Y, _float32_safe(X) and _float32_safe(Y), symmetric, out)
    if symmetric:  # the kernel filled the upper triangle
        lower = np.tril_indices(X.shape[0], -1)
        out[lower] = out.T[lower]
    return out


def chi2_kernel(X: np.ndarray, Y: np.ndarray | None = None, gamma: float = 1.0) -> np.ndarray:
    """Exponential χ² kernel ``K = exp(-gamma * chi2_distance(X, Y))``.

    Same values as ``sklearn.metrics.pairwise.chi2_kernel`` (float64), computed by a
    cache-blocked, multi-threaded Numba kernel.

    Parameters
    ----------
    X : (n_x, d) array_like, non-negative
    Y : (n_y, d) array_like, non-negative, optional (default: X)
    gamma : float, default 1.0

    Returns
    -------
    (n_x, n_y) float64 ndarray

    References
    ----------
    .. [1] Zhang et al., IJCV 2007. :doi:`10.1007/s11263-006-9794-4`
    """
    K = chi2_distance(X, Y)
    K *= -gamma
    return np.exp(K, out=K)


def _validate_channels(channels: Sequence[tuple[int, int]] | None, n_features: int) -> list[tuple[int, int]]:
    if channels is None:
        return [(0, n_features)]
    result = []
    for channel in channels:
        try:
            start, stop = (int(v) for v in channel)
        except (TypeError, ValueError):
            raise ValueError(
                f"The 'channels' parameter must be a list of (start, stop) column slices. Got {channels!r} instead."
            ) from None
        if not 0 <= start < stop <= n_features:
            raise ValueError(
                f"Channel {(start, stop)} does not fit the {n_features} features; each channel "
                "must satisfy 0 <= start < stop <= n_features."
            )
        result.append((start, stop))
    if not result:
        raise ValueError("The 'channels' parameter must list at least one (start, stop) slice.")
    return result


def _mean_off_diagonal(distances: np.ndarray) -> float:
    n = distances.shape[0]
    if n < 2:
        return 1.0
    mean = (distances.sum() - np.trace(distances)) / (n * (n - 1))
    return float(mean) if mean > 0 else 1.0


def multichannel_chi2_kernel(
    distances: Sequence[np.ndarray], mean_distances: Sequence[float]
) -> np.ndarray:
    """Multichannel kernel ``K = exp(-Σ_c D_c / A_c)`` from per-channel χ² distances.

    Parameters
    ----------
    distances : sequence of (n_x, n_y) arrays
        ``D_c`` from :func:`chi2_distance` for each channel c.
    mean_distances : sequence of float
        ``A_c``, the mean χ² distance of channel c between training samples.

    Returns
    -------
    (n_x, n_y) float64 ndarray

    References
    ----------
    .. [1] Laptev, I., Marszałek, M., Schmid, C. and Rozenfeld, B. "Learning realistic human
       actions from movies", CVPR 2008. :doi:`10.1109/CVPR.2008.4587756`
    """
    total = np.zeros_like(distances[0], dtype=np.float64)
    for distance, mean in zip(distances, mean_distances, strict=True):
        total -= distance / mean
    return np.exp(total, out=total)


class _OneVsRestSVM(ClassifierMixin, BaseEstimator):
    """Shared fit / C selection / one-vs-rest scoring; subclasses supply the features."""

    def _prepare(self, X: np.ndarray) -> object:  # pragma: no cover - abstract
        raise NotImplementedError

    def _split_features(self, state, train, test):  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_binary(self, C: float):  # pragma: no cover - abstract
        raise NotImplementedError

    def _test_features(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_params(self, y: np.ndarray) -> int:
        if not (self.C == "auto" or (isinstance(self.C, (int, float)) and self.C > 0)):
            raise ValueError(
                f"The 'C' parameter of {type(self).__name__} must be a float > 0 or 'auto'. Got {self.C!r} instead."
            )
        if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise ValueError(
                f"{type(self).__name__} expects integer labels 0..n_classes-1; got {y.dtype} "
                f"labels {np.unique(y)[:5]}. Encode them with sklearn.preprocessing.LabelEncoder."
            )
        n_classes = int(y.max()) + 1 if self.n_classes is None else int(self.n_classes)
        if y.max() >= n_classes:
            raise ValueError(f"Label {int(y.max())} does not fit n_classes={n_classes}.")
        return n_classes

    @staticmethod
    def _fit_binaries(make_binary, features: np.ndarray, y: np.ndarray, n_classes: int) -> list:
        present = np.unique(y)
        estimators: list = []
        for label in range(n_classes):
            if label not in present:
                estimators.append(None)
            elif present.size == 1:
                estimators.append(1.0)  # the only class seen: constant score
            else:
                estimators.append(make_binary().fit(features, (y == label).astype(int)))
        return estimators

    @staticmethod
    def _scores(estimators: list, features: np.ndarray, n_samples: int) -> np.ndarray:
        scores = np.full((n_samples, len(estimators)), ABSENT_CLASS_SCORE, dtype=np.float64)
        for label, estimator in enumerate(estimators):
            if estimator is None:
                continue
            if isinstance(estimator, float):
                scores[:, label] = estimator
            else:
                scores[:, label] = estimator.decision_function(features)
        return scores

    def _splitter(self, y: np.ndarray, groups: np.ndarray | None):
        n_splits = int(self.cv)
        if groups is not None and np.unique(groups).size >= 2:
            splitter = GroupKFold(n_splits=min(n_splits, np.unique(groups).size))
            return splitter.split(np.zeros(y.size), y, groups)
        smallest = np.bincount(y)[np.unique(y)].min()
        if smallest >= 2:
            splitter = StratifiedKFold(n_splits=min(n_splits, smallest), shuffle=True,
                                       random_state=self.random_state)
            return splitter.split(np.zeros(y.size), y)
        return KFold(n_splits=min(n_splits, y.size), shuffle=True,
                     random_state=self.random_state).split(np.zeros(y.size))

    def _select_C(self, state, y, groups, n_classes) -> tuple[float, dict]:
        grid = [float(c) for c in self.C_grid]
        fold_scores: dict[float, list[float]] = {C: [] for C in grid}
        # the kernels of a split are computed once and shared by every C of the grid (the
        # distances behind them once for all splits, in _prepare)
        for train, test in self._splitter(y, groups):
            features_train, features_test = self._split_features(state, train, test)
            for C in grid:
                estimators = self._fit_binaries(
                    lambda C=C: self._make_binary(C), features_train, y[train], n_classes
                )
                predicted = self._scores(estimators, features_test, test.size).argmax(axis=1)
                fold_scores[C].append(np.mean(predicted == y[test]))
        mean_scores = {C: float(np.mean(fold_scores[C])) for C in grid}
        best = max(grid, key=lambda c: (mean_scores[c], -c))  # ties: the smallest C
        return best, mean_scores

    def fit(self, X, y, groups=None):
        """Fit one binary SVM per class; with ``C="auto"`` pick C by (grouped) CV first.

        Parameters
        ----------
        X : (n_samples, n_features) array_like
        y : (n_samples,) int array_like, labels in ``0 .. n_classes - 1``
        groups : (n_samples,) array_like, optional
            Group labels (e.g. actors) for the C search: folds never split a group.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        y = np.asarray(y)
        n_classes = self._check_params(y)
        self.classes_ = np.arange(n_classes)
        state = self._prepare(X)
        everything = np.arange(y.size)
        if self.C == "auto":
            groups = None if groups is None else np.asarray(groups)
            if groups is not None and groups.shape[0] != y.size:
                raise ValueError(f"groups has {groups.shape[0]} entries for {y.size} samples.")
            self.C_, self.cv_scores_ = self._select_C(state, y, groups, n_classes)
        else:
            self.C_, self.cv_scores_ = float(self.C), {}
        features, _ = self._split_features(state, everything, everything[:0])
        self.estimators_ = self._fit_binaries(lambda: self._make_binary(self.C_), features, y,
                                              n_classes)
        return self

    def decision_function(self, X) -> np.ndarray:
        """One-vs-rest scores ``(n_samples, n_classes)``; absent classes get ABSENT_CLASS_SCORE."""
        check_is_fitted(self, "estimators_")
        X = validate_data(self, X, dtype=np.float64, order="C", reset=False)
        return self._scores(self.estimators_, self._test_features(X), X.shape[0])

    def predict(self, X) -> np.ndarray:
        """The class with the highest one-vs-rest score."""
        return self.classes_[self.decision_function(X).argmax(axis=1)]


class MultiChannelChi2SVM(_OneVsRestSVM):
    """One-vs-rest SVMs with the multichannel χ² kernel (Laptev et al. 2008).

    ``K(x, y) = exp(-Σ_c D_c(x, y) / A_c)`` where ``D_c`` is the χ² distance between the
    columns of channel c (e.g. the HOG and the HOF bag-of-words histograms) and ``A_c`` the
    mean χ² distance of channel c over all pairs of distinct training samples. Each class gets
    a binary ``sklearn.svm.SVC(kernel="precomputed")``.

    Parameters
    ----------
    C : float or "auto", default 1.0
        SVM regularisation; "auto" picks it from ``C_grid`` by cross-validation on the
        training set (grouped when ``fit`` gets ``groups``), maximising accuracy.
    channels : list of (start, stop) or None, default None
        Column slices of the channels; None = all columns form one channel.
    n_classes : int or None, default None
        Number of classes; None = ``max(y) + 1``.
    C_grid : sequence of float, default (0.01, 0.1, 1, 10, 100)
    cv : int, default 3
        Number of CV folds for "auto".
    random_state : int, default 0
        Seed of the (stratified) fold shuffle when no groups are given.

    Attributes
    ----------
    C_ : float
        The C used. ``cv_scores_`` maps each tried C to its mean CV accuracy.
    mean_distances_ : ndarray (n_channels,)
        ``A_c`` on the training set.
    estimators_ : list
        Per class: a fitted SVC, None (absent class) or a constant score.

    Notes
    -----
    A_c is the mean over distinct pairs (the zero diagonal excluded); during the C search it is
    recomputed on each inner training fold. Laptev et al. chose C by cross-validation too.

    References
    ----------
    .. [1] Laptev, I. et al., CVPR 2008. :doi:`10.1109/CVPR.2008.4587756`
    .. [2] Zhang, J. et al., IJCV 2007. :doi:`10.1007/s11263-006-9794-4`
    """

    def __init__(self, C=1.0, channels=None, n_classes=None, C_grid=DEFAULT_C_GRID, cv=3,
                 random_state=0):
        self.C = C
        self.channels = channels
        self.n_classes = n_classes
        self.C_grid = C_grid
        self.cv = cv
        self.random_state = random_state

    def _prepare(self, X):
        if (X < 0).any():
            raise ValueError("MultiChannelChi2SVM needs non-negative histograms; X has negative values.")
        self.channels_ = _validate_channels(self.channels, X.shape[1])
        self.X_train_ = X
        return [chi2_distance(X[:, a:b]) for a, b in self.channels_]

    def _split_features(self, distances, train, test):
        means = [_mean_off_diagonal(d[np.ix_(train, train)]) for d in distances]
        if test.size == 0:  # the final fit
            self.mean_distances_ = np.asarray(means)
        return (multichannel_chi2_kernel([d[np.ix_(train, train)] for d in distances], means),
                multichannel_chi2_kernel([d[np.ix_(test, train)] for d in distances], means))

    def _make_binary(self, C):
        return SVC(kernel="precomputed", C=C)

    def _test_features(self, X):
        distances = [chi2_distance(X[:, a:b], self.X_train_[:, a:b]) for a, b in self.channels_]
        return multichannel_chi2_kernel(distances, self.mean_distances_)


class _LinearScorer:
    """A binary linear SVM read back into its primal form: ``score = X @ coef + intercept``."""

    def __init__(self, coef: np.ndarray, intercept: float):
        self.coef_ = coef
        self.intercept_ = intercept

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_ + self.intercept_


class LinearFVClassifier(_OneVsRestSVM):
    """One-vs-rest linear SVMs for Fisher vectors (Perronnin, Sánchez & Mensink 2010).

    Each class gets a binary L1-loss (hinge) linear SVM with an L2 penalty, solved in the dual
    on the Gram matrix ``X Xᵀ`` (``sklearn.svm.SVC(kernel="precomputed")``) and read back into
    its primal weights ``w = Σᵢ αᵢ yᵢ xᵢ``: the same classifier as ``SVC(kernel="linear")``
    (tested), with a memory cost of ``n_samples²`` during training instead of the copies of
    the ``n_samples × 100 000``-dimensional Fisher vectors that a primal solver makes per fit.

    Parameters
    ----------
    C : float or "auto", default 1.0
        As in :class:`MultiChannelChi2SVM`.
    n_classes : int or None, default None
    C_grid : sequence of float, default (0.01, 0.1, 1, 10, 100)
    cv : int, default 3
    random_state : int, default 0
        Seed of the fold shuffle when no groups are given.

    Attributes
    ----------
    C_, cv_scores_ : as in :class:`MultiChannelChi2SVM`
    estimators_ : list
        Per class: a linear scorer (``coef_``, ``intercept_``), None (absent class) or a
        constant score.

    References
    ----------
    .. [1] Perronnin, F., Sánchez, J. and Mensink, T. "Improving the Fisher kernel for
       large-scale image classification", ECCV 2010. :doi:`10.1007/978-3-642-15561-1_11`
    .. [2] Cortes, C. and Vapnik, V. "Support-vector networks", Machine Learning 20, 1995.
       :doi:`10.1007/BF00994018`
    """

    def __init__(self, C=1.0, n_classes=None, C_grid=DEFAULT_C_GRID, cv=3, random_state=0):
        self.C = C
        self.n_classes = n_classes
        self.C_grid = C_grid
        self.cv = cv
        self.random_state = random_state

    def _prepare(self, X):
        self._X_fit = X
        return X @ X.T

    def _split_features(self, gram, train, test):
        return gram[np.ix_(train, train)], gram[np.ix_(test, train)]

    def _make_binary(self, C):
        return SVC(kernel="precomputed", C=C)

    def _test_features(self, X):
        return X

    def _primal(self, svc: SVC) -> _LinearScorer:
        """``w = Σᵢ αᵢ yᵢ xᵢ`` as one matrix-vector product (no copy of the support vectors)."""
        alpha = np.zeros(self._X_fit.shape[0])
        alpha[svc.support_] = svc.dual_coef_[0]
        return _LinearScorer(alpha @ self._X_fit, float(svc.intercept_[0]))

    def fit(self, X, y, groups=None):
        """Fit as :meth:`_OneVsRestSVM.fit`, then keep only the primal weights."""
        try:
            super().fit(X, y, groups=groups)
            self.estimators_ = [self._primal(est) if isinstance(est, SVC) else est
                                for est in self.estimators_]
        finally:
            self.__dict__.pop("_X_fit", None)
        return self
