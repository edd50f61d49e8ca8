"""Any dataset laid out as ``root/<class>/<video>``, with grouped, seeded splits."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from bench.data.datasets import register_dataset
from bench.data.datasets._common import (
    build_manifest,
    check_options,
    compile_group_pattern,
    group_from_name,
    list_videos,
    require_dir,
)
from bench.data.manifest import Manifest

__all__ = ["load_folder", "grouped_folds", "PROTOCOLS"]

#: The split protocols of the folder adapter.
PROTOCOLS = ("holdout", "kfold", "logo")


def grouped_folds(labels: np.ndarray, groups: np.ndarray, protocol: str, *,
                  test_size: float = 0.25, n_splits: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Test masks of grouped splits: no group is ever on both sides of a fold.

    Parameters
    ----------
    labels, groups : ndarray
        Per-video class labels and group keys.
    protocol : {"holdout", "kfold", "logo"}
        ``holdout``: one fold, about ``test_size`` of the groups held out
        (:class:`sklearn.model_selection.GroupShuffleSplit`). ``kfold``: ``n_splits`` folds,
        class-balanced as far as groups allow
        (:class:`sklearn.model_selection.StratifiedGroupKFold`, shuffled). ``logo``: one fold
        per group (:class:`sklearn.model_selection.LeaveOneGroupOut`).
    test_size : float
        Fraction of groups in the test set (``holdout``).
    n_splits : int
        Number of folds (``kfold``).
    seed : int
        Random state of ``holdout`` and ``kfold``; the same seed gives the same folds.

    Returns
    -------
    list of ndarray of bool
        One test mask per fold; the rest of each fold is train.

    Raises
    ------
    ValueError
        Unknown protocol, bad ``test_size`` / ``n_splits``, or too few groups.

    References
    ----------
    .. [1] Pedregosa et al., "Scikit-learn: Machine Learning in Python", JMLR 12, 2011.
       arXiv:1201.0490.
    """
    from sklearn.model_selection import GroupShuffleSplit, LeaveOneGroupOut, StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(
            f"the folder dataset has {n_groups} group(s); grouped splits need at least 2. "
            "Check --group-pattern (default: the file-name part before the first '_')"
        )
    placeholder = np.zeros((len(labels), 1))
    if protocol == "holdout":
        if not 0.0 < float(test_size) < 1.0:
            raise ValueError(f"The 'test_size' option must be a float in (0, 1). Got {test_size!r}.")
        splitter = GroupShuffleSplit(n_splits=1, test_size=float(test_size), random_state=seed)
        splits = splitter.split(placeholder, labels, groups)
    elif protocol == "kfold":
        if not isinstance(n_splits, (int, np.integer)) or not 2 <= n_splits <= n_groups:
            raise ValueError(f"The 'n_splits' option must be an int in [2, {n_groups}] (the "
                             f"number of groups). Got {n_splits!r}.")
        splitter = StratifiedGroupKFold(n_splits=int(n_splits), shuffle=True, random_state=seed)
        splits = splitter.split(placeholder, labels, groups)
    elif protocol == "logo":
        splits = LeaveOneGroupOut().split(placeholder, labels, groups)
    else:
        raise ValueError(f"The 'protocol' option of the folder dataset must be one of "
                         f"{PROTOCOLS}. Got {protocol!r}.")
    masks = []
    for _, test_index in splits:
        mask = np.zeros(len(labels), dtype=bool)
        mask[test_index] = True
        masks.append(mask)
    return masks


@register_dataset("folder", "Any videos laid out as ROOT/<class>/<video>; grouped splits")
def load_folder(root: str | os.PathLike | None = None,
                annotations: str | os.PathLike | None = None, *,
                protocol: str | None = None, group_pattern: str | None = None,
                test_size: float = 0.25, n_splits: int = 5, seed: int = 0,
                allow_missing: bool | None = None, **options) -> Manifest:
    """Build a manifest from class folders, splitting by group.

    Parameters
    ----------
    root : path-like
        Folder with one subfolder per class holding that class's videos (any of
        :data:`bench.data.datasets._common.VIDEO_EXTENSIONS`, case-insensitive; other files are
        ignored; subfolders without videos are not classes).
    annotations : None
        Not used.
    protocol : {"holdout", "kfold", "logo"}, default "holdout"
        See :func:`grouped_folds`.
    group_pattern : str, optional
        Regular expression searched in each file name without extension; the named group
        ``group`` or the only capture group is the group key (e.g. ``person(\\d+)``). Default:
        the part before the first ``_``. Videos of one group (actor, source video, scene) are
        never split between train and test.
    test_size, n_splits, seed
        See :func:`grouped_folds`.
    allow_missing : ignored
        Accepted for a uniform interface: the folder adapter lists what exists.

    Returns
    -------
    Manifest
        Classes are the folder names in sorted order; ``video_id`` is ``<class>/<file>``.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder, has no class folders, or no videos.
    ValueError
        A bad group pattern or protocol option, too few groups, paths escaping the root.

    References
    ----------
    .. [1] Pedregosa et al., "Scikit-learn: Machine Learning in Python", JMLR 12, 2011
       (the grouped splitters). arXiv:1201.0490.
    """
    check_options("folder", options)
    protocol = protocol or "holdout"
    if protocol not in PROTOCOLS:
        raise ValueError(f"The 'protocol' option of the folder dataset must be one of "
                         f"{PROTOCOLS}. Got {protocol!r}.")
    pattern = compile_group_pattern(group_pattern)
    root = require_dir(root, "folder dataset root",
                       "Pass --root DIR holding one subfolder per class.")
    videos = [rel for rel in list_videos(root, max_depth=1) if "/" in rel]
    if not videos:
        has_dirs = any(entry.is_dir() and not entry.name.startswith(".")
                       for entry in os.scandir(root))
        what = "no video files in its class folders" if has_dirs else "no class folders"
        raise FileNotFoundError(
            f"folder dataset root {str(root)!r} has {what}; expected ROOT/<class>/<video> with "
            "extensions .avi .mp4 .mkv .mov .webm .mpg .mpeg .m4v"
        )
    rows = pd.DataFrame({"video_id": videos, "path": videos})
    rows["label_name"] = [rel.split("/", 1)[0] for rel in videos]
    rows["group"] = [group_from_name(PurePosixPath(rel).stem, pattern) for rel in videos]
    classes = sorted(rows["label_name"].unique())
    labels = rows["label_name"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    masks = grouped_folds(labels, rows["group"].to_numpy(dtype=str), protocol,
                          test_size=test_size, n_splits=n_splits, seed=seed)
    folds = {k: np.where(mask, "test", "train") for k, mask in enumerate(masks, start=1)}
    meta = {
        "protocol": protocol,
        "group_pattern": pattern.pattern if pattern is not None else None,
        "seed": int(seed),
        "allow_flip": True,
        "missing": [],
    }
    if protocol == "holdout":
        meta["test_size"] = float(test_size)
    if protocol == "kfold":
        meta["n_splits"] = int(n_splits)
    return build_manifest(rows, folds, root=root, classes=classes, dataset="folder", meta=meta)
