"""``report.md`` and ``figures/*.png``, regenerated from a run directory alone.

The report is meant to be read on GitHub: a run summary, a leaderboard, per-class F1, one
confusion matrix per method, the history of the field (methods by year, accuracy against year
and cost, and a section *What each generation added* written from this run's numbers) and the
videos that failed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.atomic import write_text
from bench.report.generations import (
    DEFAULT_SOLVE_THRESHOLD,
    camera_motion_accuracy,
    describe_pair,
    generation_deltas,
    pair_accuracy,
)
from bench.run.rundir import WHOLE_UNIT, RunData, load_run, method_order

__all__ = ["write_report", "leaderboard", "format_count"]

#: Metrics shown as percentages in the leaderboard, in column order.
SHARE_METRICS = {"mean_class_acc": "mean class acc.", "macro_f1": "macro-F1", "top5": "top-5"}
MAX_FAILURE_ROWS = 50


def format_count(value: Any, unit: str = "") -> str:
    """``1234567 -> '1.23 M'``; missing values become an en dash."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(value):
        return "–"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def _pct(value: float, digits: int = 1) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.{digits}f}"


def _year_text(year: Any, track: Any) -> str:
    """The paper's year; reference methods (chance) have none worth printing."""
    if track == "reference":
        return "reference"
    return "–" if year is None or pd.isna(year) else str(int(year))


def _with_ci(value: float, low: float, high: float) -> str:
    if value is None or not np.isfinite(value):
        return "– (no result)"
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return _pct(value)
    return f"{_pct(value)} [{_pct(low)}, {_pct(high)}]"


def _mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if len(values) == 0:
        return "–"
    if len(values) == 1:
        return _pct(values.iloc[0])
    return f"{_pct(values.mean())} ± {_pct(values.std(ddof=1))}"


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


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, disable_numparse=True)


def _commit_text(commit: Any, dirty: Any = None) -> str:
    if isinstance(commit, dict):
        commit, dirty = commit.get("commit"), commit.get("dirty")
    if not commit:
        return "unknown"
    return f"`{commit}`" + (" (with uncommitted changes)" if dirty else "")


def _summary_section(data: RunData) -> list[str]:
    run = data.run
    config = run.get("config", {}) or {}
    dataset = run.get("dataset", {}) or {}
    machine = run.get("machine", {}) or {}
    packages = run.get("packages", {}) or {}
    facts = [
        ("dataset", f"`{dataset.get('name', config.get('dataset', '?'))}` "
                    f"({len(data.classes)} classes)"),
        ("protocol", str(config.get("protocol") or "default")),
        ("dataset options", ", ".join(f"{k}={v}" for k, v in
                                      (config.get("dataset_options") or {}).items()) or "–"),
        ("seed", str(run.get("seed", config.get("seed", "?")))),
        ("quick configuration", str(config.get("quick", "?"))),
        ("actbench version", f"{run.get('actbench_version', '?')} "
                             f"(benchmark format {run.get('benchmark_version', '?')})"),
        ("git commit", _commit_text(run.get("git_commit"), run.get("git_dirty"))),
        ("created", str(run.get("created", "?"))),
        ("status", str(run.get("status", "?"))),
        ("machine", ", ".join(f"{k}: {v}" for k, v in machine.items()) or "–"),
        ("packages", ", ".join(f"{k} {v}" for k, v in packages.items()) or "–"),
    ]
    lines = ["## Run summary", "", _markdown(pd.DataFrame(facts, columns=["", "value"])), ""]
    lines += _environment_lines(data.environment)
    peak = run.get("peak_memory") or {}
    if peak.get("peak_rss_main_mib") is not None:
        lines += [f"Peak memory: main process {float(peak['peak_rss_main_mib']):.0f} MiB, "
                  f"largest worker {float(peak.get('peak_rss_children_mib') or 0):.0f} MiB", ""]
    folds = dataset.get("folds", {}) or {}
    if folds:
        fold_rows = []
        for fold, entry in sorted(folds.items(), key=lambda kv: int(kv[0])):
            counts = entry.get("counts", {}) or {}
            fold_rows.append({"fold": fold, "fingerprint (SHA-256 of the split)":
                              f"`{entry.get('fingerprint', '?')}`",
                              **{k: str(v) for k, v in counts.items()}})
        lines += ["Folds (results are comparable only between runs with the same fingerprint):",
                  "", _markdown(pd.DataFrame(fold_rows).fillna("–")), ""]
    return lines


def _environment_lines(env: dict[str, Any] | None) -> list[str]:
    """The numerical environment (bench.run.environment): what decides bitwise reproducibility."""
    if not env:
        return ["Numerical environment: not recorded (a run written before actbench recorded "
                "it): `compare` treats it as another environment.", ""]
    flags = env.get("cpu_flags") or {}
    torch = env.get("torch") or {}
    pools = "; ".join(
        f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('prefix')}"
        + (f", {p['architecture']}" if p.get("architecture") else "")
        + f", {p.get('num_threads')} threads)" for p in env.get("threadpools") or [])
    numba = env.get("numba") or {}
    numpy = env.get("numpy") or {}
    opencv = env.get("opencv") or {}
    facts = [
        ("environment key", f"`{env.get('key')}` (runs with the same key must give the same "
                            "bytes; across keys only a statistical comparison is meaningful)"),
        ("simulated instruction set", str(env.get("simulated_isa") or "none")),
        ("CPU", f"{env.get('cpu_model') or '?'} ({env.get('cpu_count')} logical CPUs)"),
        ("kernel-selecting CPU flags", ", ".join(f for f, on in flags.items() if on) or "–"),
        ("device", str(env.get("device"))),
        ("torch", f"{torch.get('version')}, CPU capability {torch.get('cpu_capability')}, "
                  f"{torch.get('num_threads')} threads, oneDNN {torch.get('onednn')}, "
                  f"MKL {torch.get('mkl')}, OpenMP {torch.get('openmp')}, "
                  f"CUDA {torch.get('cuda')}, cuDNN {torch.get('cudnn')}"
                  + (f", GPUs {', '.join(torch['gpus'])}" if torch.get("gpus") else "")
         if torch else "not installed"),
        ("BLAS / OpenMP (threadpoolctl)", pools or "–"),
        ("numpy SIMD dispatch", ", ".join(numpy.get("simd_dispatch") or []) or "baseline only"),
        ("numba target CPU", str(numba.get("cpu_name"))),
        ("OpenCV CPU features", f"{opencv.get('cpu_features')} ({opencv.get('num_threads')} "
                                "threads)" if opencv else "–"),
        ("kernel variables set", ", ".join(f"{k}={v}" for k, v in
                                           (env.get("kernel_env") or {}).items()) or "none"),
    ]
    return ["Numerical environment (what decides bitwise reproducibility):", "",
            _markdown(pd.DataFrame(facts, columns=["", "value"])), ""]


def _noise_section(data: RunData) -> list[str]:
    """Run-to-run noise of a calibrated release record (``noise.csv``) and what it can detect."""
    from bench.report.compare import DEFAULT_TOLERANCE
    from bench.report.noise import detectable_drop_text, minimal_detectable_drop, noise_summary

    if data.noise is None:
        return []
    summary = noise_summary(data.noise)
    own = data.noise.loc[data.noise["replicate"] == 0, "seed"]
    own_seed = int(own.iloc[0]) if len(own) else None
    others = sorted(int(s) for s in data.noise["seed"].unique() if s != own_seed)
    alpha = 0.05
    table = pd.DataFrame({
        "method": summary["method"].map(lambda m: f"`{m}`"),
        "fold": summary["fold"].astype(str),
        "runs": summary["n_runs"].astype(str),
        "top-1 % mean ± sd": [f"{r.mean:.1f} ± {r.sd_raw:.1f}" for r in summary.itertuples()],
        "min – max": [f"{r.min:.1f} – {r.max:.1f}" for r in summary.itertuples()],
        "detectable drop (points)": [
            detectable_drop_text(minimal_detectable_drop(
                r.sd, r.n_runs, len(summary), alpha=alpha, tolerance=DEFAULT_TOLERANCE), r.mean)
            for r in summary.itertuples()],
    })
    return ["## Run-to-run noise", "",
            f"This record (seed {own_seed}) was rerun with seeds {', '.join(map(str, others))} "
            "(`python -m bench calibrate`); the spread of each method's top-1 over these runs is the noise the "
            "regression gate is calibrated to. A drop fails the gate when it is significant "
            f"against this noise after Holm's adjustment across all methods (family-wise "
            f"α = {alpha:g}) and larger than {DEFAULT_TOLERANCE:g} points; the *detectable drop* "
            "is the drop below the mean that fails it whatever the other methods do (the sd "
            "used is floored at one video). See the README, *Release records and the "
            "regression gate*.", "", _markdown(table), ""]


def _leaderboard_section(summary: pd.DataFrame, per_fold: pd.DataFrame) -> list[str]:
    several = summary["n_folds"].max() > 1 if len(summary) else False
    table = pd.DataFrame()
    table["method"] = summary["method"].map(lambda m: f"`{m}`")
    table["track"] = summary["track"].fillna("–")
    table["year"] = [_year_text(r.year, r.track) for r in summary.itertuples()]
    if several:
        table["top-1 % (mean ± std over folds)"] = [
            _mean_std(per_fold.loc[per_fold["method"] == m, "top1"]) for m in summary["method"]]
    else:
        table["top-1 % [95 % CI]"] = [_with_ci(r.top1, r.ci_low, r.ci_high)
                                      for r in summary.itertuples()]
    for metric, title in SHARE_METRICS.items():
        if several:
            table[f"{title} %"] = [_mean_std(per_fold.loc[per_fold["method"] == m, metric])
                                   for m in summary["method"]]
        else:
            table[f"{title} %"] = summary[metric].map(_pct)
    table["params"] = summary["params"].map(format_count)
    table["FLOPs / clip"] = summary["flops_per_clip"].map(format_count)
    table["train time"] = summary["train_time_s"].map(lambda v: format_count(v, "s"))
    table["inference clips/s"] = summary["infer_clips_per_s"].map(format_count)
    spread = ("mean ± standard deviation over folds (per-fold numbers with their 95 % "
              "bootstrap intervals below)" if several else
              "the interval is a 95 % bootstrap interval over test videos")
    lines = ["## Leaderboard", "",
             f"Methods in the order of their paper's year. Accuracies in percent; {spread}. "
             "Training time is per fold.", "", _markdown(table), ""]
    if several:
        fold_table = pd.DataFrame({
            "method": per_fold["method"].map(lambda m: f"`{m}`"),
            "fold": per_fold["fold"].astype(str),
            "top-1 % [95 % CI]": [_with_ci(r.top1, r.ci_low, r.ci_high)
                                  for r in per_fold.itertuples()],
            "mean class acc. %": per_fold["mean_class_acc"].map(_pct),
            "macro-F1 %": per_fold["macro_f1"].map(_pct),
            "top-5 %": per_fold["top5"].map(_pct),
        })
        lines += ["### Per fold", "", _markdown(fold_table), ""]
    return lines


def _per_class_section(data: RunData, order: list[str]) -> list[str]:
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
            _markdown(table), ""]


def _confusion_section(data: RunData, order: list[str], figures: Path) -> list[str]:
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


def _p_value(p: float) -> str:
    """A p-value for a table: two significant digits, ``<0.0001`` below that, "–" if NaN."""
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


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
                             "year": [_year_text(t.year, t.track) for t in
                                      tables[next(iter(tables))].itertuples()]})
        for name, table in tables.items():
            grid[f"{name}: two-way %"] = table["two_way_acc"].map(lambda v: _pct(v, 0)).values
            grid[f"{name}: p"] = table["two_way_p"].map(_p_value).values
            grid[f"{name}: {len(data.classes)}-way correct %"] = (
                table["pair_acc"].map(lambda v: _pct(v, 0)).values)
        lines += [_markdown(grid), ""]
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
            "static camera %": [f"{_pct(r.acc_static)} (n={r.n_static})" for r in camera.itertuples()],
            "camera motion %": [f"{_pct(r.acc_moving)} (n={r.n_moving})" for r in camera.itertuples()],
            "gap (points)": camera["gap"].map(lambda g: "–" if not np.isfinite(g) else f"{g:+.1f}"),
        })
        lines += [_markdown(table), ""]
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


def _history_section(data: RunData, summary: pd.DataFrame, figures: Path,
                     threshold: float) -> list[str]:
    from bench.report.figures import accuracy_vs_cost_figure, accuracy_vs_year_figure

    cards = data.methods
    rows = []
    for row in summary.itertuples():
        card = cards.get(row.method, {})
        rows.append({"year": _year_text(row.year, row.track),
                     "method": f"`{row.method}`", "track": row.track or "–",
                     "family": card.get("family", "–"), "top-1 %": _pct(row.top1),
                     "paper": card.get("paper", "–")})
    chance_rows = summary[summary["track"] == "reference"]
    chance = float(chance_rows["top1"].iloc[0]) if len(chance_rows) else None
    accuracy_vs_year_figure(summary, chance, figures / "accuracy_vs_year.png")
    accuracy_vs_cost_figure(summary, figures / "accuracy_vs_cost.png")
    lines = ["## The history of the field", "",
             "The methods in the order of their papers, on the same videos and splits.", "",
             _markdown(pd.DataFrame(rows)), "",
             "![top-1 accuracy against year](figures/accuracy_vs_year.png)", "",
             "![top-1 accuracy against FLOPs and training time](figures/accuracy_vs_cost.png)",
             ""]
    return lines + _generations_section(data, summary, figures, threshold)


def _training_section(data: RunData, figures: Path) -> list[str]:
    """Per-epoch training of the methods that keep a history (the deep track); [] if none."""
    from bench.report.figures import training_curves_figure

    histories = {record.unit.name: (record.unit, record.history, record.timing)
                 for record in data.units or []
                 if record.history is not None and len(record.history)
                 and {"epoch", "train_loss"} <= set(record.history.columns)}
    if not histories:
        return []
    rows = []
    for unit, history, timing in histories.values():
        has_val = "val_acc" in history and history["val_acc"].notna().any()
        rows.append({
            "method": f"`{unit.method}`", "fold": unit.fold, "epochs run": len(history),
            "best epoch": timing.get("best_epoch") or "–",
            "first → last training loss": f"{history['train_loss'].iloc[0]:.2f} → "
                                          f"{history['train_loss'].iloc[-1]:.2f}",
            "best validation acc. %": _pct(history["val_acc"].max()) if has_val else "–",
            "train time": format_count(timing.get("train_time_s"), "s"),
        })
    training_curves_figure({name: history for name, (_, history, _) in histories.items()},
                           figures / "training_curves.png")
    return ["## Training", "",
            "Methods that train by epochs, from `units/*/history.csv`. The validation split is "
            "carved from the training fold (a whole group held out when the dataset has "
            "groups); the weights of the best epoch are the ones tested. A loss still falling at "
            "the last epoch means the method is under-trained at this budget.", "",
            _markdown(pd.DataFrame(rows)), "",
            "![training loss and validation accuracy per epoch](figures/training_curves.png)", ""]




def _failure_counts(failures: pd.DataFrame) -> pd.DataFrame:
    """Per (method, stage): distinct videos that failed, and the rows of ``failures.csv``.

    A video is listed once per method and fold it failed in (a probe failure once per fold),
    so rows over-count videos; ``videos`` counts each one once.
    """
    videos = failures["video"].where(failures["video"] != WHOLE_UNIT)
    grouped = failures.assign(video=videos).groupby(["method", "stage"], sort=True)
    return grouped.agg(videos=("video", "nunique"), rows=("video", "size")).reset_index()


def _failures_section(data: RunData) -> list[str]:
    failures = data.failures
    lines = ["## Failures", ""]
    if failures.empty:
        return lines + ["No video failed.", ""]
    is_video = failures["video"] != WHOLE_UNIT
    n_videos = failures.loc[is_video, "video"].nunique()
    n_units = len(failures.loc[~is_video, ["method", "fold"]].drop_duplicates())
    summary = (f"{n_videos} distinct video(s) failed ({int(is_video.sum())} row(s) in "
               "`failures.csv`: a video is listed once per method and fold it failed in).")
    if n_units:
        summary += f" {n_units} (method, fold) unit(s) failed as a whole."
    counts = _failure_counts(failures)
    lines += [summary, "", _markdown(counts.astype(str)), ""]
    shown = failures.head(MAX_FAILURE_ROWS)[["method", "fold", "video", "stage", "reason"]]
    shown = shown.astype(str).replace({"\\|": "/", "\n": " "}, regex=True)
    lines += [_markdown(shown), ""]
    if len(failures) > MAX_FAILURE_ROWS:
        lines += [f"... and {len(failures) - MAX_FAILURE_ROWS} more in `failures.csv`.", ""]
    return lines


def _guarded(title: str, section: Any, *args: Any) -> list[str]:
    """Run a figure-drawing section; if it breaks, say so in the report instead of failing.

    The runner writes the report at the end of a possibly long run: a plotting problem must
    not lose it. The error is reported in the Markdown and as a ``RuntimeWarning``.
    """
    try:
        return section(*args)
    except Exception as exc:  # noqa: BLE001 - reported below, the rest of the report goes on
        message = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"report section {title!r} failed: {message}", RuntimeWarning,
                      stacklevel=2)
        return [f"## {title}", "", f"> This section could not be generated: `{message}`. "
                "Rerun `python -m bench report RUN_DIR` after fixing it.", ""]


def write_report(run_dir: str | os.PathLike, *,
                 solve_threshold: float = DEFAULT_SOLVE_THRESHOLD) -> Path:
    """Write ``report.md`` and ``figures/*.png`` into a run directory, from its files alone.

    Parameters
    ----------
    run_dir : path-like
        A run directory (``run.json``, ``results.csv``, ``predictions.csv``, optionally
        ``failures.csv``).
    solve_threshold : float, default 0.8
        Two-way accuracy at which a method counts as solving a class pair.

    Returns
    -------
    Path
        The path of ``report.md``.

    Notes
    -----
    The leaderboard shows ``results.csv`` as written by the runner; confusion matrices, class
    pair accuracies and camera-motion accuracies are computed from ``predictions.csv``. Running
    it twice gives the same Markdown.

    References
    ----------
    .. [1] Laptev, I., Marszalek, M., Schmid, C., Rozenfeld, B. "Learning realistic human
       actions from movies", CVPR 2008. doi:10.1109/CVPR.2008.4587756 (the classical line).
    .. [2] Carreira, J., Zisserman, A. "Quo Vadis, Action Recognition? A New Model and the
       Kinetics Dataset", CVPR 2017. arXiv:1705.07750 (the deep line).
    """
    if not 0.5 < solve_threshold <= 1.0:
        raise ValueError(f"solve_threshold must be in (0.5, 1]; got {solve_threshold}.")
    data = load_run(run_dir)
    figures = data.run_dir / "figures"
    figures.mkdir(exist_ok=True)
    order = method_order(data)
    summary, per_fold = leaderboard(data)
    name = data.run.get("dataset", {}).get("name", "?")
    lines = [f"# actbench report: `{name}`, {len(order)} methods", "",
             "Contents: [run summary](#run-summary) · [leaderboard](#leaderboard) · "
             "[per-class F1](#per-class-f1) · [the history of the field]"
             "(#the-history-of-the-field) · [what each generation added]"
             "(#what-each-generation-added) · [confusion matrices](#confusion-matrices) · "
             "[training](#training) · "
             + ("[run-to-run noise](#run-to-run-noise) · " if data.noise is not None else "")
             + "[failures](#failures)", ""]
    if data.run.get("status") != "complete":
        lines += [f"> **This run is not complete** (status: {data.run.get('status')!r}); "
                  "numbers cover the finished units only.", ""]
    lines += _summary_section(data)
    lines += _leaderboard_section(summary, per_fold)
    lines += _per_class_section(data, order)
    lines += _guarded("The history of the field", _history_section, data, summary, figures,
                      solve_threshold)
    lines += _guarded("Confusion matrices", _confusion_section, data, order, figures)
    lines += _guarded("Training", _training_section, data, figures)
    lines += _guarded("Run-to-run noise", _noise_section, data)
    lines += _failures_section(data)
    path = data.run_dir / "report.md"
    write_text(path, "\n".join(lines).rstrip() + "\n")
    return path
