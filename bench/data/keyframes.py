"""The keyframe rule of spatio-temporal localization: which frames of a video are keyframes.

AVA annotates one keyframe a second (Gu et al., CVPR 2018); a run's AVA files hold whole-second
timestamps. Keyframe ``k`` (``k >= 1``) of a video at ``fps`` frames per second is the frame
nearest ``k / rate_hz`` seconds, ``frame_k = floor(k * fps / rate_hz + 1/2)``, for as long as
``frame_k < n_frames``; none at ``t = 0``. Its time is ``round(frame_k / fps, 6)``.

The generator's ground truth (:mod:`bench.data.datasets.localization_truth`), the floor
method and both tracks' localizers place keyframes with :func:`keyframe_frames`. This module
imports nothing of the data stage beyond NumPy, so that the tracks (which may import only
``bench``'s small contracts) can use the rule without pulling in the dataset adapters.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["keyframe_frames", "check_keyframe_rate"]


def check_keyframe_rate(rate_hz: float, fps: float, what: str = "keyframes") -> float:
    """``rate_hz`` as a float, or a ``ValueError`` that says what is wrong with it or ``fps``."""
    if not (isinstance(fps, int | float | np.integer | np.floating) and math.isfinite(fps)
            and fps > 0):
        raise ValueError(f"{what}: the video has no frame rate (fps={fps!r}); re-encode it")
    if not (isinstance(rate_hz, int | float | np.integer | np.floating)
            and math.isfinite(rate_hz) and 0 < rate_hz <= fps):
        raise ValueError(f"{what}: the keyframe rate ('rate_hz') must be a number in (0, fps={fps:g}]. "
                         f"Got {rate_hz!r} instead.")
    return float(rate_hz)


def keyframe_frames(n_frames: int, fps: float, rate_hz: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The keyframes of one video: ``(frames, timestamps)`` by the rule of the module.

    Parameters
    ----------
    n_frames : int
        Frames of the video.
    fps : float
    rate_hz : float, default 1.0
        Keyframes per second, in ``(0, fps]``.

    Returns
    -------
    frames : numpy.ndarray of int64
    timestamps : numpy.ndarray of float64
        Seconds, rounded to 6 decimals.

    Examples
    --------
    >>> frames, times = keyframe_frames(80, 25.0)
    >>> frames.tolist(), times.tolist()
    ([25, 50, 75], [1.0, 2.0, 3.0])
    """
    rate_hz = check_keyframe_rate(rate_hz, fps)
    fps = float(fps)
    k = np.arange(1, int(n_frames * rate_hz / fps) + 2)
    frame = np.floor(k * fps / rate_hz + 0.5).astype(np.int64)
    frame = frame[frame <= int(n_frames) - 1]
    return frame, np.round(frame / fps, 6)
