"""Temporal action detection metrics: mAP at temporal IoU and average recall of proposals.

The protocol is the ActivityNet detection evaluator's [1]_, written here from its definition:

1. **Per class.** Only the ground truth and detections of one label meet; the mean is taken
   over the classes that have ground truth (a detection whose label has none affects nothing).
2. **Ranking.** The class's detections are sorted by descending score with a stable sort.
   *Ties in score* are broken by video id, then start, then end, then input position; the
   last can only order identical detections, so the result does not depend on the order of
   the rows (a results file read back from JSON evaluates exactly as the table written).
3. **Matching**, at each tIoU threshold separately: in ranking order, a detection takes the
   ground truth of its video and class, not yet taken, with the highest tIoU, if that tIoU is
   at least the threshold (ties: the earlier segment by start, then end); otherwise it is a
   false positive. A second detection of an already matched segment is a false positive; so
   is every detection in a video without ground truth of its class.
4. **AP** is the all-point interpolated average precision of PASCAL VOC [3]_ (the evaluator's
   ``interpolated_prec_rec``): precision made monotone from the right, summed over the recall
   steps. A class with ground truth and no detection has AP 0.
5. **mAP** at a threshold is the mean AP over the classes; the *average mAP* is its mean over
   the thresholds: :data:`ACTIVITYNET_THRESHOLDS` (0.5:0.05:0.95) for ActivityNet,
   :data:`THUMOS14_THRESHOLDS` (0.3:0.1:0.7) for THUMOS'14 [2]_.

References
----------
.. [1] Caba Heilbron, Escorcia, Ghanem & Niebles, "ActivityNet: A Large-Scale Video Benchmark
   for Human Activity Understanding", CVPR 2015. https://doi.org/10.1109/CVPR.2015.7298698
.. [2] Idrees, Zamir, Jiang, Gorban, Laptev, Sukthankar & Shah, "The THUMOS challenge on
   action recognition for videos 'in the wild'", CVIU 155, 2017.
   https://doi.org/10.1016/j.cviu.2016.10.018
.. [3] Everingham, Van Gool, Williams, Winn & Zisserman, "The PASCAL Visual Object Classes
   (VOC) Challenge", IJCV 88, 2010. https://doi.org/10.1007/s11263-009-0275-4

The pieces shared with the localization task (VOC AP of a curve, the bootstrap's resample
counts and percentile interval) are :mod:`bench.tasks._ranking`'s, re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tasks._ranking import (
    PerClassAP,
    check_thresholds,
    interpolated_average_precision,
    resample_counts,
)
from bench.tasks._ranking import percentile_interval as _percentile_interval
from bench.tasks.detection._kernels import (
    Encoded,
    average_precision,
    codes_of,
    encode,
    greedy_match,
    overlaps_any,
    pair_iou,
)
from bench.tasks.detection.proposals import ProposalRecall, average_recall
from bench.tasks.detection.segments import validate_detections, validate_segments

__all__ = [
    "ACTIVITYNET_THRESHOLDS",
    "THUMOS14_THRESHOLDS",
    "temporal_iou",
    "interpolated_average_precision",
    "DetectionResult",
    "evaluate_detection",
    "activitynet_map",
    "thumos14_map",
    "per_class_ap",
    "bootstrap_map",
    "ProposalRecall",
    "average_recall",
]

#: tIoU thresholds of the ActivityNet detection task, 0.5:0.05:0.95.
ACTIVITYNET_THRESHOLDS = tuple(float(t) for t in np.round(np.linspace(0.5, 0.95, 10), 2))
#: tIoU thresholds commonly reported on THUMOS'14, 0.3:0.1:0.7.
THUMOS14_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def temporal_iou(segments: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Temporal intersection over union of every segment with every other.

    Parameters
    ----------
    segments : array of shape (n, 2)
        ``[t_start, t_end]`` rows, seconds.
    others : array of shape (m, 2)

    Returns
    -------
    ndarray of float64, shape (n, m)
        ``|a ∩ b| / |a ∪ b|``, with ``|a ∪ b| = |a| + |b| - |a ∩ b|``; 0 where the union is
        empty (two segments of zero length), so such a segment matches nothing.
    """
    a = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(others, dtype=np.float64).reshape(-1, 2)
    return pair_iou(a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1])


@dataclass(frozen=True)
class DetectionResult(PerClassAP):
    """mAP at temporal IoU of one set of detections against one ground truth.

    Attributes
    ----------
    thresholds : tuple of float
    classes : tuple of str
        The classes with ground truth, sorted.
    ap : ndarray, shape (n_classes, n_thresholds)
    n_ground_truth, n_detections : ndarray of int, shape (n_classes,)
    interval : tuple of float or None
        Percentile bootstrap interval of :attr:`average_map` over videos, when asked for.
    """

    @property
    def average_map(self) -> float:
        """The mean of :attr:`map_per_threshold`."""
        return self._mean_map()

    def table(self) -> pd.DataFrame:
        """Per-class AP: ``label, n_ground_truth, n_detections, ap@<t>..., average``."""
        table = super().table()
        table["average"] = self.ap.mean(axis=1) if len(self.classes) else []
        return table


def _thresholds(thresholds: Sequence[float]) -> np.ndarray:
    return check_thresholds(thresholds, "tIoU thresholds")


def _prepare(ground_truth: pd.DataFrame, detections: pd.DataFrame,
             thresholds: Sequence[float], ambiguous: pd.DataFrame | None,
             videos: Sequence[str] | None = None
             ) -> tuple[Encoded, np.ndarray, np.ndarray, np.ndarray]:
    """Encoded tables, thresholds, true positives and the counted (not ignored) mask."""
    thr = _thresholds(thresholds)
    gt = validate_segments(ground_truth, what="ground truth")
    det = validate_detections(detections)
    enc = encode(gt, det, videos)
    tp = greedy_match(enc, thr)
    counted = np.ones_like(tp)
    if ambiguous is not None and len(ambiguous):
        amb = ambiguous.assign(label=ambiguous.get("label", "Ambiguous"))
        amb = validate_segments(amb, what="ambiguous segments")
        codes = codes_of(enc.videos, amb["video_id"].to_numpy())
        known = codes >= 0
        ignored = overlaps_any(enc.det_video, enc.det_start, enc.det_end, codes[known],
                               amb["t_start"].to_numpy()[known], amb["t_end"].to_numpy()[known])
        counted = tp | ~ignored[None, :]
    return enc, thr, tp, counted


def evaluate_detection(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                       thresholds: Sequence[float] = ACTIVITYNET_THRESHOLDS, *,
                       ambiguous: pd.DataFrame | None = None,
                       videos: Sequence[str] | None = None, n_boot: int = 0,
                       confidence: float = 0.95, seed: int = 0) -> DetectionResult:
    """mAP at each tIoU threshold, per-class AP and, optionally, a bootstrap interval.

    Parameters
    ----------
    ground_truth : DataFrame
        ``video_id, t_start, t_end, label`` (see :mod:`bench.data.annotations.segments`).
    detections : DataFrame
        The same columns plus ``score``.
    thresholds : sequence of float
        tIoU thresholds in (0, 1]; default :data:`ACTIVITYNET_THRESHOLDS`.
    ambiguous : DataFrame, optional
        Segments (``video_id, t_start, t_end``) that are neither action nor background, such
        as THUMOS'14's ``Ambiguous`` class: a detection that is not a true positive and
        overlaps one of them in its video (an intersection of positive length) is dropped
        from the ranking, neither true nor false positive. This is the rule of the official
        THUMOS'14 evaluation (Idrees et al. 2017), applied per threshold after matching.
    videos : sequence of str, optional
        The test set's videos, the sample the bootstrap resamples (they do not change the
        mAP itself). Default: the videos with ground truth or with a detection of a class
        that has ground truth.
    n_boot : int, default 0
        Bootstrap resamples for :attr:`DetectionResult.interval` (0: none); see
        :func:`bootstrap_map`.
    confidence : float, default 0.95
    seed : int, default 0

    Returns
    -------
    DetectionResult

    Raises
    ------
    AnnotationError
        A table breaks its schema (see :func:`~bench.tasks.detection.segments.validate_detections`).
    ValueError
        Thresholds outside (0, 1].

    Notes
    -----
    Differences from the official evaluators, all in cases they leave to chance or to
    arithmetic: ties in score and in tIoU are broken by the fixed rule of this module's
    docstring (the ActivityNet evaluator's reversed unstable sort leaves them to the sort
    implementation); two segments of zero length have tIoU 0, where the evaluator divides 0
    by 0. The official THUMOS'14 code itself matches each ground truth to its best remaining
    detection rather than each detection, by score, to its best remaining ground truth, needs
    a tIoU strictly above the threshold, and uses the 11-point VOC 2007 AP; this function
    keeps the ActivityNet rules at THUMOS'14's thresholds, the way recent work reports
    THUMOS'14.

    Examples
    --------
    One instance of 10 s found as its first 4 s (tIoU 0.4): a hit up to threshold 0.4.

    >>> import pandas as pd
    >>> gt = pd.DataFrame({"video_id": ["v"], "t_start": [0.0], "t_end": [10.0],
    ...                    "label": ["jump"]})
    >>> det = gt.assign(t_end=4.0, score=0.9)
    >>> evaluate_detection(gt, det, THUMOS14_THRESHOLDS).map_per_threshold.tolist()
    [1.0, 1.0, 0.0, 0.0, 0.0]
    """
    enc, thr, tp, counted = _prepare(ground_truth, detections, thresholds, ambiguous, videos)
    ones = np.ones((1, enc.n_videos), dtype=np.int64)
    ap = average_precision(enc, tp, counted, ones)[0].T
    n_gt = np.bincount(enc.gt_class, minlength=len(enc.classes))
    n_det = np.bincount(enc.det_class, minlength=len(enc.classes))
    interval = None
    if n_boot:
        draws = _bootstrap(enc, tp, counted, n_boot=n_boot, seed=seed)
        interval = _percentile_interval(draws, confidence)
    return DetectionResult(tuple(float(t) for t in thr), tuple(str(c) for c in enc.classes),
                           ap, n_gt, n_det, interval)


def activitynet_map(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                    **options) -> DetectionResult:
    """:func:`evaluate_detection` at the ActivityNet thresholds 0.5:0.05:0.95.

    References
    ----------
    .. [1] Caba Heilbron, Escorcia, Ghanem & Niebles, "ActivityNet: A Large-Scale Video
       Benchmark for Human Activity Understanding", CVPR 2015.
       https://doi.org/10.1109/CVPR.2015.7298698
    """
    return evaluate_detection(ground_truth, detections, ACTIVITYNET_THRESHOLDS, **options)


def thumos14_map(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                 **options) -> DetectionResult:
    """:func:`evaluate_detection` at the THUMOS'14 thresholds 0.3:0.1:0.7.

    Pass ``ambiguous=annotations.ambiguous`` (from
    :func:`bench.data.annotations.read_thumos14`) for the official handling of the
    ``Ambiguous`` segments.

    References
    ----------
    .. [1] Idrees, Zamir, Jiang, Gorban, Laptev, Sukthankar & Shah, "The THUMOS challenge on
       action recognition for videos 'in the wild'", CVIU 155, 2017.
       https://doi.org/10.1016/j.cviu.2016.10.018
    """
    return evaluate_detection(ground_truth, detections, THUMOS14_THRESHOLDS, **options)


def per_class_ap(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                 thresholds: Sequence[float] = ACTIVITYNET_THRESHOLDS, *,
                 ambiguous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-class AP table of :meth:`DetectionResult.table`."""
    return evaluate_detection(ground_truth, detections, thresholds,
                              ambiguous=ambiguous).table()


def _bootstrap(enc: Encoded, tp: np.ndarray, counted: np.ndarray, *, n_boot: int,
               seed: int) -> np.ndarray:
    if n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1. Got {n_boot} instead.")
    n = enc.n_videos
    if not n or not len(enc.classes):
        return np.full(n_boot, np.nan)
    return weighted_map(enc, tp, counted, resample_counts(n, n_boot, seed))


def weighted_map(enc: Encoded, tp: np.ndarray, counted: np.ndarray,
                 weights: np.ndarray) -> np.ndarray:
    """The mAP averaged over the thresholds for each row of video ``weights``
    (:func:`~bench.tasks.detection._kernels.average_precision`); a class without ground truth
    in a row is left out of that row's mean. Returns ``(len(weights),)``."""
    ap = average_precision(enc, tp, counted, weights)
    present = ~np.isnan(ap)
    n_present = present.sum(axis=2)
    total = np.where(present, ap, 0.0).sum(axis=2)
    per_threshold = np.where(n_present > 0, total / np.maximum(n_present, 1), np.nan)
    return per_threshold.mean(axis=1)


def bootstrap_map(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                  thresholds: Sequence[float] = ACTIVITYNET_THRESHOLDS, *,
                  ambiguous: pd.DataFrame | None = None,
                  videos: Sequence[str] | None = None, n_boot: int = 1000,
                  seed: int = 0) -> np.ndarray:
    """The average mAP of ``n_boot`` resamples of the videos (with replacement).

    The test set's videos (``videos``; default: those with ground truth or with a detection
    of a class that has ground truth) are the sample: each resample draws as many, with
    replacement, ``numpy.random.default_rng(seed)``; a video
    drawn k times counts k times, its ground truth and its detections alike (the copies are
    ranked next to each other). Matching does not change under resampling (a copy of a video
    matches as the video does), so it runs once. A class without ground truth in a resample
    is left out of that resample's mean. The percentile interval of these values is
    :attr:`DetectionResult.interval` (``evaluate_detection(..., n_boot=...)``).

    Returns
    -------
    ndarray of float, shape (n_boot,)

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall,
    ch. 13. https://doi.org/10.1201/9780429246593
    """
    enc, _, tp, counted = _prepare(ground_truth, detections, thresholds, ambiguous, videos)
    return _bootstrap(enc, tp, counted, n_boot=n_boot, seed=seed)
