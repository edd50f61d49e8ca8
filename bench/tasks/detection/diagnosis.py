"""Why a detector loses AP: false-positive types and AP by instance duration (DETAD).

Alwassel, Caba Heilbron, Escorcia & Ghanem (ECCV 2018) split a detector's false positives
into the errors that cost it AP and measure AP per characteristic of the ground truth. Both
are computed here at one tIoU threshold ``alpha`` (0.5 by default), after the ActivityNet
matching of :mod:`bench.tasks.detection.metrics` (per class, by descending score, each
detection takes the unmatched instance of highest tIoU in its video):

* **true positive**: matched at tIoU >= ``alpha``;
* **duplicate**: tIoU >= ``alpha`` with an instance of its class that a better detection took;
* **localization**: its class, 0.1 <= tIoU < ``alpha`` (a boundary error);
* **wrong label**: tIoU >= ``alpha`` with an instance of another class;
* **confusion**: another class, 0.1 <= tIoU < ``alpha``;
* **background**: tIoU < 0.1 with every instance.

A false positive gets the first type that applies, in this order. As in DETAD, the breakdown
covers each class's top ``G`` detections (``G`` = its number of instances, the detections that
decide most of the AP), summed over classes.

AP by duration keeps the instances of one duration bucket as the ground truth; a detection
matched to an instance outside the bucket is left out (neither true nor false positive), so a
bucket's AP says how well the instances of that length are found, not how many there are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.tasks.detection._kernels import pair_iou
from bench.tasks.detection.metrics import interpolated_average_precision

__all__ = ["ERROR_TYPES", "DURATION_BUCKETS", "classify_detections", "false_positive_profile",
           "ap_by_duration", "ap_by_group", "back_to_back"]

#: The detection outcomes, true positive first, then the false-positive types in the order
#: they are assigned.
ERROR_TYPES = ("true positive", "duplicate", "localization", "wrong label", "confusion",
               "background")
#: Instance-duration buckets in seconds (lower bound inclusive): the generated set's instances
#: span 0.6-8 s.
DURATION_BUCKETS = {"short (< 1.5 s)": (0.0, 1.5), "medium (1.5-4 s)": (1.5, 4.0),
                    "long (>= 4 s)": (4.0, np.inf)}
_LOW_IOU = 0.1


def classify_detections(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                        alpha: float = 0.5) -> pd.DataFrame:
    """Each detection with its outcome (:data:`ERROR_TYPES`) and matched instance.

    Parameters
    ----------
    ground_truth : DataFrame
        ``video_id, t_start, t_end, label``.
    detections : DataFrame
        The same plus ``score``.
    alpha : float
        The tIoU threshold of a hit.

    Returns
    -------
    DataFrame
        ``detections`` (reindexed) with ``type``, ``rank`` (0-based, by descending score
        within the class, ties by video, start, end), ``matched`` (index of the instance in
        ``ground_truth`` a true positive took, else -1) and ``best_tiou`` (with its class).
    """
    truth = ground_truth.reset_index(drop=True)
    out = detections.reset_index(drop=True).copy()
    out["type"], out["rank"], out["matched"], out["best_tiou"] = "", -1, -1, 0.0
    by_video = {v: rows for v, rows in truth.groupby("video_id").groups.items()}
    for label, rows in out.groupby("label", sort=True):
        order = rows.sort_values(["score", "video_id", "t_start", "t_end"],
                                 ascending=[False, True, True, True], kind="stable").index
        taken: set[int] = set()
        for rank, i in enumerate(order):
            video, start, end = out.at[i, "video_id"], out.at[i, "t_start"], out.at[i, "t_end"]
            here = np.asarray(by_video.get(video, []), dtype=int)
            same = here[truth.loc[here, "label"].to_numpy() == label] if len(here) else here
            other = here[truth.loc[here, "label"].to_numpy() != label] if len(here) else here
            iou_same = pair_iou(start, end, truth.loc[same, "t_start"].to_numpy(),
                                truth.loc[same, "t_end"].to_numpy())
            iou_other = pair_iou(start, end, truth.loc[other, "t_start"].to_numpy(),
                                 truth.loc[other, "t_end"].to_numpy())
            free = np.array([j not in taken for j in same], dtype=bool)
            out.at[i, "rank"] = rank
            out.at[i, "best_tiou"] = float(iou_same.max()) if len(same) else 0.0
            if free.any() and iou_same[free].max() >= alpha:
                k = int(np.flatnonzero(free)[np.argmax(iou_same[free])])
                taken.add(int(same[k]))
                out.at[i, "type"], out.at[i, "matched"] = "true positive", int(same[k])
            elif len(same) and iou_same.max() >= alpha:
                out.at[i, "type"] = "duplicate"
            elif len(same) and iou_same.max() >= _LOW_IOU:
                out.at[i, "type"] = "localization"
            elif len(other) and iou_other.max() >= alpha:
                out.at[i, "type"] = "wrong label"
            elif len(other) and iou_other.max() >= _LOW_IOU:
                out.at[i, "type"] = "confusion"
            else:
                out.at[i, "type"] = "background"
    return out


def false_positive_profile(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                           alpha: float = 0.5) -> pd.Series:
    """Counts of :data:`ERROR_TYPES` among each class's top-G detections, summed."""
    classified = classify_detections(ground_truth, detections, alpha)
    counts = ground_truth["label"].value_counts()
    top = classified[classified["rank"] < classified["label"].map(counts).fillna(0)]
    return top["type"].value_counts().reindex(list(ERROR_TYPES), fill_value=0)


def ap_by_group(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                groups: dict[str, np.ndarray], alpha: float = 0.5) -> pd.Series:
    """mAP at ``alpha`` with the ground truth of one group of instances at a time.

    Parameters
    ----------
    ground_truth, detections : DataFrame
    groups : dict of str to bool array
        Per group, which rows of ``ground_truth`` (in its order) belong to it.
    alpha : float

    Returns
    -------
    Series
        One mAP per group; NaN for a group without instances. The instances of a group are
        the ground truth; a detection matched to an instance outside it is left out, one
        matched to none stays a false positive (see the module docstring).
    """
    truth = ground_truth.reset_index(drop=True)
    classified = classify_detections(truth, detections, alpha)
    out = {}
    for name, inside in groups.items():
        inside = np.asarray(inside, dtype=bool)
        aps = []
        for label in sorted(set(truth.loc[inside, "label"])):
            n_truth = int((inside & (truth["label"] == label).to_numpy()).sum())
            mine = classified[classified["label"] == label].sort_values("rank")
            matched = mine["matched"].to_numpy()
            elsewhere = (matched >= 0) & ~inside[np.clip(matched, 0, None)]
            mine = mine[~elsewhere]
            hit = (mine["matched"].to_numpy() >= 0).astype(float)
            tp, fp = np.cumsum(hit), np.cumsum(1 - hit)
            precision = tp / np.maximum(tp + fp, 1e-12)
            aps.append(interpolated_average_precision(precision, tp / n_truth)
                       if len(hit) else 0.0)
        out[name] = float(np.mean(aps)) if aps else np.nan
    return pd.Series(out, name="map")


def ap_by_duration(ground_truth: pd.DataFrame, detections: pd.DataFrame, alpha: float = 0.5,
                   buckets: dict[str, tuple[float, float]] | None = None) -> pd.Series:
    """mAP at ``alpha`` with the ground truth of one duration bucket at a time.

    A bucket without instances gets NaN. See the module docstring for the rule.
    """
    buckets = DURATION_BUCKETS if buckets is None else buckets
    truth = ground_truth.reset_index(drop=True)
    length = (truth["t_end"] - truth["t_start"]).to_numpy()
    return ap_by_group(truth, detections, {name: (length >= low) & (length < high)
                                           for name, (low, high) in buckets.items()}, alpha)


def back_to_back(ground_truth: pd.DataFrame, tolerance_s: float = 1e-6) -> np.ndarray:
    """Which instances share a boundary with another instance of their video.

    An instance is *back-to-back* when it starts where another one of the same video ends or
    ends where another starts (within ``tolerance_s``): the untrimmed generator's instances
    of different classes with no gap between them (boundary precision), whose two segments a
    detector must split at the right frame.

    Returns
    -------
    numpy.ndarray of bool, in ``ground_truth``'s row order.
    """
    truth = ground_truth.reset_index(drop=True)
    out = np.zeros(len(truth), dtype=bool)
    for _, rows in truth.groupby("video_id", sort=False):
        index = rows.index.to_numpy()
        start, end = rows["t_start"].to_numpy(float), rows["t_end"].to_numpy(float)
        gap = np.abs(start[:, None] - end[None, :])
        np.fill_diagonal(gap, np.inf)
        out[index] = (gap.min(axis=1) <= tolerance_s) | (gap.min(axis=0) <= tolerance_s)
    return out
