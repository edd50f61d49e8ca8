"""Where a run's time went, stage by stage, from the units' ``timing.json["stages"]``.

The stages are those the methods name (:mod:`bench.profile`): for the classical track the
extraction (wall-clock) and, under ``worker:``, its parts summed over the parallel workers
(decode, flow, descriptor maps, sampling + pooling, cache read/write), then reading the
training sample, codebook / GMM fitting, encoding, the SVM with its C selection and its
decision; for the deep track clip decoding, training epochs, validation and inference.
``(outside the named stages)`` is each phase's measured total (``train_time_s`` for fit,
``infer_time_s`` for predict) minus its non-worker stages: model building, checkpoints,
bookkeeping.
"""

from __future__ import annotations

import pandas as pd

from bench.profile import WORKER_PREFIX
from bench.run.rundir import RunData

__all__ = ["stage_rows", "stage_table", "stage_markdown", "OUTSIDE"]

OUTSIDE = "(outside the named stages)"
_PHASE_TOTAL = {"fit": "train_time_s", "predict": "infer_time_s"}


def stage_rows(data: RunData) -> pd.DataFrame:
    """Tidy rows ``method, track, fold, phase, stage, seconds`` of every unit with stages."""
    cards = data.methods
    rows = []
    for record in data.units or []:
        stages = record.timing.get("stages")
        if not stages:
            continue
        base = {"method": record.unit.method, "fold": record.unit.fold,
                "track": cards.get(record.unit.method, {}).get("track", "?")}
        for phase, total_key in _PHASE_TOTAL.items():
            named = stages.get(phase) or {}
            for name, seconds in named.items():
                rows.append({**base, "phase": phase, "stage": name, "seconds": float(seconds)})
            total = record.timing.get(total_key)
            if total is not None:
                inside = sum(v for k, v in named.items() if not k.startswith(WORKER_PREFIX))
                rows.append({**base, "phase": phase, "stage": OUTSIDE,
                             "seconds": max(0.0, float(total) - inside)})
    return pd.DataFrame(rows, columns=["method", "track", "fold", "phase", "stage", "seconds"])


def stage_table(data: RunData, by: str = "track") -> pd.DataFrame:
    """Seconds per (phase, stage), one column per track (or method), with each one's share.

    Shares are of the column's fit + predict total without the ``worker:`` rows (which break
    the extraction down and would count it twice). Empty when no unit recorded stages.
    """
    rows = stage_rows(data)
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index=["phase", "stage"], columns=by, values="seconds",
                             aggfunc="sum", fill_value=0.0, sort=False)
    wall = table[~table.index.get_level_values("stage").str.startswith(WORKER_PREFIX)].sum()
    size = table.sum(axis=1)
    order = sorted(table.index, key=lambda k: (k[0] != "fit", k[1] == OUTSIDE, -size[k]))
    table = table.loc[order]
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        out[f"{column} s"] = table[column]
        out[f"{column} %"] = 100 * table[column] / wall[column] if wall[column] else 0.0
    return out.reset_index()


def stage_markdown(data: RunData, by: str = "track") -> str:
    """:func:`stage_table` as a GitHub Markdown table (seconds to 0.1, shares to 1 %)."""
    table = stage_table(data, by=by)
    if table.empty:
        return ""
    shown = table.copy()
    for column in shown.columns[2:]:
        fmt = "{:.0f} %" if column.endswith(" %") else "{:.1f}"
        shown[column] = shown[column].map(fmt.format)
    return shown.to_markdown(index=False, disable_numparse=True)
