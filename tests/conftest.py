"""Shared fixtures: paths to the real clips and split files in ../shared/data/real."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL = Path(os.environ.get("ACTBENCH_SHARED_REAL", REPO.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def shared_real() -> Path:
    """The folder of real clips, split files and label maps; skips when absent."""
    if not SHARED_REAL.is_dir():
        pytest.skip(f"real test data not found at {SHARED_REAL}")
    return SHARED_REAL


@pytest.fixture(scope="session")
def real_clips(shared_real: Path) -> list[Path]:
    """Every real clip under shared/data/real/clips."""
    clips = sorted(p for p in (shared_real / "clips").rglob("*") if p.is_file())
    if not clips:
        pytest.skip("no real clips found")
    return clips
