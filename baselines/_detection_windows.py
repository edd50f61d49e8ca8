"""The window side of sliding-window detection: labels, per-class SVMs, temporal NMS.

:func:`window_targets` labels windows against the ground truth, :func:`fit_window_svms`
trains one linear SVM per class on a pool of labelled windows (C by held-out groups,
Platt-calibrated scores), :func:`duration_prior` re-scores windows by their duration,
:func:`temporal_nms` and :func:`select_detections` keep the best non-overlapping ones.

The training set of a sliding-window detector is a pool of windows, each positive, negative or
ignored for each class (:func:`window_targets`). Class ``c``'s binary SVM
learns from the windows labelled for ``c`` (its positives against its negatives: background
and the other classes' windows), with balanced class weights because positives are rare. All
the SVMs share one Gram matrix of the pool: each is an ``SVC(kernel="precomputed")`` on a
sub-matrix, read back into its primal weights as in
:class:`baselines.svm.LinearFVClassifier`.

The scores of different classes are made comparable by Platt scaling [2]_: a sigmoid per
class, fitted on that class's held-out scores, maps the SVM margin to an estimate of
``P(window is an instance of c)``, so a video's detections of all classes can be ranked
together (the top-k per video).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupKFold
from sklearn.svm import SVC

__all__ = ["check_training_set", "temporal_nms", "select_detections", "fit_duration_prior", "duration_prior",
           "window_targets", "hard_negatives", "WindowPool", "WindowSVMs", "fit_window_svms"]


def check_training_set(videos, segments: pd.DataFrame, groups, n_classes: int | None
                       ) -> tuple[int, np.ndarray]:
    """Check a detector's training set; returns the number of classes (``n_classes``, or
    the largest label + 1) and the groups of the videos (each video its own group when
    there are none, or only one)."""
    labels = segments["label"].to_numpy(dtype=int)
    n = int(n_classes) if n_classes is not None else int(labels.max()) + 1 if len(labels) else 1
    if len(labels) and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f"segment labels must be in range(n_classes={n}); got "
                         f"{labels.min()} .. {labels.max()}")
    unknown = set(segments["video"].astype(str)) - {str(v) for v in videos}
    if unknown:
        raise ValueError(f"segments name videos that are not among the training videos: "
                         f"{sorted(unknown)[:3]}; pass them in videos or drop their rows")
    groups = np.asarray(groups) if groups is not None else np.arange(len(videos))
    if len(groups) != len(videos):
        raise ValueError(f"groups has {len(groups)} entries for {len(videos)} videos")
    if len(np.unique(groups)) < 2:  # one group: hold videos out instead
        groups = np.arange(len(videos))
    return n, groups


def _tiou(starts, ends, seg_start, seg_end) -> np.ndarray:
    """tIoU of every segment ``(starts, ends)`` with every ``(seg_start, seg_end)``."""
    a0, a1 = np.asarray(starts, float)[:, None], np.asarray(ends, float)[:, None]
    b0, b1 = np.asarray(seg_start, float)[None, :], np.asarray(seg_end, float)[None, :]
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0.0, None)
    union = (a1 - a0) + (b1 - b0) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def temporal_nms(t_start, t_end, scores, iou_threshold: float = 0.4,
                 top_k: int | None = None) -> np.ndarray:
    """Greedy temporal non-maximum suppression; returns the kept indices, best first.

    The best remaining segment is kept and every remaining segment whose tIoU with it is
    above ``iou_threshold`` is dropped, until none remain or ``top_k`` are kept. Equal scores
    keep the input order.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    t_start, t_end = np.asarray(t_start, float), np.asarray(t_end, float)
    keep = []
    while len(order) and (top_k is None or len(keep) < top_k):
        best, order = order[0], order[1:]
        keep.append(best)
        overlap = _tiou(t_start[[best]], t_end[[best]], t_start[order], t_end[order])[0]
        order = order[overlap <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def select_detections(t_start, t_end, scores: np.ndarray, classes, iou_threshold: float,
                      top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """One video's detections: :func:`temporal_nms` per class, then the ``top_k`` best of
    all classes together.

    Returns
    -------
    rows, labels : int arrays
        Window and class of each detection, by descending score (ties: class order).
    """
    rows, labels = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for c in classes:
        kept = temporal_nms(t_start, t_end, scores[:, c], iou_threshold, top_k)
        rows.append(kept)
        labels.append(np.full(len(kept), c, dtype=np.int64))
    rows, labels = np.concatenate(rows), np.concatenate(labels)
    best = np.argsort(-scores[rows, labels], kind="stable")[:top_k]
    return rows[best], labels[best]


def fit_duration_prior(segments: pd.DataFrame, n_classes: int,
                       min_sd: float = 0.35) -> np.ndarray:
    """Mean and standard deviation (at least ``min_sd``) of the log duration of each class's
    instances, ``(n_classes, 2)``; NaN rows for classes without instances."""
    prior = np.full((n_classes, 2), np.nan)
    log_length = np.log(np.maximum(segments["t_end"] - segments["t_start"], 1e-3))
    for c, values in log_length.groupby(segments["label"].to_numpy(dtype=int)):
        prior[c] = values.mean(), max(float(values.std(ddof=0)), min_sd)
    return prior


def duration_prior(prior: np.ndarray, lengths) -> np.ndarray:
    """``exp(-z² / 2)`` of each window length's log under each class's prior,
    ``(n_windows, n_classes)``; 1 for classes without a prior."""
    z = (np.log(np.asarray(lengths, dtype=np.float64))[:, None] - prior[:, 0]) / prior[:, 1]
    return np.where(np.isnan(z), 1.0, np.exp(-0.5 * z**2))


def window_targets(w_start, w_end, segments: pd.DataFrame, n_classes: int,
                   positive_iou: float = 0.5, negative_iou: float = 0.3
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-class training labels of windows from a video's ground-truth segments.

    A window is a positive of class ``c`` when its tIoU with an instance of ``c`` is at least
    ``positive_iou`` (the detection criterion of THUMOS'14 at 0.5), a negative of ``c`` when
    it is below ``negative_iou`` with every instance of ``c`` (background, and the windows of
    the other classes), and ignored for ``c`` in between (a partial instance is neither).

    Returns
    -------
    positive, negative : (n_windows, n_classes) bool arrays
    """
    best = np.zeros((len(w_start), n_classes))
    if len(segments):
        iou = _tiou(w_start, w_end, segments["t_start"], segments["t_end"])
        labels = segments["label"].to_numpy(dtype=int)
        for c in np.unique(labels):
            best[:, c] = iou[:, labels == c].max(axis=1)
    return best >= positive_iou, best < negative_iou


def hard_negatives(margins: np.ndarray, negative: np.ndarray, classes, per_class: int
                   ) -> np.ndarray:
    """Windows to add to a pool: each class's ``per_class`` highest-margin negatives among
    those inside the margin (margin above -1), as sorted unique rows.

    Parameters
    ----------
    margins : (n_windows, n_classes) array
    negative : (n_windows, n_classes) bool array
        Candidates per class (negatives not in the pool yet).
    classes : sequence of int
        Classes with a model.
    per_class : int
    """
    chosen = [np.zeros(0, dtype=np.int64)]
    for c in classes:
        candidates = np.flatnonzero(negative[:, c] & (margins[:, c] > -1))
        chosen.append(candidates[np.argsort(-margins[candidates, c], kind="stable")][:per_class])
    return np.unique(np.concatenate(chosen)).astype(np.int64)


class WindowPool:
    """Training windows as they are collected: Fisher vectors (float32), per-class targets,
    and the group, video and row (window index) of each."""

    KEYS = ("X", "pos", "neg", "group", "video", "row")

    def __init__(self, arrays: dict | None = None):
        self.parts = {k: [] if arrays is None else [arrays[k]] for k in self.KEYS}

    def add(self, X, pos, neg, group, video: int, rows) -> None:
        for key, value in zip(self.KEYS, (X, pos, neg, np.full(len(rows), group),
                                          np.full(len(rows), video), rows), strict=True):
            self.parts[key].append(value)

    def arrays(self, max_rows: int, seed: int) -> dict:
        """The pool as arrays, at most ``max_rows`` rows: every window positive for some
        class, and a seeded draw of the others."""
        pool = {k: np.concatenate(v) for k, v in self.parts.items()}
        if len(pool["X"]) <= max_rows:
            return pool
        positive = pool["pos"].any(axis=1)
        room = max(0, max_rows - int(positive.sum()))
        draw = np.random.default_rng(seed).permutation(np.flatnonzero(~positive))[:room]
        rows = np.sort(np.r_[np.flatnonzero(positive), draw]).astype(np.int64)
        return {k: v[rows] for k, v in pool.items()}


@dataclass
class WindowSVMs:
    """The fitted per-class scorers.

    Attributes
    ----------
    coef : (n_classes, dim) float64
        Primal weights (zero rows for classes without a model).
    intercept : (n_classes,) float64
    platt : (n_classes, 2) float64
        Sigmoid slope and offset: ``p = 1 / (1 + exp(-(a s + b)))``.
    has_model : (n_classes,) bool
        Classes that had positives and negatives in the pool.
    C : float
    cv_scores : dict of float to float
        Mean over classes of the held-out window AP, per candidate C (empty without CV).
    """

    coef: np.ndarray
    intercept: np.ndarray
    platt: np.ndarray
    has_model: np.ndarray
    C: float
    cv_scores: dict

    def margins(self, X: np.ndarray) -> np.ndarray:
        """Raw SVM margins ``(n, n_classes)``."""
        return X @ self.coef.T + self.intercept

    def probabilities(self, margins: np.ndarray) -> np.ndarray:
        """Platt-calibrated scores of margins ``(n, n_classes)``."""
        return 1.0 / (1.0 + np.exp(-(margins * self.platt[:, 0] + self.platt[:, 1])))


def _binary(gram: np.ndarray, X: np.ndarray, rows: np.ndarray, y: np.ndarray,
            C: float) -> tuple[np.ndarray, float]:
    """Primal ``(w, b)`` of a balanced hinge-loss SVM on ``X[rows]`` with labels ``y``."""
    svc = SVC(kernel="precomputed", C=C, class_weight="balanced")
    svc.fit(gram[np.ix_(rows, rows)], y.astype(int))
    alpha = np.zeros(X.shape[0], dtype=X.dtype)  # over the whole pool: no copy of X[rows]
    alpha[rows[svc.support_]] = svc.dual_coef_[0]
    return (alpha @ X).astype(np.float64), float(svc.intercept_[0])


def _fit_all(gram, X, positive, negative, train, C):
    """Per-class ``(w, b)`` (None for a class without both labels in ``train``)."""
    models = []
    for c in range(positive.shape[1]):
        rows = train[positive[train, c] | negative[train, c]]
        y = positive[rows, c]
        models.append(_binary(gram, X, rows, y, C) if 0 < y.sum() < len(y) else None)
    return models


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Sigmoid ``(a, b)`` fitted on held-out scores; ``(1, 0)`` when it cannot be (one label
    only, or a fit that would reverse the ranking)."""
    if len(np.unique(y)) < 2:
        return 1.0, 0.0
    lr = LogisticRegression(C=100.0).fit(scores[:, None], y.astype(int))
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return (a, b) if a > 0 else (1.0, 0.0)


def _window_ap(scores, positive, negative) -> float:
    """Mean over classes of the AP of the finite held-out scores of each class's windows."""
    aps = []
    for c in range(positive.shape[1]):
        rows = (positive[:, c] | negative[:, c]) & np.isfinite(scores[:, c])
        if positive[rows, c].any() and negative[rows, c].any():
            aps.append(average_precision_score(positive[rows, c], scores[rows, c]))
    return float(np.mean(aps)) if aps else float("nan")


def fit_window_svms(X: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                    groups: np.ndarray, *, C="auto", C_grid=(0.1, 1.0, 10.0, 100.0),
                    cv: int = 3) -> WindowSVMs:
    """Fit one SVM per class; choose C and calibrate on windows of held-out groups.

    Parameters
    ----------
    X : (n, dim) float32 or float64 array
        Window Fisher vectors of the pool (float32 halves the pool's memory; the Gram matrix
        and the weights are float64).
    positive, negative : (n, n_classes) bool arrays
        Each window's labels per class (both False: ignored for that class).
    groups : (n,) array
        The group of each window's video; folds never split a group
        (``GroupKFold(min(cv, n_groups))``).
    C : float or "auto"
        ``"auto"``: the candidate of ``C_grid`` with the best mean held-out window AP (ties:
        the smallest); a float: that value.
    C_grid : sequence of float
    cv : int
        Folds; below 2, no held-out scores (C as without groups, no calibration).

    Returns
    -------
    WindowSVMs

    Notes
    -----
    Held-out scores of a class come only from folds whose training part has both labels of
    it; Platt's sigmoid is fitted on them by logistic regression (Platt's target smoothing is
    left out). Without two groups there is no held-out data: C is the middle of the grid
    (or ``C``) and the sigmoid is ``(1, 0)``, the logistic of the raw margin, which SVMs put
    on a common scale (margin ±1 at the support vectors).

    References
    ----------
    .. [1] C. Cortes, V. Vapnik, "Support-vector networks", Machine Learning 20, 1995.
       :doi:`10.1007/BF00994018`
    .. [2] J. Platt, "Probabilistic outputs for support vector machines and comparisons to
       regularized likelihood methods", Advances in Large Margin Classifiers, MIT Press, 1999.
    """
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n, n_classes = positive.shape
    gram = (X @ X.T).astype(np.float64)
    everything = np.arange(n)
    grid = [float(v) for v in C_grid] if C == "auto" else [float(C)]
    n_groups = len(np.unique(groups))
    held_out = {}
    if n_groups >= 2 and cv >= 2:
        splits = list(GroupKFold(n_splits=min(int(cv), n_groups)).split(X, groups=groups))
        for value in grid:
            scores = np.full((n, n_classes), np.nan)
            for train, test in splits:
                for c, model in enumerate(_fit_all(gram, X, positive, negative, train, value)):
                    if model is not None:
                        scores[test, c] = X[test] @ model[0].astype(X.dtype) + model[1]
            held_out[value] = scores
    cv_scores = {value: _window_ap(s, positive, negative) for value, s in held_out.items()}
    if len(grid) == 1:
        best = grid[0]
    elif cv_scores and np.isfinite(list(cv_scores.values())).any():
        best = max(grid, key=lambda v: (np.nan_to_num(cv_scores[v], nan=-1.0), -v))
    else:
        best = grid[len(grid) // 2]
    coef = np.zeros((n_classes, X.shape[1]))
    intercept = np.zeros(n_classes)
    platt = np.tile([1.0, 0.0], (n_classes, 1))
    models = _fit_all(gram, X, positive, negative, everything, best)
    for c, model in enumerate(models):
        if model is None:
            continue
        coef[c], intercept[c] = model
        if best in held_out:
            s = held_out[best][:, c]
            rows = (positive[:, c] | negative[:, c]) & np.isfinite(s)
            platt[c] = _platt(s[rows], positive[rows, c])
    has_model = np.array([m is not None for m in models], dtype=bool)
    return WindowSVMs(coef, intercept, platt, has_model, best, cv_scores)
