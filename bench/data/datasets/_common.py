"""Helpers shared by the dataset adapters: file discovery, missing files, group keys.

Nothing here opens a video: adapters only list directories and ``stat`` files, so that a
manifest can be built (and its fingerprint checked) without decoding anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from bench.data.manifest import Manifest, RootGuard, fold_column

__all__ = [
    "VIDEO_EXTENSIONS",
    "MissingVideosError",
    "is_video_file",
    "require_dir",
    "require_file",
    "read_lines",
    "default_annotations",
    "RootGuard",
    "list_videos",
    "compile_group_pattern",
    "group_from_name",
    "CaseInsensitiveFinder",
    "locate",
    "locate_all",
    "check_options",
    "handle_missing",
    "build_manifest",
]

#: File extensions treated as videos (compared case-insensitively).
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")

#: How many missing files an error message names.
MAX_LISTED_MISSING = 10


class MissingVideosError(FileNotFoundError):
    """Videos named by a dataset's official files are absent from disk."""


def is_video_file(name: str | os.PathLike) -> bool:
    """Whether ``name`` has one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def require_dir(path: str | os.PathLike, what: str, hint: str = "") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, raising if it is not a directory.

    Raises
    ------
    FileNotFoundError
        Naming ``what`` and the path, followed by ``hint`` (how to fix it).
    """
    if path is None:
        raise ValueError(f"{what} is required: pass --root DIR. {hint}".strip())
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {str(path)!r} is not a directory. {hint}".strip())
    return path


def require_file(path: str | os.PathLike, what: str, hint: str = "") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, raising if it is not a file.

    Raises
    ------
    FileNotFoundError
        Naming ``what`` and the path, followed by ``hint`` (how to fix it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} not found. {hint}".strip())
    return path


def read_lines(path: str | os.PathLike) -> list[str]:
    """Non-blank lines of a text file, stripped (handles CRLF and a UTF-8 BOM)."""
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def default_annotations(root: Path, annotations: str | os.PathLike | None, folder: str) -> Path:
    """``annotations`` if given, else ``root/folder`` (the folder the dataset ships)."""
    return Path(annotations) if annotations is not None else root / folder


def list_videos(root: Path, max_depth: int) -> list[str]:
    """Relative POSIX paths of the video files under ``root``, at most ``max_depth`` deep.

    ``max_depth=0`` lists ``root`` itself, ``1`` also its immediate subfolders. Hidden files
    and folders (leading ``.``) are skipped. Every path is checked with
    :func:`bench.data.manifest.resolve_inside`, so a symbolic link pointing outside ``root`` raises
    :class:`ValueError`. The result is sorted.
    """
    found: list[str] = []
    guard = RootGuard(root)

    def walk(folder: Path, prefix: str, depth: int) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                rel = prefix + entry.name
                if entry.is_dir():
                    if depth < max_depth:
                        guard.resolve(rel)
                        walk(Path(entry.path), rel + "/", depth + 1)
                elif is_video_file(entry.name):
                    guard.resolve(rel)
                    found.append(rel)

    walk(root, "", 0)
    return sorted(found)


def compile_group_pattern(pattern: str | re.Pattern | None) -> re.Pattern | None:
    """Compile a group pattern, checking that it has exactly one group to read the key from.

    Raises
    ------
    ValueError
        If the regex is invalid or has neither a named group ``group`` nor exactly one
        capture group.
    """
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"group_pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    if "group" not in compiled.groupindex and compiled.groups != 1:
        raise ValueError(
            f"group_pattern {compiled.pattern!r} has {compiled.groups} capture groups; it needs "
            "exactly one, or a named group (?P<group>...), holding the group key"
        )
    return compiled


def group_from_name(stem: str, pattern: re.Pattern | None) -> str:
    """The group key of a video from its file name without extension.

    With ``pattern=None``: the part before the first ``_`` (the whole stem if there is none).
    Otherwise the named group ``group`` of ``pattern.search(stem)``, or its only capture group.

    Raises
    ------
    ValueError
        If ``pattern`` does not match ``stem`` or captures an empty string.
    """
    if pattern is None:
        return stem.split("_", 1)[0]
    match = pattern.search(stem)
    key = None
    if match is not None:
        key = match.group("group") if "group" in pattern.groupindex else match.group(1)
    if not key:
        raise ValueError(
            f"group_pattern {pattern.pattern!r} does not give a group key for file name "
            f"{stem!r}; fix the pattern (it is searched in the name without extension)"
        )
    return key


class CaseInsensitiveFinder:
    """Find a relative path on disk ignoring case, listing each directory once.

    Official list files do not always spell folder or file names as the archives do
    (UCF101's ``HandstandPushups`` folder holds ``v_HandStandPushups_*`` files). Only used
    for paths that do not exist as spelled, so the common case costs one ``stat``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listings: dict[Path, dict[str, str]] = {}

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._listings[folder] = {name.lower(): name for name in sorted(names)}
        return self._listings[folder]

    def find(self, relative: str) -> str | None:
        """The on-disk spelling of ``relative`` (POSIX), or ``None`` if absent."""
        parts = [p for p in relative.split("/") if p]
        folder = self.root
        spelled: list[str] = []
        for part in parts:
            actual = self._listing(folder).get(part.lower())
            if actual is None:
                return None
            spelled.append(actual)
            folder = folder / actual
        return "/".join(spelled) if folder.is_file() else None


def locate(root: Path, relative: str, finder: CaseInsensitiveFinder,
           guard: RootGuard | None = None) -> tuple[str, bool]:
    """``(path, exists)``: ``relative`` as found on disk, trying a case-insensitive match.

    Raises
    ------
    ValueError
        If ``relative`` escapes ``root`` (see :func:`bench.data.manifest.resolve_inside`).
    """
    guard = guard or RootGuard(root)
    guard.resolve(relative)
    if os.path.isfile(os.path.join(root, relative)):
        return relative, True
    actual = finder.find(relative)
    if actual is None:
        return relative, False
    guard.resolve(actual)
    return actual, True


def locate_all(root: Path, relatives: Iterable[str]) -> tuple[list[str], list[bool]]:
    """:func:`locate` for many paths: their on-disk spellings and whether each exists."""
    finder, guard = CaseInsensitiveFinder(root), RootGuard(root)
    found = [locate(root, rel, finder, guard) for rel in relatives]
    return [path for path, _ in found], [exists for _, exists in found]


def check_options(dataset: str, options: dict, accepted: Sequence[str] = ()) -> None:
    """Refuse adapter options this dataset does not understand (``None`` values are ignored).

    Raises
    ------
    ValueError
        Naming the unknown options and the accepted ones (a user-facing configuration error,
        like every other bad option).
    """
    unknown = sorted(k for k, v in options.items() if v is not None and k not in accepted)
    if unknown:
        known = ", ".join(accepted) if accepted else "none besides root, annotations"
        raise ValueError(
            f"dataset {dataset!r} does not take option(s) {unknown}; it accepts: {known}"
        )


def handle_missing(rows: pd.DataFrame, exists: Sequence[bool], *, dataset: str,
                   allow_missing: bool) -> tuple[pd.DataFrame, list[str]]:
    """Drop rows whose video is absent, or raise if that is not allowed.

    Parameters
    ----------
    rows : DataFrame
        Manifest rows with a ``path`` column.
    exists : sequence of bool
        Whether each row's video exists on disk.
    dataset : str
        Adapter name, for the message.
    allow_missing : bool
        Exclude the missing videos (returned so they can be recorded in ``meta["missing"]``)
        instead of raising.

    Returns
    -------
    rows : DataFrame
        The rows whose video exists.
    missing : list of str
        Relative paths of the missing videos, sorted.

    Raises
    ------
    MissingVideosError
        When videos are missing and ``allow_missing`` is false; the message gives the count,
        the first :data:`MAX_LISTED_MISSING` paths and the way out.
    """
    present = pd.Series(list(exists), index=rows.index, dtype=bool)
    missing = sorted(rows.loc[~present, "path"].tolist())
    if missing and not allow_missing:
        listed = "\n  ".join(missing[:MAX_LISTED_MISSING])
        more = f"\n  ... and {len(missing) - MAX_LISTED_MISSING} more" if len(missing) > MAX_LISTED_MISSING else ""
        raise MissingVideosError(
            f"{len(missing)} video(s) of dataset {dataset!r} named by its split files are missing "
            f"from disk:\n  {listed}{more}\nCheck --root (and the layout in docs/datasets.md), "
            "or pass --allow-missing (allow_missing=True) to exclude them; they are then "
            "recorded in the manifest's meta['missing']."
        )
    return rows.loc[present].copy(), missing


def build_manifest(rows: pd.DataFrame, folds: dict[int, Iterable[str]] | None, *, root: Path,
                   classes: Sequence[str], dataset: str, meta: dict) -> Manifest:
    """Assemble a :class:`~bench.data.manifest.Manifest` sorted by ``video_id``.

    ``rows`` holds ``video_id, path, label_name, group`` and, unless ``folds`` is given, the
    ``fold<k>`` columns; ``folds`` maps fold number to a per-row sequence of subsets.
    """
    table = rows.copy()
    if folds:
        for fold, subsets in folds.items():
            table[fold_column(fold)] = list(subsets)
    index = {name: i for i, name in enumerate(classes)}
    table["label"] = table["label_name"].map(index).astype(int)
    fold_cols = sorted((c for c in table.columns if c.startswith("fold")),
                       key=lambda c: int(c[4:]))
    table = table[["video_id", "path", "label", "label_name", "group", *fold_cols]]
    table = table.sort_values("video_id", kind="mergesort").reset_index(drop=True)
    return Manifest(table, root, list(classes), dataset, meta)
