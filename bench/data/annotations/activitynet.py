"""ActivityNet annotation files: the ``database`` JSON of versions 1.2 and 1.3.

Layout (both versions)::

    {"version": "VERSION 1.3",
     "taxonomy": [{"nodeId": 1, "nodeName": "...", "parentId": 0, "parentName": "..."}, ...],
     "database": {"<youtube id>": {"subset": "training" | "validation" | "testing",
                                   "duration": 39.59, "url": "...", "resolution": "...",
                                   "annotations": [{"segment": [t0, t1], "label": "..."}]}}}

The action classes are the leaves of the taxonomy; the test subset carries no annotations.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bench.data.annotations._readers import (
    Row,
    assemble,
    check_videos,
    first_problem,
    read_text,
    where,
)
from bench.data.annotations.segments import (
    DURATION_TOLERANCE,
    AnnotationError,
    SegmentAnnotations,
)
from bench.data.datasets._common import require_file

__all__ = ["ACTIVITYNET_SUBSETS", "VIDEO_PREFIXES", "read_activitynet", "taxonomy_leaves",
           "json_entry_line"]

#: The subsets of the official files.
ACTIVITYNET_SUBSETS = ("training", "validation", "testing")
#: How the archives name the file of video ``<id>``: ``<id>.*`` or ``v_<id>.*``.
VIDEO_PREFIXES = ("", "v_")

_FIX = ("Fix: an ActivityNet annotation file is {\"version\", \"taxonomy\", \"database\": "
        "{video: {\"subset\", \"duration\", \"annotations\": [{\"segment\": [t0, t1], "
        "\"label\"}]}}}")


def json_entry_line(text: str, key: str, index: int | None = None,
                    list_key: str | None = "annotations") -> int | None:
    """The 1-based line of the entry ``key`` of a JSON text, or of its ``index``-th list item.

    Only used to word errors, so it searches the text instead of tracking positions while
    parsing: the first ``"<key>":`` opens the entry; its list is the one after ``list_key``
    (or, with ``list_key=None``, the entry's own value), and the ``index``-th ``{`` after the
    list's ``[`` opens the item, which holds for lists of flat objects such as ActivityNet's
    annotations and results. ``None`` when the key is not found.
    """
    found = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    if found is None:
        return None
    pos = found.start()
    if index is not None:
        opener = (re.escape(json.dumps(list_key)) + r"\s*:\s*\[") if list_key else r"\["
        start = re.compile(opener).search(text, found.end())
        if start is not None:
            pos = start.end()
            for _ in range(index + 1):
                brace = text.find("{", pos)
                if brace < 0:
                    break
                pos = brace + 1
    return text.count("\n", 0, pos) + 1


class _Locator:
    """Errors that name the line of a video's entry or annotation (:func:`json_entry_line`)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def line(self, video: str, annotation: int | None = None) -> int | None:
        return json_entry_line(self.text, video, annotation)

    def error(self, message: str, video: str, annotation: int | None = None) -> AnnotationError:
        line = self.line(video, annotation)
        entry = f"database[{video!r}]" + (f"['annotations'][{annotation}]"
                                          if annotation is not None else "")
        return AnnotationError(f"{where(self.path, line)}: {entry}: {message}",
                               path=str(self.path), line=line)


class _Locations(Mapping):
    """``video -> "file, line n"`` of its entry, searched only for the videos asked about."""

    def __init__(self, videos: list[str], locate: _Locator) -> None:
        self.videos, self.locate = videos, locate

    def __getitem__(self, video: str) -> str:
        return where(self.locate.path, self.locate.line(video))

    def __iter__(self) -> Iterator[str]:
        return iter(self.videos)

    def __len__(self) -> int:
        return len(self.videos)


def taxonomy_leaves(taxonomy: Sequence[dict]) -> list[str]:
    """The names of the taxonomy's leaves (nodes that are nobody's parent), in file order.

    ActivityNet labels its segments with leaf nodes only; the inner nodes group them
    (``"Washing dishes"`` under ``"Housework"``).
    """
    parents = {node.get("parentName") for node in taxonomy}
    parent_ids = {node.get("parentId") for node in taxonomy}
    return [node["nodeName"] for node in taxonomy
            if node.get("nodeName") not in parents and node.get("nodeId") not in parent_ids]


def _parse_video(video: str, entry: object, locate: _Locator, path: Path) -> tuple[dict, list[Row]]:
    if not isinstance(entry, dict):
        raise locate.error(f"is {type(entry).__name__}, not an object. {_FIX}", video)
    duration = entry.get("duration")
    if duration is None:
        duration = math.nan
    elif isinstance(duration, bool) or not isinstance(duration, (int, float)) or \
            not math.isfinite(duration) or duration <= 0:
        raise locate.error(f"the duration {duration!r} is not a positive number of seconds. "
                           "Fix: give the video's length in seconds, or leave the duration out",
                           video)
    annotations = entry.get("annotations", [])
    if not isinstance(annotations, list):
        raise locate.error(f"'annotations' is {type(annotations).__name__}, not a list. {_FIX}",
                           video)
    rows = []
    for k, ann in enumerate(annotations):
        segment = ann.get("segment") if isinstance(ann, dict) else None
        label = ann.get("label") if isinstance(ann, dict) else None
        numbers = isinstance(segment, list) and len(segment) == 2 and all(
            isinstance(t, (int, float)) and not isinstance(t, bool) for t in segment)
        if not numbers or not isinstance(label, str) or not label.strip():
            raise locate.error(f"{json.dumps(ann)[:120]} is not {{\"segment\": [t0, t1], "
                               "\"label\": \"...\"}. Fix: give each annotation its segment as "
                               "two numbers (seconds) and its label as a string", video, k)
        rows.append(Row(video, float(segment[0]), float(segment[1]), label, str(path), None, {}))
    return {"subset": entry.get("subset"), "duration": float(duration)}, rows


def read_activitynet(path: str | os.PathLike, subset: str | None = None, *,
                     classes: Sequence[str] | None = None,
                     tolerance: float = DURATION_TOLERANCE,
                     video_root: str | os.PathLike | None = None,
                     allow_missing: bool = False) -> SegmentAnnotations:
    """Read an ActivityNet annotation file (``activity_net.v1-3.min.json`` and the like).

    Parameters
    ----------
    path : path-like
        The JSON file.
    subset : {"training", "validation", "testing"}, optional
        Keep the videos of this subset only. Default: all.
    classes : sequence of str, optional
        The class list labels must come from. Default: the leaves of the file's taxonomy, or,
        when the taxonomy is empty (as in files written by
        :func:`bench.tasks.detection.formats.write_database_json`), the labels present,
        sorted.
    tolerance : float
        Seconds a segment may end past its video's ``duration`` (see
        :data:`~bench.data.annotations.segments.DURATION_TOLERANCE`).
    video_root : path-like, optional
        The folder of the videos, found as ``<id>.*`` or ``v_<id>.*``.
    allow_missing : bool, default False
        With ``video_root``: skip videos without a file (listed in ``.missing``) instead of
        raising.

    Returns
    -------
    SegmentAnnotations
        ``segments`` in file order; ``videos`` with each video's subset and duration (every
        video of the kept subsets, annotated or not), sorted; ``meta`` with ``version`` and
        ``taxonomy`` (the list of nodes).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        ``subset`` is not among the file's subsets.
    AnnotationError
        Invalid JSON, no ``database`` object, a malformed video entry or annotation, a segment
        that starts before 0 s, ends before it starts or ends past its video's duration, or a
        label not in the class list. The message names the file, the line (of the video's
        entry, or of the annotation where it can be found; 1 in a minified file), the entry,
        what is wrong and the fix.
    MissingAnnotatedVideosError
        Videos have no file under ``video_root`` and ``allow_missing`` is false.

    Notes
    -----
    Segments are kept as the file gives them, not clipped to the duration: the official
    evaluator uses them so. A segment of zero length is accepted (the official files hold a
    few); it can match no detection (see :func:`bench.tasks.detection.metrics.temporal_iou`).

    References
    ----------
    .. [1] Caba Heilbron, Escorcia, Ghanem & Niebles, "ActivityNet: A Large-Scale Video
       Benchmark for Human Activity Understanding", CVPR 2015.
       https://doi.org/10.1109/CVPR.2015.7298698
    """
    path = require_file(path, "ActivityNet annotation file",
                        "Pass the activity_net.v1-*.json file of the dataset.")
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{where(path, exc.lineno)}: not valid JSON ({exc.msg} at column "
                              f"{exc.colno}). Fix: repair the file, or download it again",
                              path=str(path), line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        got = "a 'results' object (a predictions file)" if isinstance(data, dict) and \
            "results" in data else "no 'database' object"
        raise AnnotationError(f"{where(path, 1)}: the file holds {got}. {_FIX}",
                              path=str(path), line=1)
    taxonomy = data.get("taxonomy") or []
    locate = _Locator(path, text)
    videos: dict[str, dict] = {}
    rows: list[Row] = []
    index: list[int] = []  # each row's position in its video's annotations
    for video, entry in data["database"].items():
        info, video_rows = _parse_video(video, entry, locate, path)
        videos[video] = info
        rows.extend(video_rows)
        index.extend(range(len(video_rows)))
    present = sorted({str(v["subset"]) for v in videos.values()})
    if subset is not None:
        if subset not in present:
            raise ValueError(f"The 'subset' of {path} must be one of {present}. Got {subset!r} "
                             "instead.")
        videos = {v: info for v, info in videos.items() if info["subset"] == subset}
        keep = [i for i, r in enumerate(rows) if r.video_id in videos]
        rows, index = [rows[i] for i in keep], [index[i] for i in keep]
    if classes is None:
        leaves = taxonomy_leaves(taxonomy)
        classes = leaves if leaves else sorted({r.label for r in rows})
    found = first_problem(rows, durations={v: i["duration"] for v, i in videos.items()},
                          classes=classes, tolerance=tolerance)
    if found is not None:
        raise locate.error(found[1], rows[found[0]].video_id, index[found[0]])
    paths, missing = check_videos(_Locations(list(videos), locate), video_root,
                                  source=str(path), allow_missing=allow_missing,
                                  prefixes=VIDEO_PREFIXES)
    return assemble(rows, videos, classes, paths=paths, missing=missing,
                    meta={"format": "activitynet", "source": str(path),
                          "version": data.get("version"), "taxonomy": list(taxonomy)})

