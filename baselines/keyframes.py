"""What the classical localizers share: decoded videos with their keyframes, the protocol's
columns, an empty result table and the sigmoid that turns SVM margins into scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.data.keyframes import keyframe_frames
from bench.data.video import VideoDecodeError, probe_video, read_video

__all__ = ["KeyframeVideo", "TRAINING_COLUMNS", "LOCALIZE_COLUMNS", "empty_localization",
           "sigmoid"]

#: The columns the localizers' ``fit`` reads (the method protocol's training boxes).
TRAINING_COLUMNS = ("video", "timestamp", "frame", "x1", "y1", "x2", "y2", "label",
                    "person_id")
#: The columns the localizers' ``localize`` returns (with the optional track id).
LOCALIZE_COLUMNS = ("video", "timestamp", "x1", "y1", "x2", "y2", "label", "score",
                    "person_id")


def sigmoid(x):
    """``1 / (1 + exp(-x))``, elementwise."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def empty_localization() -> pd.DataFrame:
    """A localization table without rows, with the protocol's columns and dtypes."""
    return pd.DataFrame({c: pd.Series([], dtype=object if c == "video" else
                                      np.int64 if c in ("label", "person_id") else np.float64)
                         for c in LOCALIZE_COLUMNS})


class KeyframeVideo:
    """One decoded video: its grayscale frames, frame rate and 1 Hz keyframes.

    ``key_frames`` and ``key_times`` follow the ground truth's rule
    (:func:`bench.data.keyframes.keyframe_frames`), so every box a method
    returns sits on a keyframe the evaluation has.

    Raises
    ------
    bench.data.video.VideoDecodeError
        The file does not decode, or gives no frame rate or frame count.
    ValueError
        A frame rate below ``rate_hz``.
    """

    def __init__(self, path: str, rate_hz: float):
        info = probe_video(path)
        if not info.fps > 0 or info.frame_count < 1:
            raise VideoDecodeError(path, "the container gives no frame rate or frame count; "
                                   "re-encode the video")
        self.path, self.fps = path, float(info.fps)
        self.frames = read_video(path, gray=True)
        self.key_frames, self.key_times = keyframe_frames(len(self.frames), self.fps, rate_hz)
        self.height, self.width = self.frames.shape[1:]
