"""Where the time goes: named stages of a unit's work, timed where they run and summed.

A method wraps each stage of its work in :func:`stage` (``with stage("flow"): ...``); the
runner opens a :func:`scope` around ``fit`` and around ``decision_function`` and keeps the
seconds per stage in the unit's ``timing.json`` (``stages``). Work done in worker processes is
timed there, in a scope of its own, and handed back with the result; the caller adds it with
:func:`add` (under :data:`WORKER_PREFIX`, since worker seconds of parallel
workers add up to more than the wall-clock time they took).

Stages should not overlap within one process: a stage's time is counted once, in the innermost
open scope. Timing uses :func:`time.perf_counter` and changes nothing that is computed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

__all__ = ["stage", "scope", "add", "WORKER_PREFIX"]

#: Prefix of the stages timed in worker processes and added by the caller (:func:`add`).
WORKER_PREFIX = "worker: "

#: Open scopes, innermost last; each maps stage name -> seconds.
_SCOPES: list[dict[str, float]] = []


def add(seconds: Mapping[str, float], prefix: str = "") -> None:
    """Add ``{stage: seconds}`` to the innermost open scope (nothing when none is open)."""
    if not _SCOPES:
        return
    totals = _SCOPES[-1]
    for name, value in seconds.items():
        key = prefix + name
        totals[key] = totals.get(key, 0.0) + float(value)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage ``name`` of the innermost open scope."""
    start = time.perf_counter()
    try:
        yield
    finally:
        add({name: time.perf_counter() - start})


@contextmanager
def scope() -> Iterator[dict[str, float]]:
    """A fresh accumulator for the stages timed inside the block; yields it (filled on exit)."""
    totals: dict[str, float] = {}
    _SCOPES.append(totals)
    try:
        yield totals
    finally:
        # by identity: two scopes with equal totals are still different scopes
        del _SCOPES[next(i for i, open_ in enumerate(_SCOPES) if open_ is totals)]
