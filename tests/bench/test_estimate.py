"""The duration estimate: rates from timings, where they come from, the total and its line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from bench.run import estimate as est
from bench.run.estimate import Rate


def _timing(train_s: float, n_train: int, infer_s: float, n_test: int, **extra) -> dict:
    return {"train_time_s": train_s, "n_train": n_train, "infer_time_s": infer_s,
            "n_test": n_test, **extra}


def _plant(run_dir: Path, unit: str, timing: dict) -> None:
    (run_dir / "units" / unit).mkdir(parents=True)
    (run_dir / "units" / unit / "timing.json").write_text(json.dumps(timing))


# ---------------------------------------------------------------- rates
def test_rates_from_planted_timings_pool_the_folds(tmp_path):
    _plant(tmp_path, "hog_bow_svm__fold1", _timing(80.0, 40, 10.0, 20))
    _plant(tmp_path, "hog_bow_svm__fold2", _timing(40.0, 40, 20.0, 20))
    _plant(tmp_path, "c3d__fold1", _timing(30.0, 60, 3.0, 30))
    _plant(tmp_path, "broken__fold1", {"train_time_s": 1.0})  # no counts: no rate
    (tmp_path / "units" / "failed__fold1").mkdir()  # a failed unit keeps no timing.json
    rates = est.record_rates(tmp_path, "0.1.0")
    assert set(rates) == {"hog_bow_svm", "c3d"}
    assert rates["hog_bow_svm"] == Rate(120.0 / 80, 30.0 / 40, "record", "0.1.0")
    assert rates["c3d"].fit_s == pytest.approx(0.5)
    assert rates["c3d"].predict_s == pytest.approx(0.1)
    assert rates["c3d"].describe() == "from the 0.1.0 record"
    assert est.record_rates(tmp_path / "absent", "0.1.0") == {}


def test_rate_from_one_timing_and_warm_caches():
    assert est.rate_from_timing(_timing(10.0, 5, 1.0, 4)) == (2.0, 0.25)
    assert est.rate_from_timing(_timing(10.0, 0, 1.0, 4)) is None
    assert est.rate_from_timing({"n_train": 3}) is None
    cold = {"stages": {"fit": {"worker: cache write": 0.5, "worker: cache read": 0.1}}}
    warm = {"stages": {"fit": {"worker: cache read": 0.2}, "predict": {}}}
    assert est.warm_caches(cold) is False
    assert est.warm_caches(warm) is True
    assert est.warm_caches({"stages": {"fit": {"training epochs": 9.0}}}) is None
    assert est.warm_caches({}) is None


def test_rate_key_names_what_changes_the_cost_of_one_video():
    assert est.rate_key("synthetic", "default", False, "cpu") == "synthetic/default|full|cpu"
    assert est.rate_key("folder", None, True, "cuda:1", "avx2") == "folder|quick|cuda|isa=avx2"


def test_fallback_order_machine_then_record_then_unknown():
    key = "synthetic/default|full|cpu"
    machine = {
        "a": {key: {"fit_s_per_video": 1.0, "predict_s_per_video": 0.5,
                    "measured": "2026-12-01", "warm_caches": True}},
        "b": {"synthetic/quick|quick|cpu": {"fit_s_per_video": 9.0,
                                            "predict_s_per_video": 9.0}},  # another key
        "c": {key: {"fit_s_per_video": "not a number"}},  # damaged entry
        "d": ["not", "a", "table"],
    }
    record = {m: Rate(2.0, 1.0, "record", "0.1.0") for m in ("a", "b", "c", "d")}
    rates = est.lookup_rates(["a", "b", "c", "d", "e"], key, machine, record)
    assert rates["a"] == Rate(1.0, 0.5, "machine", "2026-12-01", True)
    assert rates["a"].describe() == "measured on this machine 2026-12-01"
    assert rates["b"] == rates["c"] == rates["d"] == record["a"]
    assert rates["e"] is None


def test_record_dir_follows_the_gates_lookup(tmp_path):
    from bench import __version__

    assert est.record_dir(True, tmp_path) == tmp_path / __version__ / "quick"
    assert est.record_dir(False, tmp_path) == tmp_path / __version__


# ---------------------------------------------------------------- the estimate
def test_total_of_a_planted_config_is_the_hand_computed_sum():
    rates = {"a": Rate(2.0, 0.5, "machine", "2026-12-01"), "b": Rate(0.1, 0.01, "record", "0.1.0"),
             "u": None}
    n_train, n_test = {1: 100, 2: 80}, {1: 50, 2: 40}
    got = est.estimate_run(["a", "b", "u"], n_train, n_test, [1, 2], rates)
    a = (2.0 * 100 + 0.5 * 50) + (2.0 * 80 + 0.5 * 40)
    b = (0.1 * 100 + 0.01 * 50) + (0.1 * 80 + 0.01 * 40)
    assert got.total_s == pytest.approx(a + b)
    assert got.by_method["a"]["total_s"] == pytest.approx(a)
    assert got.by_method["a"]["fit_s"] == pytest.approx(2.0 * 180)
    assert got.by_method["b"]["source"] == "from the 0.1.0 record"
    assert got.by_method["u"] == {"total_s": None, "fit_s": None, "predict_s": None,
                                  "units": 2, "source": "unknown"}
    assert got.unit_s[("a", 2)] == pytest.approx(2.0 * 80 + 0.5 * 40)
    assert got.unit_s[("u", 1)] is None
    assert json.loads(json.dumps(got.to_dict())) == {"total_s": got.total_s,
                                                     "by_method": got.by_method}


def test_finished_units_are_not_estimated():
    rates = {"a": Rate(1.0, 1.0, "machine", "2026-12-01")}
    got = est.estimate_run(["a"], {1: 10, 2: 20}, {1: 1, 2: 2}, [1, 2], rates, skip={("a", 1)})
    assert got.total_s == pytest.approx(22.0)
    assert list(got.unit_s) == [("a", 2)] and got.by_method["a"]["units"] == 1


def test_the_line_names_units_sources_and_unknowns():
    machine = Rate(1.0, 1.0, "machine", "2026-12-01", warm=True)
    rates = {**{f"m{i}": machine for i in range(14)},
             "r1": Rate(1.0, 1.0, "record", "0.1.0"), "r2": Rate(1.0, 1.0, "record", "0.1.0")}
    got = est.estimate_run(list(rates), {1: 600}, {1: 90}, [1], rates)  # 16 x 690 s
    assert got.line() == (
        "Estimated duration: ~3 h 5 min (16 units on 1 fold: 600 training and 90 test videos; "
        "rates measured on this machine 2026-12-01 for 14 methods, from the 0.1.0 record "
        "for 2; unknown: 0). Cached descriptors make a second run faster.")
    warm_only = est.estimate_run(["m0", "x"], {1: 10}, {1: 2}, [1], {**rates, "x": None})
    assert warm_only.line() == (
        "Estimated duration: ~10 s (2 units on 1 fold: 10 training and 2 test videos; rates "
        "measured on this machine 2026-12-01 for 1 method; unknown: 1 (x; not counted)).")
    nothing = est.estimate_run(["x"], {1: 10}, {1: 2}, [1], {"x": None})
    assert nothing.line().startswith("Estimated duration: unknown (1 unit on 1 fold")


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "~1 s"), (3.4, "~3 s"), (12.0, "~10 s"), (43.0, "~45 s"), (58.0, "~1 min"),
    (23 * 60 + 10, "~23 min"), (89 * 60, "~89 min"), (95 * 60, "~1 h 35 min"),
    (2 * 3600 + 2 * 60, "~2 h"), (9 * 3600 + 58 * 60, "~10 h"), (30 * 3600, "~30 h"),
])
def test_human_duration_rounds_sensibly(seconds, text):
    assert est.human_duration(seconds) == text


# ---------------------------------------------------------------- the rates file
def test_rates_file_round_trip_and_update(tmp_path):
    path = tmp_path / "home" / "rates.json"
    key = "synthetic/quick|quick|cpu"
    cold = _timing(20.0, 10, 2.0, 4, stages={"fit": {"worker: cache write": 1.0}})
    assert est.update_rates(path, "hog", key, cold, measured="2026-12-01", cpu_count=2, jobs=2)
    assert est.update_rates(path, "c3d", key, _timing(5.0, 10, 1.0, 4), measured="2026-12-01")
    assert not est.update_rates(path, "bad", key, {"n_train": 0}, measured="2026-12-01")
    table = est.read_rates(path)
    assert table["hog"][key] == {"fit_s_per_video": 2.0, "predict_s_per_video": 0.5,
                                 "measured": "2026-12-01", "cpu_count": 2, "jobs": 2,
                                 "warm_caches": False}
    assert set(table) == {"hog", "c3d"}
    # a newer measurement replaces the old one, other keys and methods are kept
    est.update_rates(path, "hog", key, _timing(10.0, 10, 1.0, 4), measured="2026-12-02")
    est.update_rates(path, "hog", "other|full|cpu", _timing(1.0, 1, 1.0, 1), measured="x")
    table = est.read_rates(path)
    assert table["hog"][key]["fit_s_per_video"] == 1.0
    assert table["hog"][key]["measured"] == "2026-12-02"
    assert set(table["hog"]) == {key, "other|full|cpu"} and "c3d" in table
    rates = est.lookup_rates(["hog"], key, table, {})
    assert rates["hog"] == Rate(1.0, 0.25, "machine", "2026-12-02", None)
    assert sorted(p.name for p in path.parent.iterdir()) == ["rates.json"]  # no temporary left


def test_the_update_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "rates.json"
    est.update_rates(path, "hog", "k", _timing(2.0, 1, 1.0, 1), measured="2026-12-01")
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", crash)  # the temporary file's write fails
    with pytest.raises(OSError, match="disk full"):
        est.update_rates(path, "hog", "k", _timing(9.0, 1, 1.0, 1), measured="2026-12-02")
    monkeypatch.undo()
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rates.json"]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"format": 99, "rates": {}}',
                                     '{"format": 1, "rates": []}', "\xff\xfe"])
def test_a_corrupt_rates_file_is_ignored_with_a_warning_naming_it(tmp_path, content):
    path = tmp_path / "rates.json"
    path.write_bytes(content.encode("latin-1"))
    with pytest.warns(RuntimeWarning, match="rates.json"):
        assert est.read_rates(path) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the update after a unit does not warn again
        assert est.update_rates(path, "hog", "k", _timing(2.0, 1, 1.0, 1), measured="d")
    assert est.read_rates(path)["hog"]["k"]["fit_s_per_video"] == 2.0
    assert est.read_rates(tmp_path / "absent.json") == {}


# ---------------------------------------------------------------- in the runner
class _Broken:
    def fit(self, paths, y, groups=None):
        raise RuntimeError("always breaks")


@pytest.fixture()
def tiny_root(tmp_path: Path) -> Path:
    """ROOT/<class>/<group>_1.avi: 2 classes x 2 groups of 4-frame 16x16 videos."""
    import cv2
    import numpy as np

    root = tmp_path / "videos"
    for label, value in (("dark", 40), ("light", 200)):
        (root / label).mkdir(parents=True)
        for group in ("a", "b"):
            writer = cv2.VideoWriter(str(root / label / f"{group}_1.avi"),
                                     cv2.VideoWriter_fourcc(*"MJPG"), 25, (16, 16))
            for _ in range(4):
                writer.write(np.full((16, 16, 3), value, np.uint8))
            writer.release()
    return root


@pytest.fixture()
def broken_method():
    from bench import methods as registry
    from bench.methods import MethodCard, register_method

    register_method(MethodCard(name="broken_estimate_test", track="reference", family="test",
                               year=2000, paper="test-only method", params=0),
                    lambda ctx: _Broken())
    yield "broken_estimate_test"
    registry._REGISTRY.pop("broken_estimate_test", None)


def _run(root: Path, out: Path, quiet: bool, methods=("chance",)) -> dict:
    from bench.run.config import RunConfig
    from bench.run.runner import run_benchmark

    config = RunConfig(dataset="folder", root=str(root), protocol="kfold",
                       dataset_options={"n_splits": 2}, methods=list(methods), folds=[1],
                       jobs=1, quiet=quiet, out=str(out), options={"n_boot": 10})
    return json.loads((run_benchmark(config) / "run.json").read_text())


def test_a_run_prints_records_and_learns_its_estimate(tiny_root, tmp_path, monkeypatch, capsys,
                                                      private_rates_file, broken_method):
    monkeypatch.setattr(est, "record_dir", lambda quick: tmp_path / "no-record")
    first = _run(tiny_root, tmp_path / "first", quiet=True, methods=["chance", broken_method])
    assert "Estimated duration" not in capsys.readouterr().err  # quiet: nothing printed
    assert first["estimate"] == {"total_s": 0.0, "by_method": {
        name: {"total_s": None, "fit_s": None, "predict_s": None, "units": 1,
               "source": "unknown"} for name in ("chance", broken_method)}}
    learnt = est.read_rates(private_rates_file)
    assert list(learnt) == ["chance"]  # the failed unit taught nothing
    assert list(learnt["chance"]) == ["folder|full|cpu"]

    second = _run(tiny_root, tmp_path / "second", quiet=False)
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "Estimated duration: ~" in line)
    assert ("(1 unit on 1 fold: 2 training and 2 test videos; rates measured on this machine "
            "20") in line  # the seconds themselves are wall-clock time: not asserted
    assert "units: chance fold 1" in err
    assert second["estimate"]["by_method"]["chance"]["source"].startswith(
        "measured on this machine")


def test_a_corrupt_rates_file_never_stops_a_run(tiny_root, tmp_path, monkeypatch,
                                               private_rates_file):
    monkeypatch.setattr(est, "record_dir", lambda quick: tmp_path / "no-record")
    private_rates_file.write_text("{ half a file")
    with pytest.warns(RuntimeWarning, match=private_rates_file.name):
        record = _run(tiny_root, tmp_path / "run", quiet=True)
    assert record["status"] == "complete"
    assert "chance" in est.read_rates(private_rates_file)  # rewritten whole


def test_the_release_record_is_the_fallback(tiny_root, tmp_path, monkeypatch, private_rates_file):
    record = tmp_path / "reports" / "0.0.1"
    _plant(record, "chance__fold1", _timing(4.0, 2, 2.0, 2))
    monkeypatch.setattr(est, "record_dir", lambda quick: record)
    monkeypatch.setattr("bench.__version__", "0.0.1")
    got = _run(tiny_root, tmp_path / "run", quiet=True)["estimate"]
    assert got["by_method"]["chance"]["source"] == "from the 0.0.1 record"
    assert got["total_s"] == pytest.approx(2.0 * 2 + 1.0 * 2)


def test_a_version_without_its_record_estimates_from_the_newest_earlier_one(tmp_path):
    from bench import __version__

    for version in ("0.0.9", "0.1.0", "0.1.10"):
        (tmp_path / version / "quick").mkdir(parents=True)
        (tmp_path / version / "quick" / "run.json").write_text("{}")
        (tmp_path / version / "run.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    if not (tmp_path / __version__ / "run.json").exists():
        assert est.record_dir(True, tmp_path) == tmp_path / "0.1.10" / "quick"
        assert est.record_dir(False, tmp_path) == tmp_path / "0.1.10"
    assert est.record_version(tmp_path / "0.1.10" / "quick") == "0.1.10"
    assert est.record_version(tmp_path / "0.1.10") == "0.1.10"
