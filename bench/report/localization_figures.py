"""The localization report's figure: ground-truth against predicted boxes on a few keyframes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from bench.report.figures import plt, save_figure

__all__ = ["keyframe_figure", "N_KEYFRAMES"]

#: Keyframes drawn (the first ones of the fold with the most actors).
N_KEYFRAMES = 4


def _chosen_keyframes(truth: pd.DataFrame) -> list[tuple[str, float]]:
    """Up to :data:`N_KEYFRAMES` keyframes: most actor boxes first, then by video and time."""
    actors = truth.drop_duplicates(["video_id", "timestamp", "x1", "y1", "x2", "y2"])
    counts = actors.groupby(["video_id", "timestamp"]).size().reset_index(name="n")
    counts = counts.sort_values(["n", "video_id", "timestamp"], ascending=[False, True, True])
    return [(str(v), float(t)) for v, t in
            counts[["video_id", "timestamp"]].head(N_KEYFRAMES).itertuples(index=False)]


def _boxes(ax, rows: pd.DataFrame, names: Mapping[int, str], colour, style: str, width: float,
           height: float, scored: bool) -> None:
    for row in rows.itertuples(index=False):
        x, y = row.x1 * width, row.y1 * height
        ax.add_patch(plt.Rectangle((x, y), (row.x2 - row.x1) * width, (row.y2 - row.y1) * height,
                                   fill=False, edgecolor=colour, linestyle=style, linewidth=1.4))
        text = names.get(int(row.label), str(row.label))
        if scored:  # below the box, so that it does not cover the ground truth's name above
            ax.text(x + 0.5, row.y2 * height + 0.5, f"{text} {row.score:.2f}", color=colour,
                    fontsize=6, va="top")
        else:
            ax.text(x + 0.5, y - 0.5, text, color=colour, fontsize=6, va="bottom")


def keyframe_figure(units: Sequence[tuple[str, pd.DataFrame, pd.DataFrame]],
                    classes: Mapping[int, str], path: str | os.PathLike,
                    frame_size: Sequence[int] | None = None) -> Path | None:
    """Draw ground truth and each method's best boxes on a few keyframes of one fold.

    Parameters
    ----------
    units : sequence of (method, ground truth, detections)
        One fold's units; the tables as :func:`bench.tasks.localization.results.read_unit_files`
        gives them (``label`` the action id). The ground truth is the first unit's.
    classes : mapping
        ``action id -> name`` (the label map).
    path : path-like
    frame_size : (width, height), optional
        The frames' size in pixels (the boxes are fractions of it); default 4:3.

    Returns
    -------
    Path or None
        None when the fold has no ground-truth box.

    Notes
    -----
    Panels are blank frames of the video's aspect ratio (the report reads no video). Per
    keyframe, the ground-truth actor boxes (solid black, with their actions) and, per method,
    its best-scored boxes at that keyframe, as many as the keyframe has ground-truth rows
    (dashed, in the method's colour, with action and score).
    """
    if not units:
        return None
    truth = units[0][1]
    keyframes = _chosen_keyframes(truth)
    if not keyframes:
        return None
    width, height = (float(v) for v in (frame_size or (160, 120)))
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(units))]
    fig, axes = plt.subplots(1, len(keyframes), figsize=(2.6 * len(keyframes), 2.6 * height
                                                         / width + 0.9), squeeze=False)
    for ax, (video, timestamp) in zip(axes[0], keyframes, strict=True):
        ax.add_patch(plt.Rectangle((0, 0), width, height, color="#eeeeee"))
        gt = truth[(truth["video_id"] == video) & (truth["timestamp"] == timestamp)]
        _boxes(ax, gt, classes, "black", "-", width, height, scored=False)
        for colour, (_, _, detections) in zip(colours, units, strict=True):
            mine = detections[(detections["video_id"] == video)
                              & (detections["timestamp"] == timestamp)]
            _boxes(ax, mine.nlargest(max(1, len(gt)), "score"), classes, colour, "--", width,
                   height, scored=True)
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{video} @ {timestamp:g} s", fontsize=7)
    handles = [plt.Line2D([], [], color="black", label="ground truth")]
    handles += [plt.Line2D([], [], color=c, linestyle="--", label=m)
                for c, (m, _, _) in zip(colours, units, strict=True)]
    fig.legend(handles=handles, loc="upper center", ncol=min(5, len(handles)), fontsize=7,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.88))
    return save_figure(fig, path)
