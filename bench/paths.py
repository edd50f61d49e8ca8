"""Where actbench keeps things: what it can recompute (generated videos, descriptors, decoded
clips) under the cache home, and the committed release records under ``reports/``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_home", "release_record"]


def cache_home(home: str | os.PathLike | None = None) -> Path:
    """``home``, else ``$ACTBENCH_HOME``, else ``~/.cache/actbench``.

    Everything under it can be deleted: a run regenerates what it needs, and a run directory
    never depends on it (it keeps what its report reads, :mod:`bench.run.rundir`).
    """
    if home is not None:
        return Path(home)
    return Path(os.environ.get("ACTBENCH_HOME") or Path.home() / ".cache" / "actbench")


def release_record(quick: bool = True, reports_dir: str | os.PathLike = "reports",
                   task: str = "recognition") -> Path:
    """The committed record of this version: ``reports/<version>/quick`` (the run the CI gate
    reruns) or, with ``quick=False``, ``reports/<version>`` (the default run's record).

    The other tasks' records sit in a folder of their own, ``reports/<version>/<task>`` and
    ``reports/<version>/<task>/quick`` (``task="detection"``).
    """
    from bench import __version__

    record = Path(reports_dir) / __version__
    if task != "recognition":
        record = record / task
    return record / "quick" if quick else record
