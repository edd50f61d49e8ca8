"""Compare two run directories: per method and fold, is the candidate better, worse, the same?

First the two runs' environments (:mod:`bench.run.environment`) decide what kind of comparison
makes sense, and the report says which one it made:

* **Same environment** (same environment key: CPU model, kernel-selecting instruction sets,
  library builds, thread counts, packages, device) and a deterministic method (every method on
  the CPU; on CUDA only with ``deterministic = true``): the predictions must be the same bytes.
  Any difference is a reproducibility failure (mark ``r``) that names the first differing
  videos; no statistics can excuse it.
* **Different environments**: bitwise equality is not expected -- kernels picked by
  instruction set round differently and training amplifies the difference -- so the comparison
  is statistical. Against a calibrated release record (one with ``noise.csv``) the candidate's
  top-1 is judged against the record's run-to-run noise (:mod:`bench.report.noise`); otherwise by
  McNemar's exact test on the paired per-video correctness. Either way the p-values of all
  methods are adjusted together by Holm's procedure, so the chance of any false alarm across
  the methods stays at or below ``alpha``; and a significant change counts only beyond the
  tolerance (statistics first, threshold second: the asv rule).

Every compared row also carries the paired change with 95 % bootstrap intervals, and the
smallest drop the comparison could have detected (``detectable_drop``).

Detection runs are compared the same way on mAP at tIoU 0.5 instead of top-1, read from each
unit's ``detections.json`` and ``ground_truth.json``; without a calibration the test is a
paired randomisation test over videos instead of McNemar's (:mod:`bench.report.compare_detection`).

Marks: ``+`` significantly better by more than the tolerance, ``-`` significantly worse by more
than the tolerance, ``=`` no significant change (or one within the tolerance; in the same
environment: identical predictions), ``r`` not reproduced (same environment, different
predictions), ``x`` not comparable (different fingerprint or method configuration, or absent
from the baseline), ``!`` present in the baseline but missing or failed in the candidate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from bench.report.comparability import (
    config_difference,
    deterministic,
    failed_units,
    method_config,
)
from bench.report.compare_detection import METRIC as DETECTION_METRIC
from bench.report.compare_detection import detection_row, detection_units
from bench.report.noise import (
    detectable_drop_text,
    judge_family,
    noise_summary,
    noise_tests,
    task_sd_floor,
)
from bench.run.environment import environment_differences
from bench.run.rundir import RunData, load_run, method_order
from bench.tasks.recognition.predictions import class_mean_of_correct, correct_mask

__all__ = ["compare_runs", "comparison_markdown", "MARKS", "DEFAULT_TOLERANCE"]

#: Default tolerance: a significant drop must exceed this many points of top-1 (detection:
#: mAP@0.5) to fail.
DEFAULT_TOLERANCE = 2.0

MARKS = {
    "+": "significantly better",
    "-": "significantly worse",
    "=": "no significant change",
    "r": "not reproduced: same environment, different predictions",
    "x": "not comparable",
    "!": "failed or missing in the candidate only",
}

def _paired_bootstrap(labels: np.ndarray, right_base: np.ndarray, right_cand: np.ndarray,
                      n_classes: int, n_boot: int, seed: int) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of the paired change in top-1 and mean class accuracy."""
    from bench.tasks.recognition.metrics import (
        _bootstrap_stats,  # the resample statistics of bench.tasks.recognition.metrics
    )

    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    top_b, mca_b = _bootstrap_stats(right_base, labels, n_classes, indices)
    top_c, mca_c = _bootstrap_stats(right_cand, labels, n_classes, indices)
    out = {}
    for name, diff in (("top1", top_c - top_b), ("mean_class_acc", mca_c - mca_b)):
        low, high = np.percentile(diff, [2.5, 97.5])
        out[name] = (100 * float(low), 100 * float(high))
    return out


def _paired(base: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame | None:
    """The two runs' predictions of one unit joined on ``video_id`` (``None``: labels differ).

    A video scored in one run only failed in the other (same fingerprint, same test set): the
    outer join keeps it, and its missing prediction counts as wrong.
    """
    columns = ["video_id", "label", "prediction", "scores"]
    merged = base.reindex(columns=columns).merge(cand.reindex(columns=columns), on="video_id",
                                                 how="outer", suffixes=("_b", "_c"))
    both = merged["label_b"].notna() & merged["label_c"].notna()
    if not np.array_equal(merged.loc[both, "label_b"], merged.loc[both, "label_c"]):
        return None
    merged["label_b"] = merged["label_b"].fillna(merged["label_c"])
    merged["label_c"] = merged["label_c"].fillna(merged["label_b"])
    return merged.sort_values("video_id", kind="stable").reset_index(drop=True)


def _differing_videos(merged: pd.DataFrame) -> list[str]:
    """Videos whose prediction or scores are not the same text in both runs."""
    same = ((merged["prediction_b"] == merged["prediction_c"])
            | (merged["prediction_b"].isna() & merged["prediction_c"].isna()))
    same &= merged["scores_b"].fillna("").astype(str) == merged["scores_c"].fillna("").astype(str)
    return merged.loc[~same, "video_id"].astype(str).tolist()


def _unit_statistics(merged: pd.DataFrame, n_classes: int, *, n_boot: int,
                     seed: int) -> dict[str, Any]:
    """Paired change, its bootstrap intervals and McNemar's exact p-value for one unit."""
    from scipy.stats import binomtest

    labels = merged["label_b"].to_numpy(dtype=int)
    right_b = correct_mask(merged.rename(columns={"label_b": "label", "prediction_b": "prediction"}))
    right_c = correct_mask(merged.rename(columns={"label_c": "label", "prediction_c": "prediction"}))
    worse = int(np.sum(right_b & ~right_c))  # right in baseline, wrong in candidate
    better = int(np.sum(~right_b & right_c))
    p_value = 1.0 if worse + better == 0 else float(binomtest(better, worse + better, 0.5).pvalue)
    ci = _paired_bootstrap(labels, right_b, right_c, n_classes, n_boot, seed)
    return dict(n=len(merged), top1_base=100 * right_b.mean(), top1_cand=100 * right_c.mean(),
                d_top1=100 * (right_c.mean() - right_b.mean()), d_top1_low=ci["top1"][0],
                d_top1_high=ci["top1"][1],
                d_mca=100 * (class_mean_of_correct(labels, right_c)
                             - class_mean_of_correct(labels, right_b)),
                d_mca_low=ci["mean_class_acc"][0], d_mca_high=ci["mean_class_acc"][1],
                n_worse=worse, n_better=better, p_value=p_value)


def _mcnemar_detectable_drop(n: int, n_tests: int, alpha: float, tolerance: float) -> float:
    """Smallest drop McNemar + Holm can flag: ``k`` videos all lost, none gained.

    With ``k`` discordant videos all against the candidate the two-sided exact p-value is
    ``2 / 2**k``; Bonferroni's level ``alpha / n_tests`` needs ``k > log2(2 n_tests / alpha)``.
    """
    k = math.floor(math.log2(2 * max(n_tests, 1) / alpha)) + 1
    return max(float(tolerance), 100.0 * k / n) if n else float("nan")


def compare_runs(baseline_dir: str | os.PathLike, candidate_dir: str | os.PathLike, *,
                 tolerance: float = DEFAULT_TOLERANCE, alpha: float = 0.05, n_boot: int = 2000,
                 seed: int = 0, methods: Collection[str] | None = None,
                 statistical: bool = False, allow_seed_change: bool = False
                 ) -> tuple[pd.DataFrame, int]:
    """Compare a candidate run with a baseline run, per method and fold.

    Parameters
    ----------
    baseline_dir, candidate_dir : path-like
        Run directories (``run.json``, ``results.csv``, ``predictions.csv``).
    tolerance : float, default 2.0
        Points of top-1: a significant change counts (``+`` / ``-``) only beyond it.
    alpha : float, default 0.05
        Family-wise error rate of the statistical comparison (Holm across all methods).
    n_boot : int, default 2000
        Paired bootstrap resamples for the intervals of the changes.
    seed : int, default 0
        Seed of the bootstrap: same seed, same intervals.
    methods : collection of str, optional
        Compare only these methods; the other methods of either run get no row and do not
        count towards the exit status. ``None`` (default) = every method of either run.
    statistical : bool, default False
        Compare statistically even when the environments are the same (for a user who knows
        that something outside the environment record differs).
    allow_seed_change : bool, default False
        Compare a candidate run with another seed than the baseline's. Only for methods the
        baseline's ``noise.csv`` covers: its replicates are runs with other seeds, so a seed
        change is part of the noise the gate is calibrated to.

    Returns
    -------
    table : DataFrame
        One row per (method, fold) of either run (of ``methods`` only, when given):
        ``method, fold, mark, test, note, n, top1_base, top1_cand, d_top1, d_top1_low,
        d_top1_high, d_mca, d_mca_low, d_mca_high, n_worse, n_better, p_value, noise_mean,
        noise_sd, n_runs, d_noise, p_adjusted, detectable_drop`` (accuracies and changes in
        points; the interval is 95 %). ``test`` is ``bitwise``, ``noise``, ``mcnemar`` or
        (detection) ``randomisation``; ``p_value`` is McNemar's (detection: the randomisation
        test's) raw p-value, ``p_adjusted`` the Holm-adjusted p-value of the
        test that decided the mark. ``table.attrs["comparison"]`` holds the environment
        verdict: ``same_environment``, ``environment_differences`` (what differs),
        ``calibrated``, ``alpha``, ``tolerance``, ``environment_keys``.
    exit_status : int
        1 when any row is ``-`` (significantly worse by more than the tolerance), ``r`` (not
        reproduced in the same environment) or ``!`` (a method that produced results in the
        baseline failed in the candidate), else 0.

    Notes
    -----
    McNemar's exact test conditions on the ``b + c`` discordant videos: under the null
    hypothesis each is equally likely to favour either run, so ``c ~ Binomial(b + c, 1/2)``
    [1]_. A video that failed (no prediction) counts as wrong. The paired bootstrap resamples
    videos and recomputes both runs' statistics on the same resample [2]_. Holm's step-down
    procedure [3]_ controls the family-wise error rate; the noise test is in
    :mod:`bench.report.noise`.

    References
    ----------
    .. [1] McNemar, Q. (1947). "Note on the sampling error of the difference between
       correlated proportions or percentages". Psychometrika 12(2), 153-157.
       doi:10.1007/BF02295996
    .. [2] Efron, B., Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
       Hall. doi:10.1201/9780429246593
    .. [3] Holm, S. (1979). "A simple sequentially rejective multiple test procedure".
       Scandinavian Journal of Statistics 6(2), 65-70.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 points of top-1; got {tolerance}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    base, cand = load_run(baseline_dir), load_run(candidate_dir)
    if base.task != cand.task:
        raise ValueError(f"cannot compare a {cand.task} run ({candidate_dir}) with a {base.task} "
                         f"run ({baseline_dir}): compare runs of the same task.")
    detection = base.task == "detection"
    differences = environment_differences(base.environment, cand.environment,
                                          base.run.get("packages"), cand.run.get("packages"))
    same_environment = not differences and not statistical
    noise = None if base.noise is None else noise_summary(
        base.noise, floor_points=task_sd_floor(base.task))
    calibrated = set() if noise is None else set(zip(noise["method"], noise["fold"], strict=True))
    n_classes = len(base.classes)
    failed = failed_units(cand)
    rank: dict[str, int] = {}
    for method in method_order(base) + method_order(cand):  # history order, baseline first
        rank.setdefault(method, len(rank))
    units_of = detection_units if detection else _units
    base_units, cand_units = set(units_of(base)), set(units_of(cand))
    keys = sorted(base_units | cand_units, key=lambda k: (rank.get(k[0], len(rank)), k[0], k[1]))
    if methods is not None:
        chosen = set(methods)
        keys = [key for key in keys if key[0] in chosen]
    rows = []
    for method, fold in keys:
        seed_may_change = allow_seed_change and (method, fold) in calibrated
        config_b, config_c = method_config(base, method), method_config(cand, method)
        bitwise = (same_environment and config_b["seed"] == config_c["seed"]
                   and deterministic(base, method) and deterministic(cand, method))
        if detection:
            row = detection_row(base, cand, method, fold, present=(base_units, cand_units),
                                failed=failed, seed_may_change=seed_may_change,
                                bitwise=bitwise, n_boot=n_boot, seed=seed)
            if "mark" not in row:
                row["test"] = "noise" if (method, fold) in calibrated else "randomisation"
            rows.append(row)
            continue
        row: dict[str, Any] = dict(method=method, fold=fold)
        b_pred = base.predictions[(base.predictions["method"] == method)
                                  & (base.predictions["fold"] == fold)]
        c_pred = cand.predictions[(cand.predictions["method"] == method)
                                  & (cand.predictions["fold"] == fold)]
        fp_b, fp_c = _fingerprint(base, b_pred, fold), _fingerprint(cand, c_pred, fold)
        merged = None
        if b_pred.empty:
            row.update(mark="x", note="not in the baseline")
        elif fp_b != fp_c and not c_pred.empty:
            row.update(mark="x", note="different split fingerprint")
        elif c_pred.empty or c_pred["prediction"].isna().all() or (method, fold) in failed:
            row.update(mark="!", note="missing from the candidate" if c_pred.empty
                       else "failed in the candidate")
        elif fp_b != fp_c:
            row.update(mark="x", note="different split fingerprint")
        elif base.classes != cand.classes:
            row.update(mark="x", note="different class list")
        elif diff := config_difference(config_b, config_c, ignore_seed=seed_may_change):
            row.update(mark="x", note=f"different method configuration: {diff}")
        elif (merged := _paired(b_pred, c_pred)) is None:
            row.update(mark="x", note="the two runs label some videos differently")
        if merged is not None:
            row.update(_unit_statistics(merged, n_classes, n_boot=n_boot, seed=seed))
            if bitwise:
                row["test"] = "bitwise"
                differing = _differing_videos(merged)
                shown = ", ".join(differing[:5]) + (", ..." if len(differing) > 5 else "")
                row.update(mark="r" if differing else "=",
                           note=f"not reproduced: {len(differing)} of {len(merged)} videos "
                                f"differ ({shown})" if differing else "")
            else:
                row["test"] = "noise" if (method, fold) in calibrated else "mcnemar"
        rows.append(row)
    columns = ["method", "fold", "mark", "test", "note", "n", "top1_base", "top1_cand", "d_top1",
               "d_top1_low", "d_top1_high", "d_mca", "d_mca_low", "d_mca_high", "n_worse",
               "n_better", "p_value", "noise_mean", "noise_sd", "n_runs", "d_noise", "p_adjusted",
               "detectable_drop"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    for text in ("mark", "test", "note"):
        table[text] = table[text].astype(object)
    table["note"] = table["note"].fillna("")
    _judge_statistically(table, noise, alpha=alpha, tolerance=tolerance)
    status = int(table["mark"].isin(["-", "!", "r"]).any())
    table.attrs["comparison"] = {
        "same_environment": same_environment, "environment_differences": differences,
        "forced_statistical": bool(statistical), "calibrated": noise is not None,
        "alpha": alpha, "tolerance": tolerance, "task": base.task,
        "metric": DETECTION_METRIC if detection else "top-1",
        "environment_keys": [(base.environment or {}).get("key"),
                             (cand.environment or {}).get("key")],
    }
    return table, status


def _judge_statistically(table: pd.DataFrame, noise: pd.DataFrame | None, *, alpha: float,
                         tolerance: float) -> None:
    """Mark the rows whose ``test`` is ``noise``, ``mcnemar`` or ``randomisation``, with Holm
    across all of them.

    The family is every statistically judged row of the comparison: the probability of one
    false alarm or more across them stays at or below ``alpha`` (:func:`bench.report.noise.judge_family`).
    """
    judged = table["test"].isin(["noise", "mcnemar", "randomisation"])
    if not judged.any():
        return
    n_tests = int(judged.sum())
    by_noise, by_mcnemar = table["test"] == "noise", table["test"] == "mcnemar"
    # McNemar's exact test and the randomisation test are two-sided: one p-value for either
    # direction
    p_drop = table["p_value"].where(by_mcnemar | (table["test"] == "randomisation"))
    p_rise = p_drop.copy()
    if by_noise.any():
        rows = table.loc[by_noise]
        tests = noise_tests(pd.Series(rows["top1_cand"].to_numpy(),
                                      index=pd.MultiIndex.from_frame(rows[["method", "fold"]])),
                            noise, n_tests=n_tests, alpha=alpha, tolerance=tolerance)
        columns = ["noise_mean", "noise_sd", "n_runs", "d_noise", "detectable_drop"]
        table.loc[by_noise, columns] = tests[columns].to_numpy()
        p_drop[by_noise] = tests["p_drop"].to_numpy()
        p_rise[by_noise] = tests["p_rise"].to_numpy()
    table.loc[by_mcnemar, "detectable_drop"] = [
        _mcnemar_detectable_drop(int(n), n_tests, alpha, tolerance)
        for n in table.loc[by_mcnemar, "n"]]
    change = np.where(by_noise, table["d_noise"], table["d_top1"])
    verdict, p_adjusted = judge_family(p_drop, p_rise, change, alpha=alpha, tolerance=tolerance)
    marks = {"worse": "-", "better": "+", "same": "="}
    for i in np.flatnonzero(judged.to_numpy()):
        within = verdict[i] == "same" and p_adjusted[i] < alpha and change[i] != 0
        table.loc[table.index[i], ["mark", "note", "p_adjusted"]] = (
            marks[verdict[i]], "significant but within the tolerance" if within else "",
            p_adjusted[i])


def _units(data: RunData) -> list[tuple[str, int]]:
    units = data.predictions[["method", "fold"]].drop_duplicates()
    return [(str(m), int(f)) for m, f in units.itertuples(index=False)]


def _fingerprint(data: RunData, preds: pd.DataFrame, fold: int) -> str | None:
    if len(preds) and "fingerprint" in preds:
        return str(preds["fingerprint"].iloc[0])
    return data.fingerprint(fold)


def _fmt(value: float, interval: tuple[float, float] | None = None) -> str:
    if value is None or not np.isfinite(value):
        return ""
    text = f"{value:+.1f}"
    if interval is not None and all(np.isfinite(interval)):
        text += f" [{interval[0]:+.1f}, {interval[1]:+.1f}]"
    return text


def _environment_header(info: dict[str, Any]) -> list[str]:
    """The paragraph that says which kind of comparison was made, and why."""
    alpha = info.get("alpha", 0.05)
    keys = info.get("environment_keys") or [None, None]
    if info.get("same_environment"):
        return [f"**Same environment** (key `{keys[0]}`): deterministic methods must reproduce "
                "the baseline's predictions byte for byte; any difference is a "
                "reproducibility failure (`r`), whatever its size."]
    differences = info.get("environment_differences") or []
    if info.get("forced_statistical"):
        why = "the statistical comparison was asked for (`--statistical`)"
    else:
        shown = "; ".join(differences[:6]) + ("; ..." if len(differences) > 6 else "")
        why = (f"bitwise-equal predictions are not expected ({shown}): kernels chosen by "
               "instruction set, library build and thread count round differently, and training "
               "amplifies the difference")
    metric = info.get("metric", "top-1")
    if info.get("calibrated"):
        test = (f"each method's {metric} is judged against the baseline's run-to-run noise "
                "(`noise.csv`: Student-t prediction interval over its replicate runs)")
    elif info.get("task") == "detection":
        test = ("the baseline has no noise calibration, so a paired randomisation test over "
                "videos (the two runs' detections of random videos swapped) judges each method")
    else:
        test = ("the baseline has no noise calibration, so McNemar's exact test on the paired "
                "per-video correctness judges each method")
    return [f"**Different environments** (keys `{keys[0]}` → `{keys[1]}`): {why}. The "
            f"comparison is statistical: {test}, with Holm's adjustment across all methods "
            f"(family-wise false-alarm rate ≤ {alpha:g})."]


def comparison_markdown(table: pd.DataFrame, exit_status: int, *, baseline: str = "baseline",
                        candidate: str = "candidate",
                        tolerance: float = DEFAULT_TOLERANCE) -> str:
    """A Markdown summary of :func:`compare_runs` for a pull-request comment.

    It opens with the environment verdict (same environment: bitwise; different:
    statistical, and why) and lists per method the change, the tests' p-values and the
    smallest drop the comparison can detect.
    """
    info = table.attrs.get("comparison", {})
    metric = info.get("metric", "top-1")
    detection = info.get("task") == "detection"
    counts = table["mark"].value_counts()
    verdict = ("**Regression**: at least one method is significantly worse, not reproduced "
               "or failed." if exit_status else "No significant regression.")
    rows = []
    for r in table.itertuples(index=False):
        reference = r.noise_mean if np.isfinite(r.noise_mean) else r.top1_base
        detectable = ("any change" if r.test == "bitwise"
                      else detectable_drop_text(r.detectable_drop, reference))
        rows.append({
            "": f"`{r.mark}`", "method": f"`{r.method}`", "fold": str(r.fold),
            f"{metric} base → cand %": (f"{r.top1_base:.1f} → {r.top1_cand:.1f}"
                                        if np.isfinite(r.top1_base) else ""),
            f"Δ {metric} [95 % CI]": _fmt(r.d_top1, (r.d_top1_low, r.d_top1_high)),
            **({} if detection else {
                "Δ mean class acc. [95 % CI]": _fmt(r.d_mca, (r.d_mca_low, r.d_mca_high)),
                "worse / better videos": (f"{int(r.n_worse)} / {int(r.n_better)}"
                                          if np.isfinite(r.n_worse) else "")}),
            "noise: mean ± sd (runs)": (f"{r.noise_mean:.1f} ± {r.noise_sd:.1f} ({int(r.n_runs)})"
                                        if np.isfinite(r.noise_mean) else ""),
            "test": "" if not isinstance(r.test, str) else r.test,
            ("randomisation p" if detection else "McNemar p"):
                f"{r.p_value:.3g}" if np.isfinite(r.p_value) else "",
            "Holm p": f"{r.p_adjusted:.3g}" if np.isfinite(r.p_adjusted) else "",
            "detectable drop": detectable,
            "note": r.note,
        })
    legend = "; ".join(f"`{m}` {text}" for m, text in MARKS.items())
    summary = ", ".join(f"{counts.get(m, 0)} `{m}`" for m in MARKS)
    header = _environment_header(info) if info else []
    lines = [f"### actbench comparison: `{candidate}` against `{baseline}`", "", verdict, "",
             *header, "",
             f"({summary}; tolerance {tolerance:g} points of {metric}; changes in points; "
             "*detectable drop*: the smallest drop below the noise mean (or, without noise, "
             "below the baseline) that fails the gate at the strictest Holm step.)", "",
             pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
             if rows else "No method in either run.", "", f"Marks: {legend}.", ""]
    return "\n".join(lines)
