"""Recognition predictions: the ``predictions.csv`` schema, its rows, and reading them back.

One row per scored test video of a (method, fold) unit: the true label, the top-1 and top-5
predicted labels and the score of every class, so that any metric of the task can be computed
again from the file alone (the report, the comparison and the noise calibration all do).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.tasks.recognition.metrics import classification_metrics, top_k_labels

__all__ = [
    "PREDICTIONS_FILE",
    "PREDICTION_COLUMNS",
    "REQUIRED_PREDICTION_COLUMNS",
    "prediction_rows",
    "parse_scores",
    "correct_mask",
    "class_mean_of_correct",
    "metric_values",
]

#: The task's predictions file in a run directory (and in each unit directory).
PREDICTIONS_FILE = "predictions.csv"
#: Its columns, in order; ``top5`` and ``scores`` are space-separated (scores as ``%.6g``).
PREDICTION_COLUMNS = ("method", "fold", "fingerprint", "video_id", "label", "prediction",
                      "top5", "scores")
#: The columns a reader needs (hand-written prediction files may omit the others).
REQUIRED_PREDICTION_COLUMNS = PREDICTION_COLUMNS[:6]


def prediction_rows(method: str, fold: int, fingerprint: str, video_ids: np.ndarray,
                    y_true: np.ndarray, scores: np.ndarray) -> list[list[str]]:
    """One row of :data:`PREDICTION_COLUMNS` per scored video, sorted by ``video_id``.

    Parameters
    ----------
    method, fold, fingerprint
        The unit and the split fingerprint of its fold.
    video_ids : array of str, shape (n,)
    y_true : array of int, shape (n,)
    scores : array of float, shape (n, n_classes)
        Finite scores only (failed videos are left out by the caller).
    """
    if not len(scores):
        return []
    top = top_k_labels(scores, 5)
    rows = [
        [method, str(fold), fingerprint, str(vid), str(int(label)), str(int(best[0])),
         " ".join(str(int(c)) for c in best), " ".join(f"{s:.6g}" for s in row)]
        for vid, label, row, best in zip(video_ids, y_true, scores, top, strict=True)
    ]
    return sorted(rows, key=lambda r: r[3])


def parse_scores(scores: pd.Series, n_classes: int) -> np.ndarray:
    """Turn the ``scores`` column (space-separated floats) into an ``(n, n_classes)`` array.

    Empty or missing cells (a video that failed) become rows of NaN.
    """
    out = np.full((len(scores), n_classes), np.nan)
    for i, cell in enumerate(scores.tolist()):
        if isinstance(cell, str) and cell.strip():
            values = np.array(cell.split(), dtype=float)
            if len(values) != n_classes:
                raise ValueError(
                    f"a scores cell has {len(values)} values but the run has {n_classes} classes"
                )
            out[i] = values
    return out


def correct_mask(predictions: pd.DataFrame) -> np.ndarray:
    """Per-row correctness; a missing prediction (failed video) counts as wrong."""
    pred = predictions["prediction"].to_numpy(dtype=float)
    label = predictions["label"].to_numpy(dtype=float)
    return np.isfinite(pred) & (pred == label)


def class_mean_of_correct(labels: np.ndarray, right: np.ndarray) -> float:
    """Mean over the classes present in ``labels`` of the share of ``right`` videos in each.

    The mean class accuracy of a per-video correctness mask (:func:`correct_mask`); NaN when
    ``labels`` is empty.
    """
    classes = np.unique(labels)
    if not len(classes):
        return float("nan")
    return float(np.mean([right[labels == c].mean() for c in classes]))


def metric_values(y_true: np.ndarray, scores: np.ndarray, classes: Sequence[str], *, seed: int,
                  n_boot: int) -> list[tuple[str, float, tuple[float, float] | None, int]]:
    """The task's metrics of one unit as ``(metric, value, interval or None, n)`` tuples.

    Top-1 and mean class accuracy carry bootstrap intervals
    (:func:`bench.tasks.recognition.metrics.classification_metrics`); ``f1:<class>`` is given for
    the classes present in the test set only (an absent class has no F1).
    """
    n = len(y_true)
    if not n:
        return []
    m = classification_metrics(y_true, scores, seed=seed, n_boot=n_boot)
    values = [
        ("top1", m.top1, m.ci["top1"], n),
        ("top5", m.top5, None, n),
        ("mean_class_acc", m.mean_class_acc, m.ci["mean_class_acc"], n),
        ("macro_precision", m.macro_precision, None, n),
        ("macro_recall", m.macro_recall, None, n),
        ("macro_f1", m.macro_f1, None, n),
    ]
    for name, f1, support in zip(classes, m.f1, m.support, strict=True):
        if support > 0:
            values.append((f"f1:{name}", f1, None, int(support)))
    return values
