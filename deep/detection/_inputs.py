"""The detection method protocol's inputs: checks, per-video segments, decoding with failures.

Every estimator of :mod:`deep.detection` takes ``videos`` (a 1-D array of absolute paths) and a
``segments`` table (``video, t_start, t_end, label``); a video that does not decode becomes a
:class:`bench.methods.VideoFailure` and is left out, never raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.methods import VideoFailure
from deep.detection.snippets import SnippetGrid

__all__ = ["DecodedVideo", "check_videos", "segments_by_video", "decode_videos",
           "DETECTION_OUTPUT_COLUMNS", "empty_output"]

#: Columns of the table a detector's ``detect`` returns.
DETECTION_OUTPUT_COLUMNS = ("video", "t_start", "t_end", "label", "score")
_SEGMENT_COLUMNS = ("video", "t_start", "t_end", "label")


@dataclass
class DecodedVideo:
    """A decoded video: its path, ``(N, H, W, 3)`` uint8 frames and its snippet grid."""

    path: str
    frames: np.ndarray
    grid: SnippetGrid


def check_videos(videos: Sequence[str], what: str) -> np.ndarray:
    """``videos`` as a 1-D object array of str; a ``ValueError`` that says how otherwise."""
    array = np.asarray(videos, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"{what}: videos must be a 1-D array of video paths. "
                         f"Got an array of shape {array.shape} instead.")
    return np.array([str(v) for v in array], dtype=object)


def segments_by_video(videos: np.ndarray, segments: pd.DataFrame, n_classes: int | None,
                      what: str) -> tuple[list[np.ndarray], int]:
    """Each video's ``(m, 3)`` array ``t_start, t_end, label``, and the number of classes.

    Parameters
    ----------
    videos : numpy.ndarray of str
    segments : DataFrame
        Columns ``video, t_start, t_end, label``; ``video`` must be one of ``videos``.
    n_classes : int or None
        None: the largest label + 1.
    what : str
        The estimator, for the messages.

    Raises
    ------
    ValueError
        A missing column, a video not in ``videos``, a label outside ``range(n_classes)``,
        or a segment that ends before it starts.
    """
    if not isinstance(segments, pd.DataFrame):
        raise ValueError(f"{what}: segments must be a pandas DataFrame with columns "
                         f"{', '.join(_SEGMENT_COLUMNS)}. Got {type(segments).__name__}.")
    missing = [c for c in _SEGMENT_COLUMNS if c not in segments.columns]
    if missing:
        raise ValueError(f"{what}: the segments table lacks column(s) {missing}; it needs "
                         f"{', '.join(_SEGMENT_COLUMNS)}.")
    table = segments.loc[:, list(_SEGMENT_COLUMNS)].copy()
    table["video"] = table["video"].astype(str)
    unknown = sorted(set(table["video"]) - set(videos))
    if unknown:
        raise ValueError(f"{what}: segments name video(s) not in videos, e.g. {unknown[:3]}; "
                         "the 'video' column must hold exactly the paths passed as videos.")
    labels = table["label"].to_numpy()
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
        raise ValueError(f"{what}: segment labels must be non-negative ints. "
                         f"Got dtype {labels.dtype}.")
    times = table[["t_start", "t_end"]].to_numpy(dtype=np.float64)
    if len(times) and (not np.isfinite(times).all() or (times[:, 1] < times[:, 0]).any()):
        raise ValueError(f"{what}: every segment needs finite times with t_end >= t_start.")
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if len(labels) else 1
    if len(labels) and labels.max() >= n_classes:
        raise ValueError(f"{what}: label {int(labels.max())} is out of range for "
                         f"n_classes={n_classes}.")
    rows = np.column_stack([times, labels.astype(np.float64)]) if len(labels) else \
        np.zeros((0, 3))
    keys = table["video"].to_numpy()
    per_video = [rows[keys == v] for v in videos]
    return per_video, int(n_classes)


def decode_videos(cache, paths: Sequence[str], *, stride: int, clip_len: int, interval: int,
                  failures: list[VideoFailure], progress: bool = False,
                  what: str = "") -> list[DecodedVideo | None]:
    """Decode every video once (through ``cache``) and lay its snippet grid.

    A video that cannot be opened or decoded, or has no frames or no frame rate, gets a
    ``VideoFailure(stage="decode")`` appended to ``failures`` and None in the result.
    """
    from bench.data.video import VideoDecodeError, probe_video

    iterator = paths
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(paths, desc=f"decode ({what})", unit="video", leave=False)
    out: list[DecodedVideo | None] = []
    for path in iterator:
        try:
            fps = float(probe_video(path).fps)
            if not (np.isfinite(fps) and fps > 0):
                raise VideoDecodeError(path, f"no frame rate (fps={fps})")
            frames = cache.get(path)
            if len(frames) == 0:
                raise VideoDecodeError(path, "no frames")
            grid = SnippetGrid(int(len(frames)), fps, int(stride), int(clip_len), int(interval))
            out.append(DecodedVideo(str(path), frames, grid))
        except (VideoDecodeError, OSError, ValueError) as exc:
            failures.append(VideoFailure(video=str(path), stage="decode", reason=str(exc)))
            out.append(None)
    return out


def empty_output() -> pd.DataFrame:
    """An empty detections table with the protocol's columns and dtypes."""
    return pd.DataFrame({"video": pd.Series([], dtype=object),
                         "t_start": pd.Series([], dtype=np.float64),
                         "t_end": pd.Series([], dtype=np.float64),
                         "label": pd.Series([], dtype=np.int64),
                         "score": pd.Series([], dtype=np.float64)})
