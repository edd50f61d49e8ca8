"""A decoded-clip cache: decode each video once, read it memory-mapped every epoch after.

Deep training visits every video once per epoch. Decoding (and resizing) a compressed video
costs far more than cutting a clip from decoded frames, so :class:`ClipCache` decodes each
video once with :func:`bench.data.video.read_video` at the target short side and frame rate, stores
the ``(T, H, W, 3)`` uint8 frames as ``<cache_dir>/frames/<key>.npy`` and hands back read-only
memory maps afterwards. The key is a SHA-256 over the absolute path, the file size, its
modification time and the decode parameters, so a changed file or other decode settings never
read stale frames (one object remembers where the frames of a video it has read lie, and
maps them again directly while the video's size and modification time stay the same). Files
are written to a temporary name and renamed, so concurrent workers
and interrupted runs never see a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from pathlib import Path

import numpy as np

from bench.atomic import atomic_path
from bench.data.video import file_identity, read_video

__all__ = ["ClipCache"]

#: Bump when the stored layout changes, so old entries are not read.
CACHE_VERSION = 1


def _map_frames(entry: Path, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    """Read-only uint8 array of ``shape`` memory-mapped from ``entry`` at byte ``offset``.

    What ``np.load(entry, mmap_mode="r")`` returns, without parsing the header again, which
    would cost several times the mapping itself on every training clip (measured:
    docs/deep-recipes.md).
    """
    with open(entry, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    count = int(np.prod(shape))
    if offset + count > len(mapped):
        raise ValueError(f"{entry} is shorter than its frames: the entry changed")
    return np.frombuffer(mapped, dtype=np.uint8, count=count, offset=offset).reshape(shape)


class ClipCache:
    """Decoded frames of videos, stored once as uint8 ``.npy`` files and memory-mapped.

    Parameters
    ----------
    cache_dir : path-like or None
        Root of the cache; entries go to ``cache_dir/frames/``. ``None`` keeps nothing on disk
        (every call decodes again).
    short_side : int or None
        Resize so that the short side has this many pixels (``None``: native size).
    fps : float or None
        Target frame rate (``None``: every decoded frame).
    max_frames : int or None
        Keep at most this many frames per video.

    Attributes
    ----------
    decodes : int
        Videos decoded by this object (in this process): a cache hit does not count.

    Examples
    --------
    >>> cache = ClipCache("/tmp/actbench-cache", short_side=64)  # doctest: +SKIP
    >>> frames = cache.get("video.avi")  # decodes and stores  # doctest: +SKIP
    >>> frames = cache.get("video.avi")  # memory map, no decoding  # doctest: +SKIP
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike | None,
        *,
        short_side: int | None = None,
        fps: float | None = None,
        max_frames: int | None = None,
    ):
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.short_side = short_side
        self.fps = fps
        self.max_frames = max_frames
        self.decodes = 0
        # path -> ((size, mtime) of the video, (entry, offset, shape) of its frames) for the
        # entries this object has read: later reads of an unchanged video map the entry
        # directly, without resolving and hashing the path or parsing the .npy header again.
        self._known: dict[str, tuple[tuple[int, int], tuple[Path, int, tuple[int, ...]]]] = {}

    def params(self) -> dict:
        """The decode parameters that are part of every key."""
        return {
            "version": CACHE_VERSION,
            "short_side": self.short_side,
            "fps": self.fps,
            "max_frames": self.max_frames,
        }

    def key(self, path: str | os.PathLike) -> str:
        """SHA-256 key of ``(absolute path, file size, mtime, decode parameters)``.

        Raises
        ------
        FileNotFoundError
            When the file does not exist (callers treat it as a decode failure).
        """
        path = Path(path).resolve()
        blob = json.dumps([str(path), *file_identity(path), self.params()], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def entry_path(self, path: str | os.PathLike) -> Path | None:
        """Where the frames of ``path`` are (or would be) stored; None without a cache dir."""
        if self.cache_dir is None:
            return None
        return self.cache_dir / "frames" / f"{self.key(path)}.npy"

    def _decode(self, path: str | os.PathLike) -> np.ndarray:
        self.decodes += 1
        return read_video(path, size=self.short_side, fps=self.fps, max_frames=self.max_frames)

    def get(self, path: str | os.PathLike) -> np.ndarray:
        """The decoded ``(T, H, W, 3)`` uint8 frames of ``path`` (a read-only memory map
        when cached).

        Raises
        ------
        bench.data.video.VideoDecodeError
            When the video cannot be decoded (nothing is cached for it).
        """
        known = self._known.get(str(path))
        if known is not None:
            try:
                if file_identity(path) == known[0]:
                    return _map_frames(*known[1])
            except (ValueError, OSError):  # the video or the entry went away: look again
                pass
            del self._known[str(path)]
        entry = None
        if self.cache_dir is not None and Path(path).exists():
            entry = self.entry_path(path)
            if entry.exists():
                try:
                    return self._remember(path, np.load(entry, mmap_mode="r"))
                except (ValueError, OSError):  # unreadable entry: decode again
                    entry.unlink(missing_ok=True)
        frames = self._decode(path)
        if entry is None:
            return frames
        with atomic_path(entry) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(frames))
        return self._remember(path, np.load(entry, mmap_mode="r"))

    def _remember(self, path: str | os.PathLike, frames: np.memmap) -> np.memmap:
        """Note where the uint8 frames of ``path`` lie in their entry file; return them."""
        if frames.dtype == np.uint8 and frames.flags.c_contiguous:
            where = (Path(frames.filename), int(frames.offset), frames.shape)
            self._known[str(path)] = (file_identity(path), where)
        return frames
