"""The manifest: one row per video with its label, group and subset in each fold."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Manifest", "SUBSETS", "ANNOTATION_COLUMNS", "BOX_ANNOTATION_COLUMNS", "NO_LABEL",
           "NO_FRAME", "RootGuard", "resolve_inside", "fold_column"]

#: The subsets a video can belong to in a fold.
SUBSETS = ("train", "test", "unused")
#: The columns every row of a detection manifest's annotations has.
ANNOTATION_COLUMNS = ("video_id", "t_start", "t_end", "label", "label_name")
#: The columns every row of a localization manifest's box annotations has: the data stage's
#: boxes schema (:data:`bench.data.annotations.boxes.BOX_COLUMNS`: the keyframe's time in
#: seconds, the box as fractions of the frame, the action's class index, its name, the actor)
#: and the keyframe's frame index.
BOX_ANNOTATION_COLUMNS = ("video_id", "timestamp", "frame", "x1", "y1", "x2", "y2", "label",
                          "label_name", "person_id")
#: ``label`` of a video without a single label (an untrimmed video of a detection dataset).
NO_LABEL = -1
#: ``frame`` of a box annotation whose frame index is not known without decoding the video
#: (an AVA file gives the keyframe's time only; building a manifest decodes nothing).
NO_FRAME = -1

_BASE_COLUMNS = ("video_id", "path", "label", "label_name", "group")


def fold_column(fold: int) -> str:
    """Name of the manifest column holding the subsets of ``fold`` (1-based)."""
    return f"fold{int(fold)}"


class RootGuard:
    """Resolves paths under one root and refuses any that escapes it.

    The root is resolved once; each candidate with :func:`os.path.realpath` (what
    :meth:`pathlib.Path.resolve` does), so ``..`` components, absolute paths and symbolic
    links pointing elsewhere are all caught.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self._real = os.path.realpath(root)
        self._prefix = self._real.rstrip(os.sep) + os.sep

    def resolve(self, relative: str | os.PathLike) -> Path:
        """The resolved path of ``relative`` under the root.

        Raises
        ------
        ValueError
            If it is not inside the root.
        """
        candidate = os.path.realpath(os.path.join(self._real, relative))
        if candidate != self._real and not candidate.startswith(self._prefix):
            raise ValueError(
                f"path {str(relative)!r} escapes the dataset root {self._real!r}; "
                "manifest paths must stay inside the root"
            )
        return Path(candidate)


def resolve_inside(root: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """Resolve ``relative`` under ``root``, refusing any path that escapes the root.

    Raises
    ------
    ValueError
        If the resolved path is not inside ``root`` (:class:`RootGuard`).
    """
    return RootGuard(root).resolve(relative)


@dataclass
class Manifest:
    """Every video of a dataset with its label, group and per-fold subset.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``video_id, path, label, label_name, group`` and one ``fold<k>`` column per fold
        holding ``train`` / ``test`` / ``unused``. ``path`` is relative to ``root``.
    root : path-like
        The dataset root on disk.
    classes : sequence of str
        Class names; ``label`` indexes into it.
    dataset : str
        Name of the adapter that built the manifest.
    meta : dict
        Anything the adapter wants recorded in ``run.json`` (protocol, missing files, ...).
    annotations : pandas.DataFrame, optional
        The ground truth of a task with more than one label per video, keyed by ``video_id``.
        Temporal detection: one row per action instance, columns :data:`ANNOTATION_COLUMNS`
        (``video_id, t_start, t_end, label, label_name``; seconds; ``label`` indexes into
        ``classes``) plus any the adapter keeps (``actor``). Such a manifest's ``label`` is
        :data:`NO_LABEL` where a video has no single label.
    boxes : pandas.DataFrame, optional
        The ground truth of spatio-temporal localization: one row per (video, keyframe, actor,
        action), columns :data:`BOX_ANNOTATION_COLUMNS` (``timestamp`` in seconds, ``frame``
        the keyframe's frame index or :data:`NO_FRAME`, ``x1, y1, x2, y2`` fractions of the
        frame's width and height with ``x1 < x2`` and ``y1 < y2``, ``label`` indexing into
        ``classes``, ``person_id`` the actor, the same across the keyframes of a video) plus
        any the adapter keeps. With boxes, as with ``annotations``, the table's ``label`` may
        be :data:`NO_LABEL` (a video with no single label). An adapter may list keyframes left
        out of the evaluation
        (AVA's excluded timestamps) in ``meta["excluded_keyframes"]``, ``[video_id,
        timestamp]`` pairs.

    Notes
    -----
    Building a manifest never decodes a video. The same object is handed to every method, and
    :meth:`fingerprint` identifies a fold's split so that two results are only compared when
    they were computed on the same videos, labels and subsets.
    """

    table: pd.DataFrame
    root: Path
    classes: Sequence[str]
    dataset: str = "unknown"
    meta: dict = field(default_factory=dict)
    annotations: pd.DataFrame | None = None
    boxes: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.classes = list(self.classes)
        missing = [c for c in _BASE_COLUMNS if c not in self.table.columns]
        if missing:
            raise ValueError(f"manifest table lacks columns {missing}")
        if not self.folds:
            raise ValueError("manifest table has no fold<k> column")
        if self.table["video_id"].duplicated().any():
            dups = self.table.loc[self.table["video_id"].duplicated(), "video_id"].tolist()[:5]
            raise ValueError(f"duplicate video_id values in manifest, e.g. {dups}")
        for fold in self.folds:
            bad = ~self.table[fold_column(fold)].isin(SUBSETS)
            if bad.any():
                raise ValueError(
                    f"fold {fold} has subsets other than {SUBSETS}: "
                    f"{sorted(self.table.loc[bad, fold_column(fold)].unique())[:5]}"
                )
        labels = self.table["label"].to_numpy()
        lowest = NO_LABEL if self.annotations is not None or self.boxes is not None else 0
        if len(labels) and (labels.min() < lowest or labels.max() >= len(self.classes)):
            raise ValueError("labels must index into classes")
        self.table = self.table.reset_index(drop=True)
        self.table["label"] = self.table["label"].astype(int)
        if self.annotations is not None:
            self.annotations = self._checked_annotations(self.annotations)
        if self.boxes is not None:
            self.boxes = self._checked_boxes(self.boxes)

    def _checked_annotations(self, annotations: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in ANNOTATION_COLUMNS if c not in annotations.columns]
        if missing:
            raise ValueError(f"manifest annotations lack columns {missing}")
        unknown = ~annotations["video_id"].isin(set(self.table["video_id"]))
        if unknown.any():
            raise ValueError("manifest annotations name videos that are not in the table, "
                             f"e.g. {annotations.loc[unknown, 'video_id'].tolist()[:5]}")
        labels = annotations["label"].to_numpy()
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError("annotation labels must index into classes")
        out = annotations.reset_index(drop=True).copy()
        out["label"] = out["label"].astype(int)
        return out

    def _checked_boxes(self, boxes: pd.DataFrame) -> pd.DataFrame:
        """The box annotations with normalised dtypes, or an error naming the row and the fix."""
        # The data stage's box rules (the manifest is imported by the annotation package
        # through the adapters, so the import is here, not at the top).
        from bench.data.annotations.boxes import validate_boxes

        missing = [c for c in BOX_ANNOTATION_COLUMNS if c not in boxes.columns]
        if missing:
            raise ValueError(f"manifest boxes lack columns {missing}; a localization manifest's "
                             f"boxes have {list(BOX_ANNOTATION_COLUMNS)}")
        unknown = ~boxes["video_id"].isin(set(self.table["video_id"]))
        if unknown.any():
            raise ValueError("manifest boxes name videos that are not in the table, "
                             f"e.g. {boxes.loc[unknown, 'video_id'].tolist()[:5]}")
        out = validate_boxes(boxes, classes=dict(enumerate(self.classes)),
                             what="manifest boxes")
        frames = pd.to_numeric(out["frame"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(frames) | (frames != np.round(frames)) | (frames < NO_FRAME)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"manifest boxes row {row}: the frame {out.at[row, 'frame']!r} is "
                             f"not a frame index >= 0 (or {NO_FRAME}: not known). Fix: give "
                             "the keyframe's frame index as an integer")
        out["frame"] = frames.astype(np.int64)
        return out

    def segments(self, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        """The annotation rows of ``rows``' videos (default: all), in the table's video order."""
        if self.annotations is None:
            raise ValueError(f"dataset {self.dataset!r} has no annotations (a recognition "
                             "dataset: one label per video)")
        rows = self.table if rows is None else rows
        order = {vid: i for i, vid in enumerate(rows["video_id"])}
        keep = self.annotations[self.annotations["video_id"].isin(order)]
        position = keep["video_id"].map(order).to_numpy()
        return keep.iloc[np.lexsort((keep["t_start"].to_numpy(), position))].reset_index(
            drop=True)

    def keyframe_boxes(self, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        """The box rows of ``rows``' videos (default: all), by the table's video order, then
        keyframe time, actor and label."""
        if self.boxes is None:
            raise ValueError(f"dataset {self.dataset!r} has no box annotations (spatio-temporal "
                             "localization needs actor boxes per keyframe)")
        rows = self.table if rows is None else rows
        order = {vid: i for i, vid in enumerate(rows["video_id"])}
        keep = self.boxes[self.boxes["video_id"].isin(order)]
        position = keep["video_id"].map(order).to_numpy()
        order = np.lexsort((keep["label"].to_numpy(), keep["person_id"].to_numpy(),
                            keep["timestamp"].to_numpy(), position))
        return keep.iloc[order].reset_index(drop=True)

    def excluded_keyframes(self, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        """The keyframes of ``rows``' videos (default: all) that the dataset leaves out of the
        evaluation (``meta["excluded_keyframes"]``), ``video_id, timestamp``; empty if none."""
        listed = self.meta.get("excluded_keyframes") or []
        table = pd.DataFrame([(str(v), float(t)) for v, t in listed],
                             columns=["video_id", "timestamp"])
        videos = set((self.table if rows is None else rows)["video_id"].astype(str))
        return table[table["video_id"].isin(videos)].reset_index(drop=True)

    # ------------------------------------------------------------------ folds
    @property
    def folds(self) -> list[int]:
        """The fold numbers (1-based) present in the table."""
        return sorted(
            int(c[4:]) for c in self.table.columns if c.startswith("fold") and c[4:].isdigit()
        )

    def subset(self, fold: int, subset: str) -> pd.DataFrame:
        """Rows of ``subset`` (``train``/``test``/``unused``) in ``fold``."""
        self._check_fold(fold)
        return self.table[self.table[fold_column(fold)] == subset]

    def counts(self, fold: int) -> dict[str, int]:
        """Number of videos per subset in ``fold``."""
        self._check_fold(fold)
        counts = self.table[fold_column(fold)].value_counts()
        return {s: int(counts.get(s, 0)) for s in SUBSETS}

    def fingerprint(self, fold: int) -> str:
        """SHA-256 of the sorted ``(video_id, label, subset)`` triples of ``fold``.

        With annotations, the sorted ``(video_id, t_start, t_end, label)`` rows of the fold's
        videos follow; with boxes, the sorted ``(video_id, timestamp, frame, person_id, x1, y1,
        x2, y2, label)`` rows (times and corners to 6 decimals) and the excluded keyframes of
        those videos: changed ground truth is a different split. A manifest without either
        keeps the fingerprint of its split alone. Two results with different fingerprints
        were computed on different splits and are never compared.
        """
        self._check_fold(fold)
        col = fold_column(fold)
        lines = sorted(
            f"{vid}\t{int(lab)}\t{sub}\n"
            for vid, lab, sub in zip(
                self.table["video_id"], self.table["label"], self.table[col], strict=True
            )
        )
        if self.annotations is not None:
            used = set(self.table.loc[self.table[col] != "unused", "video_id"])
            rows = self.annotations[self.annotations["video_id"].isin(used)]
            lines += sorted(
                f"{vid}\t{start:.6f}\t{end:.6f}\t{int(lab)}\n"
                for vid, start, end, lab in zip(rows["video_id"], rows["t_start"],
                                                rows["t_end"], rows["label"], strict=True))
        if self.boxes is not None:
            used_rows = self.table[self.table[col] != "unused"]
            rows = self.boxes[self.boxes["video_id"].isin(set(used_rows["video_id"]))]
            lines += sorted(
                f"box\t{vid}\t{ts:.6f}\t{int(frame)}\t{int(person)}\t{x1:.6f}\t{y1:.6f}\t"
                f"{x2:.6f}\t{y2:.6f}\t{int(lab)}\n"
                for vid, ts, frame, person, x1, y1, x2, y2, lab in zip(
                    rows["video_id"], rows["timestamp"], rows["frame"], rows["person_id"],
                    rows["x1"], rows["y1"], rows["x2"], rows["y2"], rows["label"], strict=True))
            excluded = self.excluded_keyframes(used_rows)
            lines += sorted(f"excluded\t{vid}\t{ts:.6f}\n" for vid, ts in
                            zip(excluded["video_id"], excluded["timestamp"], strict=True))
        digest = hashlib.sha256()
        for line in lines:
            digest.update(line.encode("utf-8"))
        return digest.hexdigest()

    def _check_fold(self, fold: int) -> None:
        if int(fold) not in self.folds:
            raise ValueError(f"fold {fold} does not exist; this manifest has folds {self.folds}")

    # ------------------------------------------------------------------ paths
    def abspath(self, relative: str) -> Path:
        """Absolute path of a manifest ``path`` entry (refusing paths outside the root)."""
        return resolve_inside(self.root, relative)

    def paths(self, rows: pd.DataFrame | None = None) -> np.ndarray:
        """Absolute paths (as a 1-D object array of str) for ``rows`` (default: all rows)."""
        rows = self.table if rows is None else rows
        return np.array([str(self.abspath(p)) for p in rows["path"]], dtype=object)

    def missing_files(self) -> list[str]:
        """Manifest paths that do not exist on disk (no decoding, only ``stat``)."""
        return [p for p in self.table["path"] if not (self.root / p).exists()]

    def drop_videos(self, video_ids: Sequence[str]) -> Manifest:
        """A copy without the given videos."""
        dropped = set(video_ids)
        keep = ~self.table["video_id"].isin(dropped)
        annotations = None if self.annotations is None else self.annotations[
            ~self.annotations["video_id"].isin(dropped)].copy()
        boxes = None if self.boxes is None else self.boxes[
            ~self.boxes["video_id"].isin(dropped)].copy()
        return Manifest(self.table[keep].copy(), self.root, self.classes, self.dataset,
                        dict(self.meta), annotations, boxes)

    def clip_metadata(self) -> pd.DataFrame | None:
        """The adapter's per-video attributes of this manifest's videos, or None.

        An adapter that knows more about each video than its label and group (the synthetic
        generator's nuisances: camera motion, clutter, ...) records a CSV with a ``video_id``
        column as ``meta["clip_metadata"]``; the rows of the videos still in the manifest are
        returned, in its order, so that a run directory can keep them.
        """
        path = self.meta.get("clip_metadata")
        if not path or not Path(path).is_file():
            return None
        clips = pd.read_csv(path, dtype={"video_id": str})
        if "video_id" not in clips.columns:
            raise ValueError(f"{path}: the clip metadata needs a video_id column")
        clips = clips.set_index("video_id", drop=False)
        keep = [vid for vid in self.table["video_id"] if vid in clips.index]
        return clips.loc[keep].reset_index(drop=True)

    # ------------------------------------------------------------------ I/O
    def to_csv(self, path: str | os.PathLike, fold: int | None = None) -> None:
        """Write the manifest; with ``fold``, only that fold, as a ``subset`` column."""
        from bench.atomic import write_csv

        table = self.table.copy()
        if fold is not None:
            self._check_fold(fold)
            table["subset"] = table[fold_column(fold)]
            table = table.drop(columns=[fold_column(f) for f in self.folds])
        write_csv(path, table)
