"""Boxes and keyframes of the localization protocol: checks, IoU, NMS and the 1 Hz keyframes.

Boxes are ``x1, y1, x2, y2`` fractions of the frame (the method protocol's), or pixels of a
decoded frame, in continuous coordinates (pixel ``i`` covers ``[i, i + 1)``), so a box's area
is ``(x2 - x1) (y2 - y1)`` with no "+1" (as the AVA evaluator computes it).

Keyframes follow the ground truth's rule, :func:`bench.data.keyframes.keyframe_frames` (a light
module of the data stage that the tracks may import).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.data.keyframes import keyframe_frames

__all__ = ["TRAINING_COLUMNS", "OUTPUT_COLUMNS", "box_iou", "nms", "keyframes",
           "check_training_boxes", "empty_output"]

#: Columns the localizers read from the training ground truth.
TRAINING_COLUMNS = ("video", "timestamp", "x1", "y1", "x2", "y2", "label")
#: How far a coordinate may leave [0, 1] (rounding in files written by others); clipped.
BOX_TOLERANCE = 1e-6
#: Columns ``localize`` returns (the method protocol's).
OUTPUT_COLUMNS = ("video", "timestamp", "x1", "y1", "x2", "y2", "label", "score")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(n, 4)`` and ``(m, 4)`` boxes ``x1, y1, x2, y2``: ``(n, m)``.

    A pair whose union is empty (two boxes without area) has IoU 0.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2])
                 - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3])
                 - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression: the indices kept, best score first.

    Boxes are visited by descending score (ties: the lower index first); a box is kept unless
    it overlaps an already kept one by IoU ``> iou`` (Girshick et al. 2014's rule, as in
    Faster R-CNN and the usual library implementations).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(scores)} scores.")
    if not 0.0 <= float(iou) <= 1.0:
        raise ValueError(f"The 'iou' parameter of nms must be in [0, 1]. Got {iou!r}.")
    order = np.lexsort((np.arange(len(scores)), -scores))
    overlap = box_iou(boxes, boxes)
    alive = np.ones(len(boxes), dtype=bool)
    keep = []
    for i in order:
        if not alive[i]:
            continue
        keep.append(int(i))
        alive &= overlap[i] <= iou
    return np.array(keep, dtype=np.int64)


def keyframes(n_frames: int, fps: float, rate_hz: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The keyframes of a video: ``(frames, timestamps)`` by the ground truth's rule
    (:func:`bench.data.keyframes.keyframe_frames`).

    Raises
    ------
    ValueError
        A frame rate that is not positive, or a keyframe rate above it.
    """
    return keyframe_frames(int(n_frames), fps, rate_hz)


def check_training_boxes(videos: np.ndarray, boxes: pd.DataFrame, n_classes: int | None,
                         what: str) -> tuple[pd.DataFrame, int]:
    """The training ground truth checked: a copy with ``video`` as str, and the class count.

    Raises
    ------
    ValueError
        Not a DataFrame, a missing column, a video not among ``videos``, a label outside
        ``range(n_classes)``, or a box that is not finite inside ``[0, 1]`` with
        ``x1 <= x2, y1 <= y2``.
    """
    if not isinstance(boxes, pd.DataFrame):
        raise ValueError(f"{what}: boxes must be a pandas DataFrame with columns "
                         f"{', '.join(TRAINING_COLUMNS)}. Got {type(boxes).__name__}.")
    missing = [c for c in TRAINING_COLUMNS if c not in boxes.columns]
    if missing:
        raise ValueError(f"{what}: the training boxes lack the column(s) {missing}; they need "
                         f"{', '.join(TRAINING_COLUMNS)} (and optionally frame, person_id).")
    table = boxes.copy()
    table["video"] = table["video"].astype(str)
    unknown = sorted(set(table["video"]) - set(map(str, videos)))
    if unknown:
        raise ValueError(f"{what}: boxes name video(s) not in videos, e.g. {unknown[:3]}; the "
                         "'video' column must hold exactly the paths passed as videos.")
    labels = table["label"].to_numpy()
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
        raise ValueError(f"{what}: box labels must be non-negative ints (class indices). "
                         f"Got dtype {labels.dtype}.")
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if len(labels) else 1
    if len(labels) and labels.max() >= n_classes:
        raise ValueError(f"{what}: label {int(labels.max())} is out of range for "
                         f"n_classes={n_classes}.")
    xyxy = table[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(xyxy).all(axis=1) | (xyxy.min(axis=1, initial=0) < -BOX_TOLERANCE) | \
        (xyxy.max(axis=1, initial=0) > 1 + BOX_TOLERANCE) | (xyxy[:, 2] < xyxy[:, 0]) | \
        (xyxy[:, 3] < xyxy[:, 1])
    if bad.any():
        row = table.index[np.flatnonzero(bad)[0]]
        raise ValueError(f"{what}: box row {row} is not a box in fractions of the frame "
                         f"(0 <= x1 <= x2 <= 1, 0 <= y1 <= y2 <= 1): "
                         f"{xyxy[np.flatnonzero(bad)[0]].tolist()}.")
    table[["x1", "y1", "x2", "y2"]] = np.clip(xyxy, 0.0, 1.0)
    return table, int(n_classes)


def empty_output() -> pd.DataFrame:
    """An empty ``localize`` table with the protocol's columns and dtypes."""
    return pd.DataFrame({c: pd.Series([], dtype=object if c == "video" else
                                      np.int64 if c == "label" else np.float64)
                         for c in OUTPUT_COLUMNS})
