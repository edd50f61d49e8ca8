"""Boxes ``(x1, y1, x2, y2)``: pairwise IoU, greedy non-maximum suppression, the top scores.

Area is ``(x2 - x1) * (y2 - y1)`` (no "+1 pixel"), as in the AVA evaluator; the task's own
metric code (:mod:`bench.tasks.localization`) is not imported by the classical track.
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_iou", "nms", "top_scores"]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(n, 4)`` and ``(m, 4)`` boxes ``x1, y1, x2, y2``: ``(n, m)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0],
                                                                         b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1],
                                                                         b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, top_k: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, by descending score (ties: input order).

    A box is dropped when its IoU with a kept box of higher rank exceeds ``iou``.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    keep: list[int] = []
    suppressed = np.zeros(len(order), dtype=bool)
    overlaps = box_iou(boxes, boxes) if len(boxes) else np.zeros((0, 0))
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        if top_k is not None and len(keep) >= top_k:
            break
        suppressed |= overlaps[i] > iou
    return np.array(keep, dtype=np.int64)


def top_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores (ties: input order), by descending score: the
    candidates of NMS, which never keeps a box ranked lower than its ``k``-th survivor."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return order[:k]
