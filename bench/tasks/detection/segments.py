"""The tables of temporal action detection: ground-truth segments and scored detections.

The ground-truth table (``video_id, t_start, t_end, label``, optionally ``actor``) is the
data stage's (:mod:`bench.data.annotations.segments`), because the manifest carries it; it is
re-exported here so that the task reads as one package. A detection is a segment with a
``score`` (higher: more confident), what a detection method's ``detect`` returns and what the
ActivityNet results format stores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.data.annotations.segments import (
    DURATION_TOLERANCE,
    OPTIONAL_SEGMENT_COLUMNS,
    SEGMENT_COLUMNS,
    AnnotationError,
    SegmentAnnotations,
    empty_segments,
    validate_segments,
)

__all__ = [
    "SEGMENT_COLUMNS",
    "OPTIONAL_SEGMENT_COLUMNS",
    "DETECTION_COLUMNS",
    "DURATION_TOLERANCE",
    "AnnotationError",
    "SegmentAnnotations",
    "empty_segments",
    "empty_detections",
    "validate_segments",
    "validate_detections",
]

#: The columns of a detections table, in order.
DETECTION_COLUMNS = (*SEGMENT_COLUMNS, "score")


def empty_detections() -> pd.DataFrame:
    """An empty detections table with the dtypes of :data:`DETECTION_COLUMNS`."""
    return empty_segments(extra=("score",))


def validate_detections(detections: pd.DataFrame, *, classes: Sequence[str] | None = None,
                        require_label: bool = True) -> pd.DataFrame:
    """Check a detections table and return it with normalised dtypes.

    Parameters
    ----------
    detections : DataFrame
        Columns :data:`DETECTION_COLUMNS`; other columns are kept.
    classes : sequence of str, optional
        The class list; every label must be in it.
    require_label : bool, default True
        False for class-agnostic proposals: the ``label`` column may then be absent or empty
        (filled with ``"proposal"``).

    Returns
    -------
    DataFrame
        A copy: ``video_id`` and ``label`` str, times and ``score`` float64, a fresh index.

    Raises
    ------
    AnnotationError
        A missing column, an empty video id or label, a segment that breaks a rule of
        :func:`bench.data.annotations.segments.segment_problems` (times finite, start at or
        after 0 s, end not before start), or a score that is not a finite number; the message
        names the row.

    Notes
    -----
    Detections follow the rules of the ground truth except the duration check (durations
    belong to the ground truth): a method clips its segments to the video.
    """
    table = detections
    if not require_label:
        label = table["label"] if "label" in table.columns else \
            pd.Series("", index=table.index, dtype=object)
        empty = label.isna() | (label.astype(str).str.strip() == "")
        table = table.assign(label=label.where(~empty, "proposal"))
    if "score" not in table.columns:
        raise AnnotationError(
            f"the detections table lacks the column 'score'; it has {list(table.columns)}. "
            f"Fix: give the columns {list(DETECTION_COLUMNS)}")
    out = validate_segments(table, classes=classes, what="detections")
    scores = pd.to_numeric(out["score"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        row = int(bad[0])
        raise AnnotationError(f"detections row {row}: the score {out['score'].iloc[row]!r} is "
                              "not a finite number. Fix: give every detection a numeric score "
                              "(higher = more confident)")
    out["score"] = scores
    return out
