"""The recognition task's part of the report: leaderboard, per-class F1, confusion matrices and
the history of the field (methods by year, accuracy against year and cost, and *What each
generation added*, written from the run's numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.convergence import method_marks
from bench.report.generations import (
    camera_motion_accuracy,
    describe_pair,
    generation_deltas,
    pair_accuracy,
)
from bench.report.text import (
    format_count,
    guarded,
    markdown_table,
    mean_std,
    p_value,
    pct,
    with_ci,
    year_text,
)
from bench.run.rundir import RunData, method_order

__all__ = ["leaderboard", "recognition_sections", "CONTENTS"]

#: The report's table-of-contents entries of these sections.
CONTENTS = ("[leaderboard](#leaderboard) · [per-class F1](#per-class-f1) · [the history of the "
            "field](#the-history-of-the-field) · [what each generation added]"
            "(#what-each-generation-added) · [confusion matrices](#confusion-matrices)")

#: Metrics shown as percentages in the leaderboard, in column order.
SHARE_METRICS = {"mean_class_acc": "mean class acc.", "macro_f1": "macro-F1", "top5": "top-5"}


def leaderboard(data: RunData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numbers behind the leaderboard.

    Returns
    -------
    summary : DataFrame
        One row per method (history order): method, track, year, top1 (mean over folds),
        top1_std, ci_low, ci_high (fold 1's interval when there is one fold, else NaN),
        mean_class_acc, macro_f1, top5 (means), params, flops_per_clip, train_time_s,
        infer_clips_per_s, n_folds.
    per_fold : DataFrame
        Method × fold rows with top1, ci_low, ci_high, mean_class_acc, macro_f1, top5.
    """
    results = data.results
    cards = data.methods
    wide = results.pivot_table(index=["method", "fold"], columns="metric", values="value",
                               aggfunc="first")
    top1 = results[results["metric"] == "top1"].set_index(["method", "fold"])
    per_fold = pd.DataFrame(index=wide.index)
    for metric in ("top1", "mean_class_acc", "macro_f1", "top5"):
        per_fold[metric] = wide[metric] if metric in wide else np.nan
    per_fold["ci_low"] = top1.get("ci_low")
    per_fold["ci_high"] = top1.get("ci_high")
    rank = {m: i for i, m in enumerate(method_order(data))}
    per_fold = per_fold.reset_index()
    per_fold = per_fold.sort_values(["method", "fold"], key=lambda c: c.map(rank) if c.name ==
                                    "method" else c, kind="stable").reset_index(drop=True)
    rows = []
    for method in method_order(data):
        card = cards.get(method, {})
        folds = per_fold[per_fold["method"] == method]
        mine = wide.loc[method] if method in wide.index.get_level_values(0) else pd.DataFrame()
        track = card.get("track")
        if track is None and method in results["method"].values:
            track = results.loc[results["method"] == method, "track"].iloc[0]
        row: dict[str, Any] = dict(method=method, track=track, year=card.get("year"),
                                   n_folds=len(folds))
        row["top1"] = folds["top1"].mean()
        row["top1_std"] = folds["top1"].std(ddof=1) if len(folds) > 1 else np.nan
        row["ci_low"] = folds["ci_low"].iloc[0] if len(folds) == 1 else np.nan
        row["ci_high"] = folds["ci_high"].iloc[0] if len(folds) == 1 else np.nan
        for metric in ("mean_class_acc", "macro_f1", "top5"):
            row[metric] = folds[metric].mean()
        for metric in ("params", "flops_per_clip", "train_time_s", "infer_clips_per_s"):
            value = mine[metric].mean() if metric in mine else np.nan
            if not np.isfinite(value) and metric in ("params", "flops_per_clip"):
                # run.json's card: "params" there may be the method's parameter dict.
                known = card.get(metric)
                value = float(known) if isinstance(known, int | float) else np.nan
            row[metric] = value
        rows.append(row)
    return pd.DataFrame(rows), per_fold


def leaderboard_section(summary: pd.DataFrame, per_fold: pd.DataFrame,
                        marks: dict[str, str] | None = None) -> list[str]:
    several = summary["n_folds"].max() > 1 if len(summary) else False
    table = pd.DataFrame()
    table["method"] = summary["method"].map(lambda m: f"`{m}`")
    table["track"] = summary["track"].fillna("–")
    table["year"] = [year_text(r.year, r.track) for r in summary.itertuples()]
    if several:
        table["top-1 % (mean ± std over folds)"] = [
            mean_std(per_fold.loc[per_fold["method"] == m, "top1"]) for m in summary["method"]]
    else:
        table["top-1 % [95 % CI]"] = [with_ci(r.top1, r.ci_low, r.ci_high)
                                      for r in summary.itertuples()]
    for metric, title in SHARE_METRICS.items():
        if several:
            table[f"{title} %"] = [mean_std(per_fold.loc[per_fold["method"] == m, metric])
                                   for m in summary["method"]]
        else:
            table[f"{title} %"] = summary[metric].map(pct)
    table["params"] = summary["params"].map(format_count)
    table["FLOPs / clip"] = summary["flops_per_clip"].map(format_count)
    table["train time"] = summary["train_time_s"].map(lambda v: format_count(v, "s"))
    table["inference clips/s"] = summary["infer_clips_per_s"].map(format_count)
    marks = marks or {}
    table["convergence"] = summary["method"].map(lambda m: marks.get(m, "–"))
    spread = ("mean ± standard deviation over folds (per-fold numbers with their 95 % "
              "bootstrap intervals below)" if several else
              "the interval is a 95 % bootstrap interval over test videos")
    lines = ["## Leaderboard", "",
             f"Methods in the order of their paper's year. Accuracies in percent; {spread}. "
             "Training time is per fold. *Convergence* flags a method stopped by its budget "
             "(best validation epoch at the end of it: see Training) or whose SVM `C` was "
             "chosen at the edge of its grid; such a number is a lower bound on what the method "
             "can do.", "", markdown_table(table), ""]
    if several:
        fold_table = pd.DataFrame({
            "method": per_fold["method"].map(lambda m: f"`{m}`"),
            "fold": per_fold["fold"].astype(str),
            "top-1 % [95 % CI]": [with_ci(r.top1, r.ci_low, r.ci_high)
                                  for r in per_fold.itertuples()],
            "mean class acc. %": per_fold["mean_class_acc"].map(pct),
            "macro-F1 %": per_fold["macro_f1"].map(pct),
            "top-5 %": per_fold["top5"].map(pct),
        })
        lines += ["### Per fold", "", markdown_table(fold_table), ""]
    return lines


def per_class_section(data: RunData, order: list[str]) -> list[str]:
    f1 = data.results[data.results["metric"].str.startswith("f1:")]
    if f1.empty:
        return []
    wide = f1.groupby(["method", "metric"])["value"].mean().unstack()
    columns = [f"f1:{c}" for c in data.classes if f"f1:{c}" in wide.columns]
    table = pd.DataFrame({"method": [f"`{m}`" for m in order if m in wide.index]})
    for column in columns:
        table[column[3:]] = [f"{wide.loc[m, column]:.2f}" if np.isfinite(wide.loc[m, column])
                             else "–" for m in order if m in wide.index]
    return ["## Per-class F1", "", "F1 per class (mean over folds), methods in year order.", "",
            markdown_table(table), ""]


def confusion_section(data: RunData, order: list[str], figures: Path) -> list[str]:
    from sklearn.metrics import confusion_matrix

    from bench.report.figures import confusion_figure

    lines = ["## Confusion matrices", "",
             "Rows: true class; columns: predicted class; cells: videos (summed over folds), "
             "colour: share of the row.", ""]
    n_classes = len(data.classes)
    for method in order:
        preds = data.predictions[data.predictions["method"] == method]
        scored = preds[preds["prediction"].notna()]
        if scored.empty:
            lines += [f"- `{method}`: no predictions", ""]
            continue
        counts = confusion_matrix(scored["label"].astype(int), scored["prediction"].astype(int),
                                  labels=range(n_classes))
        folds = sorted(preds["fold"].unique())
        fold_text = f"fold {folds[0]}" if len(folds) == 1 else f"folds {', '.join(map(str, folds))}"
        failed = len(preds) - len(scored)
        top1 = 100 * np.trace(counts) / max(counts.sum(), 1)
        title = f"{method}: {len(scored)} test videos, {fold_text}, top-1 {top1:.1f} %"
        if failed:
            title += f" ({failed} failed, not shown)"
        name = f"confusion_{method}.png"
        confusion_figure(counts, data.classes, title, figures / name)
        lines += [f"### `{method}`", "", f"![confusion matrix of {method}](figures/{name})", ""]
    return lines


def _generations_section(data: RunData, summary: pd.DataFrame, figures: Path,
                         threshold: float) -> list[str]:
    from bench.report.figures import (
        camera_motion_figure,
        generation_delta_figure,
        pair_accuracy_figure,
    )

    lines = ["### What each generation added", "",
             "Written from this run's numbers. A *generation* is the set of methods of one year.",
             ""]
    meta = data.run.get("dataset", {}).get("meta", {}) or {}
    pairs = {name: list(p) for name, p in (meta.get("class_pairs") or {}).items()
             if len(p) == 2 and all(c in data.classes for c in p)}
    if pairs:
        tables = {name: pair_accuracy(data, a, b) for name, (a, b) in pairs.items()}
        lines += ["#### Class pairs", "",
                  "Each pair tests one ability. *Two-way accuracy*: on the test videos of the "
                  "two classes, how often the method scores the true class above the other one "
                  f"(chance 50 %). A method *solves* a pair at {100 * threshold:.0f} % or more. "
                  "*p*: the one-sided exact binomial test of the two-way accuracy against "
                  "chance (videos counted as independent trials, which videos of one actor are "
                  "not quite); p < 0.01 marks a method that separates the two classes, "
                  "solved or not.",
                  ""]
        for name, (a, b) in pairs.items():
            lines += ["- " + describe_pair(name, a, b, tables[name], threshold)]
        lines += [""]
        grid = pd.DataFrame({"method": [f"`{m}`" for m in tables[next(iter(tables))]["method"]],
                             "year": [year_text(t.year, t.track) for t in
                                      tables[next(iter(tables))].itertuples()]})
        for name, table in tables.items():
            grid[f"{name}: two-way %"] = table["two_way_acc"].map(lambda v: pct(v, 0)).values
            grid[f"{name}: p"] = table["two_way_p"].map(p_value).values
            grid[f"{name}: {len(data.classes)}-way correct %"] = (
                table["pair_acc"].map(lambda v: pct(v, 0)).values)
        lines += [markdown_table(grid), ""]
        labels = {name: f"{a} vs {b}" for name, (a, b) in pairs.items()}
        pair_accuracy_figure(tables, labels, threshold, figures / "pair_accuracy.png")
        lines += ["![two-way accuracy per class pair](figures/pair_accuracy.png)", ""]
    else:
        lines += ["The dataset marks no class pairs (`dataset.meta.class_pairs`).", ""]

    deltas = generation_deltas(data)
    if len(deltas):
        lines += ["#### Per-class gains between generations", "",
                  "From the best method (top-1) of each year to the best of the next year:", ""]
        for _, series in deltas.iterrows():
            row = series.to_dict()
            changes = pd.Series({k[5:]: v for k, v in row.items() if k.startswith("d_f1:")},
                                dtype=float)
            lines.append(_delta_sentence(row, changes))
        lines += [""]
        generation_delta_figure(deltas, data.classes, figures / "generation_deltas.png")
        lines += ["![per-class F1 change between generations](figures/generation_deltas.png)", ""]

    camera, note = camera_motion_accuracy(data)
    lines += ["#### Camera motion", ""]
    if camera is None:
        lines += [f"Not measured: {note}.", ""]
    else:
        ranked = camera[camera["track"] != "reference"].dropna(subset=["gap"])
        if len(ranked):
            worst = ranked.loc[ranked["gap"].idxmax()]
            best = ranked.loc[ranked["gap"].idxmin()]
            by_track = ranked.groupby("track")["gap"].mean()
            track_text = "; ".join(f"{t} methods {g:+.1f} points" for t, g in by_track.items())
            lines += ["Gap = accuracy on static-camera clips minus accuracy on camera-motion clips "
                      "(a negative gap: better with camera motion). "
                      f"Largest gap: `{worst['method']}` ({worst['gap']:+.1f} points); smallest: "
                      f"`{best['method']}` ({best['gap']:+.1f} points). Mean gap: {track_text}.",
                      ""]
        table = pd.DataFrame({
            "method": camera["method"].map(lambda m: f"`{m}`"),
            "static camera %": [f"{pct(r.acc_static)} (n={r.n_static})" for r in camera.itertuples()],
            "camera motion %": [f"{pct(r.acc_moving)} (n={r.n_moving})" for r in camera.itertuples()],
            "gap (points)": camera["gap"].map(lambda g: "–" if not np.isfinite(g) else f"{g:+.1f}"),
        })
        lines += [markdown_table(table), ""]
        camera_motion_figure(camera, figures / "camera_motion.png")
        lines += ["![accuracy with and without camera motion](figures/camera_motion.png)", ""]
    return lines


def _delta_sentence(row: dict[str, Any], changes: pd.Series) -> str:
    changes = changes.dropna()
    gains = changes[changes > 0].sort_values(ascending=False).head(3)
    losses = changes[changes < 0].sort_values().head(3)
    text = (f"- {row['from_year']} → {row['to_year']}: `{row['from_method']}` → "
            f"`{row['to_method']}`, top-1 {row['d_top1']:+.1f} points")
    if len(gains):
        text += "; F1 gains: " + ", ".join(f"{c} {v:+.0f}" for c, v in gains.items())
    if len(losses):
        text += "; losses: " + ", ".join(f"{c} {v:+.0f}" for c, v in losses.items())
    return text + "."


def history_section(data: RunData, summary: pd.DataFrame, figures: Path,
                     threshold: float) -> list[str]:
    from bench.report.figures import accuracy_vs_cost_figure, accuracy_vs_year_figure

    cards = data.methods
    rows = []
    for row in summary.itertuples():
        card = cards.get(row.method, {})
        rows.append({"year": year_text(row.year, row.track),
                     "method": f"`{row.method}`", "track": row.track or "–",
                     "family": card.get("family", "–"), "top-1 %": pct(row.top1),
                     "paper": card.get("paper", "–")})
    chance_rows = summary[summary["track"] == "reference"]
    chance = float(chance_rows["top1"].iloc[0]) if len(chance_rows) else None
    accuracy_vs_year_figure(summary, chance, figures / "accuracy_vs_year.png")
    accuracy_vs_cost_figure(summary, figures / "accuracy_vs_cost.png")
    lines = ["## The history of the field", "",
             "The methods in the order of their papers, on the same videos and splits.", "",
             markdown_table(pd.DataFrame(rows)), "",
             "![top-1 accuracy against year](figures/accuracy_vs_year.png)", "",
             "![top-1 accuracy against FLOPs and training time](figures/accuracy_vs_cost.png)",
             ""]
    return lines + _generations_section(data, summary, figures, threshold)


def recognition_sections(data: RunData, figures: Path, solve_threshold: float) -> list[str]:
    """The leaderboard, per-class F1, the history of the field and the confusion matrices."""
    order = method_order(data)
    summary, per_fold = leaderboard(data)
    lines = leaderboard_section(summary, per_fold, method_marks(data))
    lines += per_class_section(data, order)
    lines += guarded("The history of the field", history_section, data, summary, figures,
                     solve_threshold)
    lines += guarded("Confusion matrices", confusion_section, data, order, figures)
    return lines
