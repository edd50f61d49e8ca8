"""What a localization unit records: its AVA files and its ``results.csv`` rows.

The harness hands a localization method integer labels, absolute paths and keyframe times in
seconds (the method protocol, :mod:`bench.methods`); the unit's files are those of AVA [1]_,
which the official evaluator (``get_ava_performance.py``) reads without edits:

``ground_truth.csv``
    The fold's test ground truth: ``video_id, timestamp, x1, y1, x2, y2, action_id,
    person_id``, no header, one row per (actor box, action).
``detections.csv``
    The method's boxes: ``video_id, timestamp, x1, y1, x2, y2, action_id, score``.
``label_map.pbtxt``
    ``item { name: "<class>" id: <action_id> }`` for every class of the dataset.
``excluded_timestamps.csv``
    ``video_id, timestamp`` of the keyframes left out of the evaluation: those the dataset
    excludes (AVA's ``ava_*_excluded_timestamps``) and the ground-truth keyframes of the test
    videos the method failed on, so that the evaluator leaves those videos out as the run's
    metrics do. Often empty (an empty file).

The mapping to AVA's conventions:

* **action ids are 1-based**: class index ``i`` of the dataset (``label`` in the method
  protocol, ``MethodContext.classes[i]``) is action id ``i + 1`` (:data:`ACTION_ID_OFFSET`),
  as AVA's label maps number their actions from 1;
* **timestamps are whole seconds**: AVA's keyframes are one a second and its files hold them
  as integers (``0902``; the evaluator reads ``int(timestamp)`` and fails on ``2.5``). A
  keyframe time is written as the nearest whole second: at the 1 Hz rule of
  :func:`bench.data.datasets.localization_truth.keyframe_table` keyframe ``k`` lies within
  half a frame of ``k`` seconds. A time more than :data:`KEYFRAME_TOLERANCE_S` from a whole
  second is refused (it is not a 1 Hz keyframe), and so are two times of one video that
  would share a second;
* **boxes** are fractions of the frame with three decimals (the releases' layout,
  :func:`~bench.data.annotations.ava.write_ava_csv`); a detection that has no area once
  rounded is dropped (the evaluator drops boxes without area), counted in ``timing.json``.

The unit's metrics are computed from the files *as written* (read back with
:func:`~bench.data.annotations.ava.read_ava`), with the evaluator's settings
(:func:`frame_result`: the label map's classes, the excluded keyframes, the 50 best
detections per keyframe), so that ``results.csv`` says what the official evaluator says on
the same files:

``frame_map@0.50``
    Frame-mAP at box IoU 0.5 (:func:`~bench.tasks.localization.frame_ap.frame_map`), with its
    95 % bootstrap interval over the test videos.
``person_ap@0.50``, ``person_recall@0.50``
    Class-agnostic actor detection (:func:`~bench.tasks.localization.persons.person_detection`)
    against the ground truth's actor boxes (the actors doing an action at the keyframe, as
    AVA annotates them; idle actors are not in it).

No video-mAP row: it ranks whole tubes, which need per-frame ground-truth tubes the manifest
does not carry and a method's track ids, which the AVA results file cannot hold. A method's
optional ``person_id`` column is accepted and not used.

References
----------
.. [1] Gu et al., "AVA: A Video Dataset of Spatio-temporally Localized Atomic Visual
   Actions", CVPR 2018. https://doi.org/10.1109/CVPR.2018.00633; the files and the evaluator:
   https://research.google.com/ava/download.html
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.annotations.ava import (
    BOX_TOLERANCE,
    read_ava,
    read_ava_excluded,
    write_ava_csv,
    write_ava_excluded,
)
from bench.data.annotations.pbtxt import read_ava_label_map, write_ava_label_map
from bench.tasks.localization.frame_ap import AVA_MAX_DETECTIONS_PER_KEYFRAME, frame_map
from bench.tasks.localization.persons import person_detection
from bench.tasks.localization.result import LocalizationResult

__all__ = ["GROUND_TRUTH_FILE", "DETECTIONS_FILE", "LABEL_MAP_FILE", "EXCLUDED_FILE",
           "UNIT_FILES", "METHOD_COLUMNS", "ACTION_ID_OFFSET", "KEYFRAME_TOLERANCE_S",
           "IOU_THRESHOLD", "BOX_DECIMALS", "UnitFiles", "label_map", "whole_seconds",
           "training_boxes", "ground_truth_table", "detections_table", "excluded_table",
           "write_unit_files", "read_unit_files", "frame_result", "metric_values"]

GROUND_TRUTH_FILE = "ground_truth.csv"
DETECTIONS_FILE = "detections.csv"
LABEL_MAP_FILE = "label_map.pbtxt"
EXCLUDED_FILE = "excluded_timestamps.csv"
#: Every file a localization unit writes beside its results.
UNIT_FILES = (GROUND_TRUTH_FILE, DETECTIONS_FILE, LABEL_MAP_FILE, EXCLUDED_FILE)
#: The columns of a localization method's ``localize`` output (the method protocol).
METHOD_COLUMNS = ("video", "timestamp", "x1", "y1", "x2", "y2", "label", "score")
#: AVA action id of class index 0: AVA's label maps number their actions from 1.
ACTION_ID_OFFSET = 1
#: Seconds a keyframe time may be from a whole second (a 1 Hz keyframe is within half a frame).
KEYFRAME_TOLERANCE_S = 0.1
#: The box IoU of the unit's metrics (frame-mAP and person AP).
IOU_THRESHOLD = 0.5
#: Decimals of the box corners in the AVA files (the releases' three).
BOX_DECIMALS = 3


def label_map(classes: Sequence[str]) -> dict[int, str]:
    """``action id -> class name``: class index ``i`` is action id ``i + 1``."""
    return {i + ACTION_ID_OFFSET: str(name) for i, name in enumerate(classes)}


def whole_seconds(video_ids: Sequence[str], timestamps: Sequence[float],
                  what: str) -> np.ndarray:
    """Keyframe times as AVA's whole seconds (float), or an error naming the row and the fix.

    Parameters
    ----------
    video_ids, timestamps : sequences
        One keyframe per row.
    what : str
        Whose times they are, for the message (``"the ground truth"``, ``"m.localize"``).

    Raises
    ------
    ValueError
        A time more than :data:`KEYFRAME_TOLERANCE_S` from a whole second, or two different
        times of one video at the same whole second.
    """
    times = np.asarray(timestamps, dtype=np.float64)
    seconds = np.round(times)
    off = np.flatnonzero(~(np.abs(times - seconds) <= KEYFRAME_TOLERANCE_S))
    if len(off):
        i = int(off[0])
        raise ValueError(
            f"{what}: the keyframe time {times[i]!r} s of video {str(video_ids[i])!r} is not at "
            f"a whole second (within {KEYFRAME_TOLERANCE_S} s). Fix: give boxes at the 1 Hz "
            "keyframes only (keyframe k is the frame nearest k seconds, "
            "bench.data.datasets.localization_truth.keyframe_table); AVA files hold whole "
            "seconds")
    pairs = pd.DataFrame({"video_id": np.asarray(video_ids, dtype=object).astype(str),
                          "second": seconds, "time": times}).drop_duplicates()
    clash = pairs.duplicated(["video_id", "second"], keep=False).to_numpy()
    if clash.any():
        row = pairs[clash].iloc[0]
        raise ValueError(f"{what}: video {row['video_id']!r} has two keyframe times at "
                         f"{row['second']:g} s. Fix: one keyframe a second (AVA's rate)")
    return seconds


def training_boxes(boxes: pd.DataFrame, path_of: Mapping[str, str]) -> pd.DataFrame:
    """The training ground truth in the method protocol's columns (``video`` is the path).

    Parameters
    ----------
    boxes : DataFrame
        Manifest box rows (:data:`bench.data.manifest.BOX_ANNOTATION_COLUMNS`).
    path_of : mapping
        ``video_id -> absolute path``.
    """
    return pd.DataFrame({
        "video": boxes["video_id"].map(path_of).astype(object).to_numpy(),
        "timestamp": boxes["timestamp"].to_numpy(np.float64),
        "frame": boxes["frame"].to_numpy(np.int64),
        **{c: boxes[c].to_numpy(np.float64) for c in ("x1", "y1", "x2", "y2")},
        "label": boxes["label"].to_numpy(np.int64),
        "person_id": boxes["person_id"].to_numpy(np.int64),
    })


def ground_truth_table(boxes: pd.DataFrame) -> pd.DataFrame:
    """Manifest box rows as an AVA ground-truth table (whole seconds, 1-based action ids).

    Returns
    -------
    DataFrame
        ``video_id, timestamp, x1, y1, x2, y2, label, person_id``, ``label`` the action id.

    Raises
    ------
    ValueError
        A keyframe time that is not a 1 Hz keyframe (:func:`whole_seconds`).
    """
    return pd.DataFrame({
        "video_id": boxes["video_id"].astype(str).to_numpy(),
        "timestamp": whole_seconds(boxes["video_id"].to_numpy(), boxes["timestamp"].to_numpy(),
                                   "the ground truth"),
        **{c: boxes[c].to_numpy(np.float64) for c in ("x1", "y1", "x2", "y2")},
        "label": boxes["label"].to_numpy(np.int64) + ACTION_ID_OFFSET,
        "person_id": boxes["person_id"].to_numpy(np.int64),
    })


def detections_table(raw: pd.DataFrame, id_of: Mapping[str, str], n_classes: int,
                     method: str) -> tuple[pd.DataFrame, int]:
    """A method's ``localize`` output as an AVA detections table, and how many were dropped.

    Parameters
    ----------
    raw : DataFrame
        :data:`METHOD_COLUMNS` (``person_id`` and others ignored).
    id_of : mapping
        ``absolute path -> video_id`` of the videos the method was given.
    n_classes : int
    method : str
        For the messages.

    Returns
    -------
    table : DataFrame
        ``video_id, timestamp, x1, y1, x2, y2, label, score``: whole seconds, ``label`` the
        action id, corners clipped to [0, 1]; by video id, keyframe, then descending score.
    dropped : int
        Boxes without area once rounded to :data:`BOX_DECIMALS` decimals, left out.

    Raises
    ------
    ValueError
        Missing columns, a video that was not asked for, a label outside
        ``range(n_classes)``, a non-finite time, corner or score, a corner outside [0, 1], a
        box with ``x2 < x1`` or ``y2 < y1``, or a time not at a 1 Hz keyframe: the message
        names the method and the fix.
    """
    missing = [c for c in METHOD_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{method}.localize returned no column(s) {missing}; a localization "
                         f"method returns {list(METHOD_COLUMNS)} (bench.methods)")
    videos = raw["video"].astype(str)
    unknown = ~videos.isin(set(id_of))
    if unknown.any():
        raise ValueError(f"{method}.localize returned boxes for videos it was not given, "
                         f"e.g. {videos[unknown].tolist()[:3]}")
    labels = pd.to_numeric(raw["label"], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(labels) | (labels != np.round(labels)) | (labels < 0) | \
        (labels >= n_classes)
    if bad.any():
        raise ValueError(f"{method}.localize returned labels outside range({n_classes}) (e.g. "
                         f"{raw['label'].iloc[int(np.flatnonzero(bad)[0])]!r}); a label is the "
                         "class index of MethodContext.classes")
    numbers = raw[["timestamp", "x1", "y1", "x2", "y2", "score"]].apply(
        pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if not np.isfinite(numbers).all():
        raise ValueError(f"{method}.localize returned NaN or infinite times, corners or scores")
    corners = numbers[:, 1:5]
    outside = (corners < -BOX_TOLERANCE) | (corners > 1 + BOX_TOLERANCE)
    if outside.any():
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        raise ValueError(f"{method}.localize returned the box {corners[row].tolist()} outside "
                         "[0, 1]. Fix: give x1, y1, x2, y2 as fractions of the frame's width "
                         "and height, clipped to the frame")
    corners = np.clip(corners, 0.0, 1.0)
    flipped = (corners[:, 2] < corners[:, 0]) | (corners[:, 3] < corners[:, 1])
    if flipped.any():
        row = int(np.flatnonzero(flipped)[0])
        raise ValueError(f"{method}.localize returned the box {corners[row].tolist()} with "
                         "x2 < x1 or y2 < y1. Fix: the top-left corner first")
    seconds = whole_seconds(videos.to_numpy(), numbers[:, 0], f"{method}.localize")
    table = pd.DataFrame({
        "video_id": videos.map(id_of).to_numpy(), "timestamp": seconds,
        "x1": corners[:, 0], "y1": corners[:, 1], "x2": corners[:, 2], "y2": corners[:, 3],
        "label": labels.astype(np.int64) + ACTION_ID_OFFSET, "score": numbers[:, 5]})
    rounded = np.round(corners, BOX_DECIMALS)
    flat = (rounded[:, 0] >= rounded[:, 2]) | (rounded[:, 1] >= rounded[:, 3])
    table = table[~flat]
    order = np.lexsort((-table["score"].to_numpy(), table["timestamp"].to_numpy(),
                        table["video_id"].to_numpy()))
    return table.iloc[order].reset_index(drop=True), int(flat.sum())


def excluded_table(listed: pd.DataFrame, ground_truth: pd.DataFrame,
                   failed_videos: Sequence[str]) -> pd.DataFrame:
    """The keyframes the unit's evaluation leaves out, ``video_id, timestamp`` (whole seconds).

    Parameters
    ----------
    listed : DataFrame
        The dataset's excluded keyframes of the test videos
        (:meth:`bench.data.manifest.Manifest.excluded_keyframes`).
    ground_truth : DataFrame
        :func:`ground_truth_table` of the test videos.
    failed_videos : sequence of str
        Video ids the method failed on: their ground-truth keyframes are excluded, so that
        the official evaluator leaves them out as the run's metrics do.

    Returns
    -------
    DataFrame
        Unique keyframes, by video id then time.
    """
    failed = ground_truth[ground_truth["video_id"].isin(set(map(str, failed_videos)))]
    listed_seconds = whole_seconds(listed["video_id"].to_numpy(),
                                   listed["timestamp"].to_numpy(), "the excluded keyframes")
    table = pd.concat([
        pd.DataFrame({"video_id": listed["video_id"].astype(str).to_numpy(),
                      "timestamp": listed_seconds}),
        failed[["video_id", "timestamp"]]], ignore_index=True).drop_duplicates()
    return table.sort_values(["video_id", "timestamp"], ignore_index=True)


def write_unit_files(folder: str | os.PathLike, ground_truth: pd.DataFrame,
                     detections: pd.DataFrame, excluded: pd.DataFrame,
                     classes: Sequence[str]) -> None:
    """Write the unit's four AVA files (:data:`UNIT_FILES`) into ``folder`` (atomic writes)."""
    folder = Path(folder)
    actions = label_map(classes)
    write_ava_csv(folder / GROUND_TRUTH_FILE, ground_truth, scores=False, classes=actions,
                  decimals=BOX_DECIMALS)
    write_ava_csv(folder / DETECTIONS_FILE, detections, scores=True, classes=actions,
                  decimals=BOX_DECIMALS)
    write_ava_label_map(folder / LABEL_MAP_FILE, actions)
    write_ava_excluded(folder / EXCLUDED_FILE, excluded)


@dataclass(frozen=True)
class UnitFiles:
    """A localization unit's AVA files, parsed (:func:`read_unit_files`).

    Attributes
    ----------
    ground_truth, detections : DataFrame
        :attr:`bench.data.annotations.BoxAnnotations.boxes` of the two CSVs (``label`` the
        action id; ``person_id``, resp. ``score``), excluded keyframes still in.
    excluded : DataFrame
        ``video_id, timestamp``.
    classes : dict
        The label map, ``action id -> name``.
    """

    ground_truth: pd.DataFrame
    detections: pd.DataFrame
    excluded: pd.DataFrame
    classes: dict[int, str]


def read_unit_files(folder: str | os.PathLike) -> UnitFiles:
    """Read a unit's AVA files with the project's AVA reader.

    Raises
    ------
    FileNotFoundError
        One of :data:`UNIT_FILES` is missing.
    AnnotationError
        A file breaks the AVA format (the message names the file and the line).
    """
    folder = Path(folder)
    classes = read_ava_label_map(folder / LABEL_MAP_FILE)
    truth = read_ava(folder / GROUND_TRUTH_FILE, label_map=classes)
    detections = read_ava(folder / DETECTIONS_FILE, label_map=classes, scores=True)
    return UnitFiles(truth.boxes, detections.boxes, read_ava_excluded(folder / EXCLUDED_FILE),
                     classes)


def frame_result(files: UnitFiles, videos: Sequence[str] | None = None, *, n_boot: int = 0,
                 seed: int = 0) -> LocalizationResult:
    """Frame-mAP at :data:`IOU_THRESHOLD` of a unit's files, with the AVA evaluator's settings.

    The label map's classes only, the excluded keyframes dropped from both tables, the
    :data:`~bench.tasks.localization.frame_ap.AVA_MAX_DETECTIONS_PER_KEYFRAME` best detections
    of each keyframe (:func:`~bench.tasks.localization.frame_ap.frame_map`). ``videos`` is
    the bootstrap's sample (the test videos that were scored). Per-class results are labelled
    by action id (as strings; ``files.classes`` names them).
    """
    return frame_map(files.ground_truth, files.detections, IOU_THRESHOLD,
                     classes=[str(c) for c in files.classes], excluded=files.excluded,
                     max_detections_per_keyframe=AVA_MAX_DETECTIONS_PER_KEYFRAME,
                     videos=videos, n_boot=n_boot, seed=seed)


def metric_values(files: UnitFiles, videos: Sequence[str], *, seed: int = 0,
                  n_boot: int = 1000) -> list[tuple[str, float, tuple[float, float] | None, int]]:
    """``(metric, value, interval, n)`` rows of one unit (see the module docstring).

    ``n`` is the number of scored test videos, the bootstrap's sample; values are in [0, 1]
    (NaN without ground truth).
    """
    videos = [str(v) for v in videos]
    n = len(videos)
    frames = frame_result(files, videos, n_boot=n_boot, seed=seed)
    persons = person_detection(files.ground_truth, files.detections, IOU_THRESHOLD,
                               excluded=files.excluded)
    tag = f"{IOU_THRESHOLD:.2f}"
    return [(f"frame_map@{tag}", frames.map, frames.interval, n),
            (f"person_ap@{tag}", persons.ap, None, n),
            (f"person_recall@{tag}", persons.recall, None, n)]
