"""Detection datasets read from disk: THUMOS'14, ActivityNet and a folder with a segments CSV.

Each adapter reads the annotations with :mod:`bench.data.annotations` (whose errors name the
file, the line and the fix), finds the videos under ``--root`` and returns a detection
manifest: one row per video (``label`` :data:`~bench.data.manifest.NO_LABEL`, ``group`` the
video itself: these datasets name no actors) and one annotation row per instance. The folds
are the datasets' own protocols:

* ``thumos14``: train on the validation subset, test on the test subset (the THUMOS'14
  detection protocol: its training set is trimmed UCF101, so detectors train on the 200
  annotated validation videos); ``Ambiguous`` segments go to ``meta["ambiguous"]``, which the
  metric uses as the protocol says.
* ``activitynet``: train on ``training``, test on ``validation`` (the test subset's labels
  are withheld).
* ``segments``: a user's folder of videos and a ``video, start, end, label`` CSV; the CSV's
  ``subset`` column (``training`` / ``validation``) when it has one, else ``--protocol kfold``
  with ``n_splits`` folds over videos.

``--allow-missing`` skips the annotations of videos without a file and records them in
``run.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.annotations import read_activitynet, read_segments_csv, read_thumos14
from bench.data.annotations.segments import SegmentAnnotations
from bench.data.datasets import register_dataset
from bench.data.datasets._common import require_dir
from bench.data.manifest import NO_LABEL, Manifest

__all__ = ["load_thumos14", "load_activitynet", "load_segments_folder", "detection_manifest"]


def detection_manifest(parts: dict[str, SegmentAnnotations], root: str | os.PathLike,
                       classes: list[str], name: str, folds: dict[str, list[str]],
                       meta: dict) -> Manifest:
    """The manifest of annotated videos; ``folds`` maps ``fold<k>`` to a subset per part.

    ``parts`` holds one reader result per part (e.g. ``validation`` and ``test``); video ids
    must not repeat across parts. ``folds["fold1"] = ["train", "test"]`` gives the first
    part's videos to training and the second's to testing.
    """
    tables, annotations, ambiguous, missing = [], [], [], []
    index = {c: i for i, c in enumerate(classes)}
    for k, (part, read) in enumerate(parts.items()):
        videos = read.videos
        with_file = videos["path"].notna()
        table = pd.DataFrame({"video_id": videos["video_id"][with_file].astype(str),
                              "path": videos["path"][with_file].astype(str),
                              "label": NO_LABEL, "label_name": "",
                              "group": videos["video_id"][with_file].astype(str)})
        for fold, subsets in folds.items():
            table[fold] = subsets[k]
        tables.append(table)
        kept = read.segments[read.segments["video_id"].isin(set(table["video_id"]))]
        annotations.append(pd.DataFrame({
            "video_id": kept["video_id"].astype(str), "t_start": kept["t_start"].astype(float),
            "t_end": kept["t_end"].astype(float), "label": kept["label"].map(index).astype(int),
            "label_name": kept["label"].astype(str)}))
        if len(read.ambiguous):
            ambiguous += [[str(v), float(s), float(e)] for v, s, e in zip(
                read.ambiguous["video_id"], read.ambiguous["t_start"], read.ambiguous["t_end"],
                strict=True)]
        missing += [f"{part}: {video}" for video in read.missing]
        meta.setdefault("durations", {}).update(
            {str(v): float(d) for v, d in zip(videos["video_id"], videos["duration"],
                                              strict=True) if np.isfinite(d)})
    table = pd.concat(tables, ignore_index=True)
    if table["video_id"].duplicated().any():
        raise ValueError(f"{name}: a video id is annotated in two subsets, e.g. "
                         f"{table.loc[table['video_id'].duplicated(), 'video_id'].tolist()[:3]}")
    meta.update(task="detection", allow_flip=True, ambiguous=ambiguous, missing=missing)
    return Manifest(table, Path(root), classes, name, meta,
                    pd.concat(annotations, ignore_index=True))


@register_dataset("thumos14", "THUMOS'14 temporal detection: --root videos, --annotations the "
                  "folder of the per-class files (val/, test/)", handles_missing=True)
def load_thumos14(root: str | os.PathLike, annotations: str | os.PathLike | None = None,
                  allow_missing: bool = False) -> Manifest:
    """THUMOS'14: the ``val/`` and ``test/`` annotation folders, videos under ``root``.

    Parameters
    ----------
    root : path-like
        The folder of the videos of both subsets (``video_validation_*.mp4``,
        ``video_test_*.mp4``), at most a few folders deep.
    annotations : path-like
        The folder holding ``val/`` and ``test/``, each with ``detclasslist.txt`` and the
        ``<Class>_<subset>.txt`` files (``Ambiguous`` included).
    allow_missing : bool
        Skip the annotations of videos without a file instead of raising.
    """
    if annotations is None:
        raise ValueError("thumos14 needs --annotations: the folder with the val/ and test/ "
                         "folders of the temporal annotation files")
    folder = require_dir(annotations, "THUMOS'14 annotation folder",
                         "Pass the folder that holds val/ and test/.")
    parts = {name: read_thumos14(folder / name, name, video_root=root,
                                 allow_missing=allow_missing) for name in ("val", "test")}
    classes = list(parts["val"].classes)
    if list(parts["test"].classes) != classes:
        raise ValueError(f"{folder}: val/ and test/ list different classes in detclasslist.txt")
    return detection_manifest(parts, root, classes, "thumos14", {"fold1": ["train", "test"]},
                              {"protocol": "validation -> test", "annotations": str(folder)})


@register_dataset("activitynet", "ActivityNet v1.2/v1.3 temporal detection: --root videos, "
                  "--annotations the JSON file", handles_missing=True)
def load_activitynet(root: str | os.PathLike, annotations: str | os.PathLike | None = None,
                     allow_missing: bool = False) -> Manifest:
    """ActivityNet: train on ``training``, test on ``validation``; videos ``<id>.*`` or
    ``v_<id>.*`` under ``root``."""
    if annotations is None:
        raise ValueError("activitynet needs --annotations: the activity_net.v1-3.min.json file")
    parts = {name: read_activitynet(annotations, name, video_root=root,
                                    allow_missing=allow_missing)
             for name in ("training", "validation")}
    classes = list(parts["training"].classes)
    return detection_manifest(parts, root, classes, "activitynet", {"fold1": ["train", "test"]},
                              {"protocol": "training -> validation",
                               "annotations": str(annotations)})


@register_dataset("segments", "a folder of your own untrimmed videos with a segments CSV "
                  "(video, start, end, label): --root videos, --annotations the CSV",
                  handles_missing=True)
def load_segments_folder(root: str | os.PathLike, annotations: str | os.PathLike | None = None,
                         protocol: str = "kfold", n_splits: int = 3, protocol_seed: int = 0,
                         allow_missing: bool = False) -> Manifest:
    """A folder of videos with a segments CSV (:func:`bench.data.annotations.read_segments_csv`).

    With a ``subset`` column (``training`` / ``validation``) the CSV's split is the one fold;
    otherwise ``kfold``: ``n_splits`` folds over the videos, shuffled with ``protocol_seed``.
    """
    if annotations is None:
        raise ValueError("segments needs --annotations: the CSV with the columns video, start, "
                         "end, label (optionally actor, duration, subset)")
    read = read_segments_csv(annotations, video_root=root, allow_missing=allow_missing)
    subsets = read.videos["subset"]
    meta = {"annotations": str(annotations)}
    if subsets.notna().all() and set(subsets) <= {"training", "validation"}:
        parts = {name: _only(read, read.videos["subset"] == name)
                 for name in ("training", "validation")}
        meta["protocol"] = "the CSV's subset column"
        folds = {"fold1": ["train", "test"]}
    else:
        parts, folds = _kfold(read, protocol, n_splits, protocol_seed)
        meta["protocol"] = f"{n_splits}-fold over videos (seed {protocol_seed})"
    manifest = detection_manifest(parts, root, list(read.classes), "segments", folds, meta)
    manifest.meta["missing"] = list(read.missing)
    return manifest


def _kfold(read: SegmentAnnotations, protocol: str, n_splits: int, seed: int):
    """Parts and folds of a k-fold split over the videos of ``read``."""
    if protocol != "kfold":
        raise ValueError(f"segments: protocol must be 'kfold' without a subset column in the "
                         f"CSV. Got {protocol!r}.")
    videos = read.videos["video_id"].to_numpy()
    if not 2 <= n_splits <= len(videos):
        raise ValueError(f"segments: n_splits must be in [2, {len(videos)}] (the videos). "
                         f"Got {n_splits}.")
    order = np.random.default_rng(seed).permutation(len(videos))
    chunk = {videos[i]: k % n_splits for k, i in enumerate(order)}
    parts = {f"part{k}": _only(read, read.videos["video_id"].map(chunk) == k)
             for k in range(n_splits)}
    folds = {f"fold{f + 1}": ["test" if k == f else "train" for k in range(n_splits)]
             for f in range(n_splits)}
    return parts, folds


def _only(read: SegmentAnnotations, keep: pd.Series) -> SegmentAnnotations:
    videos = read.videos[keep.to_numpy()]
    ids = set(videos["video_id"])
    return SegmentAnnotations(read.segments[read.segments["video_id"].isin(ids)], videos,
                              read.classes, read.ambiguous, (), read.meta)
