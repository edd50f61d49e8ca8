"""Where to describe a video: dense space-time grids, Harris3D interest points, dense trajectories.

Every sampler works on a :class:`Window` — the frames (and their optical flow) that the
streaming extractor (:mod:`baselines.extraction`) holds at one time — and returns
:class:`~baselines.spacetime.Tubes` that start at the frames the window *owns*. A sampler
declares how many frames of past (``pre``) and future (``post``) context it needs beyond the
owned frames; the extractor keeps exactly that many, so memory does not grow with the video.

References
----------
.. [1] H. Wang, M. M. Ullah, A. Kläser, I. Laptev, C. Schmid, "Evaluation of local
   spatio-temporal features for action recognition", BMVC 2009, doi:10.5244/C.23.124.
.. [2] I. Laptev, "On space-time interest points", IJCV 64(2/3), 2005,
   doi:10.1007/s11263-005-1838-7.
.. [3] H. Wang, A. Kläser, C. Schmid, C.-L. Liu, "Action recognition by dense trajectories",
   CVPR 2011, doi:10.1109/CVPR.2011.5995407; journal version IJCV 103(1), 2013,
   doi:10.1007/s11263-012-0594-8.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from scipy import ndimage

from baselines.spacetime import Tubes

__all__ = [
    "Window",
    "DenseGridSampler",
    "Harris3DSampler",
    "TrajectorySampler",
    "harris3d_response",
    "gaussian_kernel",
    "gaussian_smooth_volume",
    "trajectory_is_valid",
    "trajectory_shape",
    "make_sampler",
]


@dataclass
class Window:
    """Consecutive frames of a video held by the streaming extractor.

    Attributes
    ----------
    start : int
        Global index of ``frames[0]``.
    frames : (T, H, W) uint8
        Grayscale frames ``start .. start + T - 1``.
    flows : (T - 1, H, W, 2) float32 or None
        ``flows[i]`` is the flow from frame ``start + i`` to ``start + i + 1``.
    """

    start: int
    frames: np.ndarray
    flows: np.ndarray | None = None

    @property
    def end(self) -> int:
        """One past the last frame a tube may cover (flow must exist for it)."""
        return self.start + len(self.frames) - 1


def _empty(length: int, d_extra: dict | None = None) -> Tubes:
    return Tubes(
        np.zeros(0, np.int64), np.zeros((0, length, 2)), np.zeros((0, 2), np.int64), length,
        dict(d_extra or {}),
    )


# ------------------------------------------------------------------ dense grid
@dataclass
class DenseGridSampler:
    """Cuboids on a regular space-time grid over several scales (Wang et al. 2009).

    Parameters
    ----------
    sizes : tuple of int
        Spatial side lengths in pixels (the paper: 18 px times powers of sqrt(2)).
    lengths : tuple of int
        Temporal lengths in frames (the paper: 10 and 20).
    overlap : float
        Overlap of neighbouring cuboids in space and time (the paper: 50 %).

    Notes
    -----
    Each (size, length) pair makes one grid; the paper combines sizes and lengths the same
    way. Cuboids never leave the frame: the grid starts at the border.
    """

    sizes: tuple = (18, 25, 36, 51)
    lengths: tuple = (10, 20)
    overlap: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must be in [0, 1). Got {self.overlap} instead.")
        if min(self.sizes) < 2 or min(self.lengths) < 1:
            raise ValueError("DenseGridSampler sizes must be >= 2 px and lengths >= 1 frame")

    @property
    def pre(self) -> int:
        return 0

    @property
    def post(self) -> int:
        return max(self.lengths)

    def reset(self) -> None:
        """Nothing to forget between videos."""

    def sample(self, window: Window, owned: range) -> list[Tubes]:
        h, w = window.frames.shape[1:]
        out = []
        for length in self.lengths:
            t_step = max(1, round(length * (1 - self.overlap)))
            starts = [t for t in owned if t % t_step == 0 and t + length <= window.end]
            for size in self.sizes:
                if size > min(h, w):
                    continue
                step = max(1, round(size * (1 - self.overlap)))
                xs = np.arange(0, w - size + 1, step) + size / 2.0
                ys = np.arange(0, h - size + 1, step) + size / 2.0
                gx, gy = np.meshgrid(xs, ys)
                pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
                if not starts or len(pts) == 0:
                    continue
                n = len(starts) * len(pts)
                t0 = np.repeat(np.asarray(starts, np.int64), len(pts))
                centers = np.tile(pts, (len(starts), 1))[:, None, :].repeat(length, axis=1)
                out.append(Tubes(t0, centers, np.full((n, 2), size, np.int64), length))
        return out

    def to_dict(self) -> dict:
        return {"kind": "dense", **{k: list(v) if isinstance(v, tuple) else v
                                    for k, v in asdict(self).items()}}


# ------------------------------------------------------------------ Harris3D
def gaussian_kernel(sd: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised 1-D Gaussian of standard deviation ``sd``, radius ``int(truncate sd + 0.5)``.

    The kernel of :func:`scipy.ndimage.gaussian_filter` (same radius rule, same weights).
    """
    radius = int(truncate * sd + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * x * x / (sd * sd))
    return weights / weights.sum()


def gaussian_smooth_volume(volume: np.ndarray, sd_t: float, sd_s: float) -> np.ndarray:
    """Separable Gaussian smoothing of a ``(T, H, W)`` float volume, mirrored at the borders.

    The same filter as ``scipy.ndimage.gaussian_filter(volume, (sd_t, sd_s, sd_s),
    mode="mirror")`` (same kernels, OpenCV's ``BORDER_REFLECT_101`` being scipy's ``mirror``),
    equal to it up to floating-point rounding (tested), through OpenCV's vectorised separable
    filter: the temporal pass filters the columns of the ``(T, H * W)`` view, the spatial pass
    each frame. ``bench perf --only harris3d`` measures it against scipy.
    """
    v = np.ascontiguousarray(volume)
    n_frames = v.shape[0]
    one = np.ones(1, v.dtype)
    k_t, k_s = gaussian_kernel(sd_t).astype(v.dtype), gaussian_kernel(sd_s).astype(v.dtype)
    out = cv2.sepFilter2D(v.reshape(n_frames, -1), -1, one, k_t,
                          borderType=cv2.BORDER_REFLECT_101).reshape(v.shape)
    for i in range(n_frames):
        out[i] = cv2.sepFilter2D(out[i], -1, k_s, k_s, borderType=cv2.BORDER_REFLECT_101)
    return out


def harris3d_response(
    volume: np.ndarray, sigma2: float, tau2: float, s: float = 2.0, k: float = 0.005
) -> np.ndarray:
    """Laptev's space-time Harris function ``H = det(mu) - k trace(mu)^3``.

    Parameters
    ----------
    volume : (T, H, W) array
        Grayscale frames scaled to [0, 1].
    sigma2, tau2 : float
        Spatial and temporal variances of the local (differentiation) scale.
    s : float
        Integration scale factor: ``mu`` is smoothed with variances ``s*sigma2, s*tau2``.
    k : float
        The paper's 0.005.

    Returns
    -------
    numpy.ndarray
        ``(T, H, W)`` float64 response.

    Notes
    -----
    Gradients are central differences of the Gaussian-smoothed volume (the paper uses the
    same scale-space derivatives up to discretisation), multiplied by ``sigma`` and ``tau``
    (scale normalisation, so one threshold serves every scale). Borders are mirrored. The
    smoothing is :func:`gaussian_smooth_volume` (scipy's Gaussian filter through OpenCV).
    """
    v = np.asarray(volume, dtype=np.float64)
    sig, tau = math.sqrt(sigma2), math.sqrt(tau2)
    smooth = gaussian_smooth_volume(v, tau, sig)
    lt, ly, lx = np.gradient(smooth)
    lx, ly, lt = lx * sig, ly * sig, lt * tau  # scale-normalised derivatives
    integ_t, integ_s = math.sqrt(s) * tau, math.sqrt(s) * sig

    def g(a):
        return gaussian_smooth_volume(a, integ_t, integ_s)

    xx, yy, tt = g(lx * lx), g(ly * ly), g(lt * lt)
    xy, xt, yt = g(lx * ly), g(lx * lt), g(ly * lt)
    det = xx * (yy * tt - yt * yt) - xy * (xy * tt - yt * xt) + xt * (xy * yt - yy * xt)
    trace = xx + yy + tt
    return det - k * trace**3


@dataclass
class Harris3DSampler:
    """Space-time interest points (Harris3D, Laptev 2005) at a few fixed scales.

    Parameters
    ----------
    sigma2s, tau2s : tuple of float
        Spatial and temporal scales (variances); every pair is searched (the multi-scale
        detector of Laptev et al. 2008 uses sigma^2 in 4, 8, 16, ... and tau^2 in 2, 4).
    k : float
        Harris constant (0.005).
    threshold : float
        Minimum response (frames scaled to [0, 1]).
    max_points_per_frame : int
        Keep at most this many of the strongest maxima per owned frame on average.
    k_space, k_time : float
        Descriptor patch size ``2 * k_space * sigma`` by ``2 * k_time * tau`` (the paper's
        18 sigma by 8 tau: k_space = 9, k_time = 4).

    Notes
    -----
    Differences from the paper: no scale selection by the normalised Laplacian (all scale
    pairs are kept, as in Laptev et al. 2008); maxima are 3 × 3 × 3 neighbourhood maxima at
    each scale; the volume is processed in overlapping chunks for streaming.
    """

    sigma2s: tuple = (4.0, 8.0)
    tau2s: tuple = (2.0, 4.0)
    k: float = 0.005
    threshold: float = 1e-10
    max_points_per_frame: int = 20
    k_space: float = 9.0
    k_time: float = 4.0
    s: float = 2.0

    def _support(self) -> int:
        # Temporal reach of one response value: scipy's Gaussian kernels reach
        # ``int(4 sd + 0.5)`` frames (truncate = 4), the central difference 1 and the 3x3x3
        # maximum 1 more. Context frames beyond this make the result independent of chunking.
        tau = math.sqrt(max(self.tau2s))
        return int(4 * tau + 0.5) + 1 + int(4 * math.sqrt(self.s) * tau + 0.5) + 1

    # the border margin of ``detect`` (2 integration scales) is below the support, so in the
    # middle of a video the window's context frames absorb it; only the video's own first and
    # last frames lose detections.

    def _half_length(self, tau2: float) -> int:
        return max(1, int(round(self.k_time * math.sqrt(tau2))))

    @property
    def pre(self) -> int:
        return self._support() + max(self._half_length(t) for t in self.tau2s)

    @property
    def post(self) -> int:
        return self.pre + 1

    def reset(self) -> None:
        """Nothing to forget between videos."""

    def detect(self, window: Window, owned: range) -> np.ndarray:
        """Interest points ``(n, 6)``: x, y, t (global), sigma2, tau2, response."""
        vol = window.frames.astype(np.float64) / 255.0
        rows = []
        lo, hi = owned.start - window.start, owned.stop - window.start
        for sigma2 in self.sigma2s:
            for tau2 in self.tau2s:
                resp = harris3d_response(vol, sigma2, tau2, self.s, self.k)
                peak = ndimage.maximum_filter(resp, size=3, mode="nearest")
                mask = (resp == peak) & (resp > self.threshold)
                # Mirrored borders reverse the motion at the first and last frames held, a
                # fake event: keep maxima at least two integration scales from them.
                edge = int(math.ceil(2 * math.sqrt(self.s * tau2)))
                mask[:max(lo, edge)] = False
                mask[min(hi, len(vol) - edge):] = False
                mask[:, :1] = mask[:, -1:] = False
                mask[:, :, :1] = mask[:, :, -1:] = False
                t, y, x = np.nonzero(mask)
                rows.append(np.stack([x, y, t + window.start, np.full(len(t), sigma2),
                                      np.full(len(t), tau2), resp[t, y, x]], axis=1))
        pts = np.concatenate(rows) if rows else np.zeros((0, 6))
        cap = self.max_points_per_frame * max(1, len(owned))
        if len(pts) > cap:
            order = np.lexsort((pts[:, 0], pts[:, 1], pts[:, 2], -pts[:, 5]))
            pts = pts[order[:cap]]
        return pts

    def sample(self, window: Window, owned: range) -> list[Tubes]:
        pts = self.detect(window, owned)
        out = []
        for tau2 in self.tau2s:
            half = self._half_length(tau2)
            length = 2 * half
            for sigma2 in self.sigma2s:
                sel = (pts[:, 3] == sigma2) & (pts[:, 4] == tau2)
                p = pts[sel]
                if len(p) == 0:
                    continue
                t0 = p[:, 2].astype(np.int64) - half
                t0 = np.clip(t0, window.start, window.end - length)
                if window.end - length < window.start:
                    continue
                side = max(2, int(round(2 * self.k_space * math.sqrt(sigma2))))
                centers = np.repeat(p[:, None, :2], length, axis=1)
                out.append(Tubes(t0, centers, np.full((len(p), 2), side, np.int64), length))
        return out

    def to_dict(self) -> dict:
        return {"kind": "harris3d", **{k: list(v) if isinstance(v, tuple) else v
                                       for k, v in asdict(self).items()}}


# ------------------------------------------------------------------ dense trajectories
def trajectory_is_valid(
    points: np.ndarray, min_var: float = math.sqrt(3), max_var: float = 50.0,
    max_dis: float = 20.0, erratic_ratio: float = 0.7,
) -> bool:
    """Wang et al.'s pruning: reject static, wildly varying and erratic trajectories.

    Parameters
    ----------
    points : (L + 1, 2) array
        Tracked positions.
    min_var : float
        Static: the standard deviations of x and y are both below this.
    max_var : float
        Random: either standard deviation exceeds this.
    max_dis, erratic_ratio : float
        Erratic: the largest single step exceeds ``max_dis`` pixels *and* is more than
        ``erratic_ratio`` of the trajectory's total length (the paper's 70 %).
    """
    std = points.std(axis=0)
    if std[0] < min_var and std[1] < min_var:
        return False
    if std[0] > max_var or std[1] > max_var:
        return False
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    length = steps.sum()
    if length <= 0:
        return False
    biggest = steps.max()
    return not (biggest > max_dis and biggest > erratic_ratio * length)


def trajectory_shape(points: np.ndarray) -> np.ndarray:
    """Trajectory-shape descriptor: displacements divided by the sum of their magnitudes.

    ``(L + 1, 2)`` positions give a ``2L`` vector ``(dx_1, dy_1, ..., dx_L, dy_L) / sum|d|``.
    """
    d = np.diff(np.asarray(points, dtype=np.float64), axis=0)
    total = np.linalg.norm(d, axis=1).sum()
    return (d / max(total, 1e-12)).ravel().astype(np.float32)


@dataclass
class TrajectorySampler:
    """Dense trajectories (Wang et al. 2011/2013) at one spatial scale.

    Points are seeded on a grid of step ``grid_step`` px where the smaller eigenvalue of the
    structure tensor exceeds ``quality`` times its maximum over the frame, re-seeded every
    frame in grid cells left empty; each is moved by the 3 × 3 median-filtered flow at its
    (rounded) position, for ``track_length`` frames. Finished tracks are pruned with
    :func:`trajectory_is_valid`; a kept one becomes a tube of ``patch_size`` px boxes
    following the track, with its trajectory-shape descriptor in ``extra["traj"]``.

    Notes
    -----
    Differences from the paper: one spatial scale (the paper uses 8 scales, factor
    1/sqrt(2)); no check on the forward/backward consistency (neither does the paper).
    """

    grid_step: int = 5
    track_length: int = 15
    patch_size: int = 32
    quality: float = 0.001
    min_var: float = math.sqrt(3)
    max_var: float = 50.0
    max_dis: float = 20.0

    def __post_init__(self) -> None:
        self.reset()

    @property
    def pre(self) -> int:
        return self.track_length + 1

    @property
    def post(self) -> int:
        return 1

    def reset(self) -> None:
        """Forget the tracks of the previous video."""
        self._pos = np.zeros((0, self.track_length + 1, 2))
        self._n = np.zeros(0, np.int64)  # points tracked so far (1 .. L + 1)
        self._t0 = np.zeros(0, np.int64)
        self._next_t = 0

    def _seed(self, frame: np.ndarray, t: int) -> None:
        h, w = frame.shape
        eig = cv2.cornerMinEigenVal(frame.astype(np.float32), 3, 3)
        thresh = self.quality * float(eig.max())
        s = self.grid_step
        ys, xs = np.mgrid[s // 2:h:s, s // 2:w:s]
        occupied = np.zeros(ys.shape, bool)
        if len(self._n):
            cur = self._pos[np.arange(len(self._n)), self._n - 1]
            cx = np.clip((cur[:, 0] // s).astype(int), 0, xs.shape[1] - 1)
            cy = np.clip((cur[:, 1] // s).astype(int), 0, ys.shape[0] - 1)
            occupied[cy, cx] = True
        keep = (~occupied) & (eig[ys, xs] > thresh) & (thresh > 0)
        new = np.stack([xs[keep], ys[keep]], axis=1).astype(np.float64)
        if len(new) == 0:
            return
        pos = np.zeros((len(new), self.track_length + 1, 2))
        pos[:, 0] = new
        self._pos = np.concatenate([self._pos, pos])
        self._n = np.concatenate([self._n, np.ones(len(new), np.int64)])
        self._t0 = np.concatenate([self._t0, np.full(len(new), t, np.int64)])

    def _advance(self, flow: np.ndarray) -> None:
        h, w = flow.shape[:2]
        med = np.dstack([cv2.medianBlur(np.ascontiguousarray(flow[..., c]), 3) for c in (0, 1)])
        idx = np.arange(len(self._n))
        cur = self._pos[idx, self._n - 1]
        xi = np.clip(np.round(cur[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(cur[:, 1]).astype(int), 0, h - 1)
        nxt = cur + med[yi, xi]
        inside = (nxt[:, 0] >= 0) & (nxt[:, 0] <= w - 1) & (nxt[:, 1] >= 0) & (nxt[:, 1] <= h - 1)
        self._pos[idx, self._n] = nxt
        self._n = self._n + 1
        self._drop(~inside)

    def _drop(self, mask: np.ndarray) -> None:
        keep = ~mask
        self._pos, self._n, self._t0 = self._pos[keep], self._n[keep], self._t0[keep]

    def sample(self, window: Window, owned: range) -> list[Tubes]:
        length = self.track_length
        done_pos, done_t0 = [], []
        for t in owned:
            if t != self._next_t:
                raise ValueError("TrajectorySampler must see the frames of a video in order")
            if t >= window.end:
                break
            self._next_t = t + 1
            self._seed(window.frames[t - window.start], t)
            if window.flows is None:
                raise ValueError("dense trajectories need optical flow")
            self._advance(window.flows[t - window.start])
            finished = self._n == length + 1
            if finished.any():
                done_pos.append(self._pos[finished])
                done_t0.append(self._t0[finished])
                self._drop(finished)
        if not done_pos:
            return [_empty(length, {"traj": np.zeros((0, 2 * length), np.float32)})]
        pos = np.concatenate(done_pos)
        t0 = np.concatenate(done_t0)
        valid = np.array([
            trajectory_is_valid(p, self.min_var, self.max_var, self.max_dis) for p in pos
        ], bool)
        pos, t0 = pos[valid], t0[valid]
        shapes = np.array([trajectory_shape(p) for p in pos], np.float32).reshape(
            len(pos), 2 * length
        )
        size = np.full((len(pos), 2), self.patch_size, np.int64)
        return [Tubes(t0, pos[:, :length], size, length, {"traj": shapes})]

    def to_dict(self) -> dict:
        return {"kind": "trajectories", **asdict(self)}


def make_sampler(kind: str, **params):
    """A fresh sampler: ``"dense"``, ``"harris3d"`` or ``"trajectories"``."""
    kinds = {"dense": DenseGridSampler, "harris3d": Harris3DSampler,
             "trajectories": TrajectorySampler}
    if kind not in kinds:
        raise ValueError(f"unknown sampler {kind!r}; use one of {tuple(kinds)}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return kinds[kind](**params)
