"""Was each method trained to convergence, or stopped by its budget? Checked, not assumed.

Two checks, both from the run directory alone (``units/*/timing.json`` and ``history.csv``):

- **Epoch training** (the deep track): a unit is *under-trained at this budget* when its best
  validation epoch lies in the last :data:`LAST_SHARE` of the epoch budget, i.e. validation
  accuracy was still rising when the budget ran out. A unit that early stopping ended before
  the budget is converged by definition; a unit without a validation split cannot be judged
  (its "best" epoch is the last by construction) and says so.
- **Model selection** (the classical track): a ``C`` chosen at the edge of its grid means the
  cross-validation might have preferred a value outside it.

The budget is ``timing.json["budget"]["epochs"]`` (the estimator's ``budget_``); runs written
before it was recorded use the number of epochs run, which is the budget unless early
stopping ended the unit.

References
----------
.. [1] Prechelt, L. "Early Stopping — But When?", in *Neural Networks: Tricks of the Trade*,
   Springer 1998, doi:10.1007/3-540-49430-8_3 (validation-based stopping criteria).
.. [2] Hsu, C.-W., Chang, C.-C., Lin, C.-J. "A Practical Guide to Support Vector
   Classification", 2003 (grid search for ``C``; extend the grid when the best is on its edge).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bench.run.rundir import RunData, UnitRecord

__all__ = ["LAST_SHARE", "LOSS_DROP", "UNDER_TRAINED", "EDGE_OF_GRID", "unit_convergence",
           "convergence_table", "method_marks"]

#: Share of the epoch budget at whose end a best validation epoch means "still rising".
LAST_SHARE = 0.10
#: Relative drop of the median training loss between the last two windows that means "still
#: falling" for a unit without a validation split.
LOSS_DROP = 0.05
UNDER_TRAINED = "under-trained at this budget"
EDGE_OF_GRID = "C at the edge of its grid"
#: The check each flag comes from (its folds are the ones judged).
_CHECK_OF = {UNDER_TRAINED: "epochs", EDGE_OF_GRID: "model selection"}


def _epoch_check(timing: dict[str, Any], history: pd.DataFrame) -> tuple[str, str]:
    budget_info = timing.get("budget") or {}
    epochs_run = int(timing.get("epochs_run") or len(history))
    budget = int(budget_info.get("epochs") or epochs_run)
    best = int(timing.get("best_epoch") or epochs_run)
    has_val = "val_acc" in history and history["val_acc"].notna().any()
    if not has_val:
        return _training_loss_check(history["train_loss"].to_numpy(float), budget, epochs_run)
    if epochs_run < budget:
        return "converged", f"early stopping ended it at epoch {epochs_run} of {budget}"
    window = max(1, math.ceil(LAST_SHARE * budget))
    if best > budget - window:
        return UNDER_TRAINED, (f"best validation epoch {best} of {budget}, in the last "
                               f"{window} epoch(s) of the budget")
    return "converged", f"best validation epoch {best} of {budget}"


def _training_loss_check(losses, budget: int, epochs_run: int) -> tuple[str, str]:
    """The no-validation verdict: is the training loss still falling at the budget's end?"""
    window = max(2, math.ceil(LAST_SHARE * budget))
    losses = losses[np.isfinite(losses)]
    if epochs_run < budget or len(losses) < 2 * window:
        return "not judged", (f"no validation split, and {len(losses)} epoch(s) of training "
                              f"loss: fewer than two windows of {window} to compare")
    last, before = np.median(losses[-window:]), np.median(losses[-2 * window:-window])
    drop = (before - last) / before if before > 0 else 0.0
    words = (f"no validation split; median training loss {last:.3f} over the last {window} "
             f"epochs against {before:.3f} over the {window} before ({-100 * drop:+.1f} %)")
    if drop > LOSS_DROP:
        return UNDER_TRAINED, words
    return "converged", words


def _selection_check(selection: dict[str, Any]) -> tuple[str, str] | None:
    grid = [float(c) for c in selection.get("C_grid") or []]
    if "C" not in selection or len(grid) < 2:
        return None
    chosen = float(selection["C"])
    if chosen <= min(grid) or chosen >= max(grid):
        side = "smallest" if chosen <= min(grid) else "largest"
        return EDGE_OF_GRID, f"C = {chosen:g}, the {side} of {', '.join(f'{c:g}' for c in grid)}"
    return "inside its grid", f"C = {chosen:g} of {', '.join(f'{c:g}' for c in grid)}"


def unit_convergence(record: UnitRecord) -> list[dict[str, Any]]:
    """The checks that apply to one unit: ``[{method, fold, check, verdict, detail}]``."""
    rows = []
    base = {"method": record.unit.method, "fold": record.unit.fold}
    history = record.history
    if history is not None and len(history) and "train_loss" in history:
        verdict, detail = _epoch_check(record.timing, history)
        rows.append({**base, "check": "epochs", "verdict": verdict, "detail": detail})
    selection = record.timing.get("selection")
    if selection:
        checked = _selection_check(selection)
        if checked is not None:
            rows.append({**base, "check": "model selection", "verdict": checked[0],
                         "detail": checked[1]})
    return rows


def convergence_table(data: RunData) -> pd.DataFrame:
    """Every unit's checks (:func:`unit_convergence`), by method and fold."""
    rows = [row for record in data.units or [] for row in unit_convergence(record)]
    columns = ["method", "fold", "check", "verdict", "detail"]
    return pd.DataFrame(rows, columns=columns)


def method_marks(data: RunData) -> dict[str, str]:
    """``method -> "under-trained at this budget (2/3 folds)"``-style marks, flagged methods only."""
    table = convergence_table(data)
    marks: dict[str, str] = {}
    for method, rows in table.groupby("method", sort=False):
        parts = []
        for verdict, check in _CHECK_OF.items():
            n = int((rows["verdict"] == verdict).sum())
            if n:
                judged = int((rows["check"] == check).sum())
                parts.append(f"{verdict} ({n}/{judged} folds)")
        if parts:
            marks[str(method)] = "; ".join(parts)
    return marks
