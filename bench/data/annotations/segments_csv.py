"""A plain segments CSV for a user's own folder of untrimmed videos.

One action instance per row, after a header that names the columns::

    video,start,end,label
    kitchen/take_01.mp4,12.5,17.0,pour
    kitchen/take_01.mp4,20.1,22.4,stir

``video`` names the file relative to the video root (with or without its extension, or by its
file name alone); ``start`` and ``end`` are seconds. Optional columns: ``duration`` (seconds,
the same on every row of a video), ``subset`` (e.g. ``train`` / ``test``, the same on every row
of a video) and ``actor``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence

from bench.data.annotations._readers import (
    Row,
    assemble,
    check_rows,
    check_videos,
    first_seen,
    read_text,
    where,
)
from bench.data.annotations.segments import (
    DURATION_TOLERANCE,
    AnnotationError,
    SegmentAnnotations,
)
from bench.data.datasets._common import require_file

__all__ = ["CSV_COLUMNS", "OPTIONAL_CSV_COLUMNS", "read_segments_csv"]

#: The columns the header must name.
CSV_COLUMNS = ("video", "start", "end", "label")
#: The columns it may name besides them.
OPTIONAL_CSV_COLUMNS = ("duration", "subset", "actor")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header(path: str, fields: list[str], line: int) -> dict[str, int]:
    names = [f.strip().lower() for f in fields]
    fix = (f"Fix: start the file with the header line '{','.join(CSV_COLUMNS)}' (optional "
           f"columns: {', '.join(OPTIONAL_CSV_COLUMNS)})")
    if len(names) >= 3 and _is_number(names[1]) and _is_number(names[2]):
        raise AnnotationError(f"{where(path, line)}: the first line {','.join(fields)!r} is a "
                              f"segment, not a header. {fix}", path=path, line=line)
    unknown = [n for n in names if n not in CSV_COLUMNS + OPTIONAL_CSV_COLUMNS]
    absent = [c for c in CSV_COLUMNS if c not in names]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if unknown or absent or repeated:
        wrong = "; ".join(part for part in (
            f"unknown column(s) {unknown}" if unknown else "",
            f"missing column(s) {absent}" if absent else "",
            f"repeated column(s) {repeated}" if repeated else "") if part)
        raise AnnotationError(f"{where(path, line)}: the header {','.join(fields)!r} has "
                              f"{wrong}. {fix}", path=path, line=line)
    return {name: i for i, name in enumerate(names)}


def _per_video(videos: dict[str, dict], row: Row, key: str, value: object, path: str) -> None:
    """Record a per-video value (duration, subset), refusing two different ones."""
    info = videos.setdefault(row.video_id, {"subset": None, "duration": math.nan})
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    old = info[key]
    if old is not None and not (isinstance(old, float) and math.isnan(old)) and old != value:
        raise AnnotationError(f"{where(path, row.line)}: video {row.video_id!r} has {key} "
                              f"{value!r} here but {old!r} on an earlier row. Fix: give every "
                              f"row of a video the same {key}", path=path, line=row.line)
    info[key] = value


def read_segments_csv(path: str | os.PathLike, *, classes: Sequence[str] | None = None,
                      durations: Mapping[str, float] | None = None,
                      tolerance: float = DURATION_TOLERANCE,
                      video_root: str | os.PathLike | None = None,
                      allow_missing: bool = False) -> SegmentAnnotations:
    """Read a segments CSV (``video, start, end, label``; the header is required).

    Parameters
    ----------
    path : path-like
        The CSV file (UTF-8; quoting as Python's :mod:`csv` reads it; blank lines skipped).
    classes : sequence of str, optional
        The class list; every label must be in it. Default: the labels present, sorted.
    durations : mapping, optional
        ``video -> duration`` in seconds, for videos whose rows give none.
    tolerance : float
        Seconds a segment may end past its video's duration (see
        :data:`~bench.data.annotations.segments.DURATION_TOLERANCE`).
    video_root : path-like, optional
        The folder of the videos; every video named must have a file there.
    allow_missing : bool, default False
        With ``video_root``: skip the rows of videos without a file (listed in ``.missing``)
        instead of raising.

    Returns
    -------
    SegmentAnnotations
        ``segments`` in file order (with ``actor`` when the column is given); ``videos``
        sorted, with their subset, duration and path.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AnnotationError
        No header or a wrong one, a row with the wrong number of fields or a time that is not
        a number, a segment that starts before 0 s, ends before it starts or ends past its
        video's duration, a label not in ``classes``, or a video given two durations or
        subsets. The message names the file, the 1-based line, what is wrong and the fix.
    MissingAnnotatedVideosError
        Videos have no file under ``video_root`` and ``allow_missing`` is false.
    """
    path = require_file(path, "segments CSV", "Pass the CSV file of the video segments.")
    source = str(path)
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    columns: dict[str, int] | None = None
    rows: list[Row] = []
    videos: dict[str, dict] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if columns is None:
            columns = _header(source, fields, line)
            continue
        if len(fields) != len(columns):
            raise AnnotationError(f"{where(source, line)}: {','.join(fields)!r} has {len(fields)} "
                                  f"field(s), the header {len(columns)}. Fix: give every row "
                                  "the header's columns (quote a value holding a comma)",
                                  path=source, line=line)
        value = {name: fields[i].strip() for name, i in columns.items()}
        try:
            start, end = float(value["start"]), float(value["end"])
            duration = float(value["duration"]) if value.get("duration") else math.nan
        except ValueError:
            raise AnnotationError(f"{where(source, line)}: {','.join(fields)!r} has a time that is "
                                  "not a number. Fix: give start, end (and duration) in "
                                  "seconds, e.g. 12.5", path=source, line=line) from None
        if not value["video"] or not value["label"]:
            raise AnnotationError(f"{where(source, line)}: the video or the label is empty. Fix: "
                                  "name the video and the action on every row",
                                  path=source, line=line)
        extras = {"actor": value["actor"]} if "actor" in value else {}
        row = Row(value["video"].replace("\\", "/"), start, end, value["label"], source, line,
                  extras)
        _per_video(videos, row, "duration", duration, source)
        _per_video(videos, row, "subset", value.get("subset") or None, source)
        rows.append(row)
    if columns is None:
        raise AnnotationError(f"{where(source, 1)}: the file is empty. Fix: start it with the "
                              f"header line '{','.join(CSV_COLUMNS)}'", path=source, line=1)
    for video, info in videos.items():
        if math.isnan(info["duration"]) and durations is not None and video in durations:
            info["duration"] = float(durations[video])
    labels = sorted({r.label for r in rows}) if classes is None else list(classes)
    check_rows(rows, durations={v: i["duration"] for v, i in videos.items()},
               classes=classes, tolerance=tolerance)
    paths, missing = check_videos(first_seen(rows), video_root, source=source,
                                  allow_missing=allow_missing)
    return assemble(rows, videos, labels, paths=paths, missing=missing,
                    meta={"format": "segments_csv", "source": source})
