"""The report's figures: PNGs about 1000 px wide, axes labelled, readable on GitHub.

Every function draws one figure from plain tables, writes it atomically and returns its path.
Matplotlib runs with the non-interactive Agg backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.atomic import atomic_path  # noqa: E402

__all__ = [
    "TRACK_COLORS",
    "confusion_figure",
    "accuracy_vs_year_figure",
    "accuracy_vs_cost_figure",
    "pair_accuracy_figure",
    "generation_delta_figure",
    "camera_motion_figure",
    "training_curves_figure",
    "save_figure",
]

WIDTH_IN = 9.0
DPI = 110
TRACK_COLORS = {"classical": "#1f77b4", "deep": "#d62728", "reference": "#7f7f7f"}
TRACK_MARKERS = {"classical": "o", "deep": "s", "reference": "x"}


def save_figure(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` as PNG to ``path`` atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
    return path


def _track_legend(ax: plt.Axes, tracks: list[str]) -> None:
    handles = [plt.Line2D([], [], color=TRACK_COLORS.get(t, "k"), marker=TRACK_MARKERS.get(t, "o"),
                          linestyle="", label=t) for t in tracks]
    if handles:
        ax.legend(handles=handles, title="track", loc="best", fontsize=9)


def _log_axis_with_room(ax: plt.Axes, values: np.ndarray) -> None:
    """Log x axis spanning at least one decade beyond the data, labelled at whole decades."""
    from matplotlib.ticker import LogLocator, NullFormatter

    low, high = float(np.min(values)), float(np.max(values))
    ax.set_xscale("log")
    ax.set_xlim(10 ** np.floor(np.log10(low) - 0.3), 10 ** np.ceil(np.log10(high) + 0.3))
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _label_points(ax: plt.Axes, xs: np.ndarray, ys: np.ndarray, names: list[str],
                  fontsize: float = 8.0) -> None:
    """Write ``names`` beside their points, moving labels up so that none overlap.

    Call after the axis limits and scales are final. Positions are computed in axes fractions
    (layout-independent): a label is a box about ``0.6 * fontsize`` points wide per character
    and ``1.3 * fontsize`` points tall; each label, taken bottom-up, is raised above every
    earlier label whose box it would overlap, and joined to its point by a thin line when moved.
    """
    if not len(names):
        return
    fig_w, fig_h = ax.figure.get_size_inches()
    bbox = ax.get_position()
    width_pt, height_pt = 72 * fig_w * bbox.width, 72 * fig_h * bbox.height
    to_axes = ax.transScale + ax.transLimits
    points = to_axes.transform(np.column_stack([xs, ys]))
    gap = 1.3 * fontsize / height_pt
    dx = 5.0 / width_pt
    placed: list[tuple[float, float, float]] = []  # (left, right, y) in axes fractions
    for i in np.argsort(points[:, 1], kind="stable"):
        x, y = points[i]
        left, right = x + dx, x + dx + 0.6 * fontsize * len(names[i]) / width_pt
        label_y = y
        for p_left, p_right, p_y in sorted(placed, key=lambda p: p[2]):
            if left < p_right and p_left < right and abs(label_y - p_y) < gap:
                label_y = p_y + gap
        placed.append((left, right, label_y))
        moved = label_y - y > 0.5 * gap
        ax.annotate(names[i], (xs[i], ys[i]), xytext=(left, label_y), textcoords="axes fraction",
                    fontsize=fontsize, va="center", annotation_clip=False,
                    arrowprops=dict(arrowstyle="-", color="0.6", lw=0.6) if moved else None)


def confusion_figure(counts: np.ndarray, classes: list[str], title: str,
                     path: str | os.PathLike) -> Path:
    """Row-normalised confusion matrix with the counts written in the cells.

    Parameters
    ----------
    counts : (C, C) int array
        ``counts[i, j]`` = videos of true class ``i`` predicted as ``j`` (sklearn convention).
    classes : list of str
    title : str
    path : path-like
    """
    counts = np.asarray(counts)
    n = len(classes)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape, float), where=totals > 0)
    side = min(max(5.5, 0.45 * n + 3.0), 8.0)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, side), layout="constrained")
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(n), classes, fontsize=9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                            fontsize=10 if n <= 12 else 8,
                            color="white" if share[i, j] > 0.6 else "black")
    fig.colorbar(image, ax=ax, label="share of the true class", shrink=0.8)
    return save_figure(fig, path)


def accuracy_vs_year_figure(board: pd.DataFrame, chance: float | None,
                            path: str | os.PathLike) -> Path:
    """Top-1 accuracy against the year of each method's paper, with error bars.

    ``board`` has columns method, track, year, top1, ci_low, ci_high and optionally top1_std
    (shares in [0, 1]). The bars are the 95 % bootstrap interval, or +-1 std over folds when
    there is no single-fold interval. ``chance`` draws the reference floor as a dashed line.
    """
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 5.0), layout="constrained")
    board = board[board["track"] != "reference"].sort_values(["year", "method"])
    # Spread methods of the same year sideways so that their labels do not overlap.
    offsets = board.groupby("year").cumcount() - (board.groupby("year")["method"].transform("size") - 1) / 2
    x = board["year"].to_numpy(float) + 0.18 * offsets.to_numpy(float)
    # One fold: the bootstrap interval; several folds: the spread (std) over folds.
    use_std = "top1_std" in board and board["ci_low"].isna().all()
    for track in board["track"].unique():
        sel = (board["track"] == track).to_numpy()
        y = 100 * board["top1"].to_numpy(float)[sel]
        if use_std:
            spread = np.nan_to_num(100 * board["top1_std"].to_numpy(float)[sel])
            err = np.vstack([spread, spread])
        else:
            low = 100 * board["ci_low"].to_numpy(float)[sel]
            high = 100 * board["ci_high"].to_numpy(float)[sel]
            err = np.vstack([np.nan_to_num(y - low), np.nan_to_num(high - y)])
        ax.errorbar(x[sel], y, yerr=err, fmt=TRACK_MARKERS.get(track, "o"), capsize=3,
                    color=TRACK_COLORS.get(track, "k"), label=track)
    if chance is not None and np.isfinite(chance):
        ax.axhline(100 * chance, color=TRACK_COLORS["reference"], linestyle="--",
                   label=f"chance ({100 * chance:.0f} %)")
    ax.set_xlabel("year of the method's paper")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 110)
    if len(board):
        ax.set_xlim(board["year"].min() - 1, board["year"].max() + 2)
    ax.set_title("Accuracy against year (bars: "
                 + ("± 1 std over folds)" if use_std else "95 % bootstrap interval)"))
    ax.grid(alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="best", fontsize=9)
    _label_points(ax, x, 100 * board["top1"].to_numpy(float), board["method"].tolist())
    return save_figure(fig, path)


def accuracy_vs_cost_figure(board: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Top-1 accuracy against FLOPs per clip and against training time (log scales).

    ``board`` has columns method, track, top1, flops_per_clip, train_time_s. Methods without a
    known cost are left out of that panel.
    """
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH_IN, 4.6), layout="constrained", sharey=True)
    board = board[board["track"] != "reference"]
    panels = [("flops_per_clip", "FLOPs per clip (log scale)"),
              ("train_time_s", "training time per fold, s (log scale)")]
    for ax, (column, label) in zip(axes, panels, strict=True):
        sel = board[pd.to_numeric(board[column], errors="coerce") > 0]
        cost = pd.to_numeric(sel[column]).to_numpy(float)
        for xi, (_, row) in zip(cost, sel.iterrows(), strict=True):
            ax.scatter(xi, 100 * row["top1"], color=TRACK_COLORS.get(row["track"], "k"),
                       marker=TRACK_MARKERS.get(row["track"], "o"))
        ax.set_ylim(0, 110)
        if len(sel):
            _log_axis_with_room(ax, cost)
            _label_points(ax, cost, 100 * sel["top1"].to_numpy(float), sel["method"].tolist())
        else:
            ax.text(0.5, 0.5, "no method reports this cost", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("top-1 accuracy (%)")
    axes[0].set_ylim(0, 110)
    _track_legend(axes[1], sorted(board["track"].unique()))
    fig.suptitle("Accuracy against cost")
    return save_figure(fig, path)


def pair_accuracy_figure(tables: dict[str, pd.DataFrame], labels: dict[str, str],
                         threshold: float, path: str | os.PathLike) -> Path:
    """Two-way accuracy per class pair (one panel each), methods in year order.

    ``tables`` maps a pair name to :func:`bench.report.generations.pair_accuracy`'s frame; ``labels``
    maps it to a readable "a vs b" title.
    """
    names = list(tables)
    fig, axes = plt.subplots(len(names), 1, figsize=(WIDTH_IN, 1.9 * len(names) + 1.6),
                             layout="constrained", squeeze=False, sharex=True)
    for ax, name in zip(axes[:, 0], names, strict=True):
        table = tables[name]
        table = table[table["track"] != "reference"]
        x = np.arange(len(table))
        colors = [TRACK_COLORS.get(t, "k") for t in table["track"]]
        ax.bar(x, 100 * table["two_way_acc"].fillna(0).to_numpy(), color=colors)
        ax.axhline(50, color=TRACK_COLORS["reference"], linestyle="--", linewidth=1)
        ax.axhline(100 * threshold, color="black", linestyle=":", linewidth=1)
        ax.set_xticks(x, [f"{m} ({y})" for m, y in zip(table["method"], table["year"], strict=True)],
                      fontsize=8, rotation=25, ha="right")
        ax.set_yticks([0, 50, 100])
        ax.set_ylim(0, 105)
        ax.set_ylabel("two-way\nacc. (%)")
        ax.set_title(f"{name}: {labels[name]}", fontsize=10)
    fig.suptitle(f"Two-way accuracy per class pair (dashed: chance 50 %, dotted: 'solved' "
                 f"{100 * threshold:.0f} %)", fontsize=11)
    axes[-1, 0].set_xlabel("method and year")
    tracks = sorted({t for t in pd.concat(tables.values())["track"] if t != "reference"})
    fig.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=TRACK_COLORS.get(t, "k"), label=t)
                        for t in tracks], loc="outside lower center", ncols=len(tracks),
               fontsize=9)
    return save_figure(fig, path)


def generation_delta_figure(deltas: pd.DataFrame, classes: list[str],
                            path: str | os.PathLike) -> Path:
    """Heat map of per-class F1 change (points) from one generation's best method to the next."""
    columns = [f"d_f1:{c}" for c in classes if f"d_f1:{c}" in deltas.columns]
    values = deltas[columns].to_numpy(float)
    rows = [f"{r.from_method} ({r.from_year}) -> {r.to_method} ({r.to_year})"
            for r in deltas.itertuples()]
    height = max(3.0, 0.45 * len(rows) + 2.6)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height), layout="constrained")
    limit = max(10.0, float(np.nanmax(np.abs(values))) if values.size else 10.0)
    image = ax.imshow(values, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(columns)), [c[5:] for c in columns], rotation=45, ha="right",
                  fontsize=9)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel("class")
    ax.set_ylabel("step between generations")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:+.0f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(values[i, j]) > 0.6 * limit else "black")
    fig.colorbar(image, ax=ax, label="change in F1 (points)", shrink=0.9)
    ax.set_title("Per-class F1 gained (blue) or lost (red) by each generation")
    return save_figure(fig, path)


def camera_motion_figure(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Accuracy on static-camera vs moving-camera clips per method (grouped bars)."""
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.4), layout="constrained")
    x = np.arange(len(table))
    ax.bar(x - 0.2, 100 * table["acc_static"].to_numpy(float), width=0.4, label="static camera",
           color="#8fbc8f")
    ax.bar(x + 0.2, 100 * table["acc_moving"].to_numpy(float), width=0.4, label="camera motion",
           color="#cd853f")
    names = [m if t == "reference" else f"{m} ({y})"
             for m, y, t in zip(table["method"], table["year"], table["track"], strict=True)]
    ax.set_xticks(x, names, fontsize=8, rotation=25, ha="right")
    ax.set_xlabel("method and year")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Accuracy on static-camera and camera-motion test clips")
    ax.legend(fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def training_curves_figure(histories: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Training loss (left) and validation accuracy (right) per epoch, one line per unit."""
    fig, (loss_ax, val_ax) = plt.subplots(1, 2, figsize=(WIDTH_IN, 3.8), layout="constrained")
    for name, history in histories.items():
        loss_ax.plot(history["epoch"], history["train_loss"], marker=".", label=name)
        if "val_acc" in history:
            val_ax.plot(history["epoch"], 100 * history["val_acc"], marker=".", label=name)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    loss_ax.set_title("Training loss")
    val_ax.set_xlabel("epoch")
    val_ax.set_ylabel("validation accuracy (%)")
    val_ax.set_title("Held-out validation split")
    for ax in (loss_ax, val_ax):
        ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)
