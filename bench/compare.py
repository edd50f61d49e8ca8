"""Compare two run directories: per method and fold, is the candidate better, worse, the same?

Statistics first, threshold second (the asv rule): for every (method, fold) present in both
runs with the same split fingerprint and the same method configuration, the per-video
correctness of the two runs is paired on ``video_id`` and

* McNemar's exact test -- a two-sided binomial test on the discordant videos (right in one run,
  wrong in the other) -- gives the p-value of "the two runs are equally accurate";
* a paired bootstrap over videos gives 95 % intervals for the change in top-1 and in mean
  class accuracy.

Marks: ``+`` significantly better by more than the tolerance, ``-`` significantly worse by more
than the tolerance, ``=`` no significant change (or one within the tolerance), ``x`` not
comparable (different fingerprint or method configuration, or absent from the baseline), ``!``
present in the baseline but missing or failed in the candidate.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from bench.report_data import RunData, correct_mask, load_run, method_order

__all__ = ["compare_runs", "comparison_markdown", "MARKS", "DEFAULT_TOLERANCE"]

#: Default tolerance: a significant drop must exceed this many points of top-1 to fail.
DEFAULT_TOLERANCE = 2.0

MARKS = {
    "+": "significantly better",
    "-": "significantly worse",
    "=": "no significant change",
    "x": "not comparable",
    "!": "failed or missing in the candidate only",
}

#: Card fields that describe a method without changing what it computes.
_DOC_FIELDS = ("description", "paper")


def _method_config(data: RunData, method: str) -> dict[str, Any]:
    """What must be equal for two runs of ``method`` to be compared."""
    card = {k: v for k, v in data.methods.get(method, {}).items() if k not in _DOC_FIELDS}
    config = data.run.get("config", {}) or {}
    params = (config.get("method_params") or {}).get(method, {})
    return {"card": card, "method_params": params, "quick": config.get("quick"),
            "seed": data.run.get("seed", config.get("seed"))}


def _config_difference(base: dict[str, Any], cand: dict[str, Any]) -> str:
    keys = []
    for part in ("card", "method_params"):
        b, c = base[part] or {}, cand[part] or {}
        keys += [f"{part}.{k}" for k in sorted(set(b) | set(c)) if b.get(k) != c.get(k)]
    keys += [k for k in ("quick", "seed") if base[k] != cand[k]]
    return ", ".join(keys)


def _paired_bootstrap(labels: np.ndarray, right_base: np.ndarray, right_cand: np.ndarray,
                      n_classes: int, n_boot: int, seed: int) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of the paired change in top-1 and mean class accuracy."""
    from bench.metrics import _bootstrap_stats  # the resample statistics of bench.metrics

    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    top_b, mca_b = _bootstrap_stats(right_base, labels, n_classes, indices)
    top_c, mca_c = _bootstrap_stats(right_cand, labels, n_classes, indices)
    out = {}
    for name, diff in (("top1", top_c - top_b), ("mean_class_acc", mca_c - mca_b)):
        low, high = np.percentile(diff, [2.5, 97.5])
        out[name] = (100 * float(low), 100 * float(high))
    return out


def _mean_class_accuracy(labels: np.ndarray, right: np.ndarray) -> float:
    classes = np.unique(labels)
    return float(np.mean([right[labels == c].mean() for c in classes]))


def _compare_unit(base: pd.DataFrame, cand: pd.DataFrame, n_classes: int, *, tolerance: float,
                  alpha: float, n_boot: int, seed: int) -> dict[str, Any]:
    from scipy.stats import binomtest

    # A video scored in one run only failed in the other (same fingerprint, same test set):
    # the outer join keeps it, and its missing prediction counts as wrong.
    columns = ["video_id", "label", "prediction"]
    merged = base[columns].merge(cand[columns], on="video_id", how="outer", suffixes=("_b", "_c"))
    both = merged["label_b"].notna() & merged["label_c"].notna()
    if not np.array_equal(merged.loc[both, "label_b"], merged.loc[both, "label_c"]):
        return dict(mark="x", note="the two runs label some videos differently")
    merged["label_b"] = merged["label_b"].fillna(merged["label_c"])
    merged["label_c"] = merged["label_c"].fillna(merged["label_b"])
    labels = merged["label_b"].to_numpy(dtype=int)
    right_b = correct_mask(merged.rename(columns={"label_b": "label", "prediction_b": "prediction"}))
    right_c = correct_mask(merged.rename(columns={"label_c": "label", "prediction_c": "prediction"}))
    worse = int(np.sum(right_b & ~right_c))  # right in baseline, wrong in candidate
    better = int(np.sum(~right_b & right_c))
    p_value = 1.0 if worse + better == 0 else float(binomtest(better, worse + better, 0.5).pvalue)
    d_top1 = 100 * (right_c.mean() - right_b.mean())
    d_mca = 100 * (_mean_class_accuracy(labels, right_c) - _mean_class_accuracy(labels, right_b))
    ci = _paired_bootstrap(labels, right_b, right_c, n_classes, n_boot, seed)
    significant = p_value < alpha
    if significant and d_top1 < -tolerance:
        mark, note = "-", ""
    elif significant and d_top1 > tolerance:
        mark, note = "+", ""
    else:
        mark = "="
        note = "significant but within the tolerance" if significant and d_top1 != 0 else ""
    return dict(mark=mark, note=note, n=len(merged), top1_base=100 * right_b.mean(),
                top1_cand=100 * right_c.mean(), d_top1=d_top1, d_top1_low=ci["top1"][0],
                d_top1_high=ci["top1"][1], d_mca=d_mca, d_mca_low=ci["mean_class_acc"][0],
                d_mca_high=ci["mean_class_acc"][1], n_worse=worse, n_better=better,
                p_value=p_value)


def compare_runs(baseline_dir: str | os.PathLike, candidate_dir: str | os.PathLike, *,
                 tolerance: float = DEFAULT_TOLERANCE, alpha: float = 0.05, n_boot: int = 2000,
                 seed: int = 0, methods: Collection[str] | None = None
                 ) -> tuple[pd.DataFrame, int]:
    """Compare a candidate run with a baseline run, per method and fold.

    Parameters
    ----------
    baseline_dir, candidate_dir : path-like
        Run directories (``run.json``, ``results.csv``, ``predictions.csv``).
    tolerance : float, default 2.0
        Points of top-1: a significant change counts (``+`` / ``-``) only beyond it.
    alpha : float, default 0.05
        Significance level of McNemar's exact test.
    n_boot : int, default 2000
        Paired bootstrap resamples for the intervals of the changes.
    seed : int, default 0
        Seed of the bootstrap: same seed, same intervals.
    methods : collection of str, optional
        Compare only these methods; the other methods of either run get no row and do not
        count towards the exit status. ``None`` (default) = every method of either run.

    Returns
    -------
    table : DataFrame
        One row per (method, fold) of either run (of ``methods`` only, when given):
        ``method, fold, mark, note, n, top1_base, top1_cand, d_top1, d_top1_low, d_top1_high,
        d_mca, d_mca_low, d_mca_high, n_worse, n_better, p_value`` (accuracies and changes in
        points; the interval is 95 %).
    exit_status : int
        1 when any row is ``-`` (significantly worse by more than the tolerance) or ``!``
        (a method that produced results in the baseline failed in the candidate), else 0.

    Notes
    -----
    McNemar's exact test conditions on the ``b + c`` discordant videos: under the null
    hypothesis each is equally likely to favour either run, so ``c ~ Binomial(b + c, 1/2)``
    [1]_. A video that failed (no prediction) counts as wrong. The paired bootstrap resamples
    videos and recomputes both runs' statistics on the same resample [2]_.

    References
    ----------
    .. [1] McNemar, Q. (1947). "Note on the sampling error of the difference between
       correlated proportions or percentages". Psychometrika 12(2), 153-157.
       doi:10.1007/BF02295996
    .. [2] Efron, B., Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
       Hall. doi:10.1201/9780429246593
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 points of top-1; got {tolerance}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    base, cand = load_run(baseline_dir), load_run(candidate_dir)
    n_classes = len(base.classes)
    failed_units = _failed_units(cand)
    rank: dict[str, int] = {}
    for method in method_order(base) + method_order(cand):  # history order, baseline first
        rank.setdefault(method, len(rank))
    keys = sorted(set(_units(base)) | set(_units(cand)), key=lambda k: (rank[k[0]], k[0], k[1]))
    if methods is not None:
        chosen = set(methods)
        keys = [key for key in keys if key[0] in chosen]
    rows = []
    for method, fold in keys:
        row: dict[str, Any] = dict(method=method, fold=fold)
        b_pred = base.predictions[(base.predictions["method"] == method)
                                  & (base.predictions["fold"] == fold)]
        c_pred = cand.predictions[(cand.predictions["method"] == method)
                                  & (cand.predictions["fold"] == fold)]
        fp_b, fp_c = _fingerprint(base, b_pred, fold), _fingerprint(cand, c_pred, fold)
        if b_pred.empty:
            row.update(mark="x", note="not in the baseline")
        elif fp_b != fp_c and not c_pred.empty:
            row.update(mark="x", note="different split fingerprint")
        elif c_pred.empty or c_pred["prediction"].isna().all() or (method, fold) in failed_units:
            row.update(mark="!", note="missing from the candidate" if c_pred.empty
                       else "failed in the candidate")
        elif fp_b != fp_c:
            row.update(mark="x", note="different split fingerprint")
        elif base.classes != cand.classes:
            row.update(mark="x", note="different class list")
        elif diff := _config_difference(_method_config(base, method),
                                        _method_config(cand, method)):
            row.update(mark="x", note=f"different method configuration: {diff}")
        else:
            row.update(_compare_unit(b_pred, c_pred, n_classes, tolerance=tolerance, alpha=alpha,
                                     n_boot=n_boot, seed=seed))
        rows.append(row)
    columns = ["method", "fold", "mark", "note", "n", "top1_base", "top1_cand", "d_top1",
               "d_top1_low", "d_top1_high", "d_mca", "d_mca_low", "d_mca_high", "n_worse",
               "n_better", "p_value"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    table["note"] = table["note"].fillna("")
    status = int(table["mark"].isin(["-", "!"]).any())
    return table, status


def _units(data: RunData) -> list[tuple[str, int]]:
    units = data.predictions[["method", "fold"]].drop_duplicates()
    return [(str(m), int(f)) for m, f in units.itertuples(index=False)]


def _failed_units(data: RunData) -> set[tuple[str, int]]:
    """Units whose whole run failed (a failure row with stage ``unit`` or ``method``)."""
    failures = data.failures
    if failures.empty or "stage" not in failures:
        return set()
    whole = failures[failures["stage"].astype(str).isin(["unit", "method", "fit"])]
    return {(str(m), int(f)) for m, f in whole[["method", "fold"]].itertuples(index=False)
            if pd.notna(f)}


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


def comparison_markdown(table: pd.DataFrame, exit_status: int, *, baseline: str = "baseline",
                        candidate: str = "candidate",
                        tolerance: float = DEFAULT_TOLERANCE) -> str:
    """A Markdown summary of :func:`compare_runs` for a pull-request comment."""
    counts = table["mark"].value_counts()
    verdict = ("**Regression**: at least one method is significantly worse or failed."
               if exit_status else "No significant regression.")
    rows = []
    for r in table.itertuples(index=False):
        rows.append({
            "": f"`{r.mark}`", "method": f"`{r.method}`", "fold": str(r.fold),
            "top-1 base → cand %": (f"{r.top1_base:.1f} → {r.top1_cand:.1f}"
                                    if np.isfinite(r.top1_base) else ""),
            "Δ top-1 [95 % CI]": _fmt(r.d_top1, (r.d_top1_low, r.d_top1_high)),
            "Δ mean class acc. [95 % CI]": _fmt(r.d_mca, (r.d_mca_low, r.d_mca_high)),
            "worse / better videos": (f"{int(r.n_worse)} / {int(r.n_better)}"
                                      if np.isfinite(r.n_worse) else ""),
            "McNemar p": f"{r.p_value:.3g}" if np.isfinite(r.p_value) else "",
            "note": r.note,
        })
    legend = "; ".join(f"`{m}` {text}" for m, text in MARKS.items())
    summary = ", ".join(f"{counts.get(m, 0)} `{m}`" for m in MARKS)
    lines = [f"### actbench comparison: `{candidate}` against `{baseline}`", "", verdict,
             f"({summary}; tolerance {tolerance:g} points of top-1, McNemar exact test at "
             "p < 0.05; changes in points.)", "",
             pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
             if rows else "No method in either run.", "", f"Marks: {legend}.", ""]
    return "\n".join(lines)
