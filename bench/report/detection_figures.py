"""The detection report's figure: ground truth against each method's detections on a timeline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.figures import plt, save_figure

__all__ = ["timeline_figure"]

#: Test videos drawn, and detections per method and video (the best-scored).
N_VIDEOS = 3
TOP_PER_VIDEO = 10


def timeline_figure(units: Sequence[tuple[str, int, pd.DataFrame, pd.DataFrame]],
                    path: str | os.PathLike) -> Path | None:
    """Draw ``units`` (``method, fold, ground truth, detections`` of one fold) to ``path``.

    One panel per test video (the first :data:`N_VIDEOS` by id): a row for the ground truth,
    then a row per method with its :data:`TOP_PER_VIDEO` best detections in that video, bars
    coloured by class with the bar's opacity following the score. None when there is nothing
    to draw.
    """
    if not units:
        return None
    truth = units[0][2]
    videos = sorted(set(truth["video_id"]))[:N_VIDEOS]
    if not videos:
        return None
    labels = sorted(set(truth["label"]).union(*(set(u[3]["label"]) for u in units)))
    colours = {label: plt.get_cmap("tab20")(i % 20) for i, label in enumerate(labels)}
    rows = ["ground truth", *[u[0] for u in units]]
    fig, axes = plt.subplots(len(videos), 1, figsize=(10, 0.45 * len(rows) * len(videos) + 1),
                             squeeze=False)
    for ax, video in zip(axes[:, 0], videos, strict=True):
        gt = truth[truth["video_id"] == video]
        end = float(gt["t_end"].max()) if len(gt) else 1.0
        bars = [(0, gt, np.ones(len(gt)))]
        for k, (_, _, _, detections) in enumerate(units, start=1):
            mine = detections[detections["video_id"] == video].nlargest(TOP_PER_VIDEO, "score")
            span = mine["score"].max() - mine["score"].min() if len(mine) else 0.0
            alpha = 0.3 + 0.7 * ((mine["score"] - mine["score"].min()) / span
                                 if span > 0 else np.ones(len(mine)))
            bars.append((k, mine, np.asarray(alpha)))
            end = max(end, float(mine["t_end"].max()) if len(mine) else end)
        for row, segments, alphas in bars:
            for (start, stop, label), alpha in zip(
                    segments[["t_start", "t_end", "label"]].itertuples(index=False), alphas,
                    strict=True):
                ax.barh(row, stop - start, left=start, height=0.7, color=colours[label],
                        alpha=float(alpha), edgecolor="black", linewidth=0.3)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, end * 1.02)
        ax.set_title(video, fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[label]) for label in labels]
    fig.legend(handles, labels, loc="upper center", ncol=min(6, len(labels)), fontsize=7,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, path)
