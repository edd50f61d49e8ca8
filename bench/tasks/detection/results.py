"""What a detection unit records: its ground truth, its detections and its ``results.csv`` rows.

The harness hands a detection method integer labels and absolute paths (the method protocol,
:mod:`bench.methods`); the task's files and metrics speak in video ids and class names, as the
field's formats do. This module converts between the two and states the metrics of a unit:

``map@<t>``
    mAP at tIoU ``t`` for the THUMOS'14 thresholds 0.3, 0.4, 0.5, 0.6, 0.7; ``map@0.50`` with
    its bootstrap interval over the test videos.
``map_thumos14``
    The mean of those five, with its interval (the THUMOS'14 summary used by recent papers).
``map_activitynet``
    The mean over 0.5:0.05:0.95 (ActivityNet's average mAP), with its interval.

Each unit writes ``ground_truth.json`` (the fold's test videos in the ActivityNet ``database``
format) and ``detections.json`` (ActivityNet results) beside its ``results.csv``, so that the
official ActivityNet evaluator can be run on them without edits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bench.tasks.detection.metrics import (
    ACTIVITYNET_THRESHOLDS,
    THUMOS14_THRESHOLDS,
    evaluate_detection,
)

__all__ = ["GROUND_TRUTH_FILE", "DETECTIONS_FILE", "PROPOSALS_FILE", "METHOD_COLUMNS",
           "REPORTED_THRESHOLDS", "ground_truth_table", "training_segments", "detections_table",
           "evaluated_classes", "ambiguous_table", "metric_values"]

GROUND_TRUTH_FILE = "ground_truth.json"
DETECTIONS_FILE = "detections.json"
#: Every detection of a unit as a class-agnostic proposal (the ActivityNet proposal format).
PROPOSALS_FILE = "proposals.json"
#: The columns of a detection method's ``detect`` output (the method protocol).
METHOD_COLUMNS = ("video", "t_start", "t_end", "label", "score")
#: The thresholds with a ``map@<t>`` row of their own.
REPORTED_THRESHOLDS = tuple(float(t) for t in THUMOS14_THRESHOLDS)


def ground_truth_table(annotations: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """The task's ground truth (``video_id, t_start, t_end, label`` as a class name)."""
    names = np.asarray(list(classes), dtype=object)
    return pd.DataFrame({
        "video_id": annotations["video_id"].astype(str).to_numpy(),
        "t_start": annotations["t_start"].to_numpy(float),
        "t_end": annotations["t_end"].to_numpy(float),
        "label": names[annotations["label"].to_numpy(int)] if len(annotations) else [],
    })


def training_segments(annotations: pd.DataFrame, path_of: Mapping[str, str]) -> pd.DataFrame:
    """The training instances in the method protocol's columns (``video`` is the path)."""
    return pd.DataFrame({
        "video": annotations["video_id"].map(path_of).astype(object).to_numpy(),
        "t_start": annotations["t_start"].to_numpy(float),
        "t_end": annotations["t_end"].to_numpy(float),
        "label": annotations["label"].to_numpy(int),
    })


def ambiguous_table(rows: Sequence[Sequence], videos: Sequence[str]) -> pd.DataFrame | None:
    """The ``[video_id, t_start, t_end]`` ambiguous segments of ``videos`` (None when none)."""
    keep = set(map(str, videos))
    mine = [r for r in rows or [] if str(r[0]) in keep]
    if not mine:
        return None
    return pd.DataFrame(mine, columns=["video_id", "t_start", "t_end"]).astype(
        {"video_id": str, "t_start": float, "t_end": float})


def detections_table(raw: pd.DataFrame, id_of: Mapping[str, str],
                     classes: Sequence[str], method: str) -> pd.DataFrame:
    """A method's ``detect`` output as the task's detections table, best first per video.

    Raises
    ------
    ValueError
        Missing columns, a video that was not asked for, a label outside the classes, or a
        non-finite time or score: the message names the method.
    """
    missing = [c for c in METHOD_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{method}.detect returned no column(s) {missing}; a detection "
                         f"method returns {list(METHOD_COLUMNS)} (bench.methods)")
    videos = raw["video"].astype(str)
    unknown = ~videos.isin(set(id_of))
    if unknown.any():
        raise ValueError(f"{method}.detect returned detections for videos it was not given, "
                         f"e.g. {videos[unknown].tolist()[:3]}")
    labels = raw["label"].to_numpy()
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"{method}.detect returned labels outside range({len(classes)})")
    numbers = raw[["t_start", "t_end", "score"]].to_numpy(float)
    if not np.isfinite(numbers).all():
        raise ValueError(f"{method}.detect returned NaN or infinite times or scores")
    names = np.asarray(list(classes), dtype=object)
    table = pd.DataFrame({
        "video_id": videos.map(id_of).to_numpy(), "t_start": numbers[:, 0],
        "t_end": numbers[:, 1], "label": names[labels.astype(int)] if len(labels) else [],
        "score": numbers[:, 2]})
    order = np.lexsort((-table["score"].to_numpy(), table["video_id"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def evaluated_classes(detections: pd.DataFrame, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The detections of the classes that have ground truth (the rows ``detections.json`` holds).

    mAP averages over the classes with ground-truth instances, so a detection of any other
    class changes no AP; and the official ActivityNet evaluator indexes the classes by the
    ground truth's labels and stops with a ``KeyError`` on a prediction of another label. The
    dropped detections stay in ``proposals.json`` (class-agnostic), where the average recall
    counts them.
    """
    return detections[detections["label"].isin(set(ground_truth["label"]))].reset_index(
        drop=True)


def metric_values(ground_truth: pd.DataFrame, detections: pd.DataFrame,
                  videos: Sequence[str], *, ambiguous: pd.DataFrame | None = None,
                  seed: int = 0, n_boot: int = 1000,
                  ) -> list[tuple[str, float, tuple[float, float] | None, int]]:
    """``(metric, value, interval, n)`` rows of one unit (see the module docstring).

    ``n`` is the number of test videos, the bootstrap's sample (:func:`evaluate_detection`);
    mAP values are in [0, 1]. ``ambiguous`` segments (THUMOS'14) are handled as
    :func:`evaluate_detection` says.
    """
    videos = [str(v) for v in videos]
    n = len(videos)

    def evaluated(thresholds):
        return evaluate_detection(ground_truth, detections, thresholds, ambiguous=ambiguous,
                                  videos=videos, n_boot=n_boot, seed=seed)

    thumos = evaluated(THUMOS14_THRESHOLDS)
    rows = [(f"map@{t:.2f}", thumos.map_at(t), None, n) for t in REPORTED_THRESHOLDS]
    at_half = evaluated((0.5,))
    rows[REPORTED_THRESHOLDS.index(0.5)] = ("map@0.50", at_half.average_map, at_half.interval, n)
    rows.append(("map_thumos14", thumos.average_map, thumos.interval, n))
    activitynet = evaluated(ACTIVITYNET_THRESHOLDS)
    rows.append(("map_activitynet", activitynet.average_map, activitynet.interval, n))
    return rows
