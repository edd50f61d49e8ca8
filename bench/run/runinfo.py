"""Facts about the machine, the installed packages and the source tree, for ``run.json``."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["machine_info", "package_versions", "git_commit", "PACKAGES"]

#: Distributions whose versions every run records (distribution name on PyPI).
PACKAGES = (
    "actbench",
    "numpy",
    "scipy",
    "torch",
    "scikit-learn",
    "scikit-image",
    "opencv-contrib-python-headless",
    "numba",
    "pandas",
    "joblib",
)


def machine_info() -> dict[str, Any]:
    """Platform, Python and CPU facts of this machine (and the GPU when torch sees one)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "system": platform.system(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
    }
    try:
        import torch

        info["cuda_available"] = bool(torch.cuda.is_available())
        if info["cuda_available"]:
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        info["cuda_available"] = False
    return info


def package_versions() -> dict[str, str | None]:
    """Installed versions of :data:`PACKAGES`, plus OpenCV's own build version.

    A package that is not installed is recorded as ``None``.
    """
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions.get("actbench") is None:  # running from a source tree, not installed
        from bench import __version__

        versions["actbench"] = f"{__version__} (source tree)"
    try:
        import cv2

        versions["cv2"] = cv2.__version__
    except ImportError:
        versions["cv2"] = None
    return versions


def git_commit(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The git commit of the source tree holding ``path`` (default: this package).

    Returns
    -------
    dict
        ``{"commit": sha or None, "dirty": bool or None}``; both ``None`` when git is missing
        or the tree is not a repository (e.g. an installed wheel).
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha or None, "dirty": bool(status.strip())}
