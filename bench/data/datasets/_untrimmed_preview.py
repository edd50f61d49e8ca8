"""A preview of one untrimmed video: frames with the actors' boxes above the ground-truth
timeline (one lane per actor, each instance a bar coloured by class), drawn with OpenCV like
``python -m bench preview``."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from bench.data.datasets._sequence import CLASSES
from bench.data.datasets._untrimmed_scene import draw_boxes

__all__ = ["preview_sheet", "write_preview", "ACTOR_COLOURS", "CLASS_COLOURS"]

#: RGB colour of each actor slot's boxes and lane label.
ACTOR_COLOURS = [(230, 25, 75), (0, 130, 200), (245, 130, 48), (60, 180, 75)]
#: RGB colour of each class's bars, in label order.
CLASS_COLOURS = [(31, 119, 180), (174, 199, 232), (255, 127, 14), (255, 187, 120),
                 (44, 160, 44), (152, 223, 138), (214, 39, 40), (255, 152, 150),
                 (148, 103, 189), (197, 176, 213), (140, 86, 75), (196, 156, 148)]
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_LABEL_W, _LANE_H, _PAD = 84, 22, 2


def _text(img, text, org, size=0.35, colour=(0, 0, 0)) -> None:
    cv2.putText(img, text, org, _FONT, size, colour, 1, cv2.LINE_AA)


def preview_sheet(dataset, video_id: str | None = None, n_frames: int = 8,
                  scale: int = 2) -> np.ndarray:
    """Render the preview of one video of ``dataset`` as an RGB uint8 array.

    Top: ``n_frames`` frames evenly spread over the video, each actor's box in its colour.
    Below: a time axis and one lane per actor with its instances as bars coloured by class
    (labelled where they are wide enough); grey ticks mark the frames shown. Bottom: the class
    colours.

    Parameters
    ----------
    dataset : UntrimmedDataset
    video_id : str, optional
        Default: the first video with the most actors.
    n_frames, scale : int
        Frames shown and their pixel magnification.
    """
    from bench.data.video import read_video

    if n_frames < 1 or scale < 1:
        raise ValueError(f"n_frames and scale must be >= 1; got {n_frames} and {scale}")
    videos = dataset.videos
    if video_id is None:
        video_id = videos.sort_values("n_actors", ascending=False, kind="stable").iloc[0][
            "video_id"]
    frames = read_video(dataset.path(video_id))
    n_total, fps = len(frames), float(videos.loc[videos["video_id"] == video_id, "fps"].iloc[0])
    boxes = dataset.video_boxes(video_id)
    actors = list(dict.fromkeys(boxes["actor"].tolist()))
    colours = [ACTOR_COLOURS[i % len(ACTOR_COLOURS)] for i in range(len(actors))]
    by_frame = {t: g for t, g in boxes.groupby("frame")}
    picks = np.linspace(0, n_total - 1, n_frames).round().astype(int)
    cells = []
    for t in picks:
        frame = np.ascontiguousarray(cv2.resize(frames[t], None, fx=scale, fy=scale,
                                                interpolation=cv2.INTER_NEAREST))
        rows = by_frame[t].set_index("actor").loc[actors]
        draw_boxes(frame, rows[["x1", "y1", "x2", "y2"]].to_numpy(), colours, scale)
        caption = np.full((14, frame.shape[1], 3), 255, np.uint8)
        _text(caption, f"{t / fps:.1f} s", (2, 11))
        cells.append(np.pad(np.concatenate([frame, caption]), ((_PAD, _PAD), (_PAD, _PAD), (0, 0)),
                            constant_values=255))
    strip = np.concatenate(cells, axis=1)
    width = strip.shape[1]
    top = np.concatenate([np.full((strip.shape[0], _LABEL_W, 3), 255, np.uint8), strip], axis=1)

    def x_of(frame_index: float) -> int:
        return _LABEL_W + int(round(frame_index / n_total * (width - 1)))

    axis = np.full((18, _LABEL_W + width, 3), 255, np.uint8)
    step = 1 if n_total / fps <= 12 else 5
    for second in np.arange(0, n_total / fps + 1e-9, step):
        x = x_of(second * fps)
        cv2.line(axis, (x, 0), (x, 4), (0, 0, 0), 1)
        _text(axis, f"{second:g}", (x + 1, 14), 0.33)
    _text(axis, "time (s)", (4, 14), 0.33)
    lanes = np.full((_LANE_H * len(actors), _LABEL_W + width, 3), 255, np.uint8)
    segments = dataset.segments[dataset.segments["video_id"] == video_id]
    for i, actor in enumerate(actors):
        y0, y1 = i * _LANE_H + 2, (i + 1) * _LANE_H - 2
        cv2.rectangle(lanes, (_LABEL_W, y0), (_LABEL_W + width - 1, y1), (235, 235, 235), -1)
        _text(lanes, f"actor {actor}", (4, y1 - 5), 0.4, colours[i])
        for _, seg in segments[segments["actor"] == actor].iterrows():
            xa, xb = x_of(seg["start_frame"]), x_of(seg["end_frame"] + 1) - 1
            colour = CLASS_COLOURS[int(seg["label_id"])]
            cv2.rectangle(lanes, (xa, y0), (max(xa, xb), y1), colour, -1)
            cv2.rectangle(lanes, (xa, y0), (max(xa, xb), y1), (60, 60, 60), 1)
            name = str(seg["label"])
            if cv2.getTextSize(name, _FONT, 0.3, 1)[0][0] < xb - xa - 3:
                _text(lanes, name, (xa + 2, y1 - 5), 0.3)
    for t in picks:
        cv2.line(lanes, (x_of(t), 0), (x_of(t), lanes.shape[0] - 1), (120, 120, 120), 1)
    legend = np.full((16 * ((len(CLASSES) + 5) // 6) + 4, _LABEL_W + width, 3), 255, np.uint8)
    cell = max(1, (_LABEL_W + width) // 6)
    for c, name in enumerate(CLASSES):
        x, y = 4 + (c % 6) * cell, 4 + (c // 6) * 16
        cv2.rectangle(legend, (x, y), (x + 10, y + 10), CLASS_COLOURS[c], -1)
        _text(legend, name, (x + 14, y + 9), 0.32)
    title = np.full((18, _LABEL_W + width, 3), 255, np.uint8)
    _text(title, f"{video_id}: {n_total / fps:.1f} s, {len(actors)} actor(s), "
                 f"{len(segments)} instances", (4, 13), 0.4)
    return np.concatenate([title, top, axis, lanes, legend], axis=0)


def write_preview(dataset, path: str | os.PathLike, **options) -> Path:
    """Write :func:`preview_sheet` of ``dataset`` as a PNG file (atomically); returns the path."""
    from bench.atomic import atomic_path

    sheet = preview_sheet(dataset, **options)
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"PNG encoding of the preview failed ({sheet.shape})")
    with atomic_path(path) as tmp:
        tmp.write_bytes(png.tobytes())
        tmp.chmod(0o644)
    return Path(path)
