"""The vectorised core of the detection metrics: codes, candidate pairs, matching and AP.

Everything works on integer codes and flat arrays. A *group* is one (class, video); detections
and ground truth only ever meet inside a group. Matching is sequential within a group (a
detection can only take what better-scored ones left), but groups are independent, so the
loop runs over the *rank* of a detection inside its group, handling the rank-r detection of
every group at once: as many steps as the largest group has detections, not one per group.

The helpers that do not depend on what a detection is (:func:`candidate_pairs`,
:func:`group_ranks`, the codes behind :func:`codes_of`) are :mod:`bench.tasks._ranking`'s,
shared with the localization task; the first two are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from bench.tasks._ranking import candidate_pairs, codes_in, group_ranks

__all__ = ["pair_iou", "Encoded", "encode", "codes_of", "candidate_pairs", "greedy_match",
           "overlaps_any", "group_ranks", "average_precision"]


def pair_iou(s1: np.ndarray, e1: np.ndarray, s2: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Temporal IoU of aligned pairs of segments; 0 where the union is empty."""
    inter = np.clip(np.minimum(e1, e2) - np.maximum(s1, s2), 0.0, None)
    union = (e1 - s1) + (e2 - s2) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class Encoded:
    """Detections and ground truth as codes, each table in its canonical order.

    Detections: kept only where their label has ground truth, ordered by class, then score
    (descending), video id, start, end and input position. Ground truth: ordered by class,
    video id, start, end and input position. ``videos`` and ``classes`` are sorted, so code
    order is the order of the ids themselves.
    """

    videos: np.ndarray
    classes: np.ndarray
    det_video: np.ndarray
    det_class: np.ndarray
    det_start: np.ndarray
    det_end: np.ndarray
    det_score: np.ndarray
    gt_video: np.ndarray
    gt_class: np.ndarray
    gt_start: np.ndarray
    gt_end: np.ndarray

    @property
    def n_videos(self) -> int:
        return len(self.videos)

    def class_bounds(self, codes: np.ndarray) -> np.ndarray:
        """Start of each class's run in a class-sorted code array, plus the end."""
        return np.searchsorted(codes, np.arange(len(self.classes) + 1), side="left")


def encode(ground_truth: pd.DataFrame, detections: pd.DataFrame,
           videos: Sequence[str] | None = None) -> Encoded:
    """Codes of two validated tables.

    The video universe: the videos with ground truth, with a detection of a class that has
    ground truth, and ``videos`` (the test set's, where given).
    """
    gt_ids = ground_truth["video_id"].to_numpy(dtype=object).astype(str)
    det_ids = detections["video_id"].to_numpy(dtype=object).astype(str)
    classes = np.unique(ground_truth["label"].to_numpy(dtype=str))
    det_labels = detections["label"].to_numpy(dtype=str)
    det_class = np.searchsorted(classes, det_labels)
    known = np.zeros(len(det_labels), dtype=bool)
    inside = det_class < len(classes)
    known[inside] = classes[det_class[inside]] == det_labels[inside]
    extra = np.asarray([] if videos is None else list(videos), dtype=object).astype(str)
    universe = np.unique(np.concatenate([gt_ids, det_ids[known], extra]))
    det_video = np.searchsorted(universe, det_ids)
    d_start = detections["t_start"].to_numpy(dtype=np.float64)
    d_end = detections["t_end"].to_numpy(dtype=np.float64)
    d_score = detections["score"].to_numpy(dtype=np.float64)
    keep = np.flatnonzero(known)
    order = keep[np.lexsort((keep, d_end[keep], d_start[keep], det_video[keep], -d_score[keep],
                             det_class[keep]))]
    gt_class = np.searchsorted(classes, ground_truth["label"].to_numpy(dtype=str))
    gt_video = np.searchsorted(universe, gt_ids)
    g_start = ground_truth["t_start"].to_numpy(dtype=np.float64)
    g_end = ground_truth["t_end"].to_numpy(dtype=np.float64)
    g_order = np.lexsort((np.arange(len(gt_class)), g_end, g_start, gt_video, gt_class))
    return Encoded(universe, classes, det_video[order], det_class[order], d_start[order],
                   d_end[order], d_score[order], gt_video[g_order], gt_class[g_order],
                   g_start[g_order], g_end[g_order])


def codes_of(universe: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Codes of ``ids`` in the sorted ``universe``; -1 for ids not in it."""
    codes, found = codes_in(np.asarray(ids, dtype=object).astype(str), universe)
    return np.where(found, codes, -1)


def greedy_match(enc: Encoded, thresholds: np.ndarray) -> np.ndarray:
    """True positives, shape ``(n_thresholds, n_detections)``, by the ActivityNet rule.

    Within each class, detections are taken in their canonical order (best score first);
    each one takes, among the ground truth of its video and class not taken yet, the one of
    highest tIoU (ties: the first in canonical order) if that tIoU is at least the threshold,
    and is a false positive otherwise.
    """
    n_thr, n_det = len(thresholds), len(enc.det_video)
    tp = np.zeros((n_thr, n_det), dtype=bool)
    if not n_det or not len(enc.gt_video):
        return tp
    n_vid = max(enc.n_videos, 1)
    det_key = enc.det_class.astype(np.int64) * n_vid + enc.det_video
    gt_key = enc.gt_class.astype(np.int64) * n_vid + enc.gt_video  # sorted: canonical order
    det, gt = candidate_pairs(det_key, gt_key)
    iou = pair_iou(enc.det_start[det], enc.det_end[det], enc.gt_start[gt], enc.gt_end[gt])
    keep = iou >= thresholds.min()
    det, gt, iou = det[keep], gt[keep], iou[keep]
    rank = group_ranks(det_key)[det]
    order = np.lexsort((gt, -iou, det, rank))
    det, gt, iou, rank = det[order], gt[order], iou[order], rank[order]
    bounds = np.flatnonzero(np.r_[True, rank[1:] != rank[:-1], True]) if len(rank) else []
    taken = np.zeros((n_thr, len(enc.gt_video)), dtype=bool)
    thr = thresholds[:, None]
    for start, stop in zip(bounds[:-1], bounds[1:], strict=False):
        d, g = det[start:stop], gt[start:stop]
        # Rows: thresholds; within a row the pairs run by detection, best tIoU first. One
        # detection per group at this rank, so no two of them compete for a ground truth.
        t_idx, p_idx = np.nonzero((iou[start:stop] >= thr) & ~taken[:, g])
        if not len(t_idx):
            continue
        key = t_idx * n_det + d[p_idx]
        first = np.r_[True, key[1:] != key[:-1]]
        tp[t_idx[first], d[p_idx[first]]] = True
        taken[t_idx[first], g[p_idx[first]]] = True
    return tp


def overlaps_any(video: np.ndarray, start: np.ndarray, end: np.ndarray,
                 other_video: np.ndarray, other_start: np.ndarray,
                 other_end: np.ndarray) -> np.ndarray:
    """Whether each segment overlaps (positive-length intersection) one of the others."""
    out = np.zeros(len(video), dtype=bool)
    if not len(video) or not len(other_video):
        return out
    order = np.argsort(other_video, kind="stable")
    query, target = candidate_pairs(video, other_video[order])
    target = order[target]
    inter = np.minimum(end[query], other_end[target]) - np.maximum(start[query],
                                                                   other_start[target])
    out[query[inter > 0]] = True
    return out


def average_precision(enc: Encoded, tp: np.ndarray, counted: np.ndarray,
                      weights: np.ndarray) -> np.ndarray:
    """AP of every class at every threshold for each row of video ``weights``.

    ``weights`` has shape ``(n_resamples, n_videos)``: how many times each video counts (all
    ones for the plain metric). A detection of weight ``w`` stands for ``w`` copies ranked
    next to each other. Returns ``(n_resamples, n_thresholds, n_classes)``; NaN where a class
    has no ground truth in a resample.

    Only the true positives need a precision: between two true positives of the ranking,
    precision only falls, so the monotone envelope at a true positive is the largest
    precision of the true positives from it down the ranking. The false positives ranked
    above each true positive are counted per video once, and a matrix product weighs them for
    every resample, so the work per resample grows with the true positives (at most the
    ground truth) times the videos, not with the detections.
    """
    n_boot, n_thr, n_cls = len(weights), tp.shape[0], len(enc.classes)
    out = np.full((n_boot, n_thr, n_cls), np.nan)
    if not n_cls:
        return out
    # Many small matrix products: BLAS threads only cost here (and stall on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _average_precision_kernel(enc, tp, counted, weights, out)


def _average_precision_kernel(enc: Encoded, tp: np.ndarray, counted: np.ndarray,
                              weights: np.ndarray, out: np.ndarray) -> np.ndarray:
    n_thr = tp.shape[0]
    det_bounds = enc.class_bounds(enc.det_class)
    gt_bounds = enc.class_bounds(enc.gt_class)
    n_gt = np.add.reduceat(weights[:, enc.gt_video], gt_bounds[:-1], axis=1).astype(np.float64)
    # Resamples on the last axis: gathers take whole rows, cumulative sums run down columns.
    by_video = np.ascontiguousarray(weights.T, dtype=np.float64)
    for c in range(len(enc.classes)):
        lo, hi = det_bounds[c], det_bounds[c + 1]
        has_gt = n_gt[:, c] > 0
        out[has_gt, :, c] = 0.0
        if hi == lo:
            continue
        videos, video = np.unique(enc.det_video[lo:hi], return_inverse=True)
        w_videos = by_video[videos]
        for k in range(n_thr):
            hits = np.flatnonzero(tp[k, lo:hi])
            if not len(hits):
                continue
            misses = np.flatnonzero(counted[k, lo:hi] & ~tp[k, lo:hi])
            # above[j, v]: false positives of video v ranked above the j-th true positive.
            bucket = np.searchsorted(hits, misses)
            counts = np.bincount(bucket * len(videos) + video[misses],
                                 minlength=(len(hits) + 1) * len(videos))
            above = np.cumsum(counts.reshape(len(hits) + 1, len(videos)), axis=0)[:-1]
            w_hits = w_videos[video[hits]]
            ctp = np.cumsum(w_hits, axis=0)
            seen = ctp + above.astype(np.float64) @ w_videos
            precision = np.divide(ctp, seen, out=np.zeros_like(ctp), where=seen > 0)
            envelope = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
            with np.errstate(divide="ignore", invalid="ignore"):
                ap = np.sum(w_hits * envelope, axis=0) / n_gt[:, c]
            out[:, k, c] = np.where(has_gt, ap, np.nan)
    return out
