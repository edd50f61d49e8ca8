"""The detection task's part of the report: the mAP leaderboard, per-class AP, the average
recall of each method's detections taken as class-agnostic proposals (AR@AN,
:mod:`bench.tasks.detection.proposals`), an error analysis in the spirit of DETAD
(false-positive types, AP by instance duration; :mod:`bench.tasks.detection.diagnosis`) and a
timeline of a few test videos.

The leaderboard reads ``results.csv`` (the runner's ``map@<t>``, ``map_thumos14`` and
``map_activitynet`` rows, :mod:`bench.tasks.detection.results`). Per-class AP is recomputed
from each unit's ``ground_truth.json`` and ``detections.json``, the files in the field's own
formats, so that what the report says and what the official evaluator would say come from the
same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.compare_detection import detection_units, unit_folder
from bench.report.convergence import method_marks
from bench.report.detection_figures import timeline_figure
from bench.report.detection_generations import detection_generation_steps, floor_comparison
from bench.report.text import (
    format_count,
    guarded,
    markdown_table,
    mean_std,
    pct,
    with_ci,
    year_text,
)
from bench.run.rundir import RunData, method_order
from bench.tasks.detection import (
    average_recall,
    evaluate_detection,
    read_database_json,
    read_results_json,
)
from bench.tasks.detection.diagnosis import (
    ERROR_TYPES,
    ap_by_duration,
    ap_by_group,
    back_to_back,
    false_positive_profile,
)
from bench.tasks.detection.results import (
    DETECTIONS_FILE,
    GROUND_TRUTH_FILE,
    PROPOSALS_FILE,
    REPORTED_THRESHOLDS,
)

__all__ = ["CONTENTS", "AR_AT", "detection_leaderboard", "unit_tables", "per_class_ap_table",
           "average_recall_table", "detection_sections"]

CONTENTS = ("[leaderboard](#leaderboard) · [per-class AP](#per-class-ap) · [proposals]"
            "(#proposals-average-recall) · [error analysis](#error-analysis) · [what each "
            "generation added](#what-each-generation-added) · [timelines](#timelines)")

#: The numbers of proposals per video the proposals table reports AR at.
AR_AT = (1, 5, 10, 100)

#: The leaderboard's mAP columns: results.csv metric -> title.
_COLUMNS = {**{f"map@{t:.2f}": f"mAP@{t:g}" for t in REPORTED_THRESHOLDS},
            "map_thumos14": "mAP 0.3:0.7 (THUMOS'14)",
            "map_activitynet": "mAP 0.5:0.95 (ActivityNet)"}


def detection_leaderboard(data: RunData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(summary, per_fold)``: one row per method (history order) and one per (method, fold).

    ``per_fold`` has a column per metric of :data:`_COLUMNS` (fractions) and ``ci_low`` /
    ``ci_high`` of ``map@0.50``; ``summary`` the means over folds, ``n_folds`` and the cost.
    """
    results = data.results
    wide = results.pivot_table(index=["method", "fold"], columns="metric", values="value",
                               aggfunc="first").reset_index()
    at_half = results[results["metric"] == "map@0.50"].set_index(["method", "fold"])
    per_fold = wide.set_index(["method", "fold"])
    per_fold["ci_low"] = at_half.get("ci_low")
    per_fold["ci_high"] = at_half.get("ci_high")
    rank = {m: i for i, m in enumerate(method_order(data))}
    per_fold = per_fold.reset_index()
    per_fold = per_fold.iloc[np.lexsort((per_fold["fold"].to_numpy(),
                                         per_fold["method"].map(rank).fillna(len(rank))))]
    per_fold = per_fold.reset_index(drop=True)
    rows = []
    for method in method_order(data):
        mine = per_fold[per_fold["method"] == method]
        card = data.methods.get(method, {})
        row: dict[str, Any] = {"method": method, "track": card.get("track"),
                               "year": card.get("year"), "n_folds": len(mine)}
        for metric in (*_COLUMNS, "train_time_s", "infer_clips_per_s", "params"):
            row[metric] = mine[metric].mean() if metric in mine else np.nan
        one = len(mine) == 1
        row["ci_low"] = mine["ci_low"].iloc[0] if one else np.nan
        row["ci_high"] = mine["ci_high"].iloc[0] if one else np.nan
        rows.append(row)
    return pd.DataFrame(rows), per_fold


def _leaderboard_lines(data: RunData) -> list[str]:
    summary, per_fold = detection_leaderboard(data)
    several = bool(len(summary) and summary["n_folds"].max() > 1)
    marks = method_marks(data)
    table = pd.DataFrame({
        "method": summary["method"].map(lambda m: f"`{m}`"),
        "track": summary["track"].fillna("–"),
        "year": [year_text(r.year, r.track) for r in summary.itertuples()],
    })
    for metric, title in _COLUMNS.items():
        if several:
            table[f"{title} %"] = [mean_std(per_fold.loc[per_fold["method"] == m, metric])
                                   if metric in per_fold else "–" for m in summary["method"]]
        elif metric == "map@0.50":
            table[f"{title} % [95 % CI]"] = [with_ci(r["map@0.50"], r["ci_low"], r["ci_high"])
                                             for _, r in summary.iterrows()]
        else:
            table[f"{title} %"] = summary[metric].map(pct)
    table["train time"] = summary["train_time_s"].map(lambda v: format_count(v, "s"))
    table["inference videos/s"] = summary["infer_clips_per_s"].map(format_count)
    table["convergence"] = summary["method"].map(lambda m: marks.get(m, "–"))
    spread = ("mean ± standard deviation over folds" if several else
              "mAP@0.5's interval is a 95 % bootstrap interval over the test videos")
    lines = ["## Leaderboard", "",
             "Temporal detection: mean average precision over the classes at temporal IoU "
             "thresholds (ActivityNet matching: detections of a class by descending score, "
             "each matched to the unmatched ground-truth instance of highest tIoU in its video; "
             f"VOC all-point interpolated AP). Percentages; {spread}. Methods in the order of "
             "their paper's year; `random_segments` is the floor.", "", markdown_table(table),
             ""]
    if several:
        fold_table = pd.DataFrame({
            "method": per_fold["method"].map(lambda m: f"`{m}`"),
            "fold": per_fold["fold"].astype(str),
            "mAP@0.5 % [95 % CI]": [with_ci(r["map@0.50"], r["ci_low"], r["ci_high"])
                                    for _, r in per_fold.iterrows()],
            "mAP 0.3:0.7 %": per_fold["map_thumos14"].map(pct),
            "mAP 0.5:0.95 %": per_fold["map_activitynet"].map(pct),
        })
        lines += ["### Per fold", "", markdown_table(fold_table), ""]
    return lines


def unit_tables(data: RunData) -> list[tuple[str, int, pd.DataFrame, pd.DataFrame]]:
    """``(method, fold, ground truth, detections)`` of every unit with both files
    (:func:`bench.report.compare_detection.detection_units`)."""
    out = []
    for method, fold in detection_units(data):
        folder = unit_folder(data, method, fold)
        out.append((method, fold, read_database_json(folder / GROUND_TRUTH_FILE).segments,
                    read_results_json(folder / DETECTIONS_FILE)))
    return out


def per_class_ap_table(data: RunData, threshold: float = 0.5, tables=None) -> pd.DataFrame:
    """AP at ``threshold`` per class (rows) and method (columns), the mean over folds.

    Read from the units' ``ground_truth.json`` / ``detections.json`` (``tables``: what
    :func:`unit_tables` returned, when the caller has read them already); a unit without them
    is left out.
    """
    columns: dict[str, list[pd.Series]] = {}
    for method, _, truth, detections in unit_tables(data) if tables is None else tables:
        result = evaluate_detection(truth, detections, (threshold,))
        ap = pd.Series(result.ap[:, 0], index=list(result.classes))
        columns.setdefault(method, []).append(ap)
    order = [m for m in method_order(data) if m in columns]
    table = pd.DataFrame({m: pd.concat(columns[m], axis=1).mean(axis=1) for m in order})
    known = [c for c in data.classes if c in table.index]
    return table.loc[known + sorted(set(table.index) - set(known))]


def _per_class_lines(data: RunData, tables) -> list[str]:
    table = per_class_ap_table(data, tables=tables)
    if table.empty:
        return []
    shown = table.map(pct).reset_index(names="class")
    shown.columns = ["class", *[f"`{m}`" for m in table.columns]]
    return ["## Per-class AP", "", "AP at tIoU 0.5 in percent, per class (mean over folds), "
            "recomputed from each unit's `ground_truth.json` and `detections.json`.", "",
            markdown_table(shown), ""]


def average_recall_table(data: RunData, tables=None) -> pd.DataFrame:
    """Per method (history order): AR@AN for AN in :data:`AR_AT` and the AR-AN curve's AUC
    (fractions, mean over folds), of its detections taken as class-agnostic proposals.

    The proposals are a unit's ``proposals.json`` (every detection, of any class); a run
    written before that file existed falls back to ``detections.json``.
    """
    curves: dict[str, list[dict]] = {}
    for method, fold, truth, detections in unit_tables(data) if tables is None else tables:
        if truth.empty:
            continue
        proposals = unit_folder(data, method, fold) / PROPOSALS_FILE
        if proposals.is_file():
            detections = read_results_json(proposals, proposals=True)
        recall = average_recall(truth, detections, max_proposals=max(AR_AT))
        curves.setdefault(method, []).append(
            {**{f"AR@{n}": recall.at(n) for n in AR_AT}, "AUC": recall.auc})
    order = [m for m in method_order(data) if m in curves]
    return pd.DataFrame([{"method": m, **pd.DataFrame(curves[m]).mean().to_dict()}
                         for m in order])


def _average_recall_lines(data: RunData, tables) -> list[str]:
    table = average_recall_table(data, tables)
    if table.empty:
        return []
    shown = table.assign(method=table["method"].map(lambda m: f"`{m}`"))
    for column in shown.columns[1:]:
        shown[column] = shown[column].map(pct)
    return ["## Proposals: average recall", "",
            "Each method's detections taken as class-agnostic proposals, ranked per video by "
            "score: the share of ground-truth instances one of a video's top AN proposals "
            "overlaps with tIoU >= t, averaged over t = 0.5:0.05:0.95 (AR@AN, the ActivityNet "
            "proposal task's metric; `bench.tasks.detection.proposals`), in percent, mean over "
            "folds. AUC is the area under the AR-AN curve for AN = 1..100, over 100. A method "
            "can rank well (mAP) with few proposals, or recall much with poorly ranked ones; "
            "this table separates finding the instances from labelling and ranking them.", "",
            markdown_table(shown), ""]


def _error_lines(data: RunData, tables) -> list[str]:
    if not tables:
        return []
    profiles: dict[str, pd.Series] = {}
    durations: dict[str, list[pd.Series]] = {}
    boundaries: dict[str, list[pd.Series]] = {}
    for method, _, truth, detections in tables:
        profile = false_positive_profile(truth, detections)
        profiles[method] = profiles.get(method, 0) + profile
        durations.setdefault(method, []).append(ap_by_duration(truth, detections))
        touching = back_to_back(truth)
        groups = {"back-to-back": touching, "isolated": ~touching}
        boundaries.setdefault(method, []).append(pd.concat(
            [ap_by_group(truth, detections, groups, alpha).add_suffix(f" @{alpha:g}")
             for alpha in (0.5, 0.7)]))
    order = [m for m in method_order(data) if m in profiles]
    rows = []
    for method in order:
        counts = profiles[method]
        total = max(1, int(counts.sum()))
        rows.append({"method": f"`{method}`", "top-G detections": str(int(counts.sum())),
                     **{t: f"{100 * counts[t] / total:.0f} %" for t in ERROR_TYPES}})
    by_length = pd.DataFrame({f"`{m}`": pd.concat(durations[m], axis=1).mean(axis=1)
                              for m in order}).T
    shown = by_length.map(pct).reset_index(names="method")
    by_boundary = pd.DataFrame({f"`{m}`": pd.concat(boundaries[m], axis=1).mean(axis=1)
                                for m in order}).T
    boundary_shown = by_boundary.map(pct).reset_index(names="method")
    return ["## Error analysis", "",
            "What the top detections of each method are, at tIoU 0.5 (DETAD, Alwassel et al. "
            "2018): each class's top-G detections (G = its number of instances), summed over "
            "classes and folds, as true positives or one false-positive type: *duplicate* (a "
            "second hit on a found instance), *localization* (its class, 0.1 <= tIoU < 0.5), "
            "*wrong label* (another class at tIoU >= 0.5), *confusion* (another class, "
            "0.1 <= tIoU < 0.5), *background* (tIoU < 0.1 with every instance).", "",
            markdown_table(pd.DataFrame(rows)), "",
            "mAP@0.5 % by instance duration (mean over folds): the instances of one bucket are "
            "the ground truth, detections of instances outside it are left out. Fixed-length "
            "windows lose the short or the long ones; boundary regression should not.", "",
            markdown_table(shown), "",
            "mAP % on *back-to-back* instances (sharing a boundary with another instance of the "
            "video, no gap: two segments to split at the right frame) and on *isolated* ones, "
            "at tIoU 0.5 and 0.7 (mean over folds; same rule as by duration). A method that "
            "merges two touching instances, or misplaces the boundary between them, loses the "
            "first columns, most at 0.7.", "",
            markdown_table(boundary_shown), ""]


def _generation_lines(data: RunData, tables) -> list[str]:
    steps = detection_generation_steps(data, tables, seed=int(data.run.get("seed", 0) or 0))
    if steps.empty:
        return []
    lines = ["## What each generation added", "",
             "The best method of each generation (year; the random floor first) against the "
             "best of the one before, on the same test videos: the change in mAP@0.5 (points, "
             "mean over folds; with one fold, its paired bootstrap 95 % interval over videos "
             "and the two-sided randomisation p-value of swapping the two methods' detections "
             "of random videos), and the two outcomes (true positive or a false-positive "
             "type) whose share of the top detections moved most (points; see *Error "
             "analysis*).", ""]
    for r in steps.to_dict("records"):
        interval = (f" [{r['d_low']:+.1f}, {r['d_high']:+.1f}], p = {r['p_value']:.3g}"
                    if np.isfinite(r["d_low"]) else f" ({r['n_folds']} folds)")
        shares = {t: r[f"d_share:{t}"] for t in ERROR_TYPES}
        moved = sorted(shares, key=lambda t: -abs(shares[t]))[:2]
        change = ", ".join(f"{t} {shares[t]:+.0f}" for t in moved)
        lines.append(f"- `{r['from_method']}` ({r['from_generation']}) → `{r['to_method']}` "
                     f"({r['to_generation']}): mAP@0.5 {r['d_map']:+.1f} points{interval}; "
                     f"top detections: {change}.")
    return [*lines, "", *_floor_lines(data, tables)]


def _floor_lines(data: RunData, tables) -> list[str]:
    table = floor_comparison(data, tables, seed=int(data.run.get("seed", 0) or 0))
    if table.empty:
        return []
    floor = table["floor"].iloc[0]
    shown = pd.DataFrame({
        "method": table["method"].map(lambda m: f"`{m}`"), "fold": table["fold"],
        f"`{floor}` mAP@0.5 %": table["map_floor"].map(lambda v: f"{v:.1f}"),
        "method mAP@0.5 %": table["map_method"].map(lambda v: f"{v:.1f}"),
        "Δ [95 % CI] points": [f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]" for d, lo, hi in
                               zip(table["d_map"], table["d_low"], table["d_high"],
                                   strict=True)],
        "randomisation p": table["p_value"].map(lambda v: f"{v:.3g}"),
        "beats the floor": table["beats"].map({True: "yes", False: "no"})})
    beaten = table.groupby("method", sort=False)["beats"].all()
    verdict = ("every method beats it on every fold" if beaten.all() else
               "not beaten on every fold by: " + ", ".join(f"`{m}`" for m in beaten.index[
                   ~beaten.to_numpy()]))
    return ["### Against the random floor", "",
            f"Each method against `{floor}` on the same test videos of each fold: mAP@0.5, the "
            "paired bootstrap 95 % interval of the change over videos and the randomisation "
            "p-value (`bench.tasks.detection.paired`); a method beats the floor where the "
            f"whole interval is above zero. Here {verdict}.", "", markdown_table(shown), ""]


def _timeline_lines(tables, figures: Path) -> list[str]:
    if not tables:
        return []
    first = min(fold for _, fold, _, _ in tables)
    tables = [t for t in tables if t[1] == first]
    path = timeline_figure(tables, figures / "detection_timelines.png")
    if path is None:
        return []
    return ["## Timelines", "",
            "Ground truth (top row of each video) against each method's detections with a "
            "score in its top 10 for that video, on the first test videos of the first fold; "
            "colour is the class.", "", f"![detection timelines](figures/{path.name})", ""]


def detection_sections(data: RunData, figures: Path, solve_threshold: float) -> list[str]:
    """Leaderboard, per-class AP, proposals' average recall, error analysis and timelines
    (``solve_threshold`` unused)."""
    tables = unit_tables(data)  # each unit's two JSON files, read once for the three sections
    return (_leaderboard_lines(data) + _per_class_lines(data, tables)
            + guarded("Proposals", _average_recall_lines, data, tables)
            + guarded("Error analysis", _error_lines, data, tables)
            + guarded("What each generation added", _generation_lines, data, tables)
            + guarded("Timelines", _timeline_lines, tables, figures))
