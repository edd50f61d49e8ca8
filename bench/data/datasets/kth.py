"""KTH human actions with the standard person split of Schüldt et al."""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath

import pandas as pd

from bench.data.datasets import register_dataset
from bench.data.datasets._common import (
    build_manifest,
    check_options,
    handle_missing,
    list_videos,
    require_dir,
)
from bench.data.manifest import Manifest

__all__ = ["load_kth", "KTH_ACTIONS", "KTH_PERSON_SPLIT", "KTH_ABSENT"]

#: The six KTH actions, in label order.
KTH_ACTIONS = ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")

#: Person numbers of each part of the standard split (Schüldt et al., 2004).
KTH_PERSON_SPLIT = {
    "train": (11, 12, 13, 14, 15, 16, 17, 18),
    "validation": (19, 20, 21, 23, 24, 25, 1, 4),
    "test": (22, 2, 3, 5, 6, 7, 8, 9, 10),
}

#: Sequences absent from the official distribution (25 x 6 x 4 = 600 minus these = 599).
KTH_ABSENT = ("person13_handclapping_d3",)

#: Preference between files of the same sequence: the original DivX AVI first.
_EXTENSION_ORDER = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")
_NAME = re.compile(r"^person(\d{2})_(" + "|".join(KTH_ACTIONS) + r")_d([1-4])(?:_uncomp)?$")


def _expected_sequences() -> list[str]:
    return [f"person{p:02d}_{a}_d{d}" for p in range(1, 26) for a in KTH_ACTIONS
            for d in range(1, 5) if f"person{p:02d}_{a}_d{d}" not in KTH_ABSENT]


@register_dataset("kth", "KTH: 599 clips, 6 actions, 25 persons, standard person split",
                  handles_missing=True)
def load_kth(root: str | os.PathLike | None = None,
             annotations: str | os.PathLike | None = None, *,
             use_validation: bool = True, allow_missing: bool = False,
             protocol: str | None = None, **options) -> Manifest:
    """Build the KTH manifest with the standard person split (one fold).

    Parameters
    ----------
    root : path-like
        Folder holding ``personNN_<action>_dN_uncomp.avi`` files, directly or in
        ``<action>/`` subfolders (the layout of the six official zip files).
    annotations : None
        Not used (the split is defined by person numbers).
    use_validation : bool, default True
        Train on train + validation persons (16 persons, 383 videos), as the standard
        protocol does for the final model; with False the validation persons are ``unused``.
    allow_missing : bool
        Exclude expected sequences absent from disk (recorded in ``meta["missing"]``) instead
        of raising.
    protocol : {None, "official"}
        Only the person split exists.

    Returns
    -------
    Manifest
        ``video_id`` is the sequence name without ``_uncomp`` (``person01_boxing_d1``),
        ``group`` the person (``person01``).

    Raises
    ------
    FileNotFoundError
        Missing root; missing videos (see ``allow_missing``).
    ValueError
        Paths escaping the root.

    Notes
    -----
    Train persons 11-18, validation 19-21, 23-25, 01, 04, test 02, 03, 05-10, 22. The
    official archive lacks ``person13_handclapping_d3`` (599 sequences: 191 train,
    192 validation, 216 test); it is not reported missing. Whole sequences are used: the
    ``00sequences.txt`` sub-sequence boundaries are not applied. When a sequence exists in
    several containers (``.avi`` and a re-encoded ``.mp4``) the ``.avi`` is used and the
    others are listed in ``meta["ignored"]``, as are video files whose names do not follow
    the KTH pattern.

    References
    ----------
    .. [1] Schüldt, Laptev & Caputo, "Recognizing Human Actions: A Local SVM Approach",
       ICPR 2004. doi:10.1109/ICPR.2004.1334462.
    """
    check_options("kth", options)
    if protocol not in (None, "official"):
        raise ValueError(f"kth has only its person split; got protocol={protocol!r}")
    root = require_dir(root, "KTH root", "Pass --root pointing at the extracted KTH videos.")
    found: dict[str, str] = {}
    ignored: list[str] = []
    rank = {ext: i for i, ext in enumerate(_EXTENSION_ORDER)}
    for rel in list_videos(root, max_depth=1):
        pure = PurePosixPath(rel)
        match = _NAME.match(pure.stem)
        if match is None:
            ignored.append(rel)
            continue
        sequence = pure.stem.removesuffix("_uncomp")
        previous = found.get(sequence)
        if previous is None or rank[pure.suffix.lower()] < rank[PurePosixPath(previous).suffix.lower()]:
            if previous is not None:
                ignored.append(previous)
            found[sequence] = rel
        else:
            ignored.append(rel)

    subset_of_person = {}
    for part, persons in KTH_PERSON_SPLIT.items():
        subset = "train" if part == "train" or (part == "validation" and use_validation) else \
            "test" if part == "test" else "unused"
        subset_of_person.update(dict.fromkeys(persons, subset))
    sequences = sorted(set(_expected_sequences()) | set(found))
    rows = pd.DataFrame({"video_id": sequences})
    parsed = [_NAME.match(s) for s in sequences]
    rows["label_name"] = [m.group(2) for m in parsed]
    rows["group"] = [f"person{m.group(1)}" for m in parsed]
    rows["fold1"] = [subset_of_person.get(int(m.group(1)), "unused") for m in parsed]
    rows["path"] = [found.get(s, f"{s}_uncomp.avi") for s in sequences]
    rows, missing = handle_missing(rows, [s in found for s in sequences], dataset="kth",
                                   allow_missing=allow_missing)
    meta = {"protocol": "person_split", "use_validation": bool(use_validation),
            "person_split": {k: list(v) for k, v in KTH_PERSON_SPLIT.items()},
            "allow_flip": True, "missing": missing, "ignored": sorted(ignored)}
    return build_manifest(rows, None, root=root, classes=KTH_ACTIONS, dataset="kth", meta=meta)
