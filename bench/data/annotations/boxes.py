"""The ground-truth boxes table of spatio-temporal action localization, its checks and its errors.

A ground-truth box is one actor's box with one action at a keyframe, ``(video_id, timestamp,
x1, y1, x2, y2, label)``: the keyframe's time in seconds, the box as fractions of the frame's
width and height, the action's integer id in the label map; each row also carries the action's
name (``label_name``) and the actor's id (``person_id``, the same across the keyframes of one
video). A person doing three actions at a keyframe is three rows with the same box. The table,
:data:`BOX_COLUMNS`, is what every localization annotation reader of
:mod:`bench.data.annotations` returns (:func:`~bench.data.annotations.ava.read_ava`,
:func:`~bench.data.annotations.cvat.read_cvat_video`), inside :class:`BoxAnnotations`. It is
the box analogue of :mod:`bench.data.annotations.segments`, and it lives in the data stage for
the same reason: a dataset adapter that reads boxes must not reach up into the task stage.

The localization task (:mod:`bench.tasks.localization.boxes`) builds its metric tables on
this one: the same keyframe and corner columns, with labels compared as strings and
coordinates in any unit (pixels for UCF101-24 and J-HMDB); a :attr:`BoxAnnotations.boxes`
table is a valid ground truth there as it is.

One rule set serves two kinds of input: a table built in memory (:func:`validate_boxes`,
whose messages name the row) and an annotation file being read (the readers, whose messages
name the file and the 1-based line). Both call :func:`box_problem`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.data.annotations.segments import AnnotationError

__all__ = [
    "BOX_COLUMNS",
    "KEYFRAME_COLUMNS",
    "CORNER_COLUMNS",
    "BOX_TOLERANCE",
    "NO_PERSON",
    "BoxAnnotations",
    "box_problem",
    "validate_boxes",
    "empty_boxes",
    "empty_keyframes",
]

#: The columns of a keyframes table: a keyframe is the pair ``(video_id, timestamp)``.
KEYFRAME_COLUMNS = ("video_id", "timestamp")
#: The columns of a box's corners, ``(x1, y1)`` top left and ``(x2, y2)`` bottom right.
CORNER_COLUMNS = ("x1", "y1", "x2", "y2")
#: The columns of a ground-truth boxes table, in order (what every localization reader gives).
BOX_COLUMNS = (*KEYFRAME_COLUMNS, *CORNER_COLUMNS, "label", "label_name", "person_id")
#: How far a normalised coordinate may leave [0, 1] (rounding in files written by others).
BOX_TOLERANCE = 1e-6
#: The person id of a box whose file carries none (a detection file, seven columns).
NO_PERSON = -1


def empty_boxes(extra: Sequence[str] = ()) -> pd.DataFrame:
    """An empty boxes table with the dtypes of :data:`BOX_COLUMNS` (plus ``extra``)."""
    frame = pd.DataFrame({
        "video_id": pd.Series([], dtype=object).astype(str),
        "timestamp": pd.Series([], dtype=np.float64),
        **{c: pd.Series([], dtype=np.float64) for c in CORNER_COLUMNS},
        "label": pd.Series([], dtype=np.int64),
        "label_name": pd.Series([], dtype=object),
        "person_id": pd.Series([], dtype=np.int64),
    })
    for name in extra:
        frame[name] = pd.Series([], dtype=np.float64 if name == "score" else object)
    return frame


def empty_keyframes() -> pd.DataFrame:
    """An empty keyframes table (:data:`KEYFRAME_COLUMNS`)."""
    return pd.DataFrame({"video_id": pd.Series([], dtype=object).astype(str),
                         "timestamp": pd.Series([], dtype=np.float64)})


@dataclass(frozen=True)
class BoxAnnotations:
    """What a localization annotation reader returns: actor boxes with action labels.

    Attributes
    ----------
    boxes : DataFrame
        One row per (box, action), :data:`BOX_COLUMNS`: ``timestamp`` in seconds (float),
        ``x1, y1, x2, y2`` as fractions of the frame's width and height, ``label`` the integer
        action id, ``label_name`` its name (``None`` without a label map), ``person_id`` the
        actor (:data:`NO_PERSON` where the file has none). A detection file adds ``score``;
        the CVAT reader adds ``frame``, the pixel box and per-frame flags. File order.
    keyframes : DataFrame
        The annotated keyframes, :data:`KEYFRAME_COLUMNS` (the CVAT reader adds ``frame``):
        each ``(video_id, timestamp)`` with at least one box, in order of first appearance,
        after the excluded keyframes are dropped.
    classes : dict
        ``action id -> name``, in the label map's order (empty without one).
    excluded : DataFrame
        The excluded keyframes that were applied (:data:`KEYFRAME_COLUMNS`), as listed.
    missing : tuple of str
        Videos skipped because their file is absent under the video root
        (``allow_missing=True``), sorted.
    meta : dict
        Format facts: ``format``, ``source`` and what the reader counted or dropped.
    """

    boxes: pd.DataFrame
    keyframes: pd.DataFrame
    classes: dict[int, str]
    excluded: pd.DataFrame = field(default_factory=empty_keyframes)
    missing: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)

    def actor_boxes(self) -> pd.DataFrame:
        """One row per actor box: the rows of one box at one keyframe joined.

        Returns
        -------
        DataFrame
            ``video_id, timestamp, x1, y1, x2, y2, person_id, labels`` (``labels``: a tuple of
            the box's action ids, in file order), in order of first appearance.
        """
        keys = [*KEYFRAME_COLUMNS, *CORNER_COLUMNS, "person_id"]
        grouped = self.boxes.groupby(keys, sort=False)["label"].agg(tuple)
        return grouped.rename("labels").reset_index()


# --- validation ------------------------------------------------------------------------------

def box_problem(x1: float, y1: float, x2: float, y2: float, *, normalised: bool = True,
                tolerance: float = BOX_TOLERANCE) -> str | None:
    """What is wrong with one box, and how to fix it (``None`` where nothing is).

    The rules, checked in this order: the four coordinates are finite numbers; with
    ``normalised``, each lies in [0, 1] (``tolerance`` either side); the box has a positive
    width and height (``x1 < x2`` and ``y1 < y2``).
    """
    box = f"({x1:g}, {y1:g}, {x2:g}, {y2:g})"
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return (f"the box (x1, y1, x2, y2) = {box} is not four finite numbers. Fix: give the "
                "corners as plain numbers")
    if normalised and (min(x1, y1, x2, y2) < -tolerance or max(x1, y1, x2, y2) > 1 + tolerance):
        return (f"the box (x1, y1, x2, y2) = {box} leaves [0, 1]. Fix: AVA boxes are fractions "
                "of the frame's width and height; divide pixel coordinates by the frame size and "
                "clip them to the frame")
    if not (x1 < x2 and y1 < y2):
        return (f"the box (x1, y1, x2, y2) = {box} has no area (it needs x1 < x2 and y1 < y2). "
                "Fix: give the top-left corner first and the bottom-right corner second")
    return None


def validate_boxes(boxes: pd.DataFrame, *, classes: Mapping[int, str] | None = None,
                   normalised: bool = True, tolerance: float = BOX_TOLERANCE,
                   what: str = "boxes") -> pd.DataFrame:
    """Check a boxes table and return it with normalised dtypes.

    Parameters
    ----------
    boxes : DataFrame
        ``video_id, timestamp, x1, y1, x2, y2, label`` (``person_id``, ``label_name``,
        ``score`` and any others kept).
    classes : mapping, optional
        ``action id -> name``; every label must be one of its ids.
    normalised : bool, default True
        The boxes are fractions of the frame (checked to lie in [0, 1]).
    tolerance : float
        See :data:`BOX_TOLERANCE`.
    what : str
        What the table is, for the messages.

    Returns
    -------
    DataFrame
        A copy with ``video_id`` as str, ``timestamp`` and the corners as float64, ``label``
        (and ``person_id`` where present) as int64, and a fresh ``RangeIndex``.

    Raises
    ------
    AnnotationError
        A column is missing, or a row has an empty video id, a timestamp that is not a
        finite number of seconds >= 0, a bad box (:func:`box_problem`), a label that is not
        an integer or not in ``classes``, or a negative score; the message names the row.
    """
    need = [*KEYFRAME_COLUMNS, *CORNER_COLUMNS, "label"]
    absent = [c for c in need if c not in boxes.columns]
    if absent:
        raise AnnotationError(f"the {what} table lacks the column(s) {absent}; it has "
                              f"{list(boxes.columns)}. Fix: give the columns {need}")
    table = boxes.reset_index(drop=True).copy()
    empty = table["video_id"].isna() | (table["video_id"].astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise AnnotationError(f"{what} row {row}: the video_id is empty. Fix: every box needs "
                              "the video it belongs to")
    table["video_id"] = table["video_id"].astype(str)
    for column in ("timestamp", *CORNER_COLUMNS):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(np.float64)
    ts = table["timestamp"].to_numpy()
    bad = ~np.isfinite(ts) | (ts < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise AnnotationError(f"{what} row {row}: the timestamp {ts[row]} is not a number of "
                              "seconds >= 0. Fix: give each keyframe's time in seconds")
    xyxy = table[list(CORNER_COLUMNS)].to_numpy(dtype=np.float64)
    suspect = ~np.isfinite(xyxy).all(axis=1) | (xyxy[:, 0] >= xyxy[:, 2]) | \
        (xyxy[:, 1] >= xyxy[:, 3])
    if normalised:
        suspect |= (xyxy < -tolerance).any(axis=1) | (xyxy > 1 + tolerance).any(axis=1)
    for row in np.flatnonzero(suspect)[:1]:
        problem = box_problem(*xyxy[row], normalised=normalised, tolerance=tolerance)
        raise AnnotationError(f"{what} row {row} (video {table.at[row, 'video_id']!r}): {problem}")
    for column in ("label", "person_id"):
        if column not in table.columns:
            continue
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise AnnotationError(f"{what} row {row}: the {column} {table.at[row, column]} is "
                                  f"not an integer. Fix: give the {column} as an integer id")
        table[column] = values.astype(np.int64)
    if classes is not None:
        unknown = ~table["label"].isin(list(classes)).to_numpy()
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise AnnotationError(f"{what} row {row}: the action id {table.at[row, 'label']} is "
                                  f"not in the label map. Fix: {_listed(classes)}")
    if "score" in table.columns:
        scores = pd.to_numeric(table["score"], errors="coerce").astype(np.float64)
        bad = ~np.isfinite(scores.to_numpy())
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise AnnotationError(f"{what} row {row}: the score {table.at[row, 'score']} is "
                                  "not a finite number. Fix: give each detection a score")
        table["score"] = scores
    return table


def _listed(classes: Mapping[int, str]) -> str:
    """The fix for an action id outside ``classes`` (shared with the AVA reader's messages)."""
    ids = sorted(classes)
    shown = ", ".join(str(i) for i in ids[:12]) + (", ..." if len(ids) > 12 else "")
    return (f"use an id of the label map ({len(ids)} classes: {shown}), or pass the label map "
            "the file was written with")
