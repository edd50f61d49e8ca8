"""Fixtures of the harness tests: runs in tests never touch this machine's rates file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.run import estimate


@pytest.fixture(scope="session", autouse=True)
def session_rates_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every run of the session learns its rates into one file of the session.

    Session-scoped, so that module fixtures that run the benchmark see it too, and through
    ``ACTBENCH_RATES``, so that runs in child processes (``--simulate-isa``, the CLI) do.
    """
    path = tmp_path_factory.mktemp("rates") / "rates.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACTBENCH_RATES", str(path))
        yield path


@pytest.fixture()
def private_rates_file(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rates file of one test alone (outside ``tmp_path``, which some tests list)."""
    path = tmp_path_factory.mktemp("rates") / "rates.json"
    monkeypatch.setenv("ACTBENCH_RATES", str(path))
    assert estimate.rates_path() == path
    return path
