"""What decides whether two runs' units can be compared at all, and how: shared by the
recognition rows of :mod:`bench.report.compare` and the detection rows of
:mod:`bench.report.compare_detection`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.run.rundir import RunData

__all__ = ["method_config", "config_difference", "deterministic", "failed_units"]

#: Card fields that describe a method without changing what it computes.
DOC_FIELDS = ("description", "paper")


def method_config(data: RunData, method: str) -> dict[str, Any]:
    """What must be equal for two runs of ``method`` to be compared."""
    card = {k: v for k, v in data.methods.get(method, {}).items() if k not in DOC_FIELDS}
    config = data.run.get("config", {}) or {}
    params = (config.get("method_params") or {}).get(method, {})
    return {"card": card, "method_params": params, "quick": config.get("quick"),
            "seed": data.run.get("seed", config.get("seed"))}


def config_difference(base: dict[str, Any], cand: dict[str, Any], *,
                      ignore_seed: bool = False) -> str:
    """The differing fields of two :func:`method_config` values, comma-separated ("" when
    none); the seed is ignored with ``ignore_seed``."""
    keys = []
    for part in ("card", "method_params"):
        b, c = base[part] or {}, cand[part] or {}
        keys += [f"{part}.{k}" for k in sorted(set(b) | set(c)) if b.get(k) != c.get(k)]
    keys += [k for k in (("quick",) if ignore_seed else ("quick", "seed")) if base[k] != cand[k]]
    return ", ".join(keys)


def deterministic(data: RunData, method: str) -> bool:
    """Whether ``method`` promised bitwise-repeatable predictions in this run.

    Every method is deterministic on the CPU; on CUDA only a method run with
    ``deterministic = true`` in its parameters (``[method_params.<name>]``).
    """
    params = ((data.run.get("config") or {}).get("method_params") or {}).get(method, {})
    if "deterministic" in params:
        return bool(params["deterministic"])
    return (data.environment or {}).get("device", "cpu") == "cpu"


def failed_units(data: RunData) -> set[tuple[str, int]]:
    """Units whose whole run failed (a failure row with stage ``unit`` or ``method``)."""
    failures = data.failures
    if failures.empty or "stage" not in failures:
        return set()
    whole = failures[failures["stage"].astype(str).isin(["unit", "method", "fit"])]
    return {(str(m), int(f)) for m, f in whole[["method", "fold"]].itertuples(index=False)
            if pd.notna(f)}
