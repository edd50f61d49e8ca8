"""AVA annotation files (v2.1, v2.2): the box CSV, the ``.pbtxt`` label map, excluded keyframes.

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

The label map is a protocol-buffer text file::

    item {
      name: "bend/bow (at the waist)"
      id: 1
      label_type: PERSON_MOVEMENT
    }

(``label_type`` appears in the full 80-class list only). The excluded-timestamps CSV lists
keyframes (``video_id,timestamp``) that were left out of annotation; they are dropped from the
ground truth and from the evaluation.

This module also holds the schema every localization annotation reader returns,
:class:`BoxAnnotations` (the CVAT reader, :mod:`bench.data.annotations.cvat`, returns it too).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.atomic import write_text
from bench.data.annotations._readers import check_videos, read_text, where
from bench.data.annotations.segments import AnnotationError
from bench.data.datasets._common import require_file

__all__ = [
    "BOX_COLUMNS",
    "KEYFRAME_COLUMNS",
    "BOX_TOLERANCE",
    "NO_PERSON",
    "AVA_KEYFRAME_RATE",
    "AVA_KEYFRAME_RANGE",
    "OTHER_LABELS",
    "BoxAnnotations",
    "box_problem",
    "validate_boxes",
    "empty_boxes",
    "empty_keyframes",
    "read_ava",
    "read_ava_label_map",
    "read_ava_excluded",
    "write_ava_csv",
    "write_ava_label_map",
    "write_ava_excluded",
]

#: The columns of a ground-truth boxes table, in order (what every localization reader gives).
BOX_COLUMNS = ("video_id", "timestamp", "x1", "y1", "x2", "y2", "label", "label_name",
               "person_id")
#: The columns of a keyframes table.
KEYFRAME_COLUMNS = ("video_id", "timestamp")
#: How far a normalised coordinate may leave [0, 1] (rounding in files written by others).
BOX_TOLERANCE = 1e-6
#: The person id of a box whose file carries none (a detection file, seven columns).
NO_PERSON = -1
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
_MAP_FIX = ("Fix: an AVA label map is a list of 'item { name: \"<action>\" id: <n> }' blocks "
            "(label_type optional)")


def empty_boxes(extra: Sequence[str] = ()) -> pd.DataFrame:
    """An empty boxes table with the dtypes of :data:`BOX_COLUMNS` (plus ``extra``)."""
    frame = pd.DataFrame({
        "video_id": pd.Series([], dtype=object).astype(str),
        "timestamp": pd.Series([], dtype=np.float64),
        **{c: pd.Series([], dtype=np.float64) for c in ("x1", "y1", "x2", "y2")},
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
        keys = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "person_id"]
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


def _as_classes(label_map: Mapping[int, str] | str | os.PathLike | None) -> tuple[
        dict[int, str] | None, dict]:
    """``(classes, meta)`` of a label map given as a mapping, a ``.pbtxt`` path or ``None``."""
    if label_map is None:
        return None, {"label_map": None}
    if isinstance(label_map, Mapping):
        return {int(k): str(v) for k, v in label_map.items()}, {"label_map": "<mapping>"}
    items = _read_pbtxt_items(Path(label_map))
    types = {item["id"]: item["label_type"] for item in items if item.get("label_type")}
    return ({item["id"]: item["name"] for item in items},
            {"label_map": str(label_map), **({"label_types": types} if types else {})})


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
    need = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "label"]
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
    for column in ("timestamp", "x1", "y1", "x2", "y2"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(np.float64)
    ts = table["timestamp"].to_numpy()
    bad = ~np.isfinite(ts) | (ts < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise AnnotationError(f"{what} row {row}: the timestamp {ts[row]} is not a number of "
                              "seconds >= 0. Fix: give each keyframe's time in seconds")
    xyxy = table[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
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
    ids = sorted(classes)
    shown = ", ".join(str(i) for i in ids[:12]) + (", ..." if len(ids) > 12 else "")
    return (f"use an id of the label map ({len(ids)} classes: {shown}), or pass the label map "
            "the file was written with")


# --- the label map ---------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}:;,<>])
  | (?P<word>[A-Za-z0-9_.+-]+)
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _tokens(text: str, path: Path) -> list[tuple[str, str, int]]:
    """``[(kind, value, line)]`` of a protocol-buffer text file, comments and spaces dropped."""
    out: list[tuple[str, str, int]] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise AnnotationError(f"{where(path, line)}: unexpected {text[pos:pos + 12]!r}. "
                                  f"{_MAP_FIX}", path=str(path), line=line)
        kind, value = match.lastgroup, match.group()
        if kind == "newline":
            line += 1
        elif kind == "string":
            body = value[1:-1]
            out.append(("string", re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), body),
                        line))
        elif kind in ("punct", "word"):
            out.append((kind, value, line))
        pos = match.end()
    return out


def _read_pbtxt_items(path: Path) -> list[dict]:
    """The ``item`` blocks of a label map: ``[{"name", "id", "label_type", "line"}]``."""
    path = require_file(path, "AVA label map", "Pass the ava_action_list_v2.*.pbtxt file.")
    tokens = _tokens(read_text(path), path)
    items: list[dict] = []
    i = 0

    def fail(message: str, line: int) -> AnnotationError:
        return AnnotationError(f"{where(path, line)}: {message}. {_MAP_FIX}", path=str(path),
                               line=line)

    def expect(value: str) -> None:
        nonlocal i
        if i >= len(tokens) or tokens[i][1] != value:
            found = repr(tokens[i][1]) if i < len(tokens) else "the end of the file"
            raise fail(f"expected {value!r}, found {found}",
                       tokens[min(i, len(tokens) - 1)][2] if tokens else 1)
        i += 1

    while i < len(tokens):
        kind, word, line = tokens[i]
        if kind != "word" or word != "item":
            raise fail(f"expected 'item', found {word!r}", line)
        i += 1
        if i < len(tokens) and tokens[i][1] == ":":
            i += 1
        close = ">" if i < len(tokens) and tokens[i][1] == "<" else "}"
        expect("<" if close == ">" else "{")
        fields: dict[str, tuple[str, str, int]] = {}
        while i < len(tokens) and tokens[i][1] != close:
            kind, key, key_line = tokens[i]
            if kind != "word":
                raise fail(f"expected a field name, found {key!r}", key_line)
            i += 1
            expect(":")
            if i >= len(tokens) or tokens[i][0] not in ("string", "word"):
                raise fail(f"the field {key!r} has no value", key_line)
            if key in fields:
                raise fail(f"the field {key!r} is given twice in one item", key_line)
            fields[key] = tokens[i]
            i += 1
            if i < len(tokens) and tokens[i][1] in (";", ","):
                i += 1
        expect(close)
        items.append(_label_item(fields, line, fail))
    if not items:
        raise AnnotationError(f"{path}: the label map holds no item. {_MAP_FIX}", path=str(path))
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    for item in items:
        for key, seen in (("id", seen_ids), ("name", seen_names)):
            if item[key] in seen:
                raise fail(f"the {key} {item[key]!r} is also that of the item at line "
                           f"{seen[item[key]]}; each action needs its own", item["line"])
            seen[item[key]] = item["line"]
    return items


def _label_item(fields: dict[str, tuple[str, str, int]], line: int, fail) -> dict:
    name = fields.get("name") or fields.get("display_name")
    ident = fields.get("id") or fields.get("label_id")
    if name is None or ident is None:
        raise fail(f"the item has no {'name' if name is None else 'id'}", line)
    if not re.fullmatch(r"\+?[0-9]+", ident[1]) or int(ident[1]) < 1:
        raise fail(f"the id {ident[1]!r} is not a positive integer", ident[2])
    if not name[1].strip():
        raise fail("the name is empty", name[2])
    label_type = fields.get("label_type")
    return {"name": name[1], "id": int(ident[1]), "line": line,
            "label_type": label_type[1] if label_type else None}


def read_ava_label_map(path: str | os.PathLike) -> dict[int, str]:
    """Read an AVA label map (``ava_action_list_v2.*.pbtxt``).

    Parameters
    ----------
    path : path-like
        The ``.pbtxt`` file: ``item { name: "..." id: n }`` blocks, as in the AVA releases.

    Returns
    -------
    dict
        ``action id -> name`` in the file's order (the ActivityNet 2018 list: 60 actions with
        ids between 1 and 80; the full v2.1 list: 80).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AnnotationError
        A token that is not protocol-buffer text, an item without a name or a positive integer
        id, or two items with the same id or name; the message names the file, the line and
        the fix.

    Notes
    -----
    A small hand-written parser of the protocol-buffer text format, enough for label maps (no
    dependency on ``protobuf``): ``#`` comments, single- or double-quoted strings with
    backslash escapes, ``item {...}`` or ``item: <...>``, fields separated by spaces,
    newlines, ``,`` or ``;``. ``label_id`` is read as ``id`` and ``display_name`` as ``name``
    when there is no ``name``, as the official evaluator's parser and the TensorFlow
    object-detection label maps have them; ``label_type`` (``PERSON_MOVEMENT``,
    ``OBJECT_MANIPULATION``, ``PERSON_INTERACTION``) is kept by :func:`read_ava` in
    ``meta["label_types"]``.
    """
    return {item["id"]: item["name"] for item in _read_pbtxt_items(Path(path))}


def write_ava_label_map(path: str | os.PathLike, classes: Mapping[int, str],
                        label_types: Mapping[int, str] | None = None) -> None:
    """Write ``classes`` (``id -> name``) as an AVA label map, in the releases' layout.

    Two-space indentation and double quotes, as in the official files, whose evaluator reads
    the map line by line (``  name:`` / ``  id:``). Atomic.

    Raises
    ------
    AnnotationError
        An id is not a positive integer, or a name is empty or holds a newline.
    """
    lines = []
    for ident, name in classes.items():
        if isinstance(ident, bool) or int(ident) != ident or int(ident) < 1:
            raise AnnotationError(f"label map: the id {ident!r} is not a positive integer. Fix: "
                                  "AVA action ids are 1, 2, ...")
        if not str(name).strip() or "\n" in str(name):
            raise AnnotationError(f"label map: the name {name!r} of id {ident} is empty or holds "
                                  "a newline. Fix: give each action a one-line name")
        escaped = str(name).replace("\\", "\\\\").replace('"', '\\"')
        kind = (label_types or {}).get(ident)
        lines += ["item {", f'  name: "{escaped}"', f"  id: {int(ident)}",
                  *([f"  label_type: {kind}"] if kind else []), "}"]
    write_text(path, "\n".join(lines) + "\n")


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
