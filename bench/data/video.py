"""Video decoding through OpenCV, with errors that name the file and the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["VideoDecodeError", "VideoInfo", "probe_video", "iter_frames", "read_video",
           "file_identity"]

#: A decoded stream may end this many frames before the container's frame count before we
#: call it truncated. Container counts of AVI/MKV files are often estimates off by a few frames.
_TRUNCATION_TOLERANCE = 0.10


def file_identity(path: str | os.PathLike) -> tuple[int, int]:
    """``(size in bytes, modification time in ns)`` of a file.

    What the tracks' caches take from a video's state (with its absolute path) to decide
    that a stored result is still the result of this file: a rewritten or touched video gets
    a new entry.
    """
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


class VideoDecodeError(RuntimeError):
    """A video file that cannot be decoded.

    Parameters
    ----------
    path : path-like
        The offending file.
    reason : str
        What went wrong and, where possible, how to fix it.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot decode video {self.path!r}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """Container-level facts about a video, read without decoding every frame."""

    path: str
    width: int
    height: int
    fps: float
    frame_count: int


def _open(path: str | os.PathLike) -> cv2.VideoCapture:
    path = Path(path)
    if not path.exists():
        raise VideoDecodeError(path, "file does not exist; check the dataset root and the path")
    if path.is_dir():
        raise VideoDecodeError(path, "path is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "file is empty (0 bytes); re-download or remove it")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoDecodeError(
            path, "OpenCV could not open it: not a video, or a codec/container it cannot read"
        )
    return cap


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video's size, frame rate and frame count, and check that one frame decodes.

    Parameters
    ----------
    path : path-like
        The video file.

    Returns
    -------
    VideoInfo

    Raises
    ------
    VideoDecodeError
        If the file is missing, empty, not a video, or its first frame does not decode.
    """
    cap = _open(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoDecodeError(path, "no frame could be decoded (corrupt or not a video)")
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        return VideoInfo(str(path), frame.shape[1], frame.shape[0], fps, count)
    finally:
        cap.release()


def _resize_short_side(frame: np.ndarray, short_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if min(h, w) == short_side:
        return frame
    scale = short_side / min(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(frame, (new_w, new_h), interpolation=interp)


def iter_frames(
    path: str | os.PathLike,
    *,
    max_frames: int | None = None,
    stride: int = 1,
    fps: float | None = None,
    size: int | None = None,
    gray: bool = False,
) -> Iterator[np.ndarray]:
    """Decode a video frame by frame (streaming: memory does not grow with video length).

    Parameters are those of :func:`read_video`. The truncation check runs when the stream
    ends, so a consumer that stops early never sees it.

    Yields
    ------
    numpy.ndarray
        ``(H, W, 3)`` RGB uint8, or ``(H, W)`` uint8 when ``gray``.
    """
    if stride < 1:
        raise ValueError(f"stride must be an int >= 1. Got {stride} instead.")
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be > 0. Got {fps} instead.")
    if size is not None and size < 1:
        raise ValueError(f"size (short side in pixels) must be >= 1. Got {size} instead.")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1. Got {max_frames} instead.")
    cap = _open(path)
    try:
        src_fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        header_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        step = src_fps / fps if fps is not None else float(stride)
        next_pick = 0.0
        index = yielded = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if index + 1e-9 >= next_pick:
                next_pick += step
                if gray:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                else:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                if size is not None:
                    frame = _resize_short_side(frame, size)
                yield frame
                yielded += 1
                if max_frames is not None and yielded >= max_frames:
                    return
            index += 1
        if index == 0:
            raise VideoDecodeError(path, "no frame could be decoded (corrupt or not a video)")
        if header_count > 0 and index < header_count * (1 - _TRUNCATION_TOLERANCE):
            raise VideoDecodeError(
                path,
                f"truncated: the container announces {header_count} frames but only {index} "
                "decoded; re-download or re-encode the file",
            )
    finally:
        cap.release()


def read_video(
    path: str | os.PathLike,
    *,
    max_frames: int | None = None,
    stride: int = 1,
    fps: float | None = None,
    size: int | None = None,
    gray: bool = False,
) -> np.ndarray:
    """Decode a whole video into one array.

    Parameters
    ----------
    path : path-like
        The video file (any container and codec OpenCV's FFmpeg backend reads).
    max_frames : int, optional
        Stop after this many *returned* frames.
    stride : int, default 1
        Keep every ``stride``-th decoded frame. Ignored when ``fps`` is given.
    fps : float, optional
        Target frame rate: frames are picked at the source-time positions of this rate
        (nearest earlier frame), e.g. ``fps=10`` on a 30 fps video keeps every third frame.
    size : int, optional
        Resize so that the *short* side has this many pixels, keeping the aspect ratio.
    gray : bool, default False
        Return single-channel luminance frames.

    Returns
    -------
    numpy.ndarray
        ``(T, H, W, 3)`` RGB uint8, or ``(T, H, W)`` when ``gray``.

    Raises
    ------
    VideoDecodeError
        The file is missing, empty, not a video, undecodable, or truncated (fewer than 90 % of
        the frames its container announces decode). The message names the file.

    Examples
    --------
    >>> clip = read_video("v_ApplyEyeMakeup_g01_c01.avi", stride=2, size=112)  # doctest: +SKIP
    >>> clip.shape  # doctest: +SKIP
    (82, 112, 149, 3)
    """
    frames = list(
        iter_frames(path, max_frames=max_frames, stride=stride, fps=fps, size=size, gray=gray)
    )
    return np.stack(frames)
