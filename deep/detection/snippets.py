"""Snippets of an untrimmed video: the time grid, the clips cut on it and their labels.

Both deep detectors of :mod:`deep.detection` see a video as a sequence of **cells** of
``stride`` frames; cell ``k`` holds frames ``[k * stride, (k + 1) * stride)`` and is described
by one **snippet**, a dense clip of ``clip_len`` frames every ``interval`` frames centred on the
cell (indices past either end of the video are clamped to it, so every snippet has
``clip_len`` valid frames). A time ``t`` in seconds sits at the continuous cell coordinate
``u = t * fps / stride``; cell ``k`` spans ``u`` in ``[k, k + 1)``. Proposals and regressed
segments are computed in cell units and converted back to seconds with
:meth:`SnippetGrid.to_seconds`.

The label of a snippet is the class of the instance that covers its centre frame (the
structured segment network's snippet labels, Zhao et al. 2017); a snippet covered by no
instance is *background* (the extra class ``n_classes``). Where several actors act at once and
the instances that cover the centre have different classes, the target splits its mass evenly
between them (a soft target for the cross-entropy), where the paper, with one actor per video,
has one class.

Snippets see the *whole* frame (detection must not crop away an actor at the side), resized
only by the decoded-frame cache's short side, as frames or as the RGB difference of each
frame and the next (the RGB-difference stream of TSN, Wang et al. 2016, a cheap stand-in for
the optical-flow stream of the structured segment network). The training augmentation is a
random crop of most of the frame resized back to the frame size (the crop box of
:func:`deep.clips.random_resized_crop_box`), a temporal jitter of the centre inside its cell,
and a horizontal flip only where the dataset allows it. Every clip is standardised per channel
with its own statistics, as :class:`deep.clips.ClipSpec` does with ``normalise="clip"`` (that
helper is private to :mod:`deep.clips`, hence :func:`snippet_clip` here).

References
----------
Wang, L. et al. (2016). Temporal segment networks: towards good practices for deep action
recognition (RGB difference). ECCV. arXiv:1608.00859.
Zhao, Y., Xiong, Y., Wang, L., Wu, Z., Tang, X., Lin, D. (2017). Temporal action detection
with structured segment networks. ICCV. arXiv:1704.06228.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from deep.clips import random_resized_crop_box

__all__ = [
    "SnippetGrid",
    "MODALITIES",
    "snippet_clip",
    "snippet_targets",
    "TrainSnippets",
    "GridSnippets",
]


@dataclass(frozen=True)
class SnippetGrid:
    """The cells of one video and the snippet clip of each.

    Attributes
    ----------
    n_frames : int
        Frames of the decoded video (>= 1).
    fps : float
        Its frame rate (frames per second of the decoded frames).
    stride : int
        Frames per cell.
    clip_len : int
        Frames per snippet.
    interval : int
        Frame interval inside a snippet.
    """

    n_frames: int
    fps: float
    stride: int
    clip_len: int
    interval: int

    def __post_init__(self) -> None:
        for name in ("n_frames", "stride", "clip_len", "interval"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"The {name!r} parameter of SnippetGrid must be an int >= 1. "
                                 f"Got {value!r} instead.")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"The 'fps' parameter of SnippetGrid must be > 0. Got {self.fps!r}.")

    @property
    def n_cells(self) -> int:
        """Cells of the video, ``ceil(n_frames / stride)`` (the last may be partial)."""
        return math.ceil(self.n_frames / self.stride)

    @property
    def duration(self) -> float:
        """Length of the video in seconds."""
        return self.n_frames / self.fps

    def centre_frame(self, cell: int | np.ndarray) -> np.ndarray:
        """The test centre frame of ``cell``: the middle frame of the cell (clamped)."""
        centre = np.asarray(cell) * self.stride + (self.stride - 1) // 2
        return np.minimum(centre, self.n_frames - 1)

    def clip_indices(self, centre: int) -> np.ndarray:
        """The ``clip_len`` frame indices of the snippet centred on frame ``centre``."""
        first = int(centre) - ((self.clip_len - 1) * self.interval) // 2
        idx = first + self.interval * np.arange(self.clip_len, dtype=np.int64)
        return np.clip(idx, 0, self.n_frames - 1)

    def to_cells(self, seconds: np.ndarray | float) -> np.ndarray:
        """Times in seconds as continuous cell coordinates ``t * fps / stride``."""
        return np.asarray(seconds, dtype=np.float64) * self.fps / self.stride

    def to_seconds(self, cells: np.ndarray | float) -> np.ndarray:
        """Cell coordinates as seconds, clipped to ``[0, duration]``."""
        seconds = np.asarray(cells, dtype=np.float64) * self.stride / self.fps
        return np.clip(seconds, 0.0, self.duration)


#: The inputs a snippet can hold (see :func:`snippet_clip`).
MODALITIES = ("rgb", "diff")


def _frames_at(frames: np.ndarray, indices: np.ndarray, box, flip: bool) -> np.ndarray:
    picked = np.asarray(frames[indices])
    height, width = picked.shape[1:3]
    if box is not None:
        y0, x0, h, w = box
        picked = np.stack([cv2.resize(np.ascontiguousarray(f[y0:y0 + h, x0:x0 + w]),
                                      (width, height), interpolation=cv2.INTER_LINEAR)
                           for f in picked])
    return picked[:, :, ::-1] if flip else picked


def snippet_clip(frames: np.ndarray, indices: np.ndarray, *,
                 box: tuple[int, int, int, int] | None = None, flip: bool = False,
                 modality: str = "rgb") -> np.ndarray:
    """One snippet as a network input: ``(3, T, H, W)`` float32, standardised per channel.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(N, H, W, 3)`` uint8 decoded frames (a memory map is fine).
    indices : numpy.ndarray
        The frame indices of the snippet.
    box : (y0, x0, h, w), optional
        Crop this box and resize it back to ``H x W`` (training); None: the whole frame.
    flip : bool
        Mirror horizontally.
    modality : {"rgb", "diff"}, default "rgb"
        ``rgb``: the frames; ``diff``: the RGB difference of each frame and the next one
        (TSN's RGB-difference stream, a cheap stand-in for optical flow: the static
        background and the actors' look cancel, motion stays).

    Returns
    -------
    numpy.ndarray
        ``(3, T, H, W)`` float32: each channel minus the clip's mean over its standard
        deviation (floored at 1/255, so that a flat clip does not blow up).
    """
    if modality not in MODALITIES:
        raise ValueError(f"The 'modality' parameter must be one of {MODALITIES}. "
                         f"Got {modality!r} instead.")
    picked = _frames_at(frames, indices, box, flip).astype(np.float32)
    if modality == "diff":
        following = np.minimum(np.asarray(indices) + 1, len(frames) - 1)
        picked = _frames_at(frames, following, box, flip).astype(np.float32) - picked
    clip = np.ascontiguousarray(picked.transpose(3, 0, 1, 2)) / 255.0
    flat = clip.reshape(3, -1)
    mean = flat.mean(axis=1)
    std = np.maximum(flat.std(axis=1), 1 / 255)
    clip -= mean[:, None, None, None]
    clip /= std[:, None, None, None]
    return clip


def snippet_targets(centre_frames: np.ndarray, fps: float, segments: np.ndarray,
                    n_classes: int) -> np.ndarray:
    """Soft class targets of snippets, background last: ``(n, n_classes + 1)`` float32.

    Parameters
    ----------
    centre_frames : numpy.ndarray of int
        The centre frame of each snippet; its time is the frame's middle, ``(f + 0.5) / fps``.
    fps : float
    segments : numpy.ndarray, shape (m, 3)
        ``t_start, t_end, label`` of the video's instances (seconds; label in
        ``range(n_classes)``).
    n_classes : int

    Returns
    -------
    numpy.ndarray
        A row sums to 1: background (column ``n_classes``) when no instance covers the
        centre (``t_start <= t < t_end``), else an even split over the classes of the
        instances that cover it.
    """
    times = (np.asarray(centre_frames, dtype=np.float64) + 0.5) / fps
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 3)
    cover = (segments[None, :, 0] <= times[:, None]) & (times[:, None] < segments[None, :, 1])
    onehot = np.zeros((len(segments), n_classes + 1))
    onehot[np.arange(len(segments)), segments[:, 2].astype(np.int64)] = 1.0
    hits = np.minimum(cover.astype(np.float64) @ onehot, 1.0)  # distinct classes per snippet
    none = hits.sum(axis=1) == 0
    hits[none, n_classes] = 1.0
    return (hits / hits.sum(axis=1, keepdims=True)).astype(np.float32)


class TrainSnippets(Dataset):
    """Training snippets: one per (video, cell), drawn from a generator seeded by
    ``(seed, epoch, item)`` so a snippet does not depend on the DataLoader's workers.

    Parameters
    ----------
    cache : deep.cache.ClipCache
    paths : sequence of str
    grids : sequence of SnippetGrid
    segments : sequence of numpy.ndarray
        Per video, ``(m, 3)``: ``t_start, t_end, label``.
    n_classes : int
    seed : int
    scale : (float, float)
        Area range of the training crop (1, 1: no crop).
    allow_flip : bool
    modality : {"rgb", "diff"}

    Notes
    -----
    Set :attr:`epoch` before each epoch's loader is iterated.
    """

    def __init__(self, cache, paths, grids, segments, n_classes: int, seed: int,
                 scale: tuple[float, float], allow_flip: bool, modality: str = "rgb"):
        self.cache, self.paths, self.grids = cache, list(paths), list(grids)
        self.segments, self.n_classes, self.seed = list(segments), int(n_classes), int(seed)
        self.scale, self.allow_flip, self.epoch = tuple(scale), bool(allow_flip), 0
        self.modality = modality
        self.items = np.array([(v, k) for v, g in enumerate(self.grids)
                               for k in range(g.n_cells)], dtype=np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int):
        video, cell = (int(x) for x in self.items[item])
        grid = self.grids[video]
        rng = np.random.default_rng([self.seed, self.epoch, item])
        centre = min(cell * grid.stride + int(rng.integers(grid.stride)), grid.n_frames - 1)
        frames = self.cache.get(self.paths[video])
        height, width = frames.shape[1:3]
        box = None
        if self.scale != (1.0, 1.0):
            aspect = width / height
            box = random_resized_crop_box(height, width, self.scale,
                                          (aspect * 0.9, aspect / 0.9), rng)
        flip = bool(self.allow_flip and rng.random() < 0.5)
        clip = snippet_clip(frames, grid.clip_indices(centre), box=box, flip=flip,
                            modality=self.modality)
        target = snippet_targets(np.array([centre]), grid.fps, self.segments[video],
                                 self.n_classes)[0]
        return torch.from_numpy(clip), torch.from_numpy(target)


class GridSnippets(Dataset):
    """Every cell's test snippet of one video (whole frame, centred, no augmentation)."""

    def __init__(self, frames: np.ndarray, grid: SnippetGrid, modality: str = "rgb"):
        self.frames, self.grid, self.modality = frames, grid, modality

    def __len__(self) -> int:
        return self.grid.n_cells

    def __getitem__(self, cell: int) -> torch.Tensor:
        centre = int(self.grid.centre_frame(cell))
        return torch.from_numpy(snippet_clip(self.frames, self.grid.clip_indices(centre),
                                             modality=self.modality))
