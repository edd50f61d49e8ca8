"""UCF101 with its three official train/test splits."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from bench.data.datasets import register_dataset
from bench.data.datasets._common import (
    build_manifest,
    check_options,
    default_annotations,
    handle_missing,
    locate_all,
    read_lines,
    require_dir,
    require_file,
)
from bench.data.manifest import Manifest

__all__ = ["load_ucf101", "ucf101_group"]

_GROUP = re.compile(r"_(g\d+)_c\d+$")
_LIST = re.compile(r"^(train|test)list(\d+)\.txt$")
_HINT = ("UCF101 needs the official ucfTrainTestlist files (classInd.txt, trainlist0K.txt, "
         "testlist0K.txt); pass --annotations DIR if they are not in ROOT/ucfTrainTestlist.")


def ucf101_group(stem: str) -> str:
    """The group (``g08``) of a UCF101 clip name such as ``v_ApplyEyeMakeup_g08_c01``.

    Parameters
    ----------
    stem : str
        File name without extension.

    Returns
    -------
    str
        The ``gNN`` part: the 25 groups of a class share actor and background.

    Raises
    ------
    ValueError
        If the name has no ``_gNN_cNN`` suffix.

    References
    ----------
    .. [1] Soomro, Zamir & Shah, "UCF101: A Dataset of 101 Human Actions Classes From Videos
       in The Wild", CRCV-TR-12-01, 2012. arXiv:1212.0402.
    """
    match = _GROUP.search(stem)
    if match is None:
        raise ValueError(f"UCF101 video name {stem!r} has no _gNN_cNN group/clip suffix")
    return match.group(1)


def _read_class_index(path: Path) -> list[str]:
    entries = []
    for line in read_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"{path}: line {line!r} is not '<index> <ClassName>'")
        entries.append((int(parts[0]), parts[1]))
    indices = sorted(i for i, _ in entries)
    if indices != list(range(1, len(entries) + 1)):
        raise ValueError(f"{path}: class indices must be 1..{len(entries)} without gaps")
    return [name for _, name in sorted(entries)]


class _ClassResolver:
    """Map the folder part of a list entry to a class name of classInd.txt."""

    def __init__(self, classes: list[str], source: Path) -> None:
        self.classes = classes
        self.exact = set(classes)
        self.folded = {c.lower(): c for c in classes}
        self.source = source

    def __call__(self, folder: str, line: str) -> str:
        if folder in self.exact:
            return folder
        if folder.lower() in self.folded:
            return self.folded[folder.lower()]
        raise ValueError(f"{self.source}: {line!r} names class folder {folder!r}, which is "
                         "not in classInd.txt")


def _read_split(path: Path, kind: str, resolve_class: _ClassResolver) -> dict[str, str]:
    """``{relative path: class name}`` of one trainlist/testlist file."""
    entries: dict[str, str] = {}
    for line in read_lines(path):
        parts = line.split()
        rel = parts[0].replace("\\", "/")
        folder, _, name = rel.partition("/")
        if not folder or not name or "/" in name:
            raise ValueError(f"{path}: {line!r} is not '<ClassFolder>/<video>.avi'")
        label_name = resolve_class(folder, line)
        if kind == "train" and len(parts) > 1:
            index = int(parts[1])
            if not 1 <= index <= len(resolve_class.classes) or \
                    resolve_class.classes[index - 1] != label_name:
                raise ValueError(f"{path}: {line!r} gives class index {index}, but its folder "
                                 f"is class {label_name!r}")
        if rel in entries:
            raise ValueError(f"{path}: {rel!r} is listed twice")
        entries[rel] = label_name
    return entries


@register_dataset("ucf101", "UCF101: 13,320 YouTube clips, 101 classes, 3 official splits",
                  handles_missing=True)
def load_ucf101(root: str | os.PathLike | None = None,
                annotations: str | os.PathLike | None = None, *,
                allow_missing: bool = False, protocol: str | None = None,
                **options) -> Manifest:
    """Build the UCF101 manifest from the official split files.

    Parameters
    ----------
    root : path-like
        Folder holding ``<ClassFolder>/v_<Class>_gNN_cNN.avi`` (the extracted ``UCF-101``).
    annotations : path-like, optional
        Folder with ``classInd.txt``, ``trainlist0K.txt`` and ``testlist0K.txt``
        (default ``root/ucfTrainTestlist``). One fold per ``K`` found.
    allow_missing : bool
        Exclude listed videos that are absent from disk (recorded in ``meta["missing"]``)
        instead of raising.
    protocol : {None, "official"}
        Only the official splits exist.

    Returns
    -------
    Manifest
        One row per listed video; ``group`` is the ``gNN`` part of the name (clips of a
        group share actor and background); a video absent from a fold's lists is ``unused``.

    Raises
    ------
    FileNotFoundError
        Missing root or annotation files; missing videos (see ``allow_missing``).
    ValueError
        Malformed list files, a video in both train and test, paths escaping the root.

    Notes
    -----
    Labels come from ``classInd.txt`` (class order = index order). Test lists carry no index,
    so a video's class is its folder name; train entries are checked against their index.
    Folder names are matched to ``classInd.txt`` exactly, then ignoring case. The file names
    of one class are spelled differently from its folder in the official lists
    (``HandstandPushups/v_HandStandPushups_g01_c01.avi``); paths are used as listed and, if
    absent on disk, looked up ignoring case (``meta["case_mismatches"]`` counts those).

    References
    ----------
    .. [1] Soomro, Zamir & Shah, "UCF101: A Dataset of 101 Human Actions Classes From Videos
       in The Wild", CRCV-TR-12-01, 2012. arXiv:1212.0402.
    """
    check_options("ucf101", options)
    if protocol not in (None, "official"):
        raise ValueError(f"ucf101 has only its official splits; got protocol={protocol!r}")
    root = require_dir(root, "UCF101 root", "Pass --root pointing at the extracted UCF-101.")
    ann = require_dir(default_annotations(root, annotations, "ucfTrainTestlist"),
                      "UCF101 annotation folder", _HINT)
    classes = _read_class_index(require_file(ann / "classInd.txt", "UCF101 class index", _HINT))
    resolve_class = _ClassResolver(classes, ann / "classInd.txt")

    lists: dict[int, dict[str, Path]] = {}
    for name in sorted(os.listdir(ann)):
        match = _LIST.match(name.lower())
        if match:
            lists.setdefault(int(match.group(2)), {})[match.group(1)] = ann / name
    folds = sorted(k for k, kinds in lists.items() if set(kinds) == {"train", "test"})
    if not folds:
        raise FileNotFoundError(f"no trainlist0K.txt/testlist0K.txt pair in {ann}. {_HINT}")

    label_of: dict[str, str] = {}
    subsets: dict[int, dict[str, str]] = {}
    for fold in folds:
        train = _read_split(lists[fold]["train"], "train", resolve_class)
        test = _read_split(lists[fold]["test"], "test", resolve_class)
        both = sorted(set(train) & set(test))
        if both:
            raise ValueError(f"fold {fold}: {len(both)} video(s) are in both trainlist and "
                             f"testlist, e.g. {both[:3]}")
        for rel, label_name in {**train, **test}.items():
            if label_of.setdefault(rel, label_name) != label_name:
                raise ValueError(f"{rel!r} has class {label_of[rel]!r} in one list and "
                                 f"{label_name!r} in another")
        subsets[fold] = {**dict.fromkeys(train, "train"), **dict.fromkeys(test, "test")}

    listed = sorted(label_of)
    rows = pd.DataFrame({
        "video_id": [os.path.splitext(rel.rpartition("/")[2])[0] for rel in listed],
        "label_name": [label_of[rel] for rel in listed],
    })
    rows["group"] = [ucf101_group(v) for v in rows["video_id"]]
    duplicated = rows["video_id"].duplicated(keep=False)
    if duplicated.any():
        raise ValueError("the same video name is listed under several folders: "
                         f"{sorted(rows.loc[duplicated, 'video_id'])[:5]}")
    for fold in folds:
        rows[f"fold{fold}"] = [subsets[fold].get(rel, "unused") for rel in listed]
    on_disk, exists = locate_all(root, listed)
    rows["path"] = on_disk
    case_mismatches = sum(a != b for a, b in zip(listed, on_disk, strict=True))
    rows, missing = handle_missing(rows, exists, dataset="ucf101", allow_missing=allow_missing)
    meta = {
        "protocol": "official",
        "annotations": str(ann),
        "allow_flip": True,
        "missing": missing,
        "case_mismatches": case_mismatches,
    }
    return build_manifest(rows, None, root=root, classes=classes, dataset="ucf101", meta=meta)
