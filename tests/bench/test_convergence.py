"""bench.report.convergence: under-trained units and C at the edge of its grid are marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.report.convergence import (
    EDGE_OF_GRID,
    UNDER_TRAINED,
    method_marks,
    unit_convergence,
)
from bench.run.rundir import RunData, Unit, UnitRecord


def _history(n_epochs: int, *, validation: bool = True, losses=None) -> pd.DataFrame:
    if losses is None:
        losses = [2.5 - 0.1 * e for e in range(n_epochs)]
    frame = pd.DataFrame({"epoch": range(1, n_epochs + 1), "train_loss": losses})
    if validation:
        frame["val_acc"] = [0.1 + 0.01 * e for e in range(n_epochs)]
    return frame


def _record(method="m", fold=1, *, epochs_run=14, best=14, budget=14, validation=True,
            selection=None, losses=None) -> UnitRecord:
    timing = {"epochs_run": epochs_run, "best_epoch": best}
    if budget is not None:
        timing["budget"] = {"epochs": budget}
    if selection is not None:
        timing["selection"] = selection
    history = None if epochs_run == 0 else _history(epochs_run, validation=validation,
                                                    losses=losses)
    return UnitRecord(Unit(method, fold), timing, history)


@pytest.mark.parametrize(("budget", "best", "under"), [
    (14, 14, True), (14, 13, True), (14, 12, False),   # last ceil(1.4) = 2 epochs
    (28, 26, True), (28, 25, False),                   # last 3
    (36, 33, True), (36, 32, False),                   # last 4
    (10, 10, True), (10, 9, False),                    # last 1
])
def test_best_validation_epoch_in_the_last_tenth_of_the_budget_is_under_trained(budget, best,
                                                                               under):
    (row,) = unit_convergence(_record(epochs_run=budget, best=best, budget=budget))
    assert (row["verdict"] == UNDER_TRAINED) is under
    assert f"{best} of {budget}" in row["detail"]


def test_early_stopping_before_the_budget_is_converged_even_at_its_last_epoch():
    (row,) = unit_convergence(_record(epochs_run=9, best=9, budget=20))
    assert row["verdict"] == "converged" and "early stopping" in row["detail"]


def test_without_a_validation_split_a_still_falling_training_loss_is_under_trained():
    # 2.5 - 0.1 e: the last two epochs' median is 10 % below the two before
    (row,) = unit_convergence(_record(validation=False))
    assert row["verdict"] == UNDER_TRAINED and "training loss" in row["detail"]


def test_without_a_validation_split_a_flat_noisy_training_loss_is_converged():
    rng = np.random.default_rng(0)
    # falls, then noise of 1 % around a plateau over the last 60 of 150 epochs
    losses = np.concatenate([np.linspace(1.4, 0.3, 90), 0.3 + 0.003 * rng.standard_normal(60)])
    (row,) = unit_convergence(_record(epochs_run=150, best=150, budget=150, validation=False,
                                      losses=losses))
    assert row["verdict"] == "converged"
    # the same curve cut at epoch 90 is still falling
    (row,) = unit_convergence(_record(epochs_run=90, best=90, budget=90, validation=False,
                                      losses=losses[:90]))
    assert row["verdict"] == UNDER_TRAINED


def test_without_a_validation_split_too_short_a_history_is_not_judged():
    (row,) = unit_convergence(_record(epochs_run=3, best=3, budget=3, validation=False))
    assert row["verdict"] == "not judged"


def test_a_run_without_a_recorded_budget_uses_the_epochs_it_ran():
    (row,) = unit_convergence(_record(epochs_run=14, best=14, budget=None))
    assert row["verdict"] == UNDER_TRAINED


@pytest.mark.parametrize(("chosen", "edge"), [(0.1, True), (100.0, True), (10.0, False)])
def test_c_at_the_edge_of_its_grid_is_marked(chosen, edge):
    grid = [0.1, 1.0, 10.0, 100.0]
    (row,) = unit_convergence(_record(epochs_run=0, selection={"C": chosen, "C_grid": grid}))
    assert row["check"] == "model selection"
    assert (row["verdict"] == EDGE_OF_GRID) is edge


def test_marks_count_the_flagged_folds_of_each_method():
    records = [_record("deep_a", 1, best=14), _record("deep_a", 2, best=5),
               _record("deep_b", 1, best=5),
               _record("svm", 1, epochs_run=0, selection={"C": 100.0, "C_grid": [1.0, 100.0]}),
               _record("svm", 2, epochs_run=0, selection={"C": 100.0, "C_grid": [1.0, 100.0]})]
    empty = pd.DataFrame(columns=["method", "fold", "metric", "value"])
    data = RunData(run_dir=None, run={}, results=empty, predictions=empty, failures=empty,
                   units=records)
    assert method_marks(data) == {"deep_a": f"{UNDER_TRAINED} (1/2 folds)",
                                  "svm": f"{EDGE_OF_GRID} (2/2 folds)"}
