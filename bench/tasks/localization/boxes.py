"""The tables of spatio-temporal action localization: actor boxes, scored boxes and tubes.

Three tables, each a :class:`pandas.DataFrame` with one row per box:

* **ground-truth boxes**, :data:`BOX_COLUMNS` ``video_id, timestamp, x1, y1, x2, y2, label``
  (optionally ``person_id``): one row per (actor box, action) at a keyframe. A person doing
  two actions at once (AVA's "stand" and "talk to") is two rows with the same box. The
  ``timestamp`` is the keyframe's time in seconds (AVA: whole seconds, one keyframe a
  second) or its frame index (UCF101-24, J-HMDB): it is only compared for equality, a
  keyframe being the pair ``(video_id, timestamp)``;
* **detections**, :data:`BOX_DETECTION_COLUMNS`: the same plus ``score`` (higher: more
  confident), what a localization method's ``localize`` returns and what the AVA results CSV
  stores (``video_id, timestamp, x1, y1, x2, y2, action_id, score``);
* **tubes**, :data:`TUBE_COLUMNS` ``video_id, tube_id, label, frame, x1, y1, x2, y2`` (plus
  ``score`` for detected tubes, :data:`TUBE_DETECTION_COLUMNS`): one row per frame of a tube,
  the unit of video-mAP. A tube is the set of rows with the same ``(video_id, tube_id,
  label)``; it has at most one box per frame and one score. The same ``tube_id`` under two
  labels is two tubes (one linked track scored for two classes).

Coordinates are ``x1 <= x2``, ``y1 <= y2`` in any one unit per dataset (AVA: fractions of
the frame in [0, 1]; UCF101-24 and J-HMDB: pixels); areas are ``(x2 - x1) * (y2 - y1)``, the
continuous convention of the AVA evaluator, without the "+1 pixel" of the PASCAL VOC devkit.
Labels are class names or ids, compared as strings (what ``astype(str)`` gives), as in the
detection task.

A table that breaks its schema raises :class:`~bench.data.annotations.AnnotationError` (a
:class:`ValueError`) whose message names the table, the row, what is wrong and the fix.

**The data stage's boxes.** The annotation readers (AVA, CVAT) return the ground truth in the
data stage's schema, :mod:`bench.data.annotations.boxes`, and this module builds on it: the
keyframe columns (:data:`KEYFRAME_COLUMNS`), the corner columns (:data:`CORNER_COLUMNS`) and
the error type are that module's, re-exported here. The two schemas differ on purpose,
between what an annotation file holds and what a metric compares:

* ``label``: there the integer action id of a label map, beside ``label_name`` and
  ``person_id``; here a class name or id, compared as a string;
* coordinates: there fractions of the frame, in [0, 1]; here any one unit per dataset;
* a box: there it needs a positive width and height; here ``x1 <= x2`` and ``y1 <= y2`` (a
  box of zero area is allowed: frame-mAP drops such detections, as the AVA evaluator does,
  and keeps such ground truth).

So a :attr:`~bench.data.annotations.BoxAnnotations.boxes` table is, as it is, a ground truth
of this module (with its ``score``, a detections table), its action ids becoming the strings
``"12"``, ``"79"``; the converse needs a label map and normalised boxes. The two
``empty_boxes`` differ the same way (this one: string labels, no ``label_name``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.data.annotations.boxes import CORNER_COLUMNS, KEYFRAME_COLUMNS
from bench.data.annotations.segments import AnnotationError

__all__ = [
    "BOX_COLUMNS",
    "OPTIONAL_BOX_COLUMNS",
    "BOX_DETECTION_COLUMNS",
    "KEYFRAME_COLUMNS",
    "CORNER_COLUMNS",
    "TUBE_COLUMNS",
    "TUBE_DETECTION_COLUMNS",
    "AnnotationError",
    "empty_boxes",
    "validate_boxes",
    "validate_box_detections",
    "validate_keyframes",
    "validate_tubes",
    "box_iou",
]

#: The columns of a ground-truth boxes table, in order: the data stage's keyframe and corner
#: columns and the label (:data:`bench.data.annotations.BOX_COLUMNS` less ``label_name`` and
#: ``person_id``).
BOX_COLUMNS = (*KEYFRAME_COLUMNS, *CORNER_COLUMNS, "label")
#: Columns a boxes table may carry besides :data:`BOX_COLUMNS` (kept when present).
OPTIONAL_BOX_COLUMNS = ("person_id",)
#: The columns of a detections table, in order.
BOX_DETECTION_COLUMNS = (*BOX_COLUMNS, "score")
#: The columns of a ground-truth tubes table, in order.
TUBE_COLUMNS = ("video_id", "tube_id", "label", "frame", *CORNER_COLUMNS)
#: The columns of a detected tubes table, in order.
TUBE_DETECTION_COLUMNS = (*TUBE_COLUMNS, "score")


def empty_boxes(*, scored: bool = False) -> pd.DataFrame:
    """An empty boxes table (``scored``: a detections table) with normalised dtypes."""
    columns = BOX_DETECTION_COLUMNS if scored else BOX_COLUMNS
    return pd.DataFrame({c: pd.Series([], dtype=object if c in ("video_id", "label")
                                      else np.float64) for c in columns})


def _require_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise AnnotationError(
            f"the {what} table lacks the column(s) {missing}; it has {list(table.columns)}. "
            f"Fix: give the columns {list(columns)}")


def _ids(table: pd.DataFrame, column: str, what: str, unit: str) -> None:
    """``column`` as str, in place; an empty or missing value is an error."""
    empty = table[column].isna() | (table[column].astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise AnnotationError(f"{what} row {row}: the {column} is empty. Fix: every {unit} "
                              f"needs a {column}")
    table[column] = table[column].astype(str)


def _numbers(table: pd.DataFrame, columns: Sequence[str], what: str, fix: str) -> None:
    """``columns`` as float64, in place; a value that is not a finite number is an error."""
    for column in columns:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            row = int(bad[0])
            value = table[column].iloc[row]
            value = value.item() if isinstance(value, np.generic) else value
            raise AnnotationError(
                f"{what} row {row} (video {table.at[row, 'video_id']!r}): the {column} "
                f"{value!r} is not a finite number. Fix: {fix}")
        table[column] = values


def _ordered_corners(table: pd.DataFrame, what: str) -> None:
    for lo, hi in (("x1", "x2"), ("y1", "y2")):
        bad = np.flatnonzero(table[hi].to_numpy() < table[lo].to_numpy())
        if len(bad):
            row = int(bad[0])
            box = [float(table.at[row, c]) for c in CORNER_COLUMNS]
            raise AnnotationError(
                f"{what} row {row} (video {table.at[row, 'video_id']!r}): the box "
                f"[x1, y1, x2, y2] = {box} has {hi} < {lo}. Fix: give the top-left corner "
                "first and the bottom-right second (a box given as [x, y, width, height] or "
                "as [y1, x1, y2, x2] must be converted)")


def validate_boxes(boxes: pd.DataFrame, *, classes: Sequence[str] | None = None,
                   what: str = "ground truth") -> pd.DataFrame:
    """Check a ground-truth boxes table and return it with normalised dtypes.

    Parameters
    ----------
    boxes : DataFrame
        Columns :data:`BOX_COLUMNS`; ``person_id`` and any other columns are kept as they are.
    classes : sequence of str, optional
        The class list; every label must be in it (compared as strings).
    what : str
        What the table is, for the messages (``"detections"``, ``"ground truth"``).

    Returns
    -------
    DataFrame
        A copy: ``video_id`` and ``label`` str, ``timestamp`` and the corners float64, a fresh
        ``RangeIndex``, the rows in their given order.

    Raises
    ------
    AnnotationError
        A column is missing; a video id or label is empty; a timestamp or a corner is not a
        finite number; a box has ``x2 < x1`` or ``y2 < y1``; a label is not in ``classes``.
        The message names the row and the fix. A box of zero width or height is allowed.
    """
    _require_columns(boxes, BOX_COLUMNS, what)
    table = boxes.reset_index(drop=True).copy()
    for column in ("video_id", "label"):
        _ids(table, column, what, "box")
    _numbers(table, ("timestamp",), what,
             "give the keyframe's time in seconds (or its frame index) as a plain number")
    _numbers(table, CORNER_COLUMNS, what, "give the box corners as plain numbers")
    _ordered_corners(table, what)
    if classes is not None:
        known = {str(c) for c in classes}
        outside = np.flatnonzero(~table["label"].isin(known).to_numpy())
        if len(outside):
            row = int(outside[0])
            listed = ", ".join(sorted(known)[:8]) + (", ..." if len(known) > 8 else "")
            raise AnnotationError(
                f"{what} row {row} (video {table.at[row, 'video_id']!r}): the label "
                f"{table.at[row, 'label']!r} is not in the class list ({listed}). Fix: "
                "correct the label or add the class to the class list")
    return table


def _scores(table: pd.DataFrame, what: str) -> None:
    if "score" not in table.columns:
        raise AnnotationError(
            f"the {what} table lacks the column 'score'; it has {list(table.columns)}. "
            "Fix: give every detection a numeric score (higher = more confident)")
    _numbers(table, ("score",), what, "give every detection a numeric score (higher = more "
             "confident)")


def validate_box_detections(detections: pd.DataFrame, *,
                            classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Check a detections table (:data:`BOX_DETECTION_COLUMNS`) and normalise its dtypes.

    The rules of :func:`validate_boxes`, and a ``score`` that is a finite number.

    Returns
    -------
    DataFrame
        A copy as :func:`validate_boxes` gives, ``score`` float64.

    Raises
    ------
    AnnotationError
        As :func:`validate_boxes`, or a missing or non-finite score.
    """
    _require_columns(detections, BOX_DETECTION_COLUMNS, "detections")
    table = validate_boxes(detections, classes=classes, what="detections")
    _scores(table, "detections")
    return table


def validate_keyframes(keyframes: pd.DataFrame | Sequence[tuple[str, float]], *,
                       what: str = "excluded keyframes") -> pd.DataFrame:
    """Check a table of keyframes (:data:`KEYFRAME_COLUMNS`), such as AVA's excluded timestamps.

    Parameters
    ----------
    keyframes : DataFrame or sequence of (video_id, timestamp)
        AVA's ``ava_val_excluded_timestamps_v2.x.csv`` holds such pairs.

    Returns
    -------
    DataFrame
        ``video_id`` str, ``timestamp`` float64, without duplicate keyframes.
    """
    if not isinstance(keyframes, pd.DataFrame):
        keyframes = pd.DataFrame(list(keyframes), columns=list(KEYFRAME_COLUMNS))
    _require_columns(keyframes, KEYFRAME_COLUMNS, what)
    table = keyframes.loc[:, list(KEYFRAME_COLUMNS)].reset_index(drop=True).copy()
    _ids(table, "video_id", what, "keyframe")
    _numbers(table, ("timestamp",), what,
             "give the keyframe's time in seconds (or its frame index) as a plain number")
    return table.drop_duplicates(ignore_index=True)


def validate_tubes(tubes: pd.DataFrame, *, scored: bool = False,
                   what: str | None = None) -> pd.DataFrame:
    """Check a tubes table (:data:`TUBE_COLUMNS`, plus ``score`` if ``scored``).

    Parameters
    ----------
    tubes : DataFrame
        One row per frame of a tube.
    scored : bool, default False
        True for detected tubes (:data:`TUBE_DETECTION_COLUMNS`).
    what : str, optional
        What the table is, for the messages (default ``"ground-truth tubes"`` or
        ``"detected tubes"``).

    Returns
    -------
    DataFrame
        A copy: ``video_id``, ``tube_id`` and ``label`` str, ``frame`` int64, the corners (and
        ``score``) float64, a fresh ``RangeIndex``.

    Raises
    ------
    AnnotationError
        A missing column, an empty id or label, a frame that is not an integer, a corner that
        is not a finite number, a box with ``x2 < x1`` or ``y2 < y1``, two boxes of one tube in
        one frame, or (``scored``) a non-finite score or two scores in one tube.
    """
    what = what or ("detected tubes" if scored else "ground-truth tubes")
    _require_columns(tubes, TUBE_DETECTION_COLUMNS if scored else TUBE_COLUMNS, what)
    table = tubes.reset_index(drop=True).copy()
    for column in ("video_id", "tube_id", "label"):
        _ids(table, column, what, "tube row")
    _numbers(table, ("frame",), what, "give the frame index as an integer")
    frames = table["frame"].to_numpy()
    fractional = np.flatnonzero(frames != np.round(frames))
    if len(fractional):
        row = int(fractional[0])
        raise AnnotationError(
            f"{what} row {row} (video {table.at[row, 'video_id']!r}): the frame "
            f"{float(frames[row])!r} is not an integer. Fix: give frame indices, not times")
    table["frame"] = frames.astype(np.int64)
    _numbers(table, CORNER_COLUMNS, what, "give the box corners as plain numbers")
    _ordered_corners(table, what)
    tube = ["video_id", "tube_id", "label"]
    twice = np.flatnonzero(table.duplicated([*tube, "frame"]).to_numpy())
    if len(twice):
        row = int(twice[0])
        raise AnnotationError(
            f"{what} row {row} (video {table.at[row, 'video_id']!r}): tube "
            f"{table.at[row, 'tube_id']!r} ({table.at[row, 'label']!r}) has a second box in "
            f"frame {table.at[row, 'frame']}. Fix: one box per frame and tube (give the "
            "tubes of two actors different tube ids)")
    if scored:
        _scores(table, what)
        spread = table.groupby(tube, sort=False)["score"].transform("nunique").to_numpy()
        if (spread > 1).any():
            row = int(np.flatnonzero(spread > 1)[0])
            raise AnnotationError(
                f"{what} row {row} (video {table.at[row, 'video_id']!r}): tube "
                f"{table.at[row, 'tube_id']!r} ({table.at[row, 'label']!r}) has more than one "
                "score. Fix: give every row of a tube the tube's score")
    return table


def _pair_iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2) -> np.ndarray:
    """IoU of boxes given by broadcastable corner arrays; 0 where the union is empty."""
    iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    ih = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return np.divide(inter, union, out=np.zeros_like(union), where=union > 0)


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of every box with every other box.

    Parameters
    ----------
    boxes : array of shape (n, 4)
        ``[x1, y1, x2, y2]`` rows, ``x1 <= x2`` and ``y1 <= y2``.
    others : array of shape (m, 4)

    Returns
    -------
    ndarray of float64, shape (n, m)
        ``|a ∩ b| / |a ∪ b|`` with areas ``(x2 - x1) * (y2 - y1)`` (continuous coordinates,
        no "+1 pixel") and ``|a ∪ b| = |a| + |b| - |a ∩ b|``; boxes that only touch have IoU
        0, and so do two boxes of zero area (an empty union).

    Examples
    --------
    >>> box_iou([[0, 0, 10, 10]], [[0, 0, 10, 5], [20, 20, 30, 30]]).tolist()
    [[0.5, 0.0]]
    """
    a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(others, dtype=np.float64).reshape(-1, 4)
    return _pair_iou(*(a[:, None, k] for k in range(4)), *(b[None, :, k] for k in range(4)))
