"""Person detection: AP and recall of the actor boxes, whatever their actions.

**Person detection** is frame-mAP's matching (:mod:`bench.tasks.localization.frame_ap`: the
VOC rule, each box to its best ground truth in its keyframe, no fallback) on class-agnostic
boxes (:func:`person_detection`): what the actor detector of a two-stage method is judged by
[1]_, apart from its action classifier.

References
----------
.. [1] Gu, Sun, Ross, Vondrick, Pantofaru, Li, Vijayanarasimhan, Toderici, Ricco, Sukthankar,
   Schmid & Malik, "AVA: A Video Dataset of Spatio-temporally Localized Atomic Visual
   Actions", CVPR 2018. https://doi.org/10.1109/CVPR.2018.00633
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bench.tasks._ranking import class_average_precision
from bench.tasks.localization.boxes import (
    CORNER_COLUMNS,
    validate_box_detections,
    validate_boxes,
)
from bench.tasks.localization.frame_ap import _frames, _threshold, _voc_match

__all__ = ["PersonDetectionResult", "person_detection"]


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
        As in :func:`~bench.tasks.localization.frame_ap.frame_map`.
    iou_threshold : float, default 0.5
    excluded : DataFrame or sequence of (video_id, timestamp), optional
        As in :func:`~bench.tasks.localization.frame_ap.frame_map`.

    Returns
    -------
    PersonDetectionResult
        Recall is the share of ground-truth boxes matched when every detection is counted.
    """
    thr = _threshold(iou_threshold)
    keys = ["video_id", "timestamp", *CORNER_COLUMNS]
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
    ap = float(class_average_precision(frames.det_class, tp, frames.n_gt)[0])
    return PersonDetectionResult(thr, ap, float(tp.sum() / n_gt), n_gt, len(tp))
