"""Placeholder dataset trees for the adapter tests: empty files named as the real ones.

The files are empty on purpose: an adapter that tried to decode a video would fail on them, so
a manifest built from such a tree proves that building one never decodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def touch_all(root: Path, relatives: Iterable[str]) -> list[str]:
    """Create an empty file for each relative path under ``root``; returns them sorted."""
    created = sorted(set(relatives))
    for rel in created:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return created


def ucf101_listed(splits: Path) -> list[str]:
    """Every ``Class/v_Class_gNN_cNN.avi`` named by the UCF101 train/test lists."""
    listed = set()
    for path in sorted(splits.glob("*list0*.txt")):
        for line in path.read_text().splitlines():
            if line.strip():
                listed.add(line.split()[0])
    return sorted(listed)


def hmdb51_listed(splits: Path) -> list[str]:
    """Every ``action/clip.avi`` named by the HMDB51 split files."""
    listed = set()
    for path in sorted(splits.glob("*_test_split*.txt")):
        action = path.name.rsplit("_test_split", 1)[0]
        for line in path.read_text().splitlines():
            if line.strip():
                listed.add(f"{action}/{line.split()[0]}")
    return sorted(listed)


def session_tree(tmp_path_factory, name: str, relatives: Iterable[str]) -> Path:
    """A placeholder tree built once per test session and shared by the modules using it.

    Tests must not modify it (the error-path tests build their own small trees).
    """
    root = tmp_path_factory.getbasetemp() / f"placeholder_{name}"
    marker = root / ".complete"  # hidden: adapters skip it
    if not marker.exists():
        touch_all(root, relatives)
        marker.touch()
    return root
