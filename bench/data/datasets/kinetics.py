"""Kinetics (400 / 600 / 700) from its annotation CSV files; missing videos are excluded."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pandas as pd

from bench.data.datasets import register_dataset
from bench.data.datasets._common import (
    RootGuard,
    build_manifest,
    check_options,
    list_videos,
    require_dir,
)
from bench.data.manifest import Manifest

__all__ = ["load_kinetics", "kinetics_clip_name", "SPLIT_FOLDERS"]

#: Split names used in the CSV ``split`` column -> the folder names tried on disk.
SPLIT_FOLDERS = {
    "train": ("train",),
    "val": ("val", "validate", "valid", "validation"),
    "test": ("test",),
}
_SPLIT_ALIASES = {alias: split for split, aliases in SPLIT_FOLDERS.items() for alias in aliases}
_FOLD1 = {"train": "train", "val": "test", "test": "unused"}
_COLUMNS = ("youtube_id", "time_start", "time_end")


def kinetics_clip_name(youtube_id: str, time_start: float, time_end: float) -> str:
    """File name without extension of a clip: ``<youtube_id>_<start:06d>_<end:06d>``.

    Parameters
    ----------
    youtube_id : str
    time_start, time_end : float
        Seconds into the YouTube video, as in the annotation CSV (truncated to int).

    Returns
    -------
    str
        The name used by the common download scripts, e.g. ``abc_000014_000024``.

    References
    ----------
    .. [1] Kay et al., "The Kinetics Human Action Video Dataset", 2017. arXiv:1705.06950.
    """
    return f"{youtube_id}_{int(time_start):06d}_{int(time_end):06d}"


def _annotation_files(root: Path, annotations: str | os.PathLike | None) -> list[Path]:
    if annotations is None:
        candidate = root / "annotations"
        annotations = candidate if candidate.is_dir() else root
    path = Path(annotations)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        if files:
            return files
    raise FileNotFoundError(
        f"no Kinetics annotation CSV at {str(path)!r}. Pass --annotations pointing at a CSV "
        "(label,youtube_id,time_start,time_end,split) or a folder of them (train.csv, "
        "validate.csv, test.csv); default: ROOT/annotations, else ROOT."
    )


def _read_annotations(files: list[Path]) -> pd.DataFrame:
    tables = []
    for path in files:
        table = pd.read_csv(path, dtype={"youtube_id": str, "label": str})
        missing = [c for c in _COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"{path}: Kinetics annotation CSV lacks columns {missing}; "
                             f"expected label,youtube_id,time_start,time_end,split")
        if "split" not in table.columns:
            stem = path.stem.lower()
            if stem not in _SPLIT_ALIASES:
                raise ValueError(f"{path}: no 'split' column and the file name does not "
                                 f"name a split ({sorted(_SPLIT_ALIASES)})")
            table["split"] = stem
        if "label" not in table.columns:
            table["label"] = None
        table["split"] = table["split"].astype(str).str.lower()
        unknown = sorted(set(table["split"]) - set(_SPLIT_ALIASES))
        if unknown:
            raise ValueError(f"{path}: unknown split value(s) {unknown}; expected one of "
                             f"{sorted(_SPLIT_ALIASES)}")
        table["split"] = table["split"].map(_SPLIT_ALIASES)
        tables.append(table[["label", *_COLUMNS, "split"]])
    return pd.concat(tables, ignore_index=True)


def _index_videos(root: Path) -> dict[tuple[str, str], str]:
    """``{(split, clip name): relative path}`` of the video files under the split folders."""
    index: dict[tuple[str, str], str] = {}
    guard = RootGuard(root)
    for split, folders in SPLIT_FOLDERS.items():
        for folder in folders:
            if not (root / folder).is_dir():
                continue
            guard.resolve(folder)
            for rel in list_videos(root / folder, max_depth=1):
                path = f"{folder}/{rel}"
                guard.resolve(path)
                index.setdefault((split, PurePosixPath(rel).stem), path)
    return index


@register_dataset("kinetics", "Kinetics-400/600/700 from the annotation CSVs; missing clips skipped")
def load_kinetics(root: str | os.PathLike | None = None,
                  annotations: str | os.PathLike | None = None, *,
                  allow_missing: bool | None = None, protocol: str | None = None,
                  **options) -> Manifest:
    """Build the Kinetics manifest: fold 1 trains on ``train`` and tests on ``val``.

    Parameters
    ----------
    root : path-like
        Folder holding ``<split>/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4`` where
        ``<split>`` is ``train``, ``val`` (or ``validate``/``valid``/``validation``) or
        ``test``. The label folder name is not read: the CSV gives the label.
    annotations : path-like, optional
        A CSV file, or a folder of CSV files (``train.csv``, ``validate.csv``, ``test.csv``),
        with columns ``label, youtube_id, time_start, time_end, split`` (extra columns such as
        ``is_cc`` are ignored; without ``split`` the file name gives it). Default:
        ``root/annotations`` if it exists, else ``root``.
    allow_missing : ignored
        Kinetics always misses videos (deleted from YouTube); they are always excluded and
        listed in ``meta["missing"]``.
    protocol : {None, "official"}
        Only train / validation exists.

    Returns
    -------
    Manifest
        ``video_id`` is the clip name; ``group`` the YouTube id; classes the sorted labels
        of all labelled rows (independent of which clips are on disk, so label indices are
        stable). ``test`` rows are ``unused``; rows without a label (the unreleased test
        labels) are left out and counted in ``meta["unlabelled"]``.

    Raises
    ------
    FileNotFoundError
        No annotation CSV, or none of the annotated clips is on disk.
    ValueError
        Malformed CSVs, one clip annotated twice with different labels, escaping paths.

    References
    ----------
    .. [1] Kay et al., "The Kinetics Human Action Video Dataset", 2017. arXiv:1705.06950.
    """
    check_options("kinetics", options)
    if protocol not in (None, "official"):
        raise ValueError(f"kinetics has only its train/val split; got protocol={protocol!r}")
    root = require_dir(root, "Kinetics root", "Pass --root pointing at the downloaded clips.")
    files = _annotation_files(root, annotations)
    table = _read_annotations(files)
    labelled = table["label"].notna() & (table["label"].astype(str).str.strip() != "")
    unlabelled = int((~labelled).sum())
    table = table[labelled].copy()
    table["label"] = table["label"].astype(str).str.strip()
    table["video_id"] = [kinetics_clip_name(y, s, e) for y, s, e in
                         zip(table["youtube_id"], table["time_start"], table["time_end"],
                             strict=True)]
    table = table.drop_duplicates(["video_id", "label", "split"])
    duplicated = table["video_id"].duplicated(keep=False)
    if duplicated.any():
        raise ValueError("Kinetics clips annotated more than once with different labels or "
                         f"splits: {sorted(table.loc[duplicated, 'video_id'].unique())[:5]}")
    classes = sorted(table["label"].unique())

    index = _index_videos(root)
    on_disk = [index.get((s, v)) for s, v in zip(table["split"], table["video_id"], strict=True)]
    present = [p is not None for p in on_disk]
    expected = [f"{s}/{lab}/{v}.mp4" for s, lab, v in
                zip(table["split"], table["label"], table["video_id"], strict=True)]
    missing = sorted(e for e, ok in zip(expected, present, strict=True) if not ok)
    rows = pd.DataFrame({
        "video_id": table["video_id"].to_numpy(),
        "path": on_disk,
        "label_name": table["label"].to_numpy(),
        "group": table["youtube_id"].astype(str).to_numpy(),
        "fold1": table["split"].map(_FOLD1).to_numpy(),
    })[present]
    if rows.empty:
        raise FileNotFoundError(
            f"none of the {len(table)} annotated Kinetics clips is on disk under "
            f"{str(root)!r}; expected ROOT/<split>/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4"
        )
    meta = {"protocol": "official", "annotations": [str(f) for f in files],
            "allow_flip": True, "missing": missing, "unlabelled": unlabelled}
    return build_manifest(rows, None, root=root, classes=classes, dataset="kinetics", meta=meta)
