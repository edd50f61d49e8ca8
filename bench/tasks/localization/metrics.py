"""Spatio-temporal action localization metrics: frame-mAP, video-mAP and person-detection AP.

**Frame-mAP** is the metric of AVA [1]_ (and the frame-AP of UCF101-24 and J-HMDB [3]_ [4]_):
the PASCAL VOC detection protocol [2]_ applied to actor boxes at keyframes, one class at a
time. Written here from its definition, with the rules of the AVA evaluator
(``get_ava_performance.py`` over the TensorFlow Object Detection API's Pascal evaluator):

1. **Per class.** Only the ground truth and the detections of one label meet; the mean is
   over the classes that have ground truth (a detection whose label has none affects nothing;
   a class without ground truth has no AP, as the evaluator's ``nanmean`` leaves it out).
2. **Ranking.** The class's detections by descending score. *Ties in score* are broken by
   video id, timestamp, then ``x1, y1, x2, y2`` (ascending), then input position; the last
   only orders identical detections, which are interchangeable, so the result does not
   depend on the order of the rows.
3. **Matching**, the VOC rule: in ranking order, each detection is assigned the ground-truth
   box of its class *in its keyframe* ``(video_id, timestamp)`` with the highest IoU among
   all of them, taken or not (ties in IoU: the first by ``x1, y1, x2, y2``, then input
   position). It is a true positive if that IoU is at least the threshold (``>=``, 0.5) and
   that box is not yet taken, which it then takes; otherwise it is a false positive. So a
   detection whose best box is already taken is a false positive *even if a second box
   overlaps it enough*: it does not fall back to the second best. This is the VOC devkit's
   ``[ovmax, jmax] = max(ov)`` followed by its "multiple detection" false positive, and the
   evaluator's ``argmax`` over all boxes of the class. A detection in a keyframe without
   ground truth of its class is a false positive.
4. **AP** is the all-point interpolated average precision of the VOC devkit from 2010 on
   and of the AVA evaluator (:func:`bench.tasks.detection.metrics.interpolated_average_precision`:
   precision made monotone from the right, summed over the recall steps; [2]_ describes its
   11-point predecessor). A class with ground truth and no detection has AP 0.

The AVA script's preprocessing steps are options of :func:`frame_map`: a class list (its
label map of 60 classes), excluded keyframes (dropped from both tables) and a cap on the
detections kept per keyframe (the 50 best, :data:`AVA_MAX_DETECTIONS_PER_KEYFRAME`). The AVA evaluator also drops detections of
zero width or height before matching (its ``_remove_invalid_boxes``); so does this module.

**Video-mAP** [3]_ [4]_ ranks whole tubes: the *tube IoU* of two tubes is the temporal IoU of
their frame ranges times the mean box IoU over the frames both have a box in (0 without a
common frame); per class, detected tubes by descending score (ties: video id, then tube id),
each takes, among the ground-truth tubes of its class and video *not yet taken*, the one of
highest tube IoU (ties: the smaller tube id) if that IoU reaches the threshold; VOC AP; the
mean over the classes. Unlike frame-mAP, a tube falls back to the next free ground truth: that
is the rule of the video-AP code the field reports with (the ACT-detector evaluation [5]_,
which deletes each matched ground-truth tube).

**Person detection** is frame-mAP's matching on class-agnostic boxes (:func:`person_detection`),
what the actor detector of a two-stage method is judged by.

References
----------
.. [1] Gu, Sun, Ross, Vondrick, Pantofaru, Li, Vijayanarasimhan, Toderici, Ricco, Sukthankar,
   Schmid & Malik, "AVA: A Video Dataset of Spatio-temporally Localized Atomic Visual
   Actions", CVPR 2018. https://doi.org/10.1109/CVPR.2018.00633
.. [2] Everingham, Van Gool, Williams, Winn & Zisserman, "The PASCAL Visual Object Classes
   (VOC) Challenge", IJCV 88, 2010. https://doi.org/10.1007/s11263-009-0275-4
.. [3] Gkioxari & Malik, "Finding action tubes", CVPR 2015.
   https://doi.org/10.1109/CVPR.2015.7298676
.. [4] Weinzaepfel, Harchaoui & Schmid, "Learning to track for spatio-temporal action
   localization", ICCV 2015. https://doi.org/10.1109/ICCV.2015.362
.. [5] Kalogeiton, Weinzaepfel, Ferrari & Schmid, "Action Tubelet Detector for
   Spatio-Temporal Action Localization", ICCV 2017. https://doi.org/10.1109/ICCV.2017.472
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tasks.detection._kernels import Encoded, candidate_pairs, group_ranks
from bench.tasks.detection.metrics import (
    _percentile_interval,
    interpolated_average_precision,
    resample_counts,
    weighted_map,
)
from bench.tasks.localization.boxes import (
    _pair_iou,
    validate_box_detections,
    validate_boxes,
    validate_keyframes,
    validate_tubes,
)

__all__ = [
    "AVA_MAX_DETECTIONS_PER_KEYFRAME",
    "VIDEO_MAP_THRESHOLDS",
    "LocalizationResult",
    "PersonDetectionResult",
    "frame_map",
    "bootstrap_frame_map",
    "person_detection",
    "tube_iou",
    "video_map",
]

#: Detections the AVA evaluator keeps per keyframe (the best by score, over all classes).
AVA_MAX_DETECTIONS_PER_KEYFRAME = 50
#: The tube-IoU thresholds video-mAP is usually reported at (UCF101-24, J-HMDB).
VIDEO_MAP_THRESHOLDS = (0.2, 0.5)

_BOX = ["x1", "y1", "x2", "y2"]


@dataclass(frozen=True)
class LocalizationResult:
    """AP per class at one or more IoU thresholds, and their mean over the classes.

    Attributes
    ----------
    thresholds : tuple of float
        Box IoU thresholds (frame-mAP: one) or tube-IoU thresholds (video-mAP).
    classes : tuple of str
        The classes with ground truth, sorted (as strings).
    ap : ndarray, shape (n_classes, n_thresholds)
    n_ground_truth, n_detections : ndarray of int, shape (n_classes,)
        Boxes (frame-mAP) or tubes (video-mAP) of each class that were evaluated: after the
        exclusions, the class restriction and the per-keyframe cap.
    interval : tuple of float or None
        Percentile bootstrap interval of :attr:`map` over videos, when asked for.
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

    @property
    def map(self) -> float:
        """The mAP; with several thresholds, the mean of :attr:`map_per_threshold`."""
        return float(np.mean(self.map_per_threshold))

    def map_at(self, threshold: float) -> float:
        """The mAP at one of :attr:`thresholds`."""
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


@dataclass(frozen=True)
class PersonDetectionResult:
    """Class-agnostic actor detection at one IoU threshold (:func:`person_detection`).

    Attributes
    ----------
    iou_threshold : float
    ap : float
        VOC all-point AP of the person boxes (NaN without ground truth).
    recall : float
        Share of the ground-truth person boxes matched by some detection, all detections
        counted (NaN without ground truth).
    n_ground_truth, n_detections : int
        Unique person boxes in each table.
    """

    iou_threshold: float
    ap: float
    recall: float
    n_ground_truth: int
    n_detections: int


def _threshold(value: float) -> float:
    if not isinstance(value, (int, float, np.floating, np.integer)) or not 0 < value <= 1:
        raise ValueError(f"The 'iou_threshold' parameter must be a number in (0, 1]. "
                         f"Got {value!r} instead.")
    return float(value)


def _thresholds(values: Sequence[float]) -> np.ndarray:
    thr = np.asarray(values, dtype=np.float64).ravel()
    if not len(thr) or not np.all((thr > 0) & (thr <= 1)):
        raise ValueError(f"The 'thresholds' parameter must be a non-empty list of numbers in "
                         f"(0, 1]. Got {values!r} instead.")
    return thr


# --- frame level ---------------------------------------------------------------------------

@dataclass
class _Frames:
    """Boxes as codes: detections in ranking order (by class), ground truth by class and
    keyframe. ``videos`` (the bootstrap's sample) and ``classes`` are sorted."""

    videos: np.ndarray
    classes: np.ndarray
    det_class: np.ndarray
    det_video: np.ndarray
    det_keyframe: np.ndarray
    det_score: np.ndarray
    det_box: np.ndarray
    gt_class: np.ndarray
    gt_video: np.ndarray
    gt_keyframe: np.ndarray
    gt_box: np.ndarray

    @property
    def n_gt(self) -> np.ndarray:
        return np.bincount(self.gt_class, minlength=len(self.classes))

    @property
    def n_det(self) -> np.ndarray:
        return np.bincount(self.det_class, minlength=len(self.classes))


def _codes(values: np.ndarray, universe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``values`` in the sorted ``universe`` and whether each value is in it."""
    codes = np.searchsorted(universe, values)
    found = np.zeros(len(values), dtype=bool)
    inside = codes < len(universe)
    found[inside] = universe[codes[inside]] == values[inside]
    return codes, found


def _keyframes(video: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
    """Keyframe codes in (video code, timestamp) order."""
    if not len(video):
        return np.zeros(0, dtype=np.int64)
    pairs = np.column_stack([video.astype(np.float64), timestamp])
    return np.unique(pairs, axis=0, return_inverse=True)[1].ravel().astype(np.int64)


def _top_per_keyframe(det: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` best detections of each keyframe over all classes (ranking rule, labels as
    the first tie-break)."""
    video = np.unique(det["video_id"].to_numpy(dtype=str), return_inverse=True)[1]
    keyframe = _keyframes(video.ravel(), det["timestamp"].to_numpy())
    label = np.unique(det["label"].to_numpy(dtype=str), return_inverse=True)[1].ravel()
    box = det[_BOX].to_numpy()
    order = np.lexsort((np.arange(len(det)), box[:, 3], box[:, 2], box[:, 1], box[:, 0], label,
                        -det["score"].to_numpy(), keyframe))
    keep = order[group_ranks(keyframe[order]) < k]
    return det.iloc[np.sort(keep)].reset_index(drop=True)


def _on_keyframes(table: pd.DataFrame, keyframes: pd.DataFrame) -> np.ndarray:
    rows = pd.MultiIndex.from_arrays([table["video_id"], table["timestamp"]])
    return rows.isin(pd.MultiIndex.from_arrays([keyframes["video_id"], keyframes["timestamp"]]))


def _frames(ground_truth: pd.DataFrame, detections: pd.DataFrame, *,
            classes: Sequence[str] | None, excluded, max_detections_per_keyframe: int | None,
            videos: Sequence[str] | None) -> _Frames:
    """Validate, restrict, cap, exclude and encode (the AVA script's order)."""
    gt = validate_boxes(ground_truth, what="ground truth")
    det = validate_box_detections(detections)
    if classes is not None:
        subset = {str(c) for c in classes}
        gt = gt[gt["label"].isin(subset).to_numpy()]
        det = det[det["label"].isin(subset).to_numpy()]
    if max_detections_per_keyframe is not None:
        k = max_detections_per_keyframe
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError("The 'max_detections_per_keyframe' parameter must be an int >= 1 "
                             f"or None. Got {k!r} instead.")
        det = _top_per_keyframe(det, int(k))
    if excluded is not None:
        keyframes = validate_keyframes(excluded)
        gt = gt[~_on_keyframes(gt, keyframes)]
        det = det[~_on_keyframes(det, keyframes)]
    det = det[((det["x2"] > det["x1"]) & (det["y2"] > det["y1"])).to_numpy()]

    class_list = np.unique(gt["label"].to_numpy(dtype=str))
    det_class, known = _codes(det["label"].to_numpy(dtype=str), class_list)
    det = det[known]
    det_class = det_class[known]
    gt_ids = gt["video_id"].to_numpy(dtype=str)
    det_ids = det["video_id"].to_numpy(dtype=str)
    extra = np.asarray([] if videos is None else [str(v) for v in videos], dtype=str)
    universe = np.unique(np.concatenate([gt_ids, det_ids, extra]))
    gt_video, det_video = _codes(gt_ids, universe)[0], _codes(det_ids, universe)[0]
    keyframe = _keyframes(np.concatenate([gt_video, det_video]),
                          np.concatenate([gt["timestamp"].to_numpy(),
                                          det["timestamp"].to_numpy()]))
    gt_keyframe, det_keyframe = keyframe[:len(gt)], keyframe[len(gt):]
    gt_class = _codes(gt["label"].to_numpy(dtype=str), class_list)[0]
    gt_box, det_box = gt[_BOX].to_numpy(), det[_BOX].to_numpy()
    score = det["score"].to_numpy()
    d = np.lexsort((np.arange(len(det)), det_box[:, 3], det_box[:, 2], det_box[:, 1],
                    det_box[:, 0], det_keyframe, -score, det_class))
    g = np.lexsort((np.arange(len(gt)), gt_box[:, 3], gt_box[:, 2], gt_box[:, 1],
                    gt_box[:, 0], gt_keyframe, gt_class))
    return _Frames(universe, class_list, det_class[d], det_video[d], det_keyframe[d], score[d],
                   det_box[d], gt_class[g], gt_video[g], gt_keyframe[g], gt_box[g])


def _voc_match(frames: _Frames, threshold: float) -> np.ndarray:
    """True positives of the detections (ranking order) by the VOC rule (no fallback).

    A detection's best box does not depend on what is taken, so the rule is: among the
    detections whose best box is ``j`` with IoU >= threshold, the first in ranking order is a
    true positive and the others are false positives.
    """
    tp = np.zeros(len(frames.det_class), dtype=bool)
    if not len(tp) or not len(frames.gt_class):
        return tp
    n_keyframes = int(max(frames.det_keyframe.max(), frames.gt_keyframe.max())) + 1
    det_key = frames.det_class.astype(np.int64) * n_keyframes + frames.det_keyframe
    gt_key = frames.gt_class.astype(np.int64) * n_keyframes + frames.gt_keyframe  # sorted
    d, g = candidate_pairs(det_key, gt_key)
    a, b = frames.det_box[d], frames.gt_box[g]
    iou = _pair_iou(a[:, 0], a[:, 1], a[:, 2], a[:, 3], b[:, 0], b[:, 1], b[:, 2], b[:, 3])
    order = np.lexsort((g, -iou, d))  # per detection: best IoU first, ties the first box
    d, g, iou = d[order], g[order], iou[order]
    best = np.r_[True, d[1:] != d[:-1]] if len(d) else np.zeros(0, dtype=bool)
    hit = best & (iou >= threshold)
    hit_det, hit_gt = d[hit], g[hit]  # by detection, so in ranking order
    first = np.unique(hit_gt, return_index=True)[1]
    tp[hit_det[first]] = True
    return tp


def _class_aps(det_class: np.ndarray, tp: np.ndarray, n_gt: np.ndarray) -> np.ndarray:
    """VOC AP of each class from its detections' flags in ranking order (NaN: no ground truth)."""
    bounds = np.searchsorted(det_class, np.arange(len(n_gt) + 1))
    ap = np.full(len(n_gt), np.nan)
    for c in np.flatnonzero(n_gt > 0):
        flags = tp[bounds[c]:bounds[c + 1]]
        hits = np.cumsum(flags)
        precision = hits / np.arange(1, len(flags) + 1)
        ap[c] = interpolated_average_precision(precision, hits / n_gt[c])
    return ap


def _check_n_boot(n_boot) -> int:
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError(f"The 'n_boot' parameter must be an int >= 0. Got {n_boot!r} instead.")
    return int(n_boot)


def _bootstrap(frames: _Frames, tp: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    n = len(frames.videos)
    if not n or not len(frames.classes):
        return np.full(n_boot, np.nan)
    zeros_det, zeros_gt = np.zeros(len(tp)), np.zeros(len(frames.gt_class))
    # The detection task's weighted AP kernel needs only classes, videos and the ranking.
    enc = Encoded(frames.videos, frames.classes, frames.det_video, frames.det_class, zeros_det,
                  zeros_det, frames.det_score, frames.gt_video, frames.gt_class, zeros_gt,
                  zeros_gt)
    return weighted_map(enc, tp[None, :], np.ones((1, len(tp)), dtype=bool),
                        resample_counts(n, n_boot, seed))


def frame_map(ground_truth: pd.DataFrame, detections: pd.DataFrame,
              iou_threshold: float = 0.5, *, classes: Sequence[str] | None = None,
              excluded: pd.DataFrame | Sequence[tuple[str, float]] | None = None,
              max_detections_per_keyframe: int | None = None,
              videos: Sequence[str] | None = None, n_boot: int = 0,
              confidence: float = 0.95, seed: int = 0) -> LocalizationResult:
    """Frame-mAP: PASCAL VOC AP of actor boxes per class at keyframes, as AVA evaluates it.

    The rules are those of this module's docstring: per class; detections by descending
    score, ties by video id, timestamp, ``x1, y1, x2, y2``, input position; each detection to
    the highest-IoU ground-truth box of its class in its keyframe, a true positive if that
    IoU is at least ``iou_threshold`` and the box is free, else a false positive (no fallback
    to the second best box); VOC all-point AP; mean over the classes with ground truth.

    Parameters
    ----------
    ground_truth : DataFrame
        :data:`~bench.tasks.localization.boxes.BOX_COLUMNS`, one row per (box, action).
    detections : DataFrame
        The same columns plus ``score``.
    iou_threshold : float, default 0.5
        In (0, 1]; a detection at exactly the threshold counts.
    classes : sequence of str, optional
        Evaluate only these labels (compared as strings): the AVA evaluator's label map (60
        of AVA's 80 classes). Rows of other labels are dropped from both tables before
        anything else; listed classes without ground truth get no AP.
    excluded : DataFrame or sequence of (video_id, timestamp), optional
        Keyframes dropped from both tables, ground truth and detections (AVA's
        ``ava_val_excluded_timestamps``).
    max_detections_per_keyframe : int, optional
        Keep only this many detections per keyframe, the best by score over all (remaining)
        classes, before matching; the AVA script keeps
        :data:`AVA_MAX_DETECTIONS_PER_KEYFRAME` (50). Default: keep all (plain VOC).
    videos : sequence of str, optional
        The test set's videos, the sample the bootstrap resamples (they do not change the mAP
        itself). Default: the videos with ground truth or with a detection of a class that
        has ground truth.
    n_boot : int, default 0
        Bootstrap resamples for :attr:`LocalizationResult.interval` (0: none); see
        :func:`bootstrap_frame_map`.
    confidence : float, default 0.95
    seed : int, default 0

    Returns
    -------
    LocalizationResult
        One threshold; :attr:`~LocalizationResult.map` is the frame-mAP.

    Raises
    ------
    AnnotationError
        A table breaks its schema (:func:`~bench.tasks.localization.boxes.validate_boxes`).
    ValueError
        A parameter out of range.

    Notes
    -----
    Differences from the AVA evaluator, all in cases it leaves to chance: ties in score and
    in IoU follow the fixed rule above (the evaluator's unstable sorts leave them to the sort
    implementation), and so do ties at the per-keyframe cap (the evaluator's heap compares
    ``(score, action_id, y1, x1, y2, x2)``). The evaluator keys a keyframe by
    ``int(timestamp)``; here timestamps are compared as given, so AVA's whole-second
    timestamps behave the same. A box of zero width or height in the ground truth stays
    there (it counts in ``n_ground_truth`` and can only be missed), as in the evaluator.

    The ACT-detector code often used for the frame-AP of UCF101-24 and J-HMDB removes each
    matched box and lets a later detection take the best *remaining* box (a fallback), and
    integrates precision over recall by trapezoids instead of VOC's envelope; both give
    slightly different numbers from this (AVA / VOC) protocol.

    Examples
    --------
    Two actors; the first found at IoU exactly 0.5, a false positive, then the second:

    >>> import pandas as pd
    >>> gt = pd.DataFrame({"video_id": ["v", "v"], "timestamp": [902.0, 902.0],
    ...                    "x1": [0.0, 0.5], "y1": [0.0, 0.5], "x2": [0.4, 0.9],
    ...                    "y2": [0.4, 0.9], "label": ["stand", "stand"]})
    >>> det = pd.DataFrame({"video_id": ["v"] * 3, "timestamp": [902.0] * 3,
    ...                     "x1": [0.0, 0.0, 0.5], "y1": [0.0, 0.6, 0.5],
    ...                     "x2": [0.4, 0.1, 0.9], "y2": [0.2, 0.7, 0.9],
    ...                     "label": ["stand"] * 3, "score": [0.9, 0.8, 0.7]})
    >>> round(frame_map(gt, det).map, 6)  # 1/2 * 1 + 1/2 * 2/3
    0.833333
    """
    thr = _threshold(iou_threshold)
    n_boot = _check_n_boot(n_boot)
    frames = _frames(ground_truth, detections, classes=classes, excluded=excluded,
                     max_detections_per_keyframe=max_detections_per_keyframe, videos=videos)
    tp = _voc_match(frames, thr)
    ap = _class_aps(frames.det_class, tp, frames.n_gt)
    interval = None
    if n_boot:
        interval = _percentile_interval(_bootstrap(frames, tp, n_boot, seed), confidence)
    return LocalizationResult((thr,), tuple(str(c) for c in frames.classes), ap[:, None],
                              frames.n_gt, frames.n_det, interval)


def bootstrap_frame_map(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                        iou_threshold: float = 0.5, *, classes: Sequence[str] | None = None,
                        excluded: pd.DataFrame | Sequence[tuple[str, float]] | None = None,
                        max_detections_per_keyframe: int | None = None,
                        videos: Sequence[str] | None = None, n_boot: int = 1000,
                        seed: int = 0) -> np.ndarray:
    """The frame-mAP of ``n_boot`` resamples of the videos (with replacement).

    The video is the unit of the sample: keyframes of one video share actors and scenes, and
    a detection is matched within its keyframe only, so the matching does not change under
    resampling and runs once. Each resample draws as many videos as the sample has
    (``videos``; default those with ground truth or with a detection of a class that has
    ground truth), ``numpy.random.default_rng(seed)``, as the detection task's
    :func:`~bench.tasks.detection.metrics.bootstrap_map` does; a video drawn k times counts k
    times, its ground truth and its detections alike (the copies ranked next to each other).
    A class without ground truth in a resample is left out of that resample's mean. The
    parameters are those of :func:`frame_map`; the percentile interval of these values is
    :attr:`LocalizationResult.interval` (``frame_map(..., n_boot=...)``).

    Returns
    -------
    ndarray of float, shape (n_boot,)

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall,
    ch. 13. https://doi.org/10.1201/9780429246593
    """
    thr = _threshold(iou_threshold)
    if _check_n_boot(n_boot) < 1:
        raise ValueError(f"The 'n_boot' parameter must be an int >= 1. Got {n_boot!r} instead.")
    frames = _frames(ground_truth, detections, classes=classes, excluded=excluded,
                     max_detections_per_keyframe=max_detections_per_keyframe, videos=videos)
    return _bootstrap(frames, _voc_match(frames, thr), int(n_boot), seed)


def person_detection(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                     iou_threshold: float = 0.5, *,
                     excluded: pd.DataFrame | Sequence[tuple[str, float]] | None = None
                     ) -> PersonDetectionResult:
    """AP and recall of the actor boxes, whatever their actions (class-agnostic).

    Labels are dropped and each table reduced to its unique boxes per keyframe (same
    ``video_id, timestamp, x1, y1, x2, y2``): a ground-truth person with three actions is one
    box; a detected box is scored by the highest score of its rows (a method that scores each
    action of one box gives the box its best). The boxes are then matched by frame-mAP's VOC
    rule at ``iou_threshold`` as one class. This measures the person detector of a two-stage
    method (Gu et al. 2018) apart from its action classifier.

    Parameters
    ----------
    ground_truth, detections : DataFrame
        As in :func:`frame_map`.
    iou_threshold : float, default 0.5
    excluded : DataFrame or sequence of (video_id, timestamp), optional
        As in :func:`frame_map`.

    Returns
    -------
    PersonDetectionResult
        Recall is the share of ground-truth boxes matched when every detection is counted.
    """
    thr = _threshold(iou_threshold)
    keys = ["video_id", "timestamp", *_BOX]
    gt = validate_boxes(ground_truth, what="ground truth")
    det = validate_box_detections(detections)
    gt = gt.drop_duplicates(keys, ignore_index=True)[keys].assign(label="person")
    det = det.groupby(keys, sort=False, as_index=False)["score"].max().assign(label="person")
    frames = _frames(gt, det, classes=None, excluded=excluded,
                     max_detections_per_keyframe=None, videos=None)
    tp = _voc_match(frames, thr)
    n_gt = int(frames.n_gt.sum())
    if not n_gt:
        return PersonDetectionResult(thr, float("nan"), float("nan"), 0, len(tp))
    ap = float(_class_aps(frames.det_class, tp, frames.n_gt)[0])
    return PersonDetectionResult(thr, ap, float(tp.sum() / n_gt), n_gt, len(tp))


# --- tubes ---------------------------------------------------------------------------------

@dataclass
class _Tubes:
    """One row per tube (sorted by class, video, tube id) and its boxes (by tube, frame)."""

    tube_class: np.ndarray
    tube_video: np.ndarray
    tube_rank: np.ndarray  # the tube id's position in the sorted ids
    first: np.ndarray
    last: np.ndarray
    score: np.ndarray
    box_tube: np.ndarray
    box_frame: np.ndarray
    box: np.ndarray


def _tubes(table: pd.DataFrame, class_list: np.ndarray, universe: np.ndarray,
           id_list: np.ndarray) -> _Tubes:
    """Encode a validated tubes table whose labels and videos are all in the lists."""
    cls = _codes(table["label"].to_numpy(dtype=str), class_list)[0]
    vid = _codes(table["video_id"].to_numpy(dtype=str), universe)[0]
    tid = _codes(table["tube_id"].to_numpy(dtype=str), id_list)[0]
    frame = table["frame"].to_numpy(dtype=np.int64)
    order = np.lexsort((frame, tid, vid, cls))
    cls, vid, tid, frame = cls[order], vid[order], tid[order], frame[order]
    new = np.r_[True, (cls[1:] != cls[:-1]) | (vid[1:] != vid[:-1]) | (tid[1:] != tid[:-1])] \
        if len(order) else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(order)] - 1 if len(order) else starts
    score = table["score"].to_numpy(dtype=np.float64)[order] if "score" in table.columns \
        else np.zeros(len(order))
    return _Tubes(cls[starts], vid[starts], tid[starts], frame[starts], frame[ends],
                  score[starts], np.cumsum(new) - 1, frame,
                  table[_BOX].to_numpy(dtype=np.float64)[order])


def _tube_overlaps(a: _Tubes, b: _Tubes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tube of a, tube of b, tube IoU)`` for every pair of the same class and video with at
    least one frame both have a box in; other pairs have tube IoU 0."""
    n_a = len(a.box_tube)
    rows = np.column_stack([np.concatenate([a.tube_class[a.box_tube], b.tube_class[b.box_tube]]),
                            np.concatenate([a.tube_video[a.box_tube], b.tube_video[b.box_tube]]),
                            np.concatenate([a.box_frame, b.box_frame])])
    if not len(rows):
        return (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0),)
    key = np.unique(rows, axis=0, return_inverse=True)[1].ravel()
    key_a, key_b = key[:n_a], key[n_a:]
    b_order = np.argsort(key_b, kind="stable")
    ra, rb = candidate_pairs(key_a, key_b[b_order])
    rb = b_order[rb]
    ta, tb = a.box_tube[ra], b.box_tube[rb]
    pa, pb = a.box[ra], b.box[rb]
    iou = _pair_iou(pa[:, 0], pa[:, 1], pa[:, 2], pa[:, 3], pb[:, 0], pb[:, 1], pb[:, 2], pb[:, 3])
    pair = ta.astype(np.int64) * max(len(b.first), 1) + tb
    order = np.lexsort((a.box_frame[ra], pair))  # sum each pair's IoUs in frame order
    pairs, inverse = np.unique(pair[order], return_inverse=True)
    spatial = np.bincount(inverse, weights=iou[order]) / np.bincount(inverse)
    ia, ib = pairs // max(len(b.first), 1), pairs % max(len(b.first), 1)
    inter = np.minimum(a.last[ia], b.last[ib]) - np.maximum(a.first[ia], b.first[ib]) + 1
    union = np.maximum(a.last[ia], b.last[ib]) - np.minimum(a.first[ia], b.first[ib]) + 1
    return ia, ib, (inter / union) * spatial


def tube_iou(tube: np.ndarray, other: np.ndarray) -> float:
    """Spatio-temporal IoU of two tubes (Weinzaepfel et al. 2015; Gkioxari & Malik 2015).

    ``temporal IoU x spatial term``: the temporal IoU of the frame ranges ``[first, last]``
    counted in frames (a tube on frames 5..9 covers 5 frames, so two tubes on 0..9 and 5..14
    have temporal IoU 5 / 15), and the mean of the per-frame box IoU
    (:func:`~bench.tasks.localization.boxes.box_iou`) over the frames both tubes have a box
    in; 0 when they share no frame.

    Parameters
    ----------
    tube, other : array of shape (n, 5)
        ``[frame, x1, y1, x2, y2]`` rows, at most one per frame, in any order.

    Returns
    -------
    float

    Notes
    -----
    For tubes without gaps (a box at every frame of their range, as UCF101-24 and J-HMDB
    annotate and as linked detections are) this is the ``iou3dt`` of the ACT-detector code.
    A tube with gaps is not penalised for the frames it misses inside the common range; only
    frames both cover enter the mean.

    Examples
    --------
    >>> a = [[f, 0, 0, 10, 10] for f in range(10)]
    >>> b = [[f, 0, 0, 10, 5] for f in range(5, 15)]
    >>> round(tube_iou(a, b), 6)  # 5/15 * 0.5
    0.166667
    """
    tables = []
    for name, rows in (("tube", tube), ("other", other)):
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        tables.append(validate_tubes(pd.DataFrame({
            "video_id": "v", "tube_id": name, "label": "x", "frame": rows[:, 0],
            "x1": rows[:, 1], "y1": rows[:, 2], "x2": rows[:, 3], "y2": rows[:, 4]}),
            what=f"'{name}' tube"))
    one = np.asarray(["x"]), np.asarray(["v"])
    a = _tubes(tables[0], *one, np.asarray(["tube"]))
    b = _tubes(tables[1], *one, np.asarray(["other"]))
    _, _, iou = _tube_overlaps(a, b)
    return float(iou[0]) if len(iou) else 0.0


def _greedy_free(det: _Tubes, ia: np.ndarray, ib: np.ndarray, iou: np.ndarray, n_gt: int,
                 thresholds: np.ndarray) -> np.ndarray:
    """True positives ``(n_thresholds, n_detected_tubes)``: in ranking order, each detected
    tube takes the free ground-truth tube of highest IoU (ties: the first) if it reaches the
    threshold. Detected tubes of different (class, video) never compete, so the loop runs
    over the rank inside a (class, video) and handles that rank of every group at once."""
    n_thr, n_det = len(thresholds), len(det.first)
    tp = np.zeros((n_thr, n_det), dtype=bool)
    if not len(ia):
        return tp
    group = det.tube_class.astype(np.int64) * (int(det.tube_video.max()) + 1) + det.tube_video
    rank = group_ranks(group)[ia]
    order = np.lexsort((ib, -iou, ia, rank))
    ia, ib, iou, rank = ia[order], ib[order], iou[order], rank[order]
    bounds = np.flatnonzero(np.r_[True, rank[1:] != rank[:-1], True])
    taken = np.zeros((n_thr, n_gt), dtype=bool)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
        d, g = ia[lo:hi], ib[lo:hi]
        t_idx, p_idx = np.nonzero((iou[lo:hi] >= thresholds[:, None]) & ~taken[:, g])
        if not len(t_idx):
            continue
        key = t_idx * n_det + d[p_idx]
        first = np.r_[True, key[1:] != key[:-1]]  # per threshold and tube: the best free one
        tp[t_idx[first], d[p_idx[first]]] = True
        taken[t_idx[first], g[p_idx[first]]] = True
    return tp


def video_map(gt_tubes: pd.DataFrame, det_tubes: pd.DataFrame,
              thresholds: Sequence[float] = VIDEO_MAP_THRESHOLDS, *,
              classes: Sequence[str] | None = None) -> LocalizationResult:
    """Video-mAP: VOC AP of whole action tubes per class, at tube-IoU thresholds.

    Parameters
    ----------
    gt_tubes : DataFrame
        :data:`~bench.tasks.localization.boxes.TUBE_COLUMNS` ``video_id, tube_id, label,
        frame, x1, y1, x2, y2``: one row per frame of a tube; a tube is the rows of one
        ``(video_id, tube_id, label)``.
    det_tubes : DataFrame
        The same plus ``score``, one score per tube (repeated on its rows).
    thresholds : sequence of float, default (0.2, 0.5)
        Tube-IoU thresholds in (0, 1] (UCF101-24 also reports the mean over 0.5:0.05:0.95).
    classes : sequence of str, optional
        Evaluate only these labels (compared as strings).

    Returns
    -------
    LocalizationResult
        ``n_ground_truth`` and ``n_detections`` count tubes.

    Raises
    ------
    AnnotationError
        A table breaks its schema (:func:`~bench.tasks.localization.boxes.validate_tubes`).
    ValueError
        Thresholds outside (0, 1].

    Notes
    -----
    The protocol (module docstring): tube IoU by :func:`tube_iou`; per class, detected tubes
    by descending score, ties by video id then tube id (as strings); each takes the free
    ground-truth tube of its class and video with the highest tube IoU (ties: the smaller
    tube id) if that IoU is at least the threshold, else it is a false positive; a detected
    tube falls back to the next free ground truth (the ACT-detector evaluation's rule, unlike
    frame-mAP's VOC rule). AP is VOC's all-point AP; the ACT-detector code integrates the raw
    precision-recall curve by trapezoids instead, which gives slightly different numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> gt = pd.DataFrame({"video_id": "v", "tube_id": "0", "label": "run",
    ...                    "frame": range(10), "x1": 0.0, "y1": 0.0, "x2": 10.0, "y2": 10.0})
    >>> det = gt.assign(frame=gt["frame"] + 5, y2=5.0, score=0.9)  # tube IoU 5/15 * 0.5
    >>> video_map(gt, det).map_per_threshold.tolist()
    [0.0, 0.0]
    >>> video_map(gt, det, thresholds=(0.1,)).map
    1.0
    """
    thr = _thresholds(thresholds)
    gt = validate_tubes(gt_tubes, scored=False)
    det = validate_tubes(det_tubes, scored=True)
    if classes is not None:
        subset = {str(c) for c in classes}
        gt = gt[gt["label"].isin(subset).to_numpy()]
        det = det[det["label"].isin(subset).to_numpy()]
    class_list = np.unique(gt["label"].to_numpy(dtype=str))
    det = det[_codes(det["label"].to_numpy(dtype=str), class_list)[1]]
    universe = np.unique(np.concatenate([gt["video_id"].to_numpy(dtype=str),
                                         det["video_id"].to_numpy(dtype=str)]))
    ids = np.unique(np.concatenate([gt["tube_id"].to_numpy(dtype=str),
                                    det["tube_id"].to_numpy(dtype=str)]))
    gt_t, det_t = _tubes(gt, class_list, universe, ids), _tubes(det, class_list, universe, ids)
    # Detected tubes into ranking order (by class), their boxes renumbered to match.
    rank = np.lexsort((det_t.tube_rank, det_t.tube_video, -det_t.score, det_t.tube_class))
    position = np.empty_like(rank)
    position[rank] = np.arange(len(rank))
    det_t = _Tubes(det_t.tube_class[rank], det_t.tube_video[rank], det_t.tube_rank[rank],
                   det_t.first[rank], det_t.last[rank], det_t.score[rank],
                   position[det_t.box_tube], det_t.box_frame, det_t.box)
    ia, ib, iou = _tube_overlaps(det_t, gt_t)
    tp = _greedy_free(det_t, ia, ib, iou, len(gt_t.first), thr)
    n_gt = np.bincount(gt_t.tube_class, minlength=len(class_list))
    ap = np.stack([_class_aps(det_t.tube_class, tp[k], n_gt) for k in range(len(thr))], axis=1) \
        if len(class_list) else np.zeros((0, len(thr)))
    return LocalizationResult(tuple(float(t) for t in thr), tuple(str(c) for c in class_list),
                              ap, n_gt, np.bincount(det_t.tube_class, minlength=len(class_list)))
