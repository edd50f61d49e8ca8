"""The localization task's part of the report: the frame-mAP leaderboard, per-class AP and a
few keyframes with their ground-truth and predicted boxes.

The leaderboard reads ``results.csv`` (the runner's ``frame_map@0.50``, ``person_ap@0.50``
and ``person_recall@0.50`` rows, :mod:`bench.tasks.localization.results`). Per-class AP is
recomputed from each unit's AVA files (``ground_truth.csv``, ``detections.csv``,
``label_map.pbtxt``, ``excluded_timestamps.csv``) with the AVA evaluator's settings, so that
what the report says and what the official evaluator would say come from the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.convergence import method_marks
from bench.report.localization_figures import keyframe_figure
from bench.report.text import (
    format_count,
    guarded,
    markdown_table,
    mean_std,
    pct,
    with_ci,
    year_text,
)
from bench.run.rundir import RunData, Unit, method_order
from bench.tasks.localization.results import (
    IOU_THRESHOLD,
    UNIT_FILES,
    UnitFiles,
    frame_result,
    read_unit_files,
)

__all__ = ["CONTENTS", "localization_leaderboard", "unit_files", "per_class_ap_table",
           "localization_sections"]

CONTENTS = ("[leaderboard](#leaderboard) · [per-class AP](#per-class-ap) · "
            "[keyframes](#keyframes)")

_TAG = f"{IOU_THRESHOLD:.2f}"
#: The leaderboard's metric columns: results.csv metric -> title.
_COLUMNS = {f"frame_map@{_TAG}": f"frame-mAP@{IOU_THRESHOLD:g}",
            f"person_ap@{_TAG}": f"person AP@{IOU_THRESHOLD:g}",
            f"person_recall@{_TAG}": f"person recall@{IOU_THRESHOLD:g}"}
_HEADLINE = f"frame_map@{_TAG}"


def localization_leaderboard(data: RunData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(summary, per_fold)``: one row per method (history order) and one per (method, fold).

    ``per_fold`` has a column per metric of ``results.csv`` (fractions) and ``ci_low`` /
    ``ci_high`` of frame-mAP@0.5; ``summary`` the means over folds, ``n_folds``, the cost, and
    the interval when there is one fold.
    """
    results = data.results
    wide = results.pivot_table(index=["method", "fold"], columns="metric", values="value",
                               aggfunc="first")
    headline = results[results["metric"] == _HEADLINE].set_index(["method", "fold"])
    wide["ci_low"] = headline.get("ci_low")
    wide["ci_high"] = headline.get("ci_high")
    rank = {m: i for i, m in enumerate(method_order(data))}
    per_fold = wide.reset_index()
    per_fold = per_fold.iloc[np.lexsort((per_fold["fold"].to_numpy(),
                                         per_fold["method"].map(rank).fillna(len(rank))))]
    per_fold = per_fold.reset_index(drop=True)
    rows = []
    for method in method_order(data):
        mine = per_fold[per_fold["method"] == method]
        card = data.methods.get(method, {})
        row: dict[str, Any] = {"method": method, "track": card.get("track"),
                               "year": card.get("year"), "n_folds": len(mine)}
        for metric in (*_COLUMNS, "train_time_s", "infer_clips_per_s"):
            row[metric] = mine[metric].mean() if metric in mine else np.nan
        one = len(mine) == 1
        row["ci_low"] = mine["ci_low"].iloc[0] if one else np.nan
        row["ci_high"] = mine["ci_high"].iloc[0] if one else np.nan
        rows.append(row)
    return pd.DataFrame(rows), per_fold


def _leaderboard_lines(data: RunData) -> list[str]:
    summary, per_fold = localization_leaderboard(data)
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
        elif metric == _HEADLINE:
            table[f"{title} % [95 % CI]"] = [with_ci(r[metric], r["ci_low"], r["ci_high"])
                                             for _, r in summary.iterrows()]
        else:
            table[f"{title} %"] = summary[metric].map(pct)
    table["train time"] = summary["train_time_s"].map(lambda v: format_count(v, "s"))
    table["inference videos/s"] = summary["infer_clips_per_s"].map(format_count)
    table["convergence"] = summary["method"].map(lambda m: marks.get(m, "–"))
    spread = ("mean ± standard deviation over folds" if several else
              "frame-mAP's interval is a 95 % bootstrap interval over the test videos")
    lines = ["## Leaderboard", "",
             "Spatio-temporal localization at keyframes (AVA protocol): frame-mAP is PASCAL VOC "
             "AP per action class of the actor boxes at box IoU >= 0.5 (each detection, by "
             "descending score, to the ground-truth box of its class in its keyframe with the "
             "highest IoU, a true positive if that box is free; the 50 best detections per "
             "keyframe; all-point interpolated AP), averaged over the classes with ground "
             "truth. Person AP and recall judge the actor boxes alone, whatever their actions. "
             f"Percentages; {spread}. Methods in the order of their paper's year; "
             "`random_boxes` is the floor.", "", markdown_table(table), ""]
    if several:
        fold_table = pd.DataFrame({
            "method": per_fold["method"].map(lambda m: f"`{m}`"),
            "fold": per_fold["fold"].astype(str),
            "frame-mAP@0.5 % [95 % CI]": [with_ci(r[_HEADLINE], r["ci_low"], r["ci_high"])
                                          for _, r in per_fold.iterrows()],
            **{f"{title} %": per_fold[metric].map(pct) for metric, title in _COLUMNS.items()
               if metric != _HEADLINE and metric in per_fold},
        })
        lines += ["### Per fold", "", markdown_table(fold_table), ""]
    return lines


def unit_files(data: RunData) -> list[tuple[str, int, UnitFiles]]:
    """``(method, fold, files)`` of every finished unit that wrote its four AVA files."""
    out = []
    for record in data.units or []:
        folder = Unit(record.unit.method, int(record.unit.fold)).directory(data.run_dir)
        if all((folder / name).is_file() for name in UNIT_FILES):
            out.append((record.unit.method, int(record.unit.fold), read_unit_files(folder)))
    return out


def per_class_ap_table(data: RunData, units=None) -> pd.DataFrame:
    """Frame AP at IoU 0.5 per class (rows, by name) and method (columns), mean over folds.

    Recomputed from the units' AVA files (``units``: what :func:`unit_files` returned, when
    the caller has read them already) with the evaluator's settings
    (:func:`bench.tasks.localization.results.frame_result`); a class without ground truth in a
    fold has no AP there.
    """
    columns: dict[str, list[pd.Series]] = {}
    names: dict[int, str] = {}
    for method, _, files in unit_files(data) if units is None else units:
        result = frame_result(files)
        names.update(files.classes)
        ap = pd.Series(result.ap[:, 0], index=[files.classes.get(int(c), c)
                                               for c in result.classes])
        columns.setdefault(method, []).append(ap)
    order = [m for m in method_order(data) if m in columns]
    table = pd.DataFrame({m: pd.concat(columns[m], axis=1).mean(axis=1) for m in order})
    known = [name for _, name in sorted(names.items()) if name in table.index]
    return table.loc[known + sorted(set(table.index) - set(known))]


def _per_class_lines(data: RunData, units) -> list[str]:
    table = per_class_ap_table(data, units)
    if table.empty:
        return []
    shown = table.map(pct).reset_index(names="class")
    shown.columns = ["class", *[f"`{m}`" for m in table.columns]]
    return ["## Per-class AP", "",
            "Frame AP at box IoU 0.5 in percent, per action class (mean over folds), recomputed "
            "from each unit's AVA files (`ground_truth.csv`, `detections.csv`, "
            "`label_map.pbtxt`, `excluded_timestamps.csv`), the files the official AVA "
            "evaluator reads.", "", markdown_table(shown), ""]


def _keyframe_lines(data: RunData, units, figures: Path) -> list[str]:
    if not units:
        return []
    first = min(fold for _, fold, _ in units)
    mine = [(m, files.ground_truth, files.detections) for m, fold, files in units
            if fold == first]
    classes = next(files.classes for _, fold, files in units if fold == first)
    size = (data.run.get("dataset", {}).get("meta", {}) or {}).get("frame_size")
    path = keyframe_figure(mine, classes, figures / "localization_keyframes.png", size)
    if path is None:
        return []
    return ["## Keyframes", "",
            f"Ground truth (solid black) against each method's best-scored boxes (dashed, as "
            f"many as the keyframe has ground-truth rows) on the test keyframes of fold {first} "
            "with the most actors, drawn on blank frames of the videos' size.", "",
            f"![keyframes](figures/{path.name})", ""]


def localization_sections(data: RunData, figures: Path, solve_threshold: float) -> list[str]:
    """Leaderboard, per-class AP and the keyframe figure (``solve_threshold`` unused)."""
    units = unit_files(data)  # each unit's AVA files, read once for the sections
    return (_leaderboard_lines(data) + _per_class_lines(data, units)
            + guarded("Keyframes", _keyframe_lines, data, units, figures))
