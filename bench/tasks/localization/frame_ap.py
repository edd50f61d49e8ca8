"""Frame-mAP: PASCAL VOC average precision of actor boxes at keyframes, class by class.

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
   and of the AVA evaluator (:func:`bench.tasks._ranking.interpolated_average_precision`:
   precision made monotone from the right, summed over the recall steps; [2]_ describes its
   11-point predecessor). A class with ground truth and no detection has AP 0.

The AVA script's preprocessing steps are options of :func:`frame_map`: a class list (its
label map of 60 classes), excluded keyframes (dropped from both tables) and a cap on the
detections kept per keyframe (the 50 best, :data:`AVA_MAX_DETECTIONS_PER_KEYFRAME`). The
AVA evaluator also drops detections of zero width or height before matching (its
``_remove_invalid_boxes``); so does this module.

The per-class AP and the video bootstrap are the ones the detection task uses
(:mod:`bench.tasks._ranking`; the weighted AP of a resample is the detection task's kernel,
:func:`bench.tasks.detection.metrics.weighted_map`). Person detection
(:mod:`bench.tasks.localization.persons`) reuses this module's matching on class-agnostic
boxes.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tasks._ranking import (
    candidate_pairs,
    class_average_precision,
    codes_in,
    group_ranks,
    percentile_interval,
    resample_counts,
)
from bench.tasks.detection._kernels import Encoded
from bench.tasks.detection.metrics import weighted_map
from bench.tasks.localization.boxes import (
    CORNER_COLUMNS,
    _pair_iou,
    validate_box_detections,
    validate_boxes,
    validate_keyframes,
)
from bench.tasks.localization.result import LocalizationResult

__all__ = ["AVA_MAX_DETECTIONS_PER_KEYFRAME", "frame_map", "bootstrap_frame_map"]

#: Detections the AVA evaluator keeps per keyframe (the best by score, over all classes).
AVA_MAX_DETECTIONS_PER_KEYFRAME = 50


def _threshold(value: float) -> float:
    if not isinstance(value, (int, float, np.floating, np.integer)) or not 0 < value <= 1:
        raise ValueError(f"The 'iou_threshold' parameter must be a number in (0, 1]. "
                         f"Got {value!r} instead.")
    return float(value)


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
    box = det[list(CORNER_COLUMNS)].to_numpy()
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
    det_class, known = codes_in(det["label"].to_numpy(dtype=str), class_list)
    det = det[known]
    det_class = det_class[known]
    gt_ids = gt["video_id"].to_numpy(dtype=str)
    det_ids = det["video_id"].to_numpy(dtype=str)
    extra = np.asarray([] if videos is None else [str(v) for v in videos], dtype=str)
    universe = np.unique(np.concatenate([gt_ids, det_ids, extra]))
    gt_video, det_video = codes_in(gt_ids, universe)[0], codes_in(det_ids, universe)[0]
    keyframe = _keyframes(np.concatenate([gt_video, det_video]),
                          np.concatenate([gt["timestamp"].to_numpy(),
                                          det["timestamp"].to_numpy()]))
    gt_keyframe, det_keyframe = keyframe[:len(gt)], keyframe[len(gt):]
    gt_class = codes_in(gt["label"].to_numpy(dtype=str), class_list)[0]
    gt_box, det_box = gt[list(CORNER_COLUMNS)].to_numpy(), det[list(CORNER_COLUMNS)].to_numpy()
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
    ap = class_average_precision(frames.det_class, tp, frames.n_gt)
    interval = None
    if n_boot:
        interval = percentile_interval(_bootstrap(frames, tp, n_boot, seed), confidence)
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
