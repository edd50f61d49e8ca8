"""The ActivityNet JSON formats of temporal detection: results and ground-truth database.

A run directory stores detections in the field's own results format and the ground truth
beside them in the annotation (``database``) format, so that the official evaluators run on
them unchanged::

    results:  {"version": "VERSION 1.3",
               "results": {"<video>": [{"segment": [t0, t1], "label": "...", "score": 0.9}]},
               "external_data": {"used": false, "details": "..."}}
    database: {"version": "VERSION 1.3", "taxonomy": [],
               "database": {"<video>": {"subset": "validation", "duration": 39.6,
                                        "annotations": [{"segment": [t0, t1], "label": "..."}]}}}

Writes are atomic (:mod:`bench.atomic`). Times and scores are written with Python's shortest
round-trip representation, so reading a file back gives the same floats.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from bench.atomic import write_json
from bench.data.annotations.activitynet import json_entry_line, read_activitynet
from bench.data.annotations.segments import (
    AnnotationError,
    SegmentAnnotations,
    segment_problems,
)
from bench.tasks.detection.segments import validate_detections, validate_segments

__all__ = [
    "RESULTS_VERSION",
    "write_results_json",
    "read_results_json",
    "write_database_json",
    "read_database_json",
]

#: The version string written by default (the layout of ActivityNet v1.3).
RESULTS_VERSION = "VERSION 1.3"


def write_results_json(path: str | os.PathLike, detections: pd.DataFrame, *,
                       version: str = RESULTS_VERSION, external_data: dict | None = None,
                       videos: Iterable[str] = (), proposals: bool = False) -> None:
    """Write detections as an ActivityNet results file.

    Parameters
    ----------
    path : path-like
    detections : DataFrame
        ``video_id, t_start, t_end, label, score``; each video's detections are written in
        the table's order.
    version : str
    external_data : dict, optional
        The submission's statement on outside data; default
        ``{"used": False, "details": ""}``.
    videos : iterable of str
        Videos to list with an empty result even without detections (evaluated videos on
        which the method found nothing).
    proposals : bool, default False
        Class-agnostic proposals (the proposal task's format): no ``label`` is written.

    Raises
    ------
    AnnotationError
        The table breaks the detections schema.
    """
    det = validate_detections(detections, require_label=not proposals)
    results: dict[str, list[dict]] = {str(v): [] for v in videos}
    starts, ends = det["t_start"].tolist(), det["t_end"].tolist()
    scores, labels = det["score"].tolist(), det["label"].tolist()
    for i, video in enumerate(det["video_id"].tolist()):
        entry = {"segment": [starts[i], ends[i]], "score": scores[i]}
        if not proposals:
            entry["label"] = labels[i]
        results.setdefault(video, []).append(entry)
    write_json(path, {"version": version, "results": results,
                      "external_data": external_data or {"used": False, "details": ""}})


def read_results_json(path: str | os.PathLike, *, proposals: bool = False) -> pd.DataFrame:
    """Read an ActivityNet results file into a detections table.

    Parameters
    ----------
    path : path-like
    proposals : bool, default False
        Accept entries without ``label`` (the proposal task's format; label ``"proposal"``).

    Returns
    -------
    DataFrame
        ``video_id, t_start, t_end, label, score`` in file order.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AnnotationError
        Invalid JSON, no ``results`` object, or an entry without a two-number ``segment``, a
        string ``label`` or a numeric ``score``, or a segment that breaks the detections
        schema; the message names the file, the line, the entry and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {str(path)!r} not found")
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg} at column "
                              f"{exc.colno}). Fix: repair the file", path=str(path),
                              line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise AnnotationError(f"{path}, line 1: no 'results' object. Fix: a results file is "
                              "{\"version\", \"results\": {video: [{\"segment\": [t0, t1], "
                              "\"label\", \"score\"}]}, \"external_data\"}", path=str(path),
                              line=1)
    columns: dict[str, list] = {"video_id": [], "t_start": [], "t_end": [], "label": [],
                                "score": []}
    where: list[tuple[str, int]] = []
    for video, entries in data["results"].items():
        if not isinstance(entries, list):
            line = json_entry_line(text, video)
            raise AnnotationError(f"{path}, line {line}: results[{video!r}] is not a list. Fix: "
                                  "give each video a list of detections", path=str(path),
                                  line=line)
        for k, entry in enumerate(entries):
            label = entry.get("label", "proposal" if proposals else None) \
                if isinstance(entry, dict) else None
            segment = entry.get("segment") if isinstance(entry, dict) else None
            score = entry.get("score") if isinstance(entry, dict) else None
            if not (isinstance(segment, list) and len(segment) == 2 and all(
                    _is_number(t) for t in segment) and isinstance(label, str)
                    and _is_number(score)):
                line = json_entry_line(text, video, k, list_key=None)
                raise AnnotationError(
                    f"{path}, line {line}: results[{video!r}][{k}] = {json.dumps(entry)[:120]} "
                    "is not {\"segment\": [t0, t1], \"label\": \"...\", \"score\": s}. Fix: give "
                    "each detection two times in seconds, its label and a numeric score",
                    path=str(path), line=line)
            columns["video_id"].append(video)
            columns["t_start"].append(float(segment[0]))
            columns["t_end"].append(float(segment[1]))
            columns["label"].append(label)
            columns["score"].append(float(score))
            where.append((video, k))
    problems = segment_problems(np.asarray(columns["t_start"], dtype=np.float64),
                                np.asarray(columns["t_end"], dtype=np.float64),
                                columns["label"])
    for (video, k), problem in zip(where, problems, strict=True):
        if problem is not None:
            line = json_entry_line(text, video, k, list_key=None)
            raise AnnotationError(f"{path}, line {line}: results[{video!r}][{k}]: {problem}",
                                  path=str(path), line=line)
    return validate_detections(pd.DataFrame(columns))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def write_database_json(path: str | os.PathLike, ground_truth: pd.DataFrame | SegmentAnnotations,
                        videos: pd.DataFrame | None = None, *, subset: str = "validation",
                        version: str = RESULTS_VERSION, taxonomy: list | tuple = ()) -> None:
    """Write ground truth as an ActivityNet annotation (``database``) file.

    Parameters
    ----------
    path : path-like
    ground_truth : DataFrame or SegmentAnnotations
        ``video_id, t_start, t_end, label``, or what an annotation reader returned (its
        ``videos`` are then used).
    videos : DataFrame, optional
        ``video_id`` with ``subset`` and ``duration`` (NaN: left out of the file): the
        videos to list, annotated or not. Default: the videos of the segments.
    subset : str, default "validation"
        The subset written for videos without one; the official evaluator keeps the videos
        of one subset, ``validation`` unless told otherwise.
    version : str
    taxonomy : list of dict
        Taxonomy nodes (``nodeId, nodeName, parentId, parentName``); empty by default, in
        which case a reader takes the labels present as the class list.

    Raises
    ------
    AnnotationError
        The segments break the schema, or a segment's video is not in ``videos``.

    Notes
    -----
    An ``actor`` column is not written: the format has no place for it.
    """
    if isinstance(ground_truth, SegmentAnnotations):
        videos = ground_truth.videos if videos is None else videos
        ground_truth = ground_truth.segments
    gt = validate_segments(ground_truth, what="ground truth")
    if videos is None:
        videos = pd.DataFrame({"video_id": pd.unique(gt["video_id"])})
    ids = videos["video_id"].astype(str).tolist()
    subsets = videos["subset"].tolist() if "subset" in videos else [None] * len(ids)
    durations = videos["duration"].tolist() if "duration" in videos else [np.nan] * len(ids)
    database: dict[str, dict] = {}
    for video, sub, duration in zip(ids, subsets, durations, strict=True):
        entry: dict = {"subset": sub if isinstance(sub, str) and sub else subset,
                       "annotations": []}
        if duration is not None and math.isfinite(float(duration)):
            entry["duration"] = float(duration)
        database[video] = entry
    unknown = sorted(set(gt["video_id"]) - set(database))
    if unknown:
        raise AnnotationError(f"ground truth names {len(unknown)} video(s) not in the videos "
                              f"table, e.g. {unknown[:3]}. Fix: list every annotated video in "
                              "videos, or leave videos out")
    for video, t0, t1, label in zip(gt["video_id"].tolist(), gt["t_start"].tolist(),
                                    gt["t_end"].tolist(), gt["label"].tolist(), strict=True):
        database[video]["annotations"].append({"segment": [t0, t1], "label": label})
    write_json(path, {"version": version, "taxonomy": list(taxonomy), "database": database})


def read_database_json(path: str | os.PathLike, subset: str | None = None,
                       **options) -> SegmentAnnotations:
    """Read an ActivityNet annotation file: :func:`bench.data.annotations.read_activitynet`.

    The one reader of the format lives in the data stage, where dataset adapters reach it;
    this name pairs it with :func:`write_database_json`.
    """
    return read_activitynet(path, subset, **options)
