"""Video-mAP: VOC average precision of whole action tubes, class by class, at tube IoU.

**Video-mAP** [1]_ [2]_ ranks whole tubes: the *tube IoU* of two tubes is the temporal IoU of
their frame ranges times the mean box IoU over the frames both have a box in (0 without a
common frame); per class, detected tubes by descending score (ties: video id, then tube id),
each takes, among the ground-truth tubes of its class and video *not yet taken*, the one of
highest tube IoU (ties: the smaller tube id) if that IoU reaches the threshold; VOC AP; the
mean over the classes. Unlike frame-mAP, a tube falls back to the next free ground truth: that
is the rule of the video-AP code the field reports with (the ACT-detector evaluation [3]_,
which deletes each matched ground-truth tube).

A tube is the rows of one ``(video_id, tube_id, label)`` of a tubes table
(:data:`~bench.tasks.localization.boxes.TUBE_COLUMNS`); the per-class AP is the one
frame-mAP and the detection task use (:mod:`bench.tasks._ranking`).

References
----------
.. [1] Gkioxari & Malik, "Finding action tubes", CVPR 2015.
   https://doi.org/10.1109/CVPR.2015.7298676
.. [2] Weinzaepfel, Harchaoui & Schmid, "Learning to track for spatio-temporal action
   localization", ICCV 2015. https://doi.org/10.1109/ICCV.2015.362
.. [3] Kalogeiton, Weinzaepfel, Ferrari & Schmid, "Action Tubelet Detector for
   Spatio-Temporal Action Localization", ICCV 2017. https://doi.org/10.1109/ICCV.2017.472
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tasks._ranking import (
    candidate_pairs,
    check_thresholds,
    class_average_precision,
    codes_in,
    group_ranks,
)
from bench.tasks.localization.boxes import CORNER_COLUMNS, _pair_iou, validate_tubes
from bench.tasks.localization.result import LocalizationResult

__all__ = ["VIDEO_MAP_THRESHOLDS", "tube_iou", "video_map"]

#: The tube-IoU thresholds video-mAP is usually reported at (UCF101-24, J-HMDB).
VIDEO_MAP_THRESHOLDS = (0.2, 0.5)


def _thresholds(values: Sequence[float]) -> np.ndarray:
    return check_thresholds(values, "'thresholds' parameter")


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
    cls = codes_in(table["label"].to_numpy(dtype=str), class_list)[0]
    vid = codes_in(table["video_id"].to_numpy(dtype=str), universe)[0]
    tid = codes_in(table["tube_id"].to_numpy(dtype=str), id_list)[0]
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
                  table[list(CORNER_COLUMNS)].to_numpy(dtype=np.float64)[order])


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
    det = det[codes_in(det["label"].to_numpy(dtype=str), class_list)[1]]
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
    ap = np.stack([class_average_precision(det_t.tube_class, tp[k], n_gt)
                   for k in range(len(thr))], axis=1) \
        if len(class_list) else np.zeros((0, len(thr)))
    return LocalizationResult(tuple(float(t) for t in thr), tuple(str(c) for c in class_list),
                              ap, n_gt, np.bincount(det_t.tube_class, minlength=len(class_list)))
