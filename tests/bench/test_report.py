"""bench.report: report.md agrees with sklearn, its figures exist, its history text follows the numbers."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from _report_runs import (
    CLASSES,
    confuses,
    folder_config,
    history_suite,
    make_run,
    noisy,
    perfect,
    set_environment,
    write_folder_dataset,
    write_noise,
)
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    top_k_accuracy_score,
)

from bench.cli import main as cli_main
from bench.report import write_report


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    rest = text[start + len(heading):]
    end = re.search(r"^#{1,6} ", rest, flags=re.M)
    return rest[: end.start()] if end else rest


def _table(section: str) -> pd.DataFrame:
    """The first Markdown table of ``section`` as strings (code spans unwrapped)."""
    lines = []
    for ln in section.splitlines():
        if ln.startswith("|"):
            lines.append(ln)
        elif lines:
            break
    cells = [[c.strip().strip("`") for c in ln.strip("|").split("|")] for ln in lines]
    return pd.DataFrame(cells[2:], columns=cells[0])


def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", cell)]


def _sklearn_metrics(preds: pd.DataFrame, n_classes: int) -> dict[str, float]:
    y, p = preds["label"].to_numpy(int), preds["prediction"].to_numpy(int)
    scores = np.array([s.split() for s in preds["scores"]], dtype=float)
    present = np.unique(y)
    return {
        "top1": accuracy_score(y, p),
        "mean_class_acc": balanced_accuracy_score(y, p),
        "macro_f1": f1_score(y, p, labels=present, average="macro", zero_division=0),
        "top5": top_k_accuracy_score(y, scores, k=min(5, n_classes), labels=range(n_classes))
        if n_classes > 2 else accuracy_score(y, p),
        "f1": f1_score(y, p, labels=range(n_classes), average=None, zero_division=0),
    }


@pytest.fixture(scope="module")
def runner_run(tmp_path_factory) -> Path:
    """A real run: the runner on tiny videos, chance, two folds, then its report."""
    from bench.run.runner import run_benchmark

    base = tmp_path_factory.mktemp("runner")
    root = write_folder_dataset(base / "videos", classes=("blue", "red", "green"), groups=6)
    run_dir = run_benchmark(folder_config(root, base / "run"))
    write_report(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def history_run(tmp_path_factory) -> Path:
    """A hand-made run of the history suite, its report written once."""
    run_dir = make_run(tmp_path_factory.mktemp("hist") / "run", history_suite())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_report(run_dir)
    assert not [w for w in caught if "report section" in str(w.message)]
    return run_dir


def _check_leaderboard_against_sklearn(run_dir: Path, tol: float = 0.051) -> int:
    text = (run_dir / "report.md").read_text()
    board = _table(_section(text, "## Leaderboard"))
    preds = pd.read_csv(run_dir / "predictions.csv", dtype={"video_id": str})
    results = pd.read_csv(run_dir / "results.csv")
    classes = pd.read_json(run_dir / "run.json", typ="series")["dataset"]["classes"]
    checked = 0
    for row in board.itertuples(index=False):
        method = row[0]
        mine = preds[preds["method"] == method]
        per_fold = {fold: _sklearn_metrics(group, len(classes))
                    for fold, group in mine.groupby("fold")}
        for fold, metrics in per_fold.items():  # results.csv == sklearn, every fold
            res = results[(results["method"] == method) & (results["fold"] == fold)]
            value = res.set_index("metric")["value"]
            for metric in ("top1", "mean_class_acc", "macro_f1", "top5"):
                assert value[metric] == pytest.approx(metrics[metric], abs=1e-9), (method, metric)
        headers = ("top-1", "mean class", "macro-F1", "top-5")
        for metric, key in zip(("top1", "mean_class_acc", "macro_f1", "top5"), headers,
                               strict=True):
            header = next(h for h in board.columns if h.startswith(key))
            shown = _numbers(row[board.columns.get_loc(header)])
            values = np.array([m[metric] for m in per_fold.values()]) * 100
            assert shown[0] == pytest.approx(values.mean(), abs=tol), (method, metric)
            if len(values) > 1:  # "mean ± std over folds"
                assert shown[1] == pytest.approx(values.std(ddof=1), abs=tol), (method, metric)
            checked += 1
    return checked


def test_runner_report_numbers_agree_with_sklearn(runner_run):
    assert _check_leaderboard_against_sklearn(runner_run) == 4
    text = (runner_run / "report.md").read_text()
    per_fold = _table(_section(text, "### Per fold"))
    preds = pd.read_csv(runner_run / "predictions.csv")
    for row in per_fold.itertuples(index=False):
        mine = preds[(preds["method"] == row[0]) & (preds["fold"] == int(row[1]))]
        assert _numbers(row[2])[0] == pytest.approx(
            100 * accuracy_score(mine["label"], mine["prediction"]), abs=0.051)


def test_runner_records_peak_memory_in_units_run_json_and_report(runner_run, history_run):
    import json

    units = sorted((runner_run / "units").glob("*/timing.json"))
    assert len(units) == 2  # chance on two folds
    timings = [json.loads(path.read_text()) for path in units]
    for timing in timings:
        assert isinstance(timing["peak_rss_main_mib"], float) and timing["peak_rss_main_mib"] > 0
        assert isinstance(timing["peak_rss_children_mib"], float)
        assert timing["peak_rss_children_mib"] >= 0
    peak = json.loads((runner_run / "run.json").read_text())["peak_memory"]
    assert "high-water mark" in peak["note"]
    # A high-water mark of the same process only grows: the run's figure bounds the units'.
    assert peak["peak_rss_main_mib"] >= max(t["peak_rss_main_mib"] for t in timings)
    status = Path("/proc/self/status")
    if status.is_file():  # Linux: ru_maxrss of this process is its VmHWM, which only grows
        hwm_kib = next(int(ln.split()[1]) for ln in status.read_text().splitlines()
                       if ln.startswith("VmHWM:"))
        assert peak["peak_rss_main_mib"] <= hwm_kib / 1024 + 0.1
    summary = _section((runner_run / "report.md").read_text(), "## Run summary")
    assert (f"Peak memory: main process {peak['peak_rss_main_mib']:.0f} MiB, largest worker "
            f"{peak['peak_rss_children_mib']:.0f} MiB") in summary
    assert "Peak memory" not in (history_run / "report.md").read_text()  # old-style run.json


def test_handmade_report_numbers_and_per_class_f1_agree_with_sklearn(history_run):
    assert _check_leaderboard_against_sklearn(history_run) == 4 * 4
    text = (history_run / "report.md").read_text()
    f1_table = _table(_section(text, "## Per-class F1")).set_index("method")
    preds = pd.read_csv(history_run / "predictions.csv")
    for method, group in preds.groupby("method"):
        expected = _sklearn_metrics(group, len(CLASSES))["f1"]
        shown = f1_table.loc[method, CLASSES].astype(float).to_numpy()
        np.testing.assert_allclose(shown, expected, atol=0.0051)


def _figures(run_dir: Path) -> list[str]:
    text = (run_dir / "report.md").read_text()
    return re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", text)


@pytest.mark.parametrize("which", ["runner_run", "history_run"])
def test_every_referenced_figure_is_a_readable_wide_png(which, request):
    run_dir = request.getfixturevalue(which)
    referenced = _figures(run_dir)
    assert len(referenced) >= 3
    for rel in referenced:
        path = run_dir / rel
        assert path.is_file(), rel
        image = mpimg.imread(path)
        assert image.ndim == 3 and image.shape[1] >= 600, (rel, image.shape)
        assert image.std() > 0, f"{rel} is blank"
    on_disk = {f"figures/{p.name}" for p in (run_dir / "figures").glob("*.png")}
    assert on_disk == set(referenced)


def test_history_section_names_the_first_method_to_solve_each_pair(tmp_path):
    suite = history_suite()
    del suite["chance_ref"]  # not needed here; fewer figures to draw
    early = make_run(tmp_path / "a", suite)
    suite = dict(suite)
    suite["motion_hist"] = (2008, "classical", perfect)  # now 2008 solves time reversal too
    suite["old_appearance"] = (2005, "classical", confuses(("sit_down", "stand_up")))
    late = make_run(tmp_path / "b", suite)
    texts = {}
    for name, run_dir in (("a", early), ("b", late)):
        write_report(run_dir)
        text = (run_dir / "report.md").read_text()
        texts[name] = _section(text, "#### Class pairs")
        assert "![two-way accuracy per class pair](figures/pair_accuracy.png)" in texts[name]
    line = {k: {p: next(ln for ln in t.splitlines() if ln.startswith(f"- **{p}**"))
                for p in ("time_reversal", "speed")} for k, t in texts.items()}
    assert "`deep_3d` (2015, 100 %) is the first to solve it" in line["a"]["time_reversal"]
    assert "`old_appearance` (2005, 50 %)" in line["a"]["time_reversal"]
    assert "`motion_hist` (2008, 100 %) is the first to solve it" in line["a"]["speed"]
    assert "`motion_hist` (2008, 100 %) is the first to solve it" in line["b"]["time_reversal"]
    assert "solved from the first generation on, by `old_appearance`" in line["b"]["speed"]
    figure_a = (early / "figures" / "pair_accuracy.png").read_bytes()
    assert figure_a != (late / "figures" / "pair_accuracy.png").read_bytes()


def test_pair_accuracy_table_matches_a_direct_count(history_run):
    text = (history_run / "report.md").read_text()
    grid = _table(_section(text, "#### Class pairs")).set_index("method")
    preds = pd.read_csv(history_run / "predictions.csv")
    ia, ib = CLASSES.index("sit_down"), CLASSES.index("stand_up")
    for method, group in preds.groupby("method"):
        rows = group[group["label"].isin([ia, ib])]
        wins = [float(s.split()[y]) > float(s.split()[ia + ib - y])
                for s, y in zip(rows["scores"], rows["label"], strict=True)]
        two_way = np.mean(wins)
        assert float(grid.loc[method, "time_reversal: two-way %"]) == pytest.approx(
            100 * two_way, abs=0.51)
        # P(X >= wins) for X ~ B(n, 1/2), summed directly
        n, k = len(wins), int(np.sum(wins))
        p_value = sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n
        shown = grid.loc[method, "time_reversal: p"]
        if p_value < 1e-4:
            assert shown == "<0.0001"
        else:
            assert float(shown) == pytest.approx(p_value, rel=0.051)
        assert float(grid.loc[method, "time_reversal: 6-way correct %"]) == pytest.approx(
            100 * accuracy_score(rows["label"], rows["prediction"]), abs=0.51)


def test_generation_deltas_and_camera_motion_follow_the_predictions(history_run):
    text = (history_run / "report.md").read_text()
    deltas = _section(text, "#### Per-class gains between generations")
    assert "2005 → 2008: `old_appearance` → `motion_hist`" in deltas
    assert "run +100" in deltas  # old_appearance never predicts run; motion_hist always right
    assert "stand_up +100" in deltas
    camera = _table(_section(text, "#### Camera motion")).set_index("method")
    preds = pd.read_csv(history_run / "predictions.csv", dtype={"video_id": str})
    clips = pd.read_csv(history_run / "clips.csv", dtype={"video_id": str})
    moving = preds["video_id"].map(dict(zip(clips["video_id"], clips["camera_motion"],
                                            strict=True)))
    for method in preds["method"].unique():
        for flag, column in ((True, "camera motion %"), (False, "static camera %")):
            sel = (preds["method"] == method) & (moving == flag)
            expected = 100 * accuracy_score(preds.loc[sel, "label"], preds.loc[sel, "prediction"])
            assert _numbers(camera.loc[method, column])[0] == pytest.approx(expected, abs=0.051)


def test_failures_are_listed_and_the_report_is_deterministic(tmp_path):
    run_dir = make_run(tmp_path / "run", {"a": (2010, "classical", noisy(0.3))}, per_class=3)
    # A probe failure is listed once per fold, a method's failure once per fold it occurs in.
    rows = [("*", 1, "clips/broken_07.avi", "probe", "cannot open the file"),
            ("*", 2, "clips/broken_07.avi", "probe", "cannot open the file"),
            ("a", 1, "clips/odd_03.avi", "decode", "truncated"),
            ("a", 2, "clips/odd_03.avi", "decode", "truncated"),
            ("a", 2, "clips/nan_11.avi", "scores", "NaN scores"),
            ("b", 1, "*", "method", "RuntimeError: boom")]
    table = pd.DataFrame(rows, columns=["method", "fold", "video", "stage", "reason"])
    table.to_csv(run_dir / "failures.csv", index=False)
    assert cli_main(["report", str(run_dir)]) == 0
    first = (run_dir / "report.md").read_text()
    failures = _section(first, "## Failures")
    assert "clips/broken_07.avi" in failures and "cannot open the file" in failures
    videos = table.loc[table["video"] != "*", "video"]
    assert f"{len(set(videos))} distinct video(s) failed ({len(videos)} row(s)" in failures
    assert "1 (method, fold) unit(s) failed as a whole" in failures
    counts = _table(failures).set_index(["method", "stage"])
    assert counts.loc[("*", "probe"), "videos"] == "1"
    assert counts.loc[("*", "probe"), "rows"] == "2"
    assert counts.loc[("a", "decode"), "videos"] == "1"
    assert counts.loc[("a", "scores"), "videos"] == "1"
    assert counts.loc[("b", "method"), "videos"] == "0"
    write_report(run_dir)
    assert (run_dir / "report.md").read_text() == first
    assert "Not measured" not in first  # clips.csv has camera_motion


def test_missing_run_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run.json"):
        write_report(tmp_path)
    run_dir = make_run(tmp_path / "run", {"a": (2010, "classical", perfect)})
    (run_dir / "predictions.csv").unlink()
    with pytest.raises(FileNotFoundError, match="predictions.csv"):
        write_report(run_dir)


def test_a_broken_figure_section_is_reported_not_fatal(tmp_path, monkeypatch):
    import bench.report.figures

    def broken(*args, **kwargs):
        raise RuntimeError("no display")

    monkeypatch.setattr(bench.report.figures, "confusion_figure", broken)
    run_dir = make_run(tmp_path / "run", {"a": (2010, "classical", perfect)}, per_class=2,
                       camera_motion=False)
    with pytest.warns(RuntimeWarning, match="Confusion matrices"):
        write_report(run_dir)
    text = (run_dir / "report.md").read_text()
    assert "could not be generated: `RuntimeError: no display`" in text
    assert "## Failures" in text and "## Leaderboard" in text
    assert "Not measured: the dataset records no clip metadata." in text


def test_training_section_summarises_each_units_history(tmp_path):
    run_dir = make_run(tmp_path / "run", {"a": (2010, "deep", noisy(0.3)),
                                          "b": (2005, "classical", noisy(0.3))}, per_class=3)
    unit = run_dir / "units" / "a__fold1"
    unit.mkdir(parents=True)
    pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [2.5, 1.75, 1.5],
                  "val_acc": [0.25, 0.625, 0.5]}).to_csv(unit / "history.csv", index=False)
    (unit / "timing.json").write_text(json.dumps({"train_time_s": 42.0, "best_epoch": 2}))
    write_report(run_dir)
    text = (run_dir / "report.md").read_text()
    row = _table(_section(text, "## Training")).set_index("method").loc["a"]
    assert row["epochs run"] == "3" and row["best epoch"] == "2"
    assert row["first → last training loss"] == "2.50 → 1.50"
    assert row["best validation acc. %"] == "62.5" and row["train time"] == "42 s"
    assert "`b`" not in _section(text, "## Training")  # no history, no row
    assert (run_dir / "figures" / "training_curves.png").stat().st_size > 0
    # without any history the section is left out
    (unit / "history.csv").unlink()
    write_report(run_dir)
    assert "## Training" not in (run_dir / "report.md").read_text()


def test_a_calibrated_record_reports_its_noise_and_what_the_gate_can_see(tmp_path):
    from bench.report.compare import DEFAULT_TOLERANCE
    from bench.report.noise import minimal_detectable_drop, noise_summary
    from bench.run.rundir import load_run

    run_dir = make_run(tmp_path / "run", {"good": (2013, "classical", noisy(0.1)),
                                          "weak": (2015, "deep", noisy(0.9))}, per_class=8)
    write_noise(run_dir, 6.0)
    set_environment(run_dir, "Vendor CPU with AVX-512")
    write_report(run_dir)
    text = (run_dir / "report.md").read_text()
    noise = _section(text, "## Run-to-run noise")
    assert "This record (seed 0) was rerun with seeds 1, 2, 3, 4, 5, 6, 7, 8" in noise
    summary = noise_summary(load_run(run_dir).noise).set_index("method")
    for method in ("good", "weak"):
        row = next(ln for ln in noise.splitlines() if ln.startswith(f"| `{method}`"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        model = summary.loc[method]
        assert cells[2] == "9" and cells[3] == f"{model['mean']:.1f} ± {model['sd_raw']:.1f}"
        mde = minimal_detectable_drop(model["sd"], 9, 2, alpha=0.05, tolerance=DEFAULT_TOLERANCE)
        assert cells[5].startswith(f"{mde:.1f}")
        # a method whose noise is wider than its accuracy is reported as one the gate cannot see
        assert ("blind" in cells[5]) == (mde >= model["mean"])
    assert "blind" in next(ln for ln in noise.splitlines() if ln.startswith("| `weak`"))
    environment = _section(text, "## Run summary")
    assert "Numerical environment" in environment and "Vendor CPU with AVX-512" in environment

