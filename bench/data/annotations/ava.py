"""AVA annotation files (v2.1, v2.2): the box CSV and the excluded-timestamps CSV.

The box CSV has no header, one row per (person box, action) at a keyframe::

    1j20qq1JyX4,0902,0.002,0.118,0.714,0.977,12,1
    1j20qq1JyX4,0902,0.002,0.118,0.714,0.977,79,1

``video_id, middle_frame_timestamp, x1, y1, x2, y2, action_id, person_id``: the YouTube id, the
keyframe's time in seconds from the start of the *movie* (four digits, zero-padded), the box
as fractions of the frame's width and height (three decimals; ``(x1, y1)`` top left), the
action's id in the label map and the person's id (the same person keeps it across the
keyframes of a video). A person doing three actions at a keyframe has three rows with the same
box. Detection results use the same layout with a score instead of the person id; the official
evaluator also reads seven columns (no person id, score 1).

The excluded-timestamps CSV lists keyframes (``video_id,timestamp``) that were left out of
annotation; they are dropped from the ground truth and from the evaluation.

The reader returns the data stage's boxes schema, :class:`~bench.data.annotations.boxes.
BoxAnnotations` (:mod:`bench.data.annotations.boxes`); the action ids come from the ``.pbtxt``
label map (:mod:`bench.data.annotations.pbtxt`). Both modules' names are re-exported here, so
the imports of this module from before they were split off keep working.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from bench.atomic import write_text
from bench.data.annotations._readers import check_videos, read_text, where
from bench.data.annotations.boxes import (
    BOX_COLUMNS,
    BOX_TOLERANCE,
    KEYFRAME_COLUMNS,
    NO_PERSON,
    BoxAnnotations,
    _listed,
    box_problem,
    empty_boxes,
    empty_keyframes,
    validate_boxes,
)
from bench.data.annotations.pbtxt import _as_classes, read_ava_label_map, write_ava_label_map
from bench.data.annotations.segments import AnnotationError
from bench.data.datasets._common import require_file

__all__ = [
    "AVA_KEYFRAME_RATE",
    "AVA_KEYFRAME_RANGE",
    "OTHER_LABELS",
    "read_ava",
    "read_ava_excluded",
    "write_ava_csv",
    "write_ava_excluded",
    # re-exported from bench.data.annotations.boxes and .pbtxt (the former import path)
    "BOX_COLUMNS",
    "KEYFRAME_COLUMNS",
    "BOX_TOLERANCE",
    "NO_PERSON",
    "BoxAnnotations",
    "box_problem",
    "validate_boxes",
    "empty_boxes",
    "empty_keyframes",
    "read_ava_label_map",
    "write_ava_label_map",
]

#: AVA's keyframes per second: one keyframe a second.
AVA_KEYFRAME_RATE = 1.0
#: The first and last keyframe timestamps (s) of AVA v2.x: the 15-minute clips run from 900 s
#: to 1800 s of each movie; keyframes start at 902 s and end at 1798 s.
AVA_KEYFRAME_RANGE = (902, 1798)
#: What :func:`read_ava` does with rows whose action is not in the label map.
OTHER_LABELS = ("error", "drop")

_CSV_FIX = ("Fix: an AVA CSV row is 'video_id,timestamp,x1,y1,x2,y2,action_id,person_id' (no "
            "header; boxes as fractions of the frame in [0, 1]; for a detection file the 8th "
            "column is the score: pass scores=True)")


# --- excluded keyframes ----------------------------------------------------------------------

def read_ava_excluded(path: str | os.PathLike) -> pd.DataFrame:
    """Read an AVA excluded-timestamps CSV (``video_id,timestamp``, no header).

    Returns
    -------
    DataFrame
        :data:`KEYFRAME_COLUMNS`, timestamps as float seconds, in file order.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AnnotationError
        A line that is not ``video_id,timestamp`` with a number of seconds >= 0; the message
        names the file, the line and the fix.
    """
    path = require_file(path, "AVA excluded-timestamps file",
                        "Pass the ava_*_excluded_timestamps_v2.*.csv file.")
    videos: list[str] = []
    times: list[float] = []
    reader = csv.reader(read_text(path).splitlines())
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        value = _seconds(row[1]) if len(row) == 2 and row[0].strip() else None
        if value is None:
            raise AnnotationError(
                f"{where(path, reader.line_num)}: {','.join(row)!r} is not 'video_id,timestamp'. "
                "Fix: one excluded keyframe per line, the video id and the keyframe's time in "
                "seconds", path=str(path), line=reader.line_num)
        videos.append(row[0].strip())
        times.append(value)
    return pd.DataFrame({"video_id": pd.Series(videos, dtype=object).astype(str),
                         "timestamp": pd.Series(times, dtype=np.float64)})


def write_ava_excluded(path: str | os.PathLike, excluded: pd.DataFrame) -> None:
    """Write excluded keyframes (:data:`KEYFRAME_COLUMNS`) as an AVA CSV (atomic)."""
    lines = [f"{video},{_format_timestamp(t)}" for video, t in
             zip(excluded["video_id"].astype(str), excluded["timestamp"].astype(float),
                 strict=True)]
    write_text(path, "".join(line + "\n" for line in lines))


def _as_excluded(excluded) -> tuple[pd.DataFrame, str | None]:
    if excluded is None:
        return empty_keyframes(), None
    if isinstance(excluded, (str, os.PathLike)):
        return read_ava_excluded(excluded), str(excluded)
    if isinstance(excluded, pd.DataFrame):
        frame = excluded[list(KEYFRAME_COLUMNS)]
    else:
        frame = pd.DataFrame(list(excluded), columns=list(KEYFRAME_COLUMNS))
    return pd.DataFrame({
        "video_id": pd.Series(frame["video_id"].tolist(), dtype=object).astype(str),
        "timestamp": pd.Series(frame["timestamp"].tolist(), dtype=np.float64)}), "<table>"


# --- the box CSV -----------------------------------------------------------------------------

def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _integer(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def _parse_row(row: list[str], fail, scores: bool) -> tuple:
    """``(video, timestamp, x1, y1, x2, y2, action, person, score)`` of one CSV row."""
    video = row[0].strip()
    if not video:
        raise fail(f"the video id is empty. {_CSV_FIX}")
    ts = _seconds(row[1])
    if ts is None:
        raise fail(f"the timestamp {row[1]!r} is not a number of seconds >= 0. Fix: give the "
                   "keyframe's time in seconds (AVA: an integer, 0902 ... 1798)")
    coords = []
    for name, text in zip(("x1", "y1", "x2", "y2"), row[2:6], strict=True):
        try:
            coords.append(float(text))
        except ValueError:
            raise fail(f"the {name} coordinate {text!r} is not a number. Fix: give x1, y1, x2, "
                       "y2 as numbers in [0, 1] (fractions of the frame's width and height)"
                       ) from None
    action = _integer(row[6])
    if action is None:
        raise fail(f"the action id {row[6]!r} is not an integer. Fix: the 7th column is the "
                   "action's integer id in the label map")
    person, score = NO_PERSON, math.nan
    if len(row) == 8 and scores:
        try:
            score = float(row[7])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise fail(f"the score {row[7]!r} is not a finite number. Fix: the 8th column of a "
                       "detection file is the detection's score")
    elif len(row) == 8:
        person = _integer(row[7])
        if person is None or person < 0:
            raise fail(f"the person id {row[7]!r} is not a non-negative integer. Fix: the 8th "
                       "column of a ground-truth file is the person's integer id; for a "
                       "detection file with scores, pass scores=True")
    elif scores:
        score = 1.0  # seven columns: the official evaluator's score
    return (video, ts, *coords, action, person, score)


def read_ava(path: str | os.PathLike, *,
             label_map: Mapping[int, str] | str | os.PathLike | None = None,
             excluded: str | os.PathLike | pd.DataFrame | Iterable[tuple[str, float]] | None
             = None,
             scores: bool = False, other_labels: str = "error",
             tolerance: float = BOX_TOLERANCE,
             video_root: str | os.PathLike | None = None,
             allow_missing: bool = False) -> BoxAnnotations:
    """Read an AVA box CSV (ground truth, or detection results with ``scores=True``).

    Parameters
    ----------
    path : path-like
        The CSV (``ava_val_v2.2.csv`` and the like): no header; 8 columns
        ``video_id, timestamp, x1, y1, x2, y2, action_id, person_id`` or, with
        ``scores=True``, ``..., action_id, score``; 7 columns (no person id) are read too.
        All rows must have the same number of columns.
    label_map : mapping or path-like, optional
        ``action id -> name``, or the ``.pbtxt`` file (:func:`read_ava_label_map`). Without
        one, labels are not checked and ``label_name`` is ``None``.
    excluded : path-like, DataFrame or iterable of (video_id, timestamp), optional
        Keyframes to drop (the ``ava_*_excluded_timestamps_v2.*.csv`` file).
    scores : bool, default False
        Read the 8th column as a detection score (column ``score``) instead of a person id.
    other_labels : {"error", "drop"}
        What to do with a row whose action is not in ``label_map``: raise, or drop it (the
        official evaluator's class whitelist: the 60-class ActivityNet list evaluates the
        80-class v2.1 files so). Dropped rows are counted in ``meta["other_label_rows"]``.
    tolerance : float
        See :data:`BOX_TOLERANCE`.
    video_root : path-like, optional
        The folder of the videos (``<video_id>.mkv`` / ``.mp4`` / ``.webm`` ...); every
        annotated video must have a file there.
    allow_missing : bool, default False
        With ``video_root``: skip the boxes of videos without a file (listed in ``.missing``)
        instead of raising.

    Returns
    -------
    BoxAnnotations
        ``boxes`` in file order (:data:`BOX_COLUMNS`, plus ``score`` with ``scores=True``),
        without the excluded keyframes, the dropped labels and the missing videos;
        ``keyframes``; ``classes`` (the label map, or empty); ``excluded`` (the keyframes
        given); ``meta`` with ``format="ava"``, ``source``, ``columns`` (7 or 8), ``scores``,
        ``label_map``, ``label_types`` (where the map has them), ``excluded_source``,
        ``excluded_rows`` (rows dropped as excluded), ``other_label_rows`` and ``paths``
        (``video_id -> file`` relative to the video root).

    Raises
    ------
    FileNotFoundError
        The CSV, the label map or the excluded-timestamps file does not exist.
    ValueError
        ``other_labels`` is not one of :data:`OTHER_LABELS`.
    AnnotationError
        A line without 7 or 8 columns, or with another count than the first line; an empty
        video id; a timestamp that is not a number of seconds >= 0; a coordinate that is not a
        number or a bad box (:func:`box_problem`: outside [0, 1] by more than ``tolerance``,
        or ``x1 >= x2`` / ``y1 >= y2``); an action id that is not an integer or (with
        ``other_labels="error"``) not in the label map; a person id that is not a
        non-negative integer; a score that is not a finite number; in a ground-truth file, one
        person with two different boxes at one keyframe. The message names the file, the
        1-based line, what is wrong and the fix.
    MissingAnnotatedVideosError
        Annotated videos have no file under ``video_root`` and ``allow_missing`` is false.

    Notes
    -----
    AVA annotates one keyframe a second (:data:`AVA_KEYFRAME_RATE`) in a 15-minute clip of
    each movie, from 900 s to 1800 s: the timestamps run from 902 to 1798
    (:data:`AVA_KEYFRAME_RANGE`), written with four digits (``0902``). The box is drawn on the
    frame at the timestamp; the labels describe what the person does around it (the
    annotators saw a 3-second segment centred on the keyframe [1]_). The reader accepts any
    timestamp >= 0 (AVA-format files of other datasets use other ranges); the official
    evaluator turns timestamps into integers, so fractional ones work with this reader but not
    with it.

    Boxes are kept as the file gives them (not clipped). Excluded keyframes are dropped from
    the boxes, as the official evaluator drops them from both the ground truth and the
    detections.

    References
    ----------
    .. [1] Gu, Sun, Ross, Vondrick, Pantofaru, Li, Vijayanarasimhan, Toderici, Ricco,
       Sukthankar, Schmid & Malik, "AVA: A Video Dataset of Spatio-temporally Localized Atomic
       Visual Actions", CVPR 2018. https://doi.org/10.1109/CVPR.2018.00633
    .. [2] The AVA dataset's files and evaluation code:
       https://research.google.com/ava/download.html
    """
    if other_labels not in OTHER_LABELS:
        raise ValueError(f"The 'other_labels' parameter of read_ava must be one of "
                         f"{list(OTHER_LABELS)}. Got {other_labels!r} instead.")
    path = require_file(path, "AVA annotation file", "Pass the ava_*_v2.*.csv file.")
    classes, map_meta = _as_classes(label_map)
    excluded_table, excluded_source = _as_excluded(excluded)
    skip_keys = set(zip(excluded_table["video_id"].tolist(),
                        excluded_table["timestamp"].tolist(), strict=True))
    parsed: list[tuple] = []
    lines: list[int] = []
    width = first_line = None
    persons: dict[tuple[str, float, int], tuple[tuple[float, ...], int]] = {}
    seen: dict[str, str] = {}
    counts = {"excluded_rows": 0, "other_label_rows": 0}
    reader = csv.reader(read_text(path).splitlines())
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue

        def fail(message: str, line: int = line) -> AnnotationError:
            return AnnotationError(f"{where(path, line)}: {message}", path=str(path), line=line)

        if len(row) not in (7, 8):
            raise fail(f"{','.join(row)[:80]!r} has {len(row)} column(s), not 8. {_CSV_FIX}")
        if width is None:
            width, first_line = len(row), line
        elif len(row) != width:
            raise fail(f"the line has {len(row)} columns but line {first_line} has {width}. Fix: "
                       "give every row the same columns (8 with person ids or scores, or 7)")
        values = _parse_row(row, fail, scores)
        video, ts, x1, y1, x2, y2, action, person, _ = values
        problem = box_problem(x1, y1, x2, y2, tolerance=tolerance)
        if problem is not None:
            raise fail(problem)
        seen.setdefault(video, where(path, line))
        if person != NO_PERSON:
            key = (video, ts, person)
            box = (x1, y1, x2, y2)
            if key in persons and persons[key][0] != box:
                raise fail(f"person {person} of video {video!r} at {ts:g} s has the box {box} "
                           f"here and {persons[key][0]} at line {persons[key][1]}. Fix: give a "
                           "person one box per keyframe (the same corners on each of its rows)")
            persons.setdefault(key, (box, line))
        if classes is not None and action not in classes:
            if other_labels == "error":
                raise fail(f"the action id {action} is not in the label map. Fix: "
                           f"{_listed(classes)}; or pass other_labels='drop' to leave out the "
                           "actions the map does not list, as the official evaluator does")
            counts["other_label_rows"] += 1
            continue
        if (video, ts) in skip_keys:
            counts["excluded_rows"] += 1
            continue
        parsed.append(values)
        lines.append(line)
    paths, missing = check_videos(seen, video_root, source=str(path), allow_missing=allow_missing)
    if missing:
        gone = set(missing)
        parsed = [v for v in parsed if v[0] not in gone]
    columns = list(zip(*parsed, strict=True)) if parsed else [()] * 9
    boxes = pd.DataFrame({
        "video_id": pd.Series(columns[0], dtype=object).astype(str),
        "timestamp": pd.Series(columns[1], dtype=np.float64),
        **{name: pd.Series(columns[i], dtype=np.float64)
           for i, name in enumerate(("x1", "y1", "x2", "y2"), start=2)},
        "label": pd.Series(columns[6], dtype=np.int64),
        "label_name": pd.Series([classes.get(a) if classes is not None else None
                                 for a in columns[6]], dtype=object),
        "person_id": pd.Series(columns[7], dtype=np.int64),
    })
    if scores:
        boxes["score"] = pd.Series(columns[8], dtype=np.float64)
    keyframes = boxes[list(KEYFRAME_COLUMNS)].drop_duplicates().reset_index(drop=True)
    return BoxAnnotations(
        boxes=boxes, keyframes=keyframes, classes=dict(classes or {}), excluded=excluded_table,
        missing=tuple(missing),
        meta={"format": "ava", "source": str(path), "columns": width, "scores": bool(scores),
              **map_meta, "excluded_source": excluded_source, **counts,
              "keyframe_rate": AVA_KEYFRAME_RATE, "paths": paths})


# --- writing ---------------------------------------------------------------------------------

def _format_timestamp(t: float) -> str:
    """``0902`` for an integral timestamp (the releases' four digits), else the shortest repr."""
    return f"{int(t):04d}" if float(t).is_integer() else repr(float(t))


def write_ava_csv(path: str | os.PathLike, boxes: pd.DataFrame, *, scores: bool | None = None,
                  classes: Mapping[int, str] | None = None, decimals: int = 3) -> None:
    """Write a boxes table as an AVA CSV that the official evaluator reads unchanged.

    Parameters
    ----------
    path : path-like
    boxes : DataFrame
        ``video_id, timestamp, x1, y1, x2, y2, label`` and ``person_id`` or ``score``
        (:class:`BoxAnnotations` ``.boxes``); rows are written in the table's order.
    scores : bool, optional
        Write ``score`` as the 8th column (a detection file). ``False``: write ``person_id``
        (a ground-truth file; 7 columns where every person id is :data:`NO_PERSON` or there is
        no such column). Default: ``True`` if the table has a ``score`` column.
    classes : mapping, optional
        ``action id -> name``; every label must be one of its ids.
    decimals : int, default 3
        Decimals of the box corners (the releases write 3).

    Raises
    ------
    AnnotationError
        The table breaks the rules of :func:`validate_boxes`; a video id holds a comma or a
        quote; a box has no area once rounded to ``decimals``; ``scores=True`` without a
        ``score`` column; person ids given for some rows and not for others.

    Notes
    -----
    The layout of the releases: no header, ``\\n`` line ends, integral timestamps with four
    digits (``0902``; a fractional one as its shortest representation, which the official
    evaluator cannot read), corners with ``decimals`` decimals, integer action ids, scores in
    Python's shortest round-trip representation. Reading a released file with :func:`read_ava`
    and writing it back reproduces it byte for byte. Atomic (:mod:`bench.atomic`).
    """
    table = validate_boxes(boxes, classes=classes, what="AVA boxes")
    if scores is None:
        scores = "score" in table.columns
    if scores and "score" not in table.columns:
        raise AnnotationError("the AVA boxes table has no 'score' column. Fix: add the "
                              "detections' scores, or pass scores=False to write person ids")
    last: list[str] | None = None
    if scores:
        last = [repr(float(s)) for s in table["score"]]
    elif "person_id" in table.columns:
        given = table["person_id"].to_numpy() != NO_PERSON
        if given.any() and not given.all():
            row = int(np.flatnonzero(~given)[0])
            raise AnnotationError(f"AVA boxes row {row}: no person id ({NO_PERSON}) while other "
                                  "rows have one. Fix: give every row its person id, or none")
        if given.all() and len(table):
            last = [str(int(p)) for p in table["person_id"]]
    bad = table["video_id"].str.contains(r'[,"\n]', regex=True)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise AnnotationError(f"AVA boxes row {row}: the video id {table.at[row, 'video_id']!r} "
                              "holds a comma, a quote or a newline. Fix: use YouTube-style ids")
    corners = np.round(table[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64), decimals) + 0.0
    flat = (corners[:, 0] >= corners[:, 2]) | (corners[:, 1] >= corners[:, 3])
    if flat.any():
        row = int(np.flatnonzero(flat)[0])
        raise AnnotationError(f"AVA boxes row {row}: the box has no area once rounded to "
                              f"{decimals} decimals. Fix: pass more decimals, or drop the box")
    out = []
    fmt = f"{{:.{int(decimals)}f}}"
    for i, (video, ts, label) in enumerate(zip(table["video_id"], table["timestamp"],
                                               table["label"], strict=True)):
        cells = [video, _format_timestamp(ts), *(fmt.format(v) for v in corners[i]),
                 str(int(label))]
        if last is not None:
            cells.append(last[i])
        out.append(",".join(cells) + "\n")
    write_text(path, "".join(out))
