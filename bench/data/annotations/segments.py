"""The ground-truth segments table of temporal action detection, its checks and its errors.

A segment is one action instance ``(video_id, t_start, t_end, label)`` in an untrimmed video,
times in seconds from the start of the video. The table is what every annotation reader of
:mod:`bench.data.annotations` returns and what the detection task's metric takes as ground
truth (:mod:`bench.tasks.detection` adds the prediction schema, the same columns plus
``score``). It lives in the data stage because the manifest carries it: a dataset adapter
that reads segments must not reach up into the task stage.

One rule set serves two kinds of input: a table built in memory
(:func:`validate_segments`, whose messages name the row) and an annotation file being read
(the readers, whose messages name the file and the 1-based line). Both call
:func:`segment_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.data.datasets._common import MissingVideosError

__all__ = [
    "SEGMENT_COLUMNS",
    "OPTIONAL_SEGMENT_COLUMNS",
    "VIDEO_COLUMNS",
    "DURATION_TOLERANCE",
    "AnnotationError",
    "MissingAnnotatedVideosError",
    "SegmentAnnotations",
    "empty_segments",
    "segment_problems",
    "validate_segments",
]

#: The columns of a ground-truth segments table, in order.
SEGMENT_COLUMNS = ("video_id", "t_start", "t_end", "label")
#: Columns a segments table may carry besides :data:`SEGMENT_COLUMNS` (kept when present).
OPTIONAL_SEGMENT_COLUMNS = ("actor",)
#: The columns of the per-video table of :class:`SegmentAnnotations`.
VIDEO_COLUMNS = ("video_id", "subset", "duration", "path")
#: Seconds a segment may end past its video's recorded duration. The official ActivityNet
#: files round durations taken from the video metadata, and some of their annotations end a
#: fraction of a second past them; a segment further out than this is an error.
DURATION_TOLERANCE = 0.5


class AnnotationError(ValueError):
    """A bad annotation: the message names the file, the 1-based line, what is wrong and the fix.

    Attributes
    ----------
    path : str or None
        The annotation file (``None`` for a table built in memory).
    line : int or None
        The 1-based line of the offending entry, where the format has lines.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.path = path
        self.line = line


class MissingAnnotatedVideosError(AnnotationError, MissingVideosError):
    """Videos named by an annotation file are absent under the video root.

    Both a :class:`AnnotationError` (a :class:`ValueError`) and the dataset adapters'
    :class:`~bench.data.datasets._common.MissingVideosError` (a :class:`FileNotFoundError`),
    so that code handling either kind of failure sees it.
    """


def empty_segments(extra: Sequence[str] = ()) -> pd.DataFrame:
    """An empty segments table with the dtypes of :data:`SEGMENT_COLUMNS` (plus ``extra``)."""
    frame = pd.DataFrame({"video_id": pd.Series([], dtype=object).astype(str),
                          "t_start": pd.Series([], dtype=np.float64),
                          "t_end": pd.Series([], dtype=np.float64),
                          "label": pd.Series([], dtype=object).astype(str)})
    for name in extra:
        frame[name] = pd.Series([], dtype=np.float64 if name == "score" else object)
    return frame


def segment_problems(t_start: np.ndarray, t_end: np.ndarray, labels: Sequence[str], *,
                     durations: np.ndarray | None = None,
                     classes: Sequence[str] | None = None,
                     tolerance: float = DURATION_TOLERANCE) -> list[str | None]:
    """What is wrong with each segment, and how to fix it (``None`` where nothing is).

    The rules, checked in this order (each segment reports its first broken rule):

    1. both times are finite numbers;
    2. the segment does not start before 0 s;
    3. it does not end before it starts (a segment of zero length is allowed: the official
       ActivityNet files hold a few);
    4. it does not end more than ``tolerance`` seconds past its video's duration, where the
       duration is known (finite);
    5. its label is one of ``classes``, where a class list is given.

    Parameters
    ----------
    t_start, t_end : array of float, shape (n,)
        Seconds from the start of the video.
    labels : sequence of str, length n
    durations : array of float, shape (n,), optional
        Each segment's video duration in seconds; NaN where unknown.
    classes : sequence of str, optional
        The class list labels must come from.
    tolerance : float
        See :data:`DURATION_TOLERANCE`.

    Returns
    -------
    list of (str or None)
        One entry per segment: ``"<what is wrong>. Fix: <how>"`` or ``None``.
    """
    t_start = np.asarray(t_start, dtype=np.float64)
    t_end = np.asarray(t_end, dtype=np.float64)
    n = len(t_start)
    dur = np.full(n, np.nan) if durations is None else np.asarray(durations, dtype=np.float64)
    known = set(classes) if classes is not None else None
    problems: list[str | None] = [None] * n
    finite = np.isfinite(t_start) & np.isfinite(t_end)
    suspects = ~finite | (t_start < 0) | (t_end < t_start) | (t_end > dur + tolerance)
    if known is not None:
        suspects |= ~np.fromiter((label in known for label in labels), dtype=bool, count=n)
    for i in np.flatnonzero(suspects):
        s, e, label = t_start[i], t_end[i], labels[i]
        if not finite[i]:
            problems[i] = (f"the times [{s}, {e}] are not finite numbers. Fix: give start and "
                           "end in seconds as plain numbers")
        elif s < 0:
            problems[i] = (f"the segment [{s:g}, {e:g}] starts before 0 s. Fix: times are "
                           "seconds from the start of the video; clip the start to 0")
        elif e < s:
            problems[i] = (f"the segment [{s:g}, {e:g}] ends before it starts. Fix: give the "
                           "start first and the end second (swap them if they are reversed)")
        elif e > dur[i] + tolerance:
            problems[i] = (f"the segment [{s:g}, {e:g}] ends past the video's duration of "
                           f"{dur[i]:g} s (more than {tolerance:g} s past). Fix: check that "
                           "the times are seconds (not frames) and belong to this video, or "
                           "correct the duration")
        else:
            listed = ", ".join(sorted(known)[:8]) + (", ..." if len(known) > 8 else "")
            problems[i] = (f"the label {label!r} is not in the class list ({listed}). Fix: "
                           "correct the label's spelling or add the class to the class list")
    return problems


def validate_segments(segments: pd.DataFrame, *,
                      durations: Mapping[str, float] | pd.Series | None = None,
                      classes: Sequence[str] | None = None,
                      tolerance: float = DURATION_TOLERANCE,
                      what: str = "segments") -> pd.DataFrame:
    """Check a ground-truth segments table and return it with normalised dtypes.

    Parameters
    ----------
    segments : DataFrame
        Columns :data:`SEGMENT_COLUMNS`; :data:`OPTIONAL_SEGMENT_COLUMNS` and any others are
        kept as they are.
    durations : mapping or Series, optional
        ``video_id -> duration`` in seconds (videos absent or NaN: unknown).
    classes : sequence of str, optional
        The class list; every label must be in it.
    tolerance : float
        See :data:`DURATION_TOLERANCE`.
    what : str
        What the table is, for the messages (``"detections"``, ``"ground truth"``).

    Returns
    -------
    DataFrame
        A copy with ``video_id`` and ``label`` as str (what ``astype(str)`` gives: pandas'
        string dtype from pandas 3, object before), the times as float64, a fresh
        ``RangeIndex`` and the rows in their given order.

    Raises
    ------
    AnnotationError
        A column is missing, a video id or label is empty, or a row breaks a rule of
        :func:`segment_problems`; the message names the row and the video, what is wrong and
        the fix.
    """
    missing = [c for c in SEGMENT_COLUMNS if c not in segments.columns]
    if missing:
        raise AnnotationError(
            f"the {what} table lacks the column(s) {missing}; it has {list(segments.columns)}. "
            f"Fix: give the columns {list(SEGMENT_COLUMNS)}")
    table = segments.reset_index(drop=True).copy()
    for column in ("video_id", "label"):
        empty = table[column].isna() | (table[column].astype(str).str.strip() == "")
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise AnnotationError(f"{what} row {row}: the {column} is empty. Fix: every "
                                  f"segment needs a {column}")
        table[column] = table[column].astype(str)
    for column in ("t_start", "t_end"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(np.float64)
    dur = None
    if durations is not None:
        dur = table["video_id"].map(pd.Series(durations, dtype=np.float64)).to_numpy(
            dtype=np.float64)
    problems = segment_problems(table["t_start"].to_numpy(), table["t_end"].to_numpy(),
                                table["label"].tolist(), durations=dur, classes=classes,
                                tolerance=tolerance)
    for row, problem in enumerate(problems):
        if problem is not None:
            video = table.at[row, "video_id"]
            raise AnnotationError(f"{what} row {row} (video {video!r}): {problem}")
    return table


@dataclass(frozen=True)
class SegmentAnnotations:
    """What an annotation reader returns: the ground truth of a set of untrimmed videos.

    Attributes
    ----------
    segments : DataFrame
        The ground truth, :data:`SEGMENT_COLUMNS` (plus ``actor`` where the file has one), in
        file order.
    videos : DataFrame
        One row per annotated video, :data:`VIDEO_COLUMNS`: its subset (``None`` where the
        format has none), its duration in seconds (NaN where unknown) and its path relative to
        the video root (``None`` without a root). Videos without any segment are listed too
        (ActivityNet's test subset; a THUMOS'14 video with only ambiguous segments).
    classes : tuple of str
        The class list, in the file's order.
    ambiguous : DataFrame
        Segments marked ambiguous (THUMOS'14's ``Ambiguous`` class): not ground truth, but
        detections overlapping them are neither true nor false positives (see
        :func:`bench.tasks.detection.metrics.evaluate_detection`). Empty for other formats.
    missing : tuple of str
        Videos skipped because their file is absent under the video root
        (``allow_missing=True``), sorted.
    meta : dict
        Format facts: ``format``, ``source`` (the file or folder) and, for ActivityNet,
        ``version`` and ``taxonomy`` (the list of nodes).
    """

    segments: pd.DataFrame
    videos: pd.DataFrame
    classes: tuple[str, ...]
    ambiguous: pd.DataFrame = field(default_factory=empty_segments)
    missing: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)

    def durations(self) -> pd.Series:
        """``video_id -> duration`` (NaN where unknown)."""
        return pd.Series(self.videos["duration"].to_numpy(dtype=np.float64),
                         index=self.videos["video_id"].to_numpy(), name="duration")

