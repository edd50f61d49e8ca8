"""The runner on tiny real video files: failures, resume, determinism, config handling."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from bench import methods as registry
from bench.cli import main as cli_main
from bench.data.video import VideoDecodeError, read_video
from bench.methods import MethodCard, VideoFailure, register_method
from bench.run.config import FailureRateExceeded, RunConfig, RunConfigError
from bench.run.runner import run_benchmark

COLORS = {"blue": (220, 40, 40), "red": (40, 40, 220)}  # BGR for cv2.VideoWriter
GROUPS = ("a", "b", "c", "d")


def _write_video(path: Path, bgr: tuple[int, int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    assert writer.isOpened()
    for _ in range(16):
        noise = rng.integers(-20, 21, size=(32, 32, 3))
        writer.write(np.clip(np.array(bgr) + noise, 0, 255).astype(np.uint8))
    writer.release()


@pytest.fixture()
def video_root(tmp_path: Path) -> Path:
    """ROOT/<class>/<group>_<k>.avi: 2 classes x 4 groups, 16 frames of 32x32 each."""
    root = tmp_path / "videos"
    seed = 0
    for name, bgr in COLORS.items():
        (root / name).mkdir(parents=True)
        for group in GROUPS:
            _write_video(root / name / f"{group}_1.avi", bgr, seed)
            seed += 1
    return root


@pytest.fixture()
def broken_root(video_root: Path) -> Path:
    """The good videos plus a zero-byte file, a truncated file and a text file named .avi."""
    (video_root / "red" / "e_empty.avi").write_bytes(b"")
    data = (video_root / "blue" / "a_1.avi").read_bytes()
    (video_root / "blue" / "e_truncated.avi").write_bytes(data[: len(data) // 2])
    (video_root / "blue" / "f_text.avi").write_text("this is not a video\n" * 20)
    return video_root


# ---------------------------------------------------------------- test-only methods
class MeanColorClassifier:
    """Nearest class centroid on the mean colour of every frame (decodes whole videos)."""

    def __init__(self, interrupt_on_call: int | None = None):
        self.interrupt_on_call = interrupt_on_call

    def _features(self, paths):
        feats = []
        for path in paths:
            try:
                feats.append(read_video(path).reshape(-1, 3).mean(axis=0))
            except VideoDecodeError as exc:
                self.failures_.append(VideoFailure(path, "decode", exc.reason))
                feats.append(np.full(3, np.nan))
        return np.array(feats)

    def fit(self, paths, y, groups=None):
        CALLS["mean_color_test"] += 1
        if self.interrupt_on_call == CALLS["mean_color_test"]:
            raise KeyboardInterrupt
        self.failures_ = []
        x = self._features(paths)
        ok = np.all(np.isfinite(x), axis=1)
        self.centroids_ = np.array([x[ok & (y == c)].mean(axis=0) for c in range(N_CLASSES)])
        return self

    def decision_function(self, paths):
        x = self._features(paths)
        return -np.linalg.norm(x[:, None, :] - self.centroids_[None], axis=2)


class BrokenClassifier:
    def fit(self, paths, y, groups=None):
        raise RuntimeError("the test method always breaks")


class NanRowClassifier:
    """Constant scores, but a NaN row for the first test video and no failure recorded."""

    def fit(self, paths, y, groups=None):
        self.failures_ = []
        return self

    def decision_function(self, paths):
        scores = np.tile(np.linspace(0, 1, N_CLASSES), (len(paths), 1))
        scores[0] = np.nan
        return scores


class GroupRecordingClassifier:
    """Constant scores; records what the runner passes as ``groups`` (its fit takes them)."""

    seen: list = []

    def fit(self, paths, y, groups=None):
        GroupRecordingClassifier.seen.append((list(paths), groups))
        self.history_ = [{"epoch": 1, "train_loss": 2.5},
                         {"epoch": 2, "train_loss": 1.25, "val_acc": 0.75}]
        self.best_epoch_ = 2
        return self

    def decision_function(self, paths):
        return np.tile(np.linspace(0, 1, N_CLASSES), (len(paths), 1))


N_CLASSES = len(COLORS)
CALLS = {"mean_color_test": 0}
INTERRUPT = {"on_call": None}


def _card(name: str) -> MethodCard:
    return MethodCard(name=name, track="reference", family="test", year=2000,
                      paper="test-only method", params=3)


@pytest.fixture(autouse=True)
def test_methods():
    """Register the test-only methods for one test and remove them afterwards."""
    CALLS["mean_color_test"] = 0
    INTERRUPT["on_call"] = None
    register_method(_card("mean_color_test"),
                    lambda ctx: MeanColorClassifier(interrupt_on_call=INTERRUPT["on_call"]))
    register_method(_card("broken_test"), lambda ctx: BrokenClassifier())
    register_method(_card("nan_test"), lambda ctx: NanRowClassifier())
    register_method(_card("groups_test"), lambda ctx: GroupRecordingClassifier())
    GroupRecordingClassifier.seen = []
    yield
    for name in ("mean_color_test", "broken_test", "nan_test", "groups_test"):
        registry._REGISTRY.pop(name, None)


def _config(root: Path, out: Path, **kw) -> RunConfig:
    base = dict(dataset="folder", root=str(root), protocol="kfold",
                dataset_options={"n_splits": 2}, methods=["chance", "mean_color_test"],
                folds="all", jobs=1, quiet=True, out=str(out), options={"n_boot": 50})
    base.update(kw)
    return RunConfig(**base)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# ---------------------------------------------------------------- acceptance
def test_broken_files_are_recorded_and_the_run_goes_on(broken_root, tmp_path):
    run_dir = run_benchmark(_config(broken_root, tmp_path / "run", max_failure_rate=0.5))
    failures = _read(run_dir / "failures.csv")
    by_video = {v: g for v, g in failures.groupby("video")}
    # the zero-byte and the text file fail the probe, for every method ("*")
    assert set(by_video["red/e_empty.avi"]["stage"]) == {"probe"}
    assert set(by_video["red/e_empty.avi"]["method"]) == {"*"}
    assert "empty" in by_video["red/e_empty.avi"]["reason"].iloc[0]
    assert set(by_video["blue/f_text.avi"]["stage"]) == {"probe"}
    assert "not a video" in by_video["blue/f_text.avi"]["reason"].iloc[0]
    # the truncated file opens (the probe decodes one frame only) and fails when decoded
    trunc = by_video["blue/e_truncated.avi"]
    assert set(trunc["stage"]) == {"decode"} and set(trunc["method"]) == {"mean_color_test"}
    assert "truncated" in trunc["reason"].iloc[0]

    preds = _read(run_dir / "predictions.csv")
    assert not preds["video_id"].isin(["red/e_empty.avi", "blue/f_text.avi"]).any()
    mc = preds[preds["method"] == "mean_color_test"]
    assert "blue/e_truncated.avi" not in set(mc["video_id"])
    assert "blue/e_truncated.avi" in set(preds[preds["method"] == "chance"]["video_id"])

    # results.csv agrees with predictions.csv (sklearn as the oracle)
    results = _read(run_dir / "results.csv")
    for (method, fold), rows in preds.groupby(["method", "fold"]):
        y, p = rows["label"].astype(int), rows["prediction"].astype(int)
        got = results[(results["method"] == method) & (results["fold"] == fold)]
        value = dict(zip(got["metric"], pd.to_numeric(got["value"]), strict=True))
        assert value["top1"] == pytest.approx(accuracy_score(y, p))
        assert value["mean_class_acc"] == pytest.approx(balanced_accuracy_score(y, p))
        top1 = got[got["metric"] == "top1"].iloc[0]
        assert float(top1["ci_low"]) <= value["top1"] <= float(top1["ci_high"])
        assert int(top1["n"]) == len(rows)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete"
    assert sorted(record["dataset"]["probe_excluded"]) == ["blue/f_text.avi", "red/e_empty.avi"]
    assert set(record["dataset"]["folds"]) == {"1", "2"}
    assert record["methods"]["mean_color_test"]["paper"] == "test-only method"
    assert not (run_dir / "report.md").exists()  # the run verb writes it; the runner never


def test_failure_rate_above_limit_stops_with_clear_message(broken_root, tmp_path):
    with pytest.raises(FailureRateExceeded, match=r"2 of 11 videos \(18\.2%\)") as info:
        run_benchmark(_config(broken_root, tmp_path / "run"))
    assert "e_empty.avi" in str(info.value)
    failures = _read(tmp_path / "run" / "failures.csv")
    assert set(failures["video"]) == {"red/e_empty.avi", "blue/f_text.avi"}
    # the command line turns it into exit status 2
    status = cli_main(["run", "--dataset", "folder", "--root", str(broken_root), "--quiet",
                       "--methods", "chance", "--out", str(tmp_path / "cli")])
    assert status == 2


def test_interrupted_run_resumes_to_identical_predictions(video_root, tmp_path):
    reference = run_benchmark(_config(video_root, tmp_path / "reference"))
    argv = ["run", "--dataset", "folder", "--root", str(video_root), "--protocol", "kfold",
            "--methods", "chance,mean_color_test", "--folds", "all", "--jobs", "1", "--quiet",
            "--option", "n_boot=50", "--out", str(tmp_path / "run")]
    CALLS["mean_color_test"] = 0
    INTERRUPT["on_call"] = 2  # Ctrl-C in the 2nd mean_color_test unit (4th unit overall)
    # n_splits=2 via a config file, to exercise --config with CLI overrides on top
    config_file = tmp_path / "run.toml"
    config_file.write_text("dataset = 'kth'\n[dataset_options]\nn_splits = 2\n")
    assert cli_main([*argv, "--config", str(config_file)]) == 130
    units = tmp_path / "run" / "units"
    assert sorted(p.parent.name for p in units.glob("*/done")) == [
        "chance__fold1", "chance__fold2", "mean_color_test__fold1"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "running"
    assert not (tmp_path / "run" / "predictions.csv").exists()

    INTERRUPT["on_call"] = None
    CALLS["mean_color_test"] = 0
    assert cli_main(["run", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    assert CALLS["mean_color_test"] == 1  # only the unfinished unit was redone
    assert (tmp_path / "run" / "predictions.csv").read_bytes() == (
        reference / "predictions.csv").read_bytes()
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "complete" and len(record["resumed"]) == 1


def test_same_seed_same_predictions_other_seed_differs(video_root, tmp_path):
    a = run_benchmark(_config(video_root, tmp_path / "a", methods=["chance"], seed=3))
    b = run_benchmark(_config(video_root, tmp_path / "b", methods=["chance"], seed=3))
    c = run_benchmark(_config(video_root, tmp_path / "c", methods=["chance"], seed=4))
    text = (a / "predictions.csv").read_bytes()
    assert text == (b / "predictions.csv").read_bytes()
    assert text != (c / "predictions.csv").read_bytes()
    preds = _read(a / "predictions.csv")
    assert len(preds) == 8  # 8 videos, each tested in exactly one of the 2 folds
    keys = list(zip(preds["method"], preds["fold"].astype(int), preds["video_id"], strict=True))
    assert keys == sorted(keys)
    scores = preds["scores"].str.split(" ").map(lambda s: np.array(s, dtype=float))
    assert all(int(p) == int(np.argmax(s)) for p, s in zip(preds["prediction"], scores,
                                                           strict=True))


# ---------------------------------------------------------------- other failure paths
def test_method_exception_marks_the_unit_failed_and_goes_on(video_root, tmp_path):
    run_dir = run_benchmark(_config(video_root, tmp_path / "run", folds=[1],
                                    methods=["broken_test", "chance"]))
    failures = _read(run_dir / "failures.csv")
    row = failures[failures["method"] == "broken_test"].iloc[0]
    assert (row["video"], row["stage"]) == ("*", "method")
    assert "always breaks" in row["reason"]
    results = _read(run_dir / "results.csv")
    assert set(results["method"]) == {"chance"}
    record = json.loads((run_dir / "run.json").read_text())
    assert record["units"] == {"broken_test__fold1": "failed", "chance__fold1": "done"}
    assert "RuntimeError" in (run_dir / "units" / "broken_test__fold1" / "error.txt").read_text()


def test_nan_rows_become_failures_and_leave_the_metrics(video_root, tmp_path):
    run_dir = run_benchmark(_config(video_root, tmp_path / "run", folds=[1],
                                    methods=["nan_test"], max_failure_rate=0.5))
    failures = _read(run_dir / "failures.csv")
    assert list(failures["stage"]) == ["scores"]
    preds = _read(run_dir / "predictions.csv")
    assert failures["video"].iloc[0] not in set(preds["video_id"])
    n_test = json.loads((run_dir / "run.json").read_text())["dataset"]["folds"]["1"][
        "counts"]["test"]
    assert len(preds) == n_test - 1
    results = _read(run_dir / "results.csv")
    assert int(results.loc[results["metric"] == "top1", "n"].iloc[0]) == n_test - 1


def test_methods_that_take_groups_get_the_actors_of_their_training_videos(video_root, tmp_path):
    # mean_color_test's fit(paths, y) has no groups parameter and still runs
    run_benchmark(_config(video_root, tmp_path / "run",
                          methods=["mean_color_test", "groups_test"]))
    assert len(GroupRecordingClassifier.seen) == 2  # one fit per fold
    for paths, groups in GroupRecordingClassifier.seen:
        expected = [Path(p).name.split("_")[0] for p in paths]
        assert groups is not None and list(groups) == expected
        assert 0 < len(set(expected)) < len(GROUPS)  # a fold's training actors only
    assert CALLS["mean_color_test"] == 2


def test_a_per_epoch_history_is_kept_with_the_unit(video_root, tmp_path):
    run_benchmark(_config(video_root, tmp_path / "run", methods=["mean_color_test", "groups_test"]))
    unit = tmp_path / "run" / "units" / "groups_test__fold1"
    history = pd.read_csv(unit / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "val_acc"]
    assert history["train_loss"].tolist() == [2.5, 1.25] and history["val_acc"].iloc[1] == 0.75
    timing = json.loads((unit / "timing.json").read_text())
    assert timing["epochs_run"] == 2 and timing["best_epoch"] == 2
    # a method without history_ gets neither the file nor the keys
    plain = tmp_path / "run" / "units" / "mean_color_test__fold1"
    assert not (plain / "history.csv").exists()
    assert "epochs_run" not in json.loads((plain / "timing.json").read_text())


def test_failure_rate_inside_a_method_stops_the_run(video_root, tmp_path):
    # 1 NaN row among the 8 videos of fold 1 = 12.5 % > 10 %
    with pytest.raises(FailureRateExceeded, match=r"1 of 8 videos \(12\.5%\) failed inside "
                                                  r"method 'nan_test' on fold 1"):
        run_benchmark(_config(video_root, tmp_path / "run", folds=[1], methods=["nan_test"],
                              max_failure_rate=0.1))
    failures = _read(tmp_path / "run" / "failures.csv")
    assert list(failures["stage"]) == ["scores"]


def test_resume_refuses_a_changed_dataset(video_root, tmp_path):
    run_dir = run_benchmark(_config(video_root, tmp_path / "run", methods=["chance"]))
    (video_root / "red" / "d_1.avi").unlink()
    with pytest.raises(RunConfigError, match="fingerprint changed"):
        run_benchmark(RunConfig(quiet=True), resume_dir=run_dir)


def test_existing_run_directory_is_not_overwritten(video_root, tmp_path):
    run_benchmark(_config(video_root, tmp_path / "run", methods=["chance"], folds=[1]))
    with pytest.raises(RunConfigError, match="--resume"):
        run_benchmark(_config(video_root, tmp_path / "run", methods=["chance"], folds=[1]))


# ---------------------------------------------------------------- config
def test_config_toml_round_trip_and_errors(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "dataset = 'folder'\nroot = '/data'\nmethods = ['chance']\nfolds = 'all'\nseed = 7\n"
        "[dataset_options]\nprotocol_seed = 1\n[method_params.chance]\nfoo = 2\n"
    )
    config = RunConfig.from_toml(path)
    assert (config.dataset, config.methods, config.folds, config.seed) == (
        "folder", ["chance"], "all", 7)
    assert config.method_params == {"chance": {"foo": 2}}
    assert RunConfig.from_dict(config.to_dict()) == config
    assert RunConfig(folds="3,1").folds == [1, 3]
    path.write_text("methodz = ['chance']\n")
    with pytest.raises(RunConfigError, match="unknown run config key.*methodz"):
        RunConfig.from_toml(path)
    with pytest.raises(RunConfigError, match="max_failure_rate"):
        RunConfig(max_failure_rate=2)
    with pytest.raises(RunConfigError, match="folds"):
        RunConfig(folds="one")


def test_progress_bars_show_unless_quiet(video_root, tmp_path, capsys):
    argv = ["run", "--dataset", "folder", "--root", str(video_root), "--methods", "chance",
            "--option", "n_boot=10"]
    assert cli_main([*argv, "--out", str(tmp_path / "loud")]) == 0
    err = capsys.readouterr().err
    assert "probe" in err and "units" in err
    assert cli_main([*argv, "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "probe" not in captured.err and "units" not in captured.err
    assert f"run directory: {tmp_path / 'quiet'}" in captured.out


def test_unknown_method_is_a_clear_error(video_root, tmp_path):
    with pytest.raises(RunConfigError, match="unknown method 'nope'"):
        run_benchmark(_config(video_root, tmp_path / "run", methods=["nope"]))


def test_runinfo_facts(tmp_path):
    import os

    import sklearn

    from bench.run.runinfo import git_commit, machine_info, package_versions

    versions = package_versions()
    assert versions["numpy"] == np.__version__
    assert versions["scikit-learn"] == sklearn.__version__
    assert versions["cv2"] == cv2.__version__
    assert machine_info()["cpu_count"] == os.cpu_count()
    assert git_commit(tmp_path) == {"commit": None, "dirty": None}  # not a repository
    here = git_commit()
    assert here["commit"] is None or len(here["commit"]) == 40


def test_unit_names_round_trip():
    from bench.run.rundir import Unit

    for unit in (Unit("r3d_18", 1), Unit("odd__fold_name", 12)):
        assert Unit.from_name(unit.name) == unit
