"""Where actbench keeps what it can recompute: generated videos, descriptors, decoded clips."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_home"]


def cache_home(home: str | os.PathLike | None = None) -> Path:
    """``home``, else ``$ACTBENCH_HOME``, else ``~/.cache/actbench``.

    Everything under it can be deleted: a run regenerates what it needs, and a run directory
    never depends on it (it keeps what its report reads, :mod:`bench.run.rundir`).
    """
    if home is not None:
        return Path(home)
    return Path(os.environ.get("ACTBENCH_HOME") or Path.home() / ".cache" / "actbench")
