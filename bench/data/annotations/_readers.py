"""Helpers shared by the annotation readers: locations in messages, rule checks, video lookup.

Like the dataset adapters (:mod:`bench.data.datasets._common`), nothing here opens a video:
the video root is only listed, so reading annotations stays cheap and decodes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
import pandas as pd

from bench.data.annotations.segments import (
    DURATION_TOLERANCE,
    SEGMENT_COLUMNS,
    VIDEO_COLUMNS,
    AnnotationError,
    MissingAnnotatedVideosError,
    SegmentAnnotations,
    segment_problems,
)
from bench.data.datasets._common import (
    MAX_LISTED_MISSING,
    is_video_file,
    list_videos,
    require_dir,
)

__all__ = ["where", "Row", "first_seen", "first_problem", "check_rows", "locate_videos",
           "check_videos", "assemble", "read_text"]

#: How deep under the video root videos are looked for (``root/<a>/<b>/<video>``).
VIDEO_SEARCH_DEPTH = 2


class Row(NamedTuple):
    """One parsed segment and where it was read (``extras``: optional columns, e.g. actor)."""

    video_id: str
    t_start: float
    t_end: float
    label: str
    path: str
    line: int | None
    extras: dict


def where(path: str | os.PathLike, line: int | None = None) -> str:
    """``"<file>, line <n>"`` (or just the file) for the start of a message."""
    return f"{path}, line {line}" if line is not None else str(path)


def first_problem(rows: Sequence[Row], *, durations: Mapping[str, float] | None,
                  classes: Sequence[str] | None,
                  tolerance: float = DURATION_TOLERANCE) -> tuple[int, str] | None:
    """``(index, problem)`` of the first row that breaks a rule of :func:`segment_problems`."""
    if not rows:
        return None
    dur = None
    if durations is not None:
        dur = np.array([_duration_of(durations, r.video_id) for r in rows], dtype=np.float64)
    problems = segment_problems(np.array([r.t_start for r in rows], dtype=np.float64),
                                np.array([r.t_end for r in rows], dtype=np.float64),
                                [r.label for r in rows], durations=dur, classes=classes,
                                tolerance=tolerance)
    for index, problem in enumerate(problems):
        if problem is not None:
            return index, problem
    return None


def check_rows(rows: Sequence[Row], *, durations: Mapping[str, float] | None,
               classes: Sequence[str] | None, tolerance: float = DURATION_TOLERANCE) -> None:
    """Raise for the first row that breaks a rule of :func:`segment_problems`.

    Raises
    ------
    AnnotationError
        Naming the row's file and line, the video, what is wrong and the fix.
    """
    found = first_problem(rows, durations=durations, classes=classes, tolerance=tolerance)
    if found is not None:
        row = rows[found[0]]
        raise AnnotationError(f"{where(row.path, row.line)}: video {row.video_id!r}: "
                              f"{found[1]}", path=row.path, line=row.line)


def first_seen(rows: Sequence[Row], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``video_id -> "file, line n"`` of each video's first row (``extra``: videos without rows)."""
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(row.video_id, where(row.path, row.line))
    for video, location in (extra or {}).items():
        seen.setdefault(video, location)
    return seen


def _duration_of(durations: Mapping[str, float], video_id: str) -> float:
    value = durations.get(video_id)
    return np.nan if value is None else float(value)


def locate_videos(video_ids: Sequence[str], root: str | os.PathLike, *,
                  prefixes: Sequence[str] = ("",)) -> dict[str, str | None]:
    """The file of each video under ``root`` (relative POSIX path), or ``None`` if absent.

    A video id names a file as its path relative to the root, with or without extension, or
    by its file name without extension at most :data:`VIDEO_SEARCH_DEPTH` folders deep; each
    of ``prefixes`` is tried in turn (ActivityNet's archives name ``<id>`` ``v_<id>.mp4``).

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    AnnotationError
        A video id matches several files by file name alone.
    """
    root = require_dir(root, "video root", "Pass the folder that holds the annotated videos.")
    files = list_videos(root, max_depth=VIDEO_SEARCH_DEPTH)
    exact = set(files)
    no_ext: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for rel in files:
        no_ext.setdefault(str(PurePosixPath(rel).with_suffix("")), rel)
        by_name.setdefault(PurePosixPath(rel).stem, []).append(rel)
    found: dict[str, str | None] = {}
    for video in video_ids:
        found[video] = None
        for name in (prefix + video for prefix in prefixes):
            if name in exact or name in no_ext:
                found[video] = name if name in exact else no_ext[name]
                break
            if "/" in name:
                continue
            matches = by_name.get(PurePosixPath(name).stem if is_video_file(name) else name, [])
            if len(matches) > 1:
                raise AnnotationError(
                    f"video {video!r} matches several files under {root}: {matches[:4]}. "
                    "Fix: name the video by its path relative to the video root")
            if matches:
                found[video] = matches[0]
                break
    return found


def check_videos(first_seen: Mapping[str, str], root: str | os.PathLike | None, *,
                 source: str, allow_missing: bool,
                 prefixes: Sequence[str] = ("",)) -> tuple[dict[str, str], list[str]]:
    """Find the annotated videos under ``root``; raise for missing ones unless allowed.

    Parameters
    ----------
    first_seen : mapping
        ``video_id -> location`` (``"file, line n"``) of its first annotation.
    root : path-like or None
        The video root; ``None`` skips the check.
    source : str
        The annotation file or folder, for the message.
    allow_missing : bool
        Return the missing videos instead of raising.
    prefixes : sequence of str
        See :func:`locate_videos`.

    Returns
    -------
    paths : dict
        ``video_id -> path`` relative to the root, for the videos found.
    missing : list of str
        The videos without a file, sorted.

    Raises
    ------
    MissingAnnotatedVideosError
        Videos are missing and ``allow_missing`` is false: the count, the first
        :data:`~bench.data.datasets._common.MAX_LISTED_MISSING` with the line of their first
        annotation, and the way out.
    """
    if root is None:
        return {}, []
    located = locate_videos(list(first_seen), root, prefixes=prefixes)
    missing = sorted(video for video, rel in located.items() if rel is None)
    if missing and not allow_missing:
        listed = "\n  ".join(f"{first_seen[v]}: video {v!r}" for v in missing[:MAX_LISTED_MISSING])
        more = (f"\n  ... and {len(missing) - MAX_LISTED_MISSING} more"
                if len(missing) > MAX_LISTED_MISSING else "")
        raise MissingAnnotatedVideosError(
            f"{len(missing)} video(s) annotated in {source} have no file under the video root "
            f"{root}:\n  {listed}{more}\nFix: check the video root (a video is looked up as "
            f"<video id> with any video extension, at most {VIDEO_SEARCH_DEPTH} folders deep), "
            "or pass allow_missing=True (--allow-missing) to skip their annotations; the "
            "skipped videos are returned in .missing",
            path=source, line=None)
    return {v: rel for v, rel in located.items() if rel is not None}, missing


def assemble(rows: Sequence[Row], videos: Mapping[str, dict], classes: Sequence[str], *,
             paths: Mapping[str, str], missing: Sequence[str], ambiguous_label: str | None = None,
             meta: dict) -> SegmentAnnotations:
    """Build the :class:`SegmentAnnotations` of parsed rows, leaving out missing videos.

    ``videos`` maps each video id to ``{"subset": ..., "duration": ...}``; a row whose label is
    ``ambiguous_label`` goes to ``ambiguous``; the extras of a row (``actor``) become columns.
    """
    skip = set(missing)
    kept = [r for r in rows if r.video_id not in skip]
    extras = sorted({key for r in kept for key in r.extras})
    frame = pd.DataFrame({
        "video_id": pd.Series([r.video_id for r in kept], dtype=object).astype(str),
        "t_start": pd.Series([r.t_start for r in kept], dtype=np.float64),
        "t_end": pd.Series([r.t_end for r in kept], dtype=np.float64),
        "label": pd.Series([r.label for r in kept], dtype=object).astype(str),
        **{key: pd.Series([r.extras.get(key) for r in kept], dtype=object) for key in extras},
    })
    is_amb = (frame["label"] == ambiguous_label).to_numpy() if ambiguous_label else \
        np.zeros(len(frame), dtype=bool)
    ids = sorted(v for v in videos if v not in skip)
    table = pd.DataFrame({
        "video_id": pd.Series(ids, dtype=object).astype(str),
        "subset": pd.Series([videos[v].get("subset") for v in ids], dtype=object),
        "duration": pd.Series([videos[v].get("duration", np.nan) for v in ids],
                              dtype=np.float64),
        "path": pd.Series([paths.get(v) for v in ids], dtype=object),
    })[list(VIDEO_COLUMNS)]
    return SegmentAnnotations(
        segments=frame.loc[~is_amb].reset_index(drop=True),
        videos=table,
        classes=tuple(classes),
        ambiguous=frame.loc[is_amb, list(SEGMENT_COLUMNS)].reset_index(drop=True),
        missing=tuple(sorted(skip)),
        meta=meta,
    )


def read_text(path: Path) -> str:
    """The file's text (UTF-8, an optional BOM dropped; CRLF is handled by ``splitlines``)."""
    return path.read_text(encoding="utf-8-sig", errors="replace")
