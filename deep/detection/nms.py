"""Temporal non-maximum suppression: hard NMS and Gaussian soft-NMS, per class.

Both detectors of :mod:`deep.detection` end with it: of overlapping segments of one class the
best-scored is kept and the others are dropped (hard NMS) or have their score decayed by
``exp(-iou**2 / sigma)`` (soft-NMS, Bodla et al. 2017, the ActionFormer default).

Ties in score are broken by the input order (a stable sort), so the result is deterministic.

References
----------
Bodla, N., Singh, B., Chellappa, R., Davis, L. S. (2017). Soft-NMS — improving object
detection with one line of code. ICCV. arXiv:1704.04503.
Zhang, C.-L., Wu, J., Li, Y. (2022). ActionFormer: localizing moments of actions with
transformers. ECCV. arXiv:2202.07925.
"""

from __future__ import annotations

import numpy as np

__all__ = ["segment_iou", "temporal_nms", "multiclass_nms"]


def segment_iou(start: float, end: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """tIoU of the segment ``[start, end]`` with each of ``[starts, ends]`` (0 for an empty
    union)."""
    inter = np.clip(np.minimum(end, ends) - np.maximum(start, starts), 0.0, None)
    union = (end - start) + (ends - starts) - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def temporal_nms(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, *,
                 iou_threshold: float = 0.5, method: str = "hard", sigma: float = 0.5,
                 min_score: float = 0.0, max_keep: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Suppress overlapping segments of one class.

    Parameters
    ----------
    starts, ends, scores : numpy.ndarray, shape (n,)
    iou_threshold : float, default 0.5
        Hard NMS: a segment whose tIoU with a kept one exceeds it is dropped.
    method : {"hard", "soft"}
        ``soft``: Gaussian soft-NMS; every remaining segment's score is multiplied by
        ``exp(-iou**2 / sigma)`` after each pick (``iou_threshold`` is not used).
    sigma : float, default 0.5
    min_score : float, default 0.0
        Segments whose (decayed) score falls to or below it are dropped (soft-NMS).
    max_keep : int, optional
        Keep at most this many.

    Returns
    -------
    keep : numpy.ndarray of int
        Indices into the inputs, best first.
    kept_scores : numpy.ndarray
        Their scores (decayed ones for soft-NMS).
    """
    if method not in ("hard", "soft"):
        raise ValueError(f"The 'method' parameter of temporal_nms must be 'hard' or 'soft'. "
                         f"Got {method!r} instead.")
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    remaining = np.asarray(scores, dtype=np.float64).copy()
    order = np.argsort(-remaining, kind="stable")
    starts, ends, remaining = starts[order], ends[order], remaining[order]
    alive = np.ones(len(order), dtype=bool)
    limit = len(order) if max_keep is None else int(max_keep)
    keep, kept = [], []
    while alive.any() and len(keep) < limit:
        candidates = np.flatnonzero(alive)
        best = candidates[np.argmax(remaining[candidates])]  # first of the ties: stable
        keep.append(order[best])
        kept.append(remaining[best])
        alive[best] = False
        rest = np.flatnonzero(alive)
        if not len(rest):
            break
        iou = segment_iou(starts[best], ends[best], starts[rest], ends[rest])
        if method == "hard":
            alive[rest[iou > iou_threshold]] = False
        else:
            remaining[rest] *= np.exp(-(iou * iou) / sigma)
            alive[rest[remaining[rest] <= min_score]] = False
    return np.asarray(keep, dtype=np.int64), np.asarray(kept, dtype=np.float64)


def multiclass_nms(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray,
                   labels: np.ndarray, *, max_keep: int | None = None, **options
                   ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`temporal_nms` within each label, then the best ``max_keep`` over all labels.

    Returns
    -------
    keep, kept_scores : numpy.ndarray
        Indices into the inputs and their scores, best first (ties by label, then index).
    """
    labels = np.asarray(labels)
    keep_all, score_all = [], []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        keep, kept = temporal_nms(starts[idx], ends[idx], scores[idx], max_keep=max_keep,
                                  **options)
        keep_all.append(idx[keep])
        score_all.append(kept)
    if not keep_all:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    keep, kept = np.concatenate(keep_all), np.concatenate(score_all)
    order = np.argsort(-kept, kind="stable")[:max_keep]
    return keep[order], kept[order]
