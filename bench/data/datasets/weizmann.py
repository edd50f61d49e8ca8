"""Weizmann actions (2007 release) with leave-one-actor-out folds."""

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

__all__ = ["load_weizmann", "weizmann_action", "WEIZMANN_ACTIONS", "WEIZMANN_ACTORS",
           "WEIZMANN_REPEATS"]

#: The ten actions, in label order. ``wave1`` (one hand) and ``wave2`` (two hands) are classes.
WEIZMANN_ACTIONS = ("bend", "jack", "jump", "pjump", "run", "side", "skip", "walk",
                    "wave1", "wave2")

#: The nine actors; each fold holds one of them out, in this order.
WEIZMANN_ACTORS = ("daria", "denis", "eli", "ido", "ira", "lena", "lyova", "moshe", "shahar")

#: Actions recorded twice for one actor (``lena_run1.avi``, ``lena_run2.avi``, ...).
WEIZMANN_REPEATS = {"lena": ("run", "skip", "walk")}

_REPEAT = re.compile(r"^([a-z]+)(\d+)$")


def weizmann_action(token: str) -> str | None:
    """The class of the action part of a Weizmann file name, or ``None`` if unknown.

    A token that is itself a class is that class (so ``wave1`` and ``wave2`` stay two
    classes). Otherwise a trailing repeat number is stripped only when what remains is a
    class (``run1`` -> ``run``); ``wave3`` or ``bend1x`` are unknown.

    Parameters
    ----------
    token : str
        The part of the file name after ``<actor>_``, without extension.

    Returns
    -------
    str or None
        One of :data:`WEIZMANN_ACTIONS`, or ``None``.

    References
    ----------
    .. [1] Gorelick, Blank, Shechtman, Irani & Basri, "Actions as Space-Time Shapes",
       IEEE TPAMI 29(12), 2007. doi:10.1109/TPAMI.2007.70711.
    """
    token = token.lower()
    if token in WEIZMANN_ACTIONS:
        return token
    match = _REPEAT.match(token)
    if match and match.group(1) in WEIZMANN_ACTIONS:
        return match.group(1)
    return None


def _expected_videos() -> list[str]:
    names = []
    for actor in WEIZMANN_ACTORS:
        for action in WEIZMANN_ACTIONS:
            if action in WEIZMANN_REPEATS.get(actor, ()):
                names += [f"{actor}_{action}1", f"{actor}_{action}2"]
            else:
                names.append(f"{actor}_{action}")
    return names


@register_dataset("weizmann", "Weizmann: 93 clips, 10 actions, 9 actors, leave-one-actor-out",
                  handles_missing=True)
def load_weizmann(root: str | os.PathLike | None = None,
                  annotations: str | os.PathLike | None = None, *,
                  allow_missing: bool = False, protocol: str | None = None,
                  **options) -> Manifest:
    """Build the Weizmann manifest: 93 videos, 9 leave-one-actor-out folds.

    Parameters
    ----------
    root : path-like
        Folder holding ``<actor>_<action>.avi`` files, directly or in one level of
        subfolders (the per-action zip files of the dataset page).
    annotations : None
        Not used.
    allow_missing : bool
        Exclude expected videos absent from disk (recorded in ``meta["missing"]``) instead of
        raising.
    protocol : {None, "loao", "official"}
        Only leave-one-actor-out exists.

    Returns
    -------
    Manifest
        Fold ``k`` tests on actor ``WEIZMANN_ACTORS[k-1]`` and trains on the other eight;
        ``group`` is the actor; ``video_id`` the file name without extension.

    Raises
    ------
    FileNotFoundError
        Missing root; missing videos (see ``allow_missing``).
    ValueError
        Two files for one video, or paths escaping the root.

    Notes
    -----
    Class names are read with :func:`weizmann_action`. Files whose names do not parse, or
    name an actor outside :data:`WEIZMANN_ACTORS`, are ignored and listed in
    ``meta["ignored"]`` (the protocol is defined over these nine actors). ``allow_flip`` is
    True: no Weizmann class is defined by left/right direction (a walk, run or side gallop
    keeps its class whichever way the actor moves, and ``wave1`` is a one-hand wave
    whichever hand), so a horizontal flip keeps every label.

    References
    ----------
    .. [1] Gorelick, Blank, Shechtman, Irani & Basri, "Actions as Space-Time Shapes",
       IEEE TPAMI 29(12), 2007. doi:10.1109/TPAMI.2007.70711.
    """
    check_options("weizmann", options)
    if protocol not in (None, "loao", "official"):
        raise ValueError(f"weizmann has only leave-one-actor-out; got protocol={protocol!r}")
    root = require_dir(root, "Weizmann root", "Pass --root pointing at the Weizmann videos.")
    found: dict[str, str] = {}
    ignored: list[str] = []
    for rel in list_videos(root, max_depth=1):
        stem = PurePosixPath(rel).stem
        actor, _, token = stem.lower().partition("_")
        if actor not in WEIZMANN_ACTORS or weizmann_action(token) is None:
            ignored.append(rel)
            continue
        video_id = f"{actor}_{token}"
        if video_id in found:
            raise ValueError(f"two files for Weizmann video {video_id!r}: {found[video_id]!r} "
                             f"and {rel!r}; keep one")
        found[video_id] = rel

    names = sorted(set(_expected_videos()) | set(found))
    rows = pd.DataFrame({"video_id": names})
    rows["group"] = [n.partition("_")[0] for n in names]
    rows["label_name"] = [weizmann_action(n.partition("_")[2]) for n in names]
    for fold, actor in enumerate(WEIZMANN_ACTORS, start=1):
        rows[f"fold{fold}"] = ["test" if g == actor else "train" for g in rows["group"]]
    rows["path"] = [found.get(n, f"{n}.avi") for n in names]
    rows, missing = handle_missing(rows, [n in found for n in names], dataset="weizmann",
                                   allow_missing=allow_missing)
    meta = {"protocol": "leave_one_actor_out", "fold_actors": list(WEIZMANN_ACTORS),
            "allow_flip": True, "missing": missing, "ignored": sorted(ignored)}
    return build_manifest(rows, None, root=root, classes=WEIZMANN_ACTIONS,
                          dataset="weizmann", meta=meta)
