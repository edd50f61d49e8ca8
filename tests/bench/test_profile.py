"""bench.profile (stage timing) and bench.report.costs (the table of where the time went)."""

from __future__ import annotations

import time

import pandas as pd

from bench import profile
from bench.report.costs import OUTSIDE, stage_rows, stage_table
from bench.run.rundir import RunData, Unit, UnitRecord


def test_stages_go_to_the_innermost_scope_and_nowhere_without_one():
    with profile.stage("ignored"):  # no scope open: nothing is kept, nothing fails
        pass
    with profile.scope() as outer:
        with profile.stage("a"):
            time.sleep(0.01)
        with profile.scope() as inner:  # e.g. a worker run in this process
            with profile.stage("b"):
                time.sleep(0.01)
        profile.add(inner, prefix="worker: ")
        with profile.stage("a"):
            pass
    assert set(outer) == {"a", "worker: b"} and set(inner) == {"b"}
    assert outer["a"] >= 0.01 and outer["worker: b"] == inner["b"] >= 0.01


def test_equal_scopes_are_closed_by_identity():
    with profile.scope() as outer:
        with profile.scope():  # both empty, hence equal: the inner one must be the one closed
            pass
        with profile.stage("x"):
            pass
    assert "x" in outer


def _data(records) -> RunData:
    empty = pd.DataFrame(columns=["method", "fold", "metric", "value"])
    run = {"methods": {"svm": {"track": "classical"}, "net": {"track": "deep"}}}
    return RunData(run_dir=None, run=run, results=empty, predictions=empty, failures=empty,
                   units=records)


def test_the_table_adds_the_time_outside_the_stages_and_keeps_workers_out_of_the_shares():
    svm = UnitRecord(Unit("svm", 1), {
        "train_time_s": 10.0, "infer_time_s": 4.0,
        "stages": {"fit": {"extraction": 6.0, "worker: flow": 9.0, "SVM fit + C selection": 3.0},
                   "predict": {"extraction": 3.0}}}, None)
    net = UnitRecord(Unit("net", 1), {"train_time_s": 20.0, "infer_time_s": 1.0,
                                      "stages": {"fit": {"training epochs": 19.0},
                                                 "predict": {"inference": 1.0}}}, None)
    old = UnitRecord(Unit("svm", 2), {"train_time_s": 5.0}, None)  # no stages: left out
    rows = stage_rows(_data([svm, net, old]))
    outside = rows[(rows["stage"] == OUTSIDE)].set_index(["method", "phase"])["seconds"]
    assert outside[("svm", "fit")] == 1.0 and outside[("svm", "predict")] == 1.0
    assert outside[("net", "fit")] == 1.0 and outside[("net", "predict")] == 0.0
    table = stage_table(_data([svm, net, old])).set_index(["phase", "stage"])
    assert table.loc[("fit", "worker: flow"), "classical s"] == 9.0
    # shares of the wall-clock total 14 s: workers not counted in it
    assert table.loc[("fit", "extraction"), "classical %"] == 100 * 6 / 14
    assert table.loc[("fit", "worker: flow"), "classical %"] == 100 * 9 / 14
    assert abs(table.loc[table.index.get_level_values("stage").map(
        lambda s: not s.startswith("worker: ")), "deep %"].sum() - 100) < 1e-9
    assert stage_table(_data([old])).empty
