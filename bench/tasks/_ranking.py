"""What the task metrics share: integer codes, candidate pairs, ranks, VOC AP and resampling.

Temporal detection (:mod:`bench.tasks.detection`) and spatio-temporal localization
(:mod:`bench.tasks.localization`) evaluate the same way at heart: per class, predictions are
ranked by score, matched to the ground truth of their group (a video, or a keyframe), and
scored by PASCAL VOC's all-point interpolated average precision [1]_; intervals come from a
percentile bootstrap over videos [2]_. The pieces of that which do not depend on what a
prediction is (a segment, a box, a tube) live here, once:

* :func:`codes_in`: integer codes of ids in a sorted universe, the form everything is matched in;
* :func:`group_ranks` and :func:`candidate_pairs`: the vectorised grouping that lets a matching
  loop run over ranks inside a group instead of over groups;
* :func:`interpolated_average_precision` (one precision/recall curve) and
  :func:`class_average_precision` (per class, from true-positive flags in ranking order);
* :func:`resample_counts` and :func:`percentile_interval`: the video bootstrap.

The weighted AP kernel the bootstrap evaluates
(:func:`bench.tasks.detection._kernels.average_precision`) stays with the detection task: it is
written over the detection task's encoding, :class:`bench.tasks.detection._kernels.Encoded`.

References
----------
.. [1] Everingham, Van Gool, Williams, Winn & Zisserman, "The PASCAL Visual Object Classes
   (VOC) Challenge", IJCV 88, 2010. https://doi.org/10.1007/s11263-009-0275-4
.. [2] Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman &
   Hall, ch. 13. https://doi.org/10.1201/9780429246593
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["codes_in", "group_ranks", "candidate_pairs", "interpolated_average_precision",
           "class_average_precision", "resample_counts", "percentile_interval",
           "check_thresholds", "PerClassAP"]


# --- codes and groups -------------------------------------------------------------------------

def codes_in(values: np.ndarray, universe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``values`` in the sorted ``universe`` and whether each value is in it."""
    codes = np.searchsorted(universe, values)
    found = np.zeros(len(values), dtype=bool)
    inside = codes < len(universe)
    found[inside] = universe[codes[inside]] == values[inside]
    return codes, found


def group_ranks(keys: np.ndarray) -> np.ndarray:
    """Position of each element among the elements with the same key, in array order."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(keys) \
        else np.zeros(0, dtype=np.int64)
    lengths = np.diff(np.r_[starts, len(keys)])
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = np.arange(len(keys)) - np.repeat(starts, lengths)
    return ranks


def candidate_pairs(query_key: np.ndarray, target_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(query, target)`` index pairs with equal keys; ``target_key`` must be sorted."""
    lo = np.searchsorted(target_key, query_key, side="left")
    hi = np.searchsorted(target_key, query_key, side="right")
    counts = hi - lo
    total = int(counts.sum())
    query = np.repeat(np.arange(len(query_key)), counts)
    offsets = np.cumsum(counts) - counts
    target = np.arange(total) - np.repeat(offsets, counts) + np.repeat(lo, counts)
    return query, target


# --- average precision ------------------------------------------------------------------------

def interpolated_average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """All-point interpolated AP of one precision/recall curve (PASCAL VOC from 2010).

    The curve is closed with the points (recall 0, precision 0) and (recall 1, precision 0);
    precision is replaced by its maximum at this or any higher recall (made monotone from the
    right), and the area is summed over the steps where recall changes. This is the AP of
    the ActivityNet evaluator; VOC 2007 sampled the curve at 11 recall points instead.

    Parameters
    ----------
    precision, recall : array of float, shape (n,)
        At each rank of the sorted detections.

    Returns
    -------
    float

    References
    ----------
    .. [1] Everingham, Van Gool, Williams, Winn & Zisserman, "The PASCAL Visual Object Classes
       (VOC) Challenge", IJCV 88, 2010. https://doi.org/10.1007/s11263-009-0275-4
    """
    prec = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64), [0.0]])
    rec = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    envelope = np.maximum.accumulate(prec[::-1])[::-1]
    steps = np.flatnonzero(rec[1:] != rec[:-1]) + 1
    return float(np.sum((rec[steps] - rec[steps - 1]) * envelope[steps]))


def class_average_precision(det_class: np.ndarray, tp: np.ndarray,
                            n_gt: np.ndarray) -> np.ndarray:
    """VOC AP of each class from its detections' flags in ranking order (NaN: no ground truth).

    ``det_class`` holds the detections' class codes, sorted (each class's detections in
    ranking order, best first), ``tp`` whether each is a true positive, ``n_gt`` the ground
    truth of each class; the AP is :func:`interpolated_average_precision` of the precision and
    recall at each rank. A class with ground truth and no detection has AP 0.
    """
    bounds = np.searchsorted(det_class, np.arange(len(n_gt) + 1))
    ap = np.full(len(n_gt), np.nan)
    for c in np.flatnonzero(n_gt > 0):
        flags = tp[bounds[c]:bounds[c + 1]]
        hits = np.cumsum(flags)
        precision = hits / np.arange(1, len(flags) + 1)
        ap[c] = interpolated_average_precision(precision, hits / n_gt[c])
    return ap


# --- the video bootstrap ----------------------------------------------------------------------

def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` int64: how many times each of ``n`` videos is drawn in each bootstrap
    resample (``n`` draws with replacement, ``numpy.random.default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    flat = (draws + (np.arange(n_boot) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of the finite ``values`` (NaN: none)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1). Got {confidence} instead.")
    if not np.isfinite(values).any():
        return (float("nan"), float("nan"))
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    lo, hi = np.nanpercentile(values, q)
    return (float(lo), float(hi))


def check_thresholds(values: Sequence[float], what: str) -> np.ndarray:
    """``values`` as a float64 array of IoU thresholds in (0, 1]; ``what`` names them in the
    error (e.g. ``"tIoU thresholds"``)."""
    thr = np.asarray(values, dtype=np.float64).ravel()
    if not len(thr) or not np.all((thr > 0) & (thr <= 1)):
        raise ValueError(f"The {what} must be a non-empty list of numbers in (0, 1]. "
                         f"Got {list(values)!r} instead.")
    return thr


@dataclass(frozen=True)
class PerClassAP:
    """AP per class at one or more IoU thresholds: what detection's and localization's
    class-wise metrics return (:class:`bench.tasks.detection.metrics.DetectionResult`,
    :class:`bench.tasks.localization.result.LocalizationResult`).

    Attributes
    ----------
    thresholds : tuple of float
    classes : tuple of str
        The classes with ground truth, sorted.
    ap : ndarray, shape (n_classes, n_thresholds)
    n_ground_truth, n_detections : ndarray of int, shape (n_classes,)
    interval : tuple of float or None
        Percentile bootstrap interval of the mean over the thresholds, over videos, when
        asked for.
    """

    thresholds: tuple[float, ...]
    classes: tuple[str, ...]
    ap: np.ndarray
    n_ground_truth: np.ndarray
    n_detections: np.ndarray
    interval: tuple[float, float] | None = None

    @property
    def map_per_threshold(self) -> np.ndarray:
        """mAP at each threshold (NaN without ground truth)."""
        if not len(self.classes):
            return np.full(len(self.thresholds), np.nan)
        return self.ap.mean(axis=0)

    def _mean_map(self) -> float:
        return float(np.mean(self.map_per_threshold))

    def map_at(self, threshold: float) -> float:
        """mAP at one of :attr:`thresholds`."""
        index = int(np.argmin(np.abs(np.asarray(self.thresholds) - threshold)))
        if not np.isclose(self.thresholds[index], threshold):
            raise KeyError(f"threshold {threshold} was not evaluated; have {self.thresholds}")
        return float(self.map_per_threshold[index])

    def table(self) -> pd.DataFrame:
        """Per-class AP: ``label, n_ground_truth, n_detections, ap@<t>...``."""
        table = pd.DataFrame({"label": list(self.classes),
                              "n_ground_truth": self.n_ground_truth,
                              "n_detections": self.n_detections})
        for k, t in enumerate(self.thresholds):
            table[f"ap@{t:.2f}"] = self.ap[:, k]
        return table
