"""Classification metrics for video-level scores, with bootstrap confidence intervals.

Every function takes integer labels ``y_true`` in ``range(n_classes)`` and, where a ranking is
needed, a score matrix ``scores`` of shape ``(n_videos, n_classes)`` (higher = more likely).

Tie-breaking rule
-----------------
When several classes share the top score, the prediction is the one with the **lowest class
index** (what :func:`numpy.argmax` does). Top-k lists are ordered by decreasing score with ties
in increasing class index (a stable sort of ``-scores``), so the first entry of the top-k list
is always the top-1 prediction.

Zero division
-------------
Per-class precision (recall) of a class that is never predicted (never present in ``y_true``)
is 0 by convention, and so is its F1 (scikit-learn's ``zero_division=0``). Macro averages and
the mean class accuracy are taken over the classes **present in** ``y_true`` only, so a class
missing from the test set does not pull the averages down; with that rule the macro recall
equals the mean class accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ClassificationMetrics",
    "predict_labels",
    "top_k_labels",
    "top_k_accuracy",
    "confusion",
    "per_class_scores",
    "mean_class_accuracy",
    "bootstrap_ci",
    "classification_metrics",
]


def _check_labels(y: np.ndarray, n_classes: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices. Got shape {y.shape}.")
    if y.size and (not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"{name} must hold integer class indices. Got dtype {y.dtype}.")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"{name} must be class indices in [0, {n_classes}). "
            f"Got values in [{y.min()}, {y.max()}]."
        )
    return y


def _check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 1:
        raise ValueError(
            f"scores must have shape (n_videos, n_classes). Got shape {scores.shape}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or inf; drop the failed videos before scoring")
    return scores


def predict_labels(scores: np.ndarray) -> np.ndarray:
    """Top-1 prediction per row; ties go to the lowest class index.

    Parameters
    ----------
    scores : ndarray of shape (n_videos, n_classes)

    Returns
    -------
    ndarray of int64, shape (n_videos,)
    """
    return np.argmax(_check_scores(scores), axis=1).astype(np.int64)


def top_k_labels(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best classes per row, best first; ties in increasing class index.

    Parameters
    ----------
    scores : ndarray of shape (n_videos, n_classes)
    k : int
        Clipped to ``n_classes``.

    Returns
    -------
    ndarray of int64, shape (n_videos, min(k, n_classes))
    """
    scores = _check_scores(scores)
    if k < 1:
        raise ValueError(f"k must be an int >= 1. Got {k} instead.")
    k = min(int(k), scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of videos whose true class is among the ``k`` best-scored classes.

    Parameters
    ----------
    y_true : ndarray of int, shape (n_videos,)
    scores : ndarray of shape (n_videos, n_classes)
    k : int
        Clipped to ``n_classes``.

    Returns
    -------
    float
        In [0, 1]; NaN for an empty input.
    """
    scores = _check_scores(scores)
    y_true = _check_labels(y_true, scores.shape[1], "y_true")
    if len(y_true) != len(scores):
        raise ValueError(f"y_true has {len(y_true)} rows but scores has {len(scores)}")
    if not len(y_true):
        return float("nan")
    top = top_k_labels(scores, k)
    return float(np.mean(np.any(top == y_true[:, None], axis=1)))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix ``C[i, j]`` = number of videos of class ``i`` predicted as ``j``.

    Returns
    -------
    ndarray of int64, shape (n_classes, n_classes)
    """
    y_true = _check_labels(y_true, n_classes, "y_true")
    y_pred = _check_labels(y_pred, n_classes, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (zero division -> 0).

    Returns
    -------
    precision, recall, f1 : ndarray of float64, shape (n_classes,)
    support : ndarray of int64, shape (n_classes,)
        Number of videos of each class in ``y_true``.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    return precision, recall, f1, support.astype(np.int64)


def mean_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (balanced accuracy).

    Returns
    -------
    float
        NaN for an empty input.
    """
    cm = confusion(y_true, y_pred, n_classes)
    support = cm.sum(axis=1)
    present = support > 0
    if not present.any():
        return float("nan")
    return float(np.mean(np.diag(cm)[present] / support[present]))


def _bootstrap_stats(
    correct: np.ndarray, y_true: np.ndarray, n_classes: int, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 and mean class accuracy of each resample (rows of ``indices``)."""
    n_boot = indices.shape[0]
    top1 = correct[indices].mean(axis=1)
    offsets = (np.arange(n_boot) * n_classes)[:, None]
    cls = (y_true[indices] + offsets).ravel()
    support = np.bincount(cls, minlength=n_boot * n_classes).reshape(n_boot, n_classes)
    hits = np.bincount(cls, weights=correct[indices].ravel().astype(np.float64),
                       minlength=n_boot * n_classes).reshape(n_boot, n_classes)
    present = support > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(present, hits / np.maximum(support, 1), 0.0)
    mca = recall.sum(axis=1) / present.sum(axis=1)
    return top1, mca


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_classes: int,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals for top-1 accuracy and mean class accuracy.

    Videos are resampled with replacement ``n_boot`` times (the test set is the sample); each
    resample's statistics are computed and the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` percentiles form the interval.

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (n_videos,)
    n_classes : int
    n_boot : int, default 1000
    confidence : float, default 0.95
    seed : int, default 0
        Seed of the resampling (``numpy.random.default_rng(seed)``): same seed, same interval.

    Returns
    -------
    dict
        ``{"top1": (low, high), "mean_class_acc": (low, high)}``; NaN bounds for an empty input.

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall,
    ch. 13 (percentile intervals). https://doi.org/10.1201/9780429246593
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1. Got {n_boot} instead.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1). Got {confidence} instead.")
    y_true = _check_labels(y_true, n_classes, "y_true")
    y_pred = _check_labels(y_pred, n_classes, "y_pred")
    n = len(y_true)
    if n == 0:
        nan = (float("nan"), float("nan"))
        return {"top1": nan, "mean_class_acc": nan}
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n, size=(n_boot, n))
    top1, mca = _bootstrap_stats(y_true == y_pred, y_true, n_classes, indices)
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    lo_t, hi_t = np.percentile(top1, q)
    lo_m, hi_m = np.percentile(mca, q)
    return {"top1": (float(lo_t), float(hi_t)), "mean_class_acc": (float(lo_m), float(hi_m))}


@dataclass
class ClassificationMetrics:
    """All metrics of one (method, fold) evaluation.

    Attributes
    ----------
    n : int
        Number of scored videos.
    top1, top5, mean_class_acc : float
        ``top5`` is top-k with ``k = min(5, n_classes)``.
    macro_precision, macro_recall, macro_f1 : float
        Means over the classes present in ``y_true``.
    precision, recall, f1 : ndarray, shape (n_classes,)
    support : ndarray of int, shape (n_classes,)
    confusion : ndarray of int, shape (n_classes, n_classes)
    ci : dict
        ``{"top1": (low, high), "mean_class_acc": (low, high)}``.
    """

    n: int
    top1: float
    top5: float
    mean_class_acc: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    confusion: np.ndarray
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)


def classification_metrics(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ClassificationMetrics:
    """Every metric the benchmark reports for one score matrix.

    Parameters
    ----------
    y_true : ndarray of int, shape (n_videos,)
    scores : ndarray of shape (n_videos, n_classes)
        Finite scores; rows of failed videos must be removed first.
    n_boot, confidence, seed
        Passed to :func:`bootstrap_ci`.

    Returns
    -------
    ClassificationMetrics

    Notes
    -----
    Ties and zero divisions follow the rules in this module's docstring. The values agree with
    scikit-learn's ``accuracy_score``, ``top_k_accuracy_score``, ``balanced_accuracy_score``,
    ``precision_recall_fscore_support(labels=range(C), zero_division=0)`` (per class; macro
    with ``labels=unique(y_true)``) and ``confusion_matrix(labels=range(C))``.
    """
    scores = _check_scores(scores)
    n_classes = scores.shape[1]
    y_true = _check_labels(y_true, n_classes, "y_true")
    if len(y_true) != len(scores):
        raise ValueError(f"y_true has {len(y_true)} rows but scores has {len(scores)}")
    y_pred = predict_labels(scores)
    cm = confusion(y_true, y_pred, n_classes)
    precision, recall, f1, support = per_class_scores(cm)
    present = support > 0
    nan = float("nan")

    def macro(values: np.ndarray) -> float:
        return float(values[present].mean()) if present.any() else nan

    return ClassificationMetrics(
        n=len(y_true),
        top1=float(np.mean(y_true == y_pred)) if len(y_true) else nan,
        top5=top_k_accuracy(y_true, scores, 5),
        mean_class_acc=mean_class_accuracy(y_true, y_pred, n_classes),
        macro_precision=macro(precision),
        macro_recall=macro(recall),
        macro_f1=macro(f1),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        confusion=cm,
        ci=bootstrap_ci(y_true, y_pred, n_classes, n_boot=n_boot, confidence=confidence,
                        seed=seed),
    )
