"""HMDB51 with its three official 70/30 splits."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

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
)
from bench.data.manifest import Manifest

__all__ = ["load_hmdb51", "hmdb51_source_video"]

_SPLIT_FILE = re.compile(r"^(?P<action>.+)_test_split(?P<split>\d+)\.txt$")
_SUBSET = {"1": "train", "2": "test", "0": "unused"}
_HINT = ("HMDB51 needs the official testTrainMulti_7030_splits files "
         "(<action>_test_split<K>.txt); pass --annotations DIR if they are not in "
         "ROOT/testTrainMulti_7030_splits.")


def hmdb51_source_video(stem: str, action: str) -> str:
    """The source-video title of an HMDB51 clip, used as its group.

    HMDB51 clip names are ``<source title>_<action>_<body part>_<camera motion>_<people>_
    <viewpoint>_<quality>_<clip index>``; e.g. ``April_09_brush_hair_u_nm_np1_ba_goo_0``
    comes from source ``April_09``. Clips cut from the same source video show the same
    people and scene, and the official splits never put them on both sides.

    Parameters
    ----------
    stem : str
        Clip file name without extension.
    action : str
        The clip's action (its folder / split-file name).

    Returns
    -------
    str
        ``<action>/<source title>``, or ``<action>/<stem>`` when the name does not carry the
        meta tags. Scoped by action: one source title (often a film) gives clips of several
        actions, and the official splits keep a title on one side only within an action.

    References
    ----------
    .. [1] Kuehne, Jhuang, Garrote, Poggio & Serre, "HMDB: A Large Video Database for Human
       Motion Recognition", ICCV 2011. doi:10.1109/ICCV.2011.6126543.
    """
    pattern = (rf"^(?P<source>.+)_{re.escape(action)}_[fhula]_(?:cm|nm)_np\d+_"
               r"(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+$")
    match = re.match(pattern, stem)
    return f"{action}/{match.group('source')}" if match else f"{action}/{stem}"


@register_dataset("hmdb51", "HMDB51: 6,766 clips from movies and the web, 51 classes, 3 splits",
                  handles_missing=True)
def load_hmdb51(root: str | os.PathLike | None = None,
                annotations: str | os.PathLike | None = None, *,
                allow_missing: bool = False, protocol: str | None = None,
                **options) -> Manifest:
    """Build the HMDB51 manifest from the official ``*_test_split{1,2,3}.txt`` files.

    Parameters
    ----------
    root : path-like
        Folder holding ``<action>/<clip>.avi`` (the extracted per-class RAR archives).
    annotations : path-like, optional
        Folder with ``<action>_test_split<K>.txt`` (default
        ``root/testTrainMulti_7030_splits``). One fold per ``K`` found; in each file
        ``1`` = train, ``2`` = test, ``0`` = unused.
    allow_missing : bool
        Exclude listed videos absent from disk (recorded in ``meta["missing"]``) instead of
        raising.
    protocol : {None, "official"}
        Only the official splits exist.

    Returns
    -------
    Manifest
        Classes are the action names in alphabetical order; ``group`` is
        ``<action>/<source video title>`` (see :func:`hmdb51_source_video`).

    Raises
    ------
    FileNotFoundError
        Missing root or split files; missing videos (see ``allow_missing``).
    ValueError
        Malformed split files or paths escaping the root.

    References
    ----------
    .. [1] Kuehne, Jhuang, Garrote, Poggio & Serre, "HMDB: A Large Video Database for Human
       Motion Recognition", ICCV 2011. doi:10.1109/ICCV.2011.6126543.
    """
    check_options("hmdb51", options)
    if protocol not in (None, "official"):
        raise ValueError(f"hmdb51 has only its official splits; got protocol={protocol!r}")
    root = require_dir(root, "HMDB51 root", "Pass --root pointing at the extracted HMDB51.")
    ann = require_dir(default_annotations(root, annotations, "testTrainMulti_7030_splits"),
                      "HMDB51 annotation folder", _HINT)
    files: dict[int, dict[str, Path]] = {}
    for name in sorted(os.listdir(ann)):
        match = _SPLIT_FILE.match(name)
        if match:
            files.setdefault(int(match["split"]), {})[match["action"]] = ann / name
    if not files:
        raise FileNotFoundError(f"no <action>_test_split<K>.txt files in {ann}. {_HINT}")
    classes = sorted(files[min(files)])
    for split, by_action in files.items():
        if sorted(by_action) != classes:
            raise ValueError(f"split {split} has files for {len(by_action)} actions, split "
                             f"{min(files)} for {len(classes)}; every split needs one file per "
                             "action")

    label_of: dict[str, str] = {}
    subsets: dict[int, dict[str, str]] = {split: {} for split in files}
    for split, by_action in sorted(files.items()):
        for action, path in sorted(by_action.items()):
            for line in read_lines(path):
                parts = line.split()
                if len(parts) != 2 or parts[1] not in _SUBSET:
                    raise ValueError(f"{path}: line {line!r} is not '<clip>.avi <0|1|2>'")
                rel = f"{action}/{parts[0]}"
                if label_of.setdefault(rel, action) != action or rel in subsets[split]:
                    raise ValueError(f"{path}: {parts[0]!r} is listed twice in split {split}")
                subsets[split][rel] = _SUBSET[parts[1]]

    listed = sorted(label_of)
    rows = pd.DataFrame({
        "video_id": [PurePosixPath(rel).stem for rel in listed],
        "label_name": [label_of[rel] for rel in listed],
    })
    duplicated = rows["video_id"].duplicated(keep=False)
    if duplicated.any():
        raise ValueError("the same clip name is listed for several actions: "
                         f"{sorted(rows.loc[duplicated, 'video_id'])[:5]}")
    rows["group"] = [hmdb51_source_video(v, a)
                     for v, a in zip(rows["video_id"], rows["label_name"], strict=True)]
    for split in sorted(files):
        rows[f"fold{split}"] = [subsets[split].get(rel, "unused") for rel in listed]
    rows["path"], exists = locate_all(root, listed)
    rows, missing = handle_missing(rows, exists, dataset="hmdb51", allow_missing=allow_missing)
    meta = {"protocol": "official", "annotations": str(ann), "allow_flip": True,
            "missing": missing}
    return build_manifest(rows, None, root=root, classes=classes, dataset="hmdb51", meta=meta)
