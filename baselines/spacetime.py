"""Space-time descriptors: orientation histograms pooled over the cells of a local video tube.

A sample (a cuboid from a dense grid or an interest point, or the tube around a dense
trajectory) covers ``length`` consecutive frames; at each frame it has a box of fixed size
whose centre may move (trajectories) or stay put (cuboids). The box is split into
``n_x × n_y`` spatial cells and the frames into ``n_t`` temporal cells; each cell's
histogram is the sum of per-pixel orientation maps over the cell's pixels and frames. The
cell histograms are concatenated (t, then y, then x, then bin) and normalised.

Sums come from per-frame integral histograms, so each cell of each frame costs four look-ups
per bin, whatever its size.

Grids
-----
``LAPTEV_GRID`` — Laptev et al. 2008: 3 × 3 × 2 cells; HOG 4 bins (72-d), HOF 5 bins (90-d),
L2 normalisation.
``DENSETRACK_GRID`` — Wang et al. 2011/2013: 2 × 2 × 3 cells; HOG 8 bins (96-d), HOF 8 + 1
bins (108-d), MBHx / MBHy 8 bins (96-d each), RootSIFT-style normalisation (L1 then square
root).

References
----------
.. [1] I. Laptev, M. Marszałek, C. Schmid, B. Rozenfeld, "Learning realistic human actions
   from movies", CVPR 2008, doi:10.1109/CVPR.2008.4587756.
.. [2] H. Wang, A. Kläser, C. Schmid, C.-L. Liu, "Dense trajectories and motion boundary
   descriptors for action recognition", IJCV 103(1), 2013, doi:10.1007/s11263-012-0594-8.
.. [3] F. Porikli, "Integral histogram: a fast way to extract histograms in Cartesian
   spaces", CVPR 2005, doi:10.1109/CVPR.2005.188.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from baselines import _kernels
from baselines import descriptors as _d

__all__ = [
    "CellGrid",
    "DALAL_TRIGGS_GRID",
    "LAPTEV_GRID",
    "DENSETRACK_GRID",
    "Tubes",
    "channel_maps",
    "integral_maps",
    "cell_sums",
    "tube_descriptors",
    "descriptor_dims",
]

#: Channels whose maps come from the frame (appearance) or from the flow (motion).
APPEARANCE_CHANNELS = ("hog",)
MOTION_CHANNELS = ("hof", "mbhx", "mbhy")


@dataclass(frozen=True)
class CellGrid:
    """A descriptor layout: cell counts, bins per channel, normalisation.

    Attributes
    ----------
    n_x, n_y, n_t : int
        Spatial and temporal cell counts.
    bins : dict
        Orientation bins per channel (``"hog"``, ``"hof"``, ``"mbhx"``, ``"mbhy"``). For
        ``"hof"`` the count includes the zero-motion bin.
    normalization : {"l2", "rootsift"}
    signed : bool
        HOG over 360° (DenseTrack) or 180° (Dalal & Triggs, Laptev).
    interpolate : bool
        Split each vote linearly between the two nearest bins (DenseTrack) or not.
    hof_threshold : float
        Flow magnitude (pixels/frame) below which a pixel votes for HOF's zero-motion bin.
    """

    n_x: int
    n_y: int
    n_t: int
    bins: dict = field(default_factory=dict)
    normalization: str = "l2"
    signed: bool = False
    interpolate: bool = False
    hof_threshold: float = 0.4

    def dim(self, channel: str) -> int:
        return self.n_x * self.n_y * self.n_t * self.bins[channel]

    def to_dict(self) -> dict:
        return {
            "n_x": self.n_x,
            "n_y": self.n_y,
            "n_t": self.n_t,
            "bins": dict(sorted(self.bins.items())),
            "normalization": self.normalization,
            "signed": self.signed,
            "interpolate": self.interpolate,
            "hof_threshold": self.hof_threshold,
        }


#: Dalal & Triggs 2005 appearance: a single frame, 3 x 3 cells of 9 unsigned orientation bins
#: (81-d), L2. No temporal cells, so a bag of these words cannot see motion or frame order.
DALAL_TRIGGS_GRID = CellGrid(3, 3, 1, {"hog": 9}, "l2", signed=False, interpolate=False,
                             hof_threshold=0.4)
LAPTEV_GRID = CellGrid(3, 3, 2, {"hog": 4, "hof": 5}, "l2", signed=False, interpolate=False,
                       hof_threshold=0.4)
DENSETRACK_GRID = CellGrid(
    2, 2, 3, {"hog": 8, "hof": 9, "mbhx": 8, "mbhy": 8}, "rootsift", signed=True,
    interpolate=True, hof_threshold=0.4,
)


def descriptor_dims(grid: CellGrid) -> dict[str, int]:
    """Descriptor length per channel of ``grid`` (72/90 for Laptev, 96/108/96/96 for DT)."""
    return {c: grid.dim(c) for c in grid.bins}


@dataclass
class Tubes:
    """A batch of space-time samples that all span ``length`` frames.

    Attributes
    ----------
    t0 : (n,) int
        First frame (global index in the video) of each tube.
    centers : (n, length, 2) float
        Box centre ``(x, y)`` at each frame.
    size : (n, 2) int
        Box width and height in pixels.
    length : int
    info : (n, k) float, optional
        Per-sample metadata kept with the descriptors (x, y, t, scale).
    extra : dict of (n, d) arrays
        Descriptors computed by the sampler itself (the trajectory shape).
    """

    t0: np.ndarray
    centers: np.ndarray
    size: np.ndarray
    length: int
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t0)


# ---------------------------------------------------------------- orientation maps
def channel_maps(
    channel: str, frame: np.ndarray | None, flow: np.ndarray | None, grid: CellGrid
) -> np.ndarray:
    """Per-pixel orientation maps ``(bins, H, W)`` float32 of one channel for one frame.

    Parameters
    ----------
    channel : {"hog", "hof", "mbhx", "mbhy"}
    frame : (H, W) array
        Grayscale frame (used by ``"hog"``).
    flow : (H, W, 2) float array
        Flow from this frame to the next (used by the motion channels).
    grid : CellGrid
        Gives the bin counts, signed/unsigned HOG, bin interpolation and HOF's zero-motion
        threshold.

    Notes
    -----
    The votes come from :mod:`baselines.descriptors` (``gradient_orientation_maps``,
    ``flow_orientation_maps``, ``mbh_orientation_maps``); this function picks the options
    of the grid.
    """
    n_bins = grid.bins.get(channel)
    if n_bins is None:
        raise ValueError(
            f"descriptor channel {channel!r} is not part of this grid; use one of "
            f"{tuple(grid.bins)}"
        )
    if channel == "hog":
        maps = _d.gradient_orientation_maps(np.asarray(frame, dtype=np.float32), n_bins,
                                            signed=grid.signed, interpolate=grid.interpolate)
    elif channel == "hof":
        maps = _d.flow_orientation_maps(flow, n_bins - 1, zero_bin=True,
                                        threshold=grid.hof_threshold,
                                        interpolate=grid.interpolate)
    elif channel in ("mbhx", "mbhy"):
        pair = _d.mbh_orientation_maps(flow, n_bins, signed=True, interpolate=grid.interpolate)
        maps = pair[0 if channel == "mbhx" else 1]
    else:
        raise ValueError(f"unknown descriptor channel {channel!r}")
    return np.ascontiguousarray(maps, dtype=np.float32)


def integral_maps(maps: np.ndarray) -> np.ndarray:
    """Integral histogram ``(bins, H+1, W+1)`` float64 of maps ``(bins, H, W)``.

    ``I[b, y, x] = sum(maps[b, :y, :x])``, so a box sum costs four look-ups per bin
    (:func:`baselines.descriptors.integral_histogram`, Porikli 2005).
    """
    return _d.integral_histogram(maps)


# ---------------------------------------------------------------- pooling
def _box_origins(centers: np.ndarray, size: np.ndarray, frame_hw: tuple[int, int]):
    """Top-left corners (clipped so the box lies inside the frame) and clipped sizes."""
    h, w = frame_hw
    bw = np.minimum(size[:, 0], w).astype(np.int64)
    bh = np.minimum(size[:, 1], h).astype(np.int64)
    x0 = np.round(centers[..., 0] - bw[:, None] / 2.0).astype(np.int64)
    y0 = np.round(centers[..., 1] - bh[:, None] / 2.0).astype(np.int64)
    x0 = np.clip(x0, 0, (w - bw)[:, None])
    y0 = np.clip(y0, 0, (h - bh)[:, None])
    return x0, y0, bw, bh


def cell_sums(
    integrals: np.ndarray, tubes: Tubes, grid: CellGrid, t_offset: int = 0, ring: bool = False
) -> np.ndarray:
    """Per-cell histograms of ``tubes`` from per-frame integral histograms.

    Parameters
    ----------
    integrals : (T, B, H+1, W+1) array
        Integral histograms (:func:`integral_maps`) of consecutive frames; frame ``t`` of
        the video is ``integrals[t - t_offset]``.
    tubes : Tubes
    grid : CellGrid
    t_offset : int
        Global index of ``integrals[0]``.
    ring : bool
        ``integrals`` is a ring buffer: frame ``t`` is ``integrals[t % len(integrals)]``
        (``t_offset`` is ignored; the caller guarantees the frames are present).

    Returns
    -------
    numpy.ndarray
        ``(n, n_t, n_y, n_x, B)`` float64 cell sums.
    """
    n = len(tubes)
    n_frames, n_bins, hp1, wp1 = integrals.shape
    out = np.zeros((n, grid.n_t, grid.n_y, grid.n_x, n_bins))
    if n == 0:
        return out
    length = tubes.length
    if length < grid.n_t:
        raise ValueError(
            f"tubes of {length} frames cannot be split into n_t={grid.n_t} temporal cells; "
            "use longer tubes"
        )
    if ring:
        t_rel = tubes.t0.astype(np.int64)
    else:
        t_rel = tubes.t0.astype(np.int64) - t_offset
        if t_rel.min() < 0 or t_rel.max() + length > n_frames:
            raise ValueError("a tube reaches outside the frames held in the window")
    x0, y0, bw, bh = _box_origins(tubes.centers, np.asarray(tubes.size), (hp1 - 1, wp1 - 1))
    t_edges = np.round(np.linspace(0, length, grid.n_t + 1)).astype(np.int64)
    t_cell = (np.searchsorted(t_edges, np.arange(length), side="right") - 1).astype(np.int64)
    frames = t_rel[:, None] + np.arange(length)[None, :]  # (n, L)
    if ring:
        frames %= n_frames
    x_off = np.round(bw[:, None] * np.linspace(0, 1, grid.n_x + 1)[None, :]).astype(np.int64)
    y_off = np.round(bh[:, None] * np.linspace(0, 1, grid.n_y + 1)[None, :]).astype(np.int64)
    _kernels._tube_cell_sums(
        np.ascontiguousarray(integrals, dtype=np.float64), np.ascontiguousarray(frames),
        np.ascontiguousarray(x0), np.ascontiguousarray(y0), x_off, y_off, t_cell, out,
    )
    return out


def tube_descriptors(
    integrals: np.ndarray, tubes: Tubes, grid: CellGrid, t_offset: int = 0, ring: bool = False
) -> np.ndarray:
    """Normalised descriptors ``(n, n_t * n_y * n_x * B)`` float32 of ``tubes``.

    Parameters are those of :func:`cell_sums`. The layout is cell-major in the order
    (t, y, x) with the bins innermost; normalisation follows ``grid.normalization``.
    """
    sums = cell_sums(integrals, tubes, grid, t_offset, ring)
    # Orientation votes are non-negative; four-corner differences of large integrals can
    # leave rounding residues of about -1e-12, which RootSIFT's square root must not see.
    flat = np.maximum(sums.reshape(len(tubes), -1), 0.0)
    if len(tubes) == 0:
        return flat.astype(np.float32)
    return _d.normalize_descriptor(flat, method=grid.normalization).astype(np.float32)
