"""bench.report.compare: marks, McNemar's exact test, paired bootstrap and the exit status."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _report_runs import (
    CLASSES,
    make_run,
    noisy,
    perfect,
    set_environment,
    write_metrics,
    write_noise,
)

from bench.cli import main as cli_main
from bench.report.compare import compare_runs, comparison_markdown


def _suite():
    return {"steady": (2008, "classical", noisy(0.2)), "victim": (2015, "deep", noisy(0.1)),
            "flawless": (2017, "deep", perfect)}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("base") / "run", _suite(), per_class=12)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _break_correct(run_dir: Path, method: str, share: float, seed: int = 1) -> int:
    """Turn ``share`` of ``method``'s correct predictions wrong; recompute results.csv.

    Returns the number of predictions changed.
    """
    preds = pd.read_csv(run_dir / "predictions.csv", dtype={"video_id": str})
    correct = np.flatnonzero(((preds["method"] == method)
                              & (preds["label"] == preds["prediction"])).to_numpy())
    rng = np.random.default_rng(seed)
    chosen = rng.choice(correct, int(round(share * len(correct))), replace=False)
    for i in chosen:
        label = int(preds.at[i, "label"])
        wrong = (label + 1) % len(CLASSES)
        scores = np.array(preds.at[i, "scores"].split(), dtype=float)
        scores[[label, wrong]] = scores[[wrong, label]]
        preds.at[i, "prediction"] = wrong
        preds.at[i, "scores"] = " ".join(f"{v:.6g}" for v in scores)
    preds.to_csv(run_dir / "predictions.csv", index=False)
    write_metrics(run_dir)
    return len(chosen)


def _mcnemar_exact(worse: int, better: int) -> float:
    """Two-sided exact McNemar p-value from binomial coefficients (oracle)."""
    n, k = worse + better, min(worse, better)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def test_a_run_against_itself_is_all_equal_and_passes(baseline, tmp_path):
    table, status = compare_runs(baseline, baseline)
    assert status == 0
    assert set(table["mark"]) == {"="}
    assert (table["d_top1"] == 0).all() and (table["p_value"] == 1).all()
    assert (table[["d_top1_low", "d_top1_high", "d_mca_low", "d_mca_high"]] == 0).all().all()
    md = tmp_path / "cmp.md"
    assert cli_main(["compare", str(baseline), str(baseline), "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "No significant regression" in text and text.count("| `=`") == 3


def test_planted_regression_is_marked_worse_and_fails(baseline, tmp_path):
    candidate = _copy(baseline, tmp_path / "cand")
    n_changed = _break_correct(candidate, "victim", 0.3)
    table, status = compare_runs(baseline, candidate)
    assert status == 1
    rows = table.set_index("method")
    assert rows.loc["victim", "mark"] == "-"
    assert rows.loc["steady", "mark"] == "=" and rows.loc["flawless", "mark"] == "="
    victim = rows.loc["victim"]
    n = len(CLASSES) * 12
    assert victim["d_top1"] == pytest.approx(-100 * n_changed / n)
    assert (victim["n_worse"], victim["n_better"]) == (n_changed, 0)
    assert victim["p_value"] == pytest.approx(_mcnemar_exact(n_changed, 0))
    assert victim["d_top1_low"] <= victim["d_top1"] <= victim["d_top1_high"] < 0
    # The change in results.csv (recomputed from the predictions) is the same as compare's.
    res_b = pd.read_csv(baseline / "results.csv")
    res_c = pd.read_csv(candidate / "results.csv")
    pick = lambda r, metric: r[(r.method == "victim") & (r.metric == metric)]["value"].item()  # noqa: E731
    assert 100 * (pick(res_c, "top1") - pick(res_b, "top1")) == pytest.approx(victim["d_top1"])
    assert 100 * (pick(res_c, "mean_class_acc") - pick(res_b, "mean_class_acc")) == \
        pytest.approx(victim["d_mca"])
    assert cli_main(["compare", str(baseline), str(candidate)]) == 1
    # The same runs the other way round: a significant improvement, exit 0.
    table, status = compare_runs(candidate, baseline)
    assert status == 0 and table.set_index("method").loc["victim", "mark"] == "+"


def test_tolerance_decides_whether_a_significant_drop_fails(baseline, tmp_path):
    candidate = _copy(baseline, tmp_path / "cand")
    _break_correct(candidate, "victim", 0.3)
    d_top1 = compare_runs(baseline, candidate)[0].set_index("method").loc["victim", "d_top1"]
    table, status = compare_runs(baseline, candidate, tolerance=abs(d_top1) + 1)
    victim = table.set_index("method").loc["victim"]
    assert status == 0 and victim["mark"] == "=" and "within the tolerance" in victim["note"]
    assert cli_main(["compare", str(baseline), str(candidate), "--tolerance",
                     str(abs(d_top1) + 1)]) == 0


def test_mixed_changes_give_the_binomial_p_value(baseline, tmp_path):
    candidate = _copy(baseline, tmp_path / "cand")
    preds = pd.read_csv(candidate / "predictions.csv", dtype={"video_id": str})
    mine = preds["method"] == "steady"
    right = mine & (preds["label"] == preds["prediction"])
    wrong = mine & (preds["label"] != preds["prediction"])
    flip_down = np.flatnonzero(right.to_numpy())[:5]
    flip_up = np.flatnonzero(wrong.to_numpy())[:2]
    preds.loc[flip_down, "prediction"] = (preds.loc[flip_down, "label"] + 1) % len(CLASSES)
    preds.loc[flip_up, "prediction"] = preds.loc[flip_up, "label"]
    preds.to_csv(candidate / "predictions.csv", index=False)
    table, status = compare_runs(baseline, candidate)
    steady = table.set_index("method").loc["steady"]
    assert (steady["n_worse"], steady["n_better"]) == (5, 2)
    assert steady["p_value"] == pytest.approx(_mcnemar_exact(5, 2))  # 0.453: not significant
    assert steady["mark"] == "=" and status == 0


def test_different_fingerprints_are_never_compared(baseline, tmp_path):
    other = make_run(tmp_path / "other", _suite(), per_class=12, split_salt="another split")
    table, status = compare_runs(baseline, other)
    assert set(table["mark"]) == {"x"}
    assert table["note"].str.contains("fingerprint").all()
    assert table["p_value"].isna().all() and table["d_top1"].isna().all()
    assert status == 0


def test_a_changed_method_configuration_is_not_comparable(baseline, tmp_path):
    candidate = _copy(baseline, tmp_path / "cand")
    record = json.loads((candidate / "run.json").read_text())
    record["config"]["method_params"] = {"steady": {"n_words": 16}}
    (candidate / "run.json").write_text(json.dumps(record))
    rows = compare_runs(baseline, candidate)[0].set_index("method")
    assert rows.loc["steady", "mark"] == "x" and "method_params" in rows.loc["steady", "note"]
    assert rows.loc["victim", "mark"] == "="


def test_a_format_1_record_compares_with_a_run_that_records_tasks(baseline, tmp_path):
    """Cards written before they had a ``task`` are recognition cards, not another config."""
    candidate = _copy(baseline, tmp_path / "cand")
    record = json.loads((candidate / "run.json").read_text())
    assert all("task" not in card for card in record["methods"].values())  # format 1
    record.update(task="recognition", run_dir_format=2)
    for card in record["methods"].values():
        card["task"] = "recognition"
    (candidate / "run.json").write_text(json.dumps(record))
    table, status = compare_runs(baseline, candidate)
    assert status == 0 and set(table["mark"]) == {"="}
    for card in record["methods"].values():
        card["task"] = "detection"  # a card of another task is another configuration
    (candidate / "run.json").write_text(json.dumps(record))
    table, _ = compare_runs(baseline, candidate)
    assert set(table["mark"]) == {"x"} and table["note"].str.contains("card.task").all()


def test_a_method_missing_or_failed_in_the_candidate_is_flagged(baseline, tmp_path):
    candidate = _copy(baseline, tmp_path / "cand")
    preds = pd.read_csv(candidate / "predictions.csv", dtype={"video_id": str})
    preds = preds[preds["method"] != "victim"]
    preds.to_csv(candidate / "predictions.csv", index=False)
    write_metrics(candidate)
    table, status = compare_runs(baseline, candidate)
    rows = table.set_index("method")
    assert rows.loc["victim", "mark"] == "!" and status == 1
    assert rows.loc["steady", "mark"] == "=" and rows.loc["flawless", "mark"] == "="
    # A method only in the candidate is new, not comparable, and does not fail the gate.
    table, status = compare_runs(candidate, baseline)
    assert table.set_index("method").loc["victim", "mark"] == "x" and status == 0


def test_a_video_that_failed_in_the_candidate_counts_as_wrong(baseline, tmp_path):
    candidate = _copy(baseline, tmp_path / "cand")
    preds = pd.read_csv(candidate / "predictions.csv", dtype={"video_id": str})
    flawless = preds.index[preds["method"] == "flawless"]
    preds = preds.drop(flawless[:3])  # the runner leaves failed videos out of predictions.csv
    preds.to_csv(candidate / "predictions.csv", index=False)
    row = compare_runs(baseline, candidate)[0].set_index("method").loc["flawless"]
    n = len(CLASSES) * 12
    assert row["n"] == n and row["n_worse"] == 3
    assert row["d_top1"] == pytest.approx(-300 / n)
    assert row["mark"] == "="  # 3 discordant videos cannot reach p < 0.05 (p = 0.25)


def test_cli_default_tolerance_is_the_library_default():
    import bench.cli.compare
    from bench.report.compare import DEFAULT_TOLERANCE

    assert bench.cli.compare.DEFAULT_TOLERANCE == DEFAULT_TOLERANCE


def test_bad_arguments_are_clear_errors(baseline, tmp_path):
    with pytest.raises(ValueError, match="tolerance"):
        compare_runs(baseline, baseline, tolerance=-1)
    with pytest.raises(FileNotFoundError, match="run directory"):
        compare_runs(baseline, tmp_path / "nowhere")


# ------------------------------------------------------------------ environments and noise
@pytest.fixture()
def calibrated(tmp_path) -> Path:
    """The baseline made on an AVX-512 machine, with 9 runs of noise (sd 5 points)."""
    record = _copy(make_run(tmp_path / "src", _suite(), per_class=12), tmp_path / "record")
    set_environment(record, "Vendor CPU with AVX-512")
    write_noise(record, 5.0)
    return record


def test_same_environment_identical_predictions_are_equal_and_any_change_is_named(
        calibrated, tmp_path):
    table, status = compare_runs(calibrated, calibrated)
    assert status == 0 and set(table["mark"]) == {"="} and set(table["test"]) == {"bitwise"}
    assert table.attrs["comparison"]["same_environment"]
    candidate = _copy(calibrated, tmp_path / "cand")
    preds = pd.read_csv(candidate / "predictions.csv", dtype={"video_id": str})
    steady = preds.index[preds["method"] == "steady"]
    preds.loc[steady[7], "scores"] = preds.loc[steady[7], "scores"].replace("1 ", "0.999999 ", 1)
    preds.to_csv(candidate / "predictions.csv", index=False)  # same label, other score bytes
    table, status = compare_runs(calibrated, candidate)
    rows = table.set_index("method")
    video = preds.loc[steady[7], "video_id"]
    assert status == 1 and rows.loc["steady", "mark"] == "r"
    assert rows.loc["steady", "note"] == f"not reproduced: 1 of {len(steady)} videos differ " \
                                         f"({video})"
    assert rows.loc["victim", "mark"] == "=" and rows.loc["steady", "d_top1"] == 0
    text = comparison_markdown(table, status)
    assert "**Same environment**" in text and "| `r`" in text
    # --statistical: the same runs judged by the noise test pass (no accuracy changed).
    table, status = compare_runs(calibrated, candidate, statistical=True)
    assert status == 0 and set(table["test"]) == {"noise"} and set(table["mark"]) == {"="}


def test_another_machine_is_judged_against_the_noise_and_the_header_says_why(
        calibrated, tmp_path):
    candidate = _copy(calibrated, tmp_path / "cand")
    set_environment(candidate, "Vendor CPU with AVX2 only")
    n_changed = _break_correct(candidate, "steady", 0.05)  # a few videos: numerics noise
    table, status = compare_runs(calibrated, candidate)
    rows = table.set_index("method")
    assert n_changed >= 2 and status == 0 and set(table["mark"]) == {"="}
    assert set(table["test"]) == {"noise"}
    assert rows["n_runs"].eq(9).all() and (rows["detectable_drop"] > 2).all()
    info = table.attrs["comparison"]
    assert not info["same_environment"] and info["calibrated"]
    assert any(d.startswith("cpu_model:") for d in info["environment_differences"])
    text = comparison_markdown(table, status)
    assert "**Different environments**" in text and "cpu_model: Vendor CPU with AVX-512" in text
    assert "bitwise-equal predictions are not expected" in text and "Holm" in text
    # 60 % of the victim's correct predictions turned wrong: far beyond the noise.
    _break_correct(candidate, "victim", 0.6, seed=2)
    table, status = compare_runs(calibrated, candidate)
    rows = table.set_index("method")
    assert status == 1 and rows.loc["victim", "mark"] == "-"
    assert rows.loc["victim", "p_adjusted"] < 0.05 and rows.loc["steady", "mark"] == "="
    assert -rows.loc["victim", "d_noise"] > rows.loc["victim", "detectable_drop"]


def test_a_seed_change_is_noise_only_for_a_calibrated_record(calibrated, tmp_path):
    candidate = _copy(calibrated, tmp_path / "cand")
    record = json.loads((candidate / "run.json").read_text())
    record["seed"] = record["config"]["seed"] = 11
    (candidate / "run.json").write_text(json.dumps(record))
    table, _ = compare_runs(calibrated, candidate)
    assert set(table["mark"]) == {"x"} and table["note"].str.contains("seed").all()
    table, status = compare_runs(calibrated, candidate, allow_seed_change=True)
    assert status == 0 and set(table["test"]) == {"noise"}  # another seed: never bitwise
    (calibrated / "noise.csv").unlink()
    table, _ = compare_runs(calibrated, candidate, allow_seed_change=True)
    assert set(table["mark"]) == {"x"}  # without replicates over seeds, a seed is a config


def test_without_noise_mcnemar_is_holm_adjusted_across_methods(baseline, tmp_path):
    candidate = _copy(baseline, tmp_path / "cand")
    n_changed = _break_correct(candidate, "victim", 0.3)
    table, _ = compare_runs(baseline, candidate)
    rows = table.set_index("method")
    assert set(table["test"]) == {"mcnemar"}
    raw = rows["p_value"].to_numpy()
    order = np.argsort(raw, kind="stable")
    expected = np.maximum.accumulate(np.minimum(1, (len(raw) - np.arange(len(raw)))
                                                * raw[order]))
    np.testing.assert_allclose(rows["p_adjusted"].to_numpy()[order], expected)
    assert rows.loc["victim", "p_value"] == pytest.approx(_mcnemar_exact(n_changed, 0))
    # k videos all lost: detectable when 2 / 2**k < 0.05 / 3, i.e. k = 7 of 72 videos
    assert rows.loc["victim", "detectable_drop"] == pytest.approx(100 * 7 / 72)


def test_on_cuda_only_a_deterministic_method_is_held_to_the_same_bytes(tmp_path):
    record = make_run(tmp_path / "record", _suite(), per_class=12)
    set_environment(record, "Vendor CPU", device="cuda")
    candidate = _copy(record, tmp_path / "cand")
    _break_correct(candidate, "steady", 0.05)
    table, status = compare_runs(record, candidate)
    assert status == 0 and set(table["test"]) == {"mcnemar"}  # cuDNN may differ run to run
    for run_dir in (record, candidate):
        run = json.loads((run_dir / "run.json").read_text())
        run["config"]["method_params"] = {"steady": {"deterministic": True}}
        (run_dir / "run.json").write_text(json.dumps(run))
    table, status = compare_runs(record, candidate)
    rows = table.set_index("method")
    assert status == 1 and rows.loc["steady", "mark"] == "r"
    assert rows.loc["steady", "test"] == "bitwise" and rows.loc["victim", "test"] == "mcnemar"
