"""Clip sampling, training augmentation and multi-view testing for video networks.

Two temporal samplers cover the deep track:

* **dense clips** (C3D, R3D, R(2+1)D, I3D, LRCN, TimeSformer): ``clip_len`` frames taken every
  ``interval`` frames from one start; a random start in training, ``N`` evenly spaced starts
  at test (Tran et al. 2015; Tran et al. 2018);
* **segments** (TSN): the video is cut into ``K`` equal segments and one frame is taken from
  each, at a random offset in training and at the segment centre at test (Wang et al. 2016).

Each clip is then normalised: by default every channel of the clip is standardised with the
clip's own mean and standard deviation (``normalise="clip"``); ``normalise="imagenet"`` uses
the fixed ImageNet statistics instead (for networks pretrained with them). From scratch on the
synthetic set, the fixed statistics left a large constant offset (light backgrounds) and
training loss stayed at ln C for half the run, where per-clip standardisation learned from the
first epoch (measurements: docs/deep-recipes.md).

Spatially, training uses a random resized crop (area share in ``scale``, aspect ratio in
``ratio``) and a horizontal flip *only when the dataset allows it*; testing uses ``M`` crops
(the centre crop, or three crops along the long side). Every random choice comes from a
``numpy.random.Generator`` the caller passes in, so the same seed gives the same clips.

References
----------
Tran, D., Bourdev, L., Fergus, R., Torresani, L., Paluri, M. (2015). Learning spatiotemporal
features with 3D convolutional networks. ICCV. arXiv:1412.0767.
Tran, D., Wang, H., Torresani, L., Ray, J., LeCun, Y., Paluri, M. (2018). A closer look at
spatiotemporal convolutions for action recognition. CVPR. arXiv:1711.11248.
Wang, L., Xiong, Y., Wang, Z., Qiao, Y., Lin, D., Tang, X., Van Gool, L. (2016). Temporal
segment networks: towards good practices for deep action recognition. ECCV. arXiv:1608.00859.
Szegedy, C. et al. (2015). Going deeper with convolutions. CVPR (random resized crop).
arXiv:1409.4842.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

__all__ = [
    "ClipSpec",
    "dense_clip_indices",
    "dense_test_starts",
    "segment_indices",
    "random_resized_crop_box",
    "center_crop_box",
    "three_crop_boxes",
    "sample_train_clip",
    "sample_test_views",
]

#: ImageNet channel statistics (RGB, in [0, 1]), used by ``normalise="imagenet"``.
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: Input normalisations of :class:`ClipSpec`.
NORMALISATIONS = ("clip", "imagenet")


@dataclass(frozen=True)
class ClipSpec:
    """How clips are cut from a decoded video, for training and for testing.

    Attributes
    ----------
    sampling : {"dense", "segments"}
        Dense clips (``num_frames`` frames every ``interval`` frames) or TSN segments
        (``num_frames`` segments, one frame each).
    num_frames : int
        Clip length T (dense) or number of segments K (segments).
    interval : int
        Frame interval between the frames of a dense clip (ignored for segments).
    crop_size : int
        Side of the square network input in pixels.
    scale : tuple of float
        Range of the crop's area as a share of the frame's area (random resized crop).
    ratio : tuple of float
        Range of the crop's aspect ratio (width / height), sampled log-uniformly.
    test_clips : int
        N temporal clips per test video (dense), or N segment grids shifted in time.
    test_crops : {1, 3}
        M spatial crops per clip at test: the centre crop, or three crops along the long side.
    normalise : {"clip", "imagenet"}
        Standardise each channel with the clip's own mean and standard deviation, or with the
        ImageNet statistics :data:`MEAN` / :data:`STD`.
    """

    sampling: str = "dense"
    num_frames: int = 8
    interval: int = 2
    crop_size: int = 64
    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    test_clips: int = 2
    test_crops: int = 1
    normalise: str = "clip"

    def __post_init__(self) -> None:
        if self.normalise not in NORMALISATIONS:
            raise ValueError(
                f"The 'normalise' parameter of ClipSpec must be one of {NORMALISATIONS}. "
                f"Got {self.normalise!r} instead."
            )
        if self.sampling not in ("dense", "segments"):
            raise ValueError(
                f"The 'sampling' parameter of ClipSpec must be 'dense' or 'segments'. "
                f"Got {self.sampling!r} instead."
            )
        for name in ("num_frames", "interval", "crop_size", "test_clips"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(
                    f"The {name!r} parameter of ClipSpec must be an int >= 1. Got {value!r} instead."
                )
        if self.test_crops not in (1, 3):
            raise ValueError(
                f"The 'test_crops' parameter of ClipSpec must be 1 or 3. Got {self.test_crops!r}."
            )
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(
                f"The 'scale' parameter of ClipSpec must satisfy 0 < low <= high <= 1. "
                f"Got {self.scale!r} instead."
            )
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"The 'ratio' parameter of ClipSpec must be 0 < low <= high. "
                             f"Got {self.ratio!r} instead.")

    @property
    def views(self) -> int:
        """Number of test views per video (clips × crops)."""
        return self.test_clips * self.test_crops

    def describe(self) -> str:
        """The protocol in words, for method cards and result rows."""
        crops = "centre crop" if self.test_crops == 1 else "3 crops"
        if self.sampling == "dense":
            clip = f"{self.num_frames}x{self.interval} dense clips"
        else:
            clip = f"{self.num_frames} segments x 1 frame"
        return (
            f"{clip}, {self.crop_size}x{self.crop_size} input; test {self.test_clips} clips x "
            f"{self.test_crops} ({crops}) = {self.views} views averaged"
        )

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------- temporal
def dense_clip_indices(n_frames: int, clip_len: int, interval: int, start: int) -> np.ndarray:
    """Frame indices of one dense clip: ``start + interval * arange(clip_len)``.

    Indices past the last frame are clamped to it (a short video repeats its last frame),
    so the result always has ``clip_len`` valid indices in ``[0, n_frames)``.

    Parameters
    ----------
    n_frames : int
        Frames in the decoded video (>= 1).
    clip_len, interval : int
        Clip length T and frame interval.
    start : int
        Index of the first frame.

    Returns
    -------
    numpy.ndarray of int64, shape (clip_len,)
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1. Got {n_frames} instead.")
    idx = start + interval * np.arange(clip_len, dtype=np.int64)
    return np.clip(idx, 0, n_frames - 1)


def _max_dense_start(n_frames: int, clip_len: int, interval: int) -> int:
    return max(0, n_frames - (clip_len - 1) * interval - 1)


def dense_test_starts(n_frames: int, clip_len: int, interval: int, n_clips: int) -> np.ndarray:
    """``n_clips`` start indices evenly spread over the video (one clip: the centre clip).

    The starts are the centres of ``n_clips`` equal parts of the range of valid starts, so the
    clips cover the video symmetrically.
    """
    last = _max_dense_start(n_frames, clip_len, interval)
    centres = (np.arange(n_clips) + 0.5) / n_clips * (last + 1) - 0.5
    return np.clip(np.round(centres), 0, last).astype(np.int64)


def segment_indices(
    n_frames: int, num_segments: int, rng: np.random.Generator | None = None, shift: float = 0.5
) -> np.ndarray:
    """One frame index per TSN segment.

    The video is cut into ``num_segments`` equal segments ``[k L / K, (k+1) L / K)``. With a
    generator (training) each index is drawn uniformly inside its segment; without one
    (testing) it sits at the relative position ``shift`` in it (0.5 = the centre).

    Parameters
    ----------
    n_frames : int
    num_segments : int
        K; when the video has fewer frames than segments, frames repeat.
    rng : numpy.random.Generator, optional
    shift : float in [0, 1), default 0.5

    Returns
    -------
    numpy.ndarray of int64, shape (num_segments,), non-decreasing, in ``[0, n_frames)``.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1. Got {n_frames} instead.")
    length = n_frames / num_segments
    offsets = rng.random(num_segments) if rng is not None else np.full(num_segments, shift)
    idx = np.floor((np.arange(num_segments) + offsets) * length).astype(np.int64)
    return np.clip(idx, 0, n_frames - 1)


# -------------------------------------------------------------------------- spatial
def random_resized_crop_box(
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    rng: np.random.Generator,
    attempts: int = 10,
) -> tuple[int, int, int, int]:
    """A random crop ``(y0, x0, h, w)`` of area share in ``scale`` and aspect in ``ratio``.

    Up to ``attempts`` draws; if none fits inside the frame, the largest centred crop with
    an aspect ratio clamped into ``ratio`` (the fallback of Szegedy et al.'s recipe).
    """
    area = height * width
    log_ratio = np.log(ratio)
    for _ in range(attempts):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = float(np.exp(rng.uniform(log_ratio[0], log_ratio[1])))
        w = int(round(np.sqrt(target * aspect)))
        h = int(round(np.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            y0 = int(rng.integers(0, height - h + 1))
            x0 = int(rng.integers(0, width - w + 1))
            return y0, x0, h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif aspect > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def center_crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """The centred square crop ``(y0, x0, side, side)`` with side = the short side."""
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def three_crop_boxes(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Three square crops (side = short side) at the start, centre and end of the long side."""
    side = min(height, width)
    if width >= height:
        return [(0, x0, side, side) for x0 in (0, (width - side) // 2, width - side)]
    return [(y0, 0, side, side) for y0 in (0, (height - side) // 2, height - side)]


# ---------------------------------------------------------------------------- clips
def _crop_resize_normalise(
    frames: np.ndarray, box: tuple[int, int, int, int], size: int, flip: bool,
    normalise: str = "clip",
) -> np.ndarray:
    """(T,H,W,3) uint8 frames -> (3,T,size,size) float32, cropped, resized, normalised.

    ``normalise="clip"``: each channel minus the clip's mean, over its standard deviation
    (floored at 1/255 so that a flat clip does not blow up); ``"imagenet"``: fixed statistics.
    """
    y0, x0, h, w = box
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for t, frame in enumerate(frames):
        patch = frame[y0 : y0 + h, x0 : x0 + w]
        interp = cv2.INTER_AREA if h > size else cv2.INTER_LINEAR
        out[t] = cv2.resize(np.ascontiguousarray(patch), (size, size), interpolation=interp)
    if flip:
        out = out[:, :, ::-1]
    channels_first = np.ascontiguousarray(out.transpose(3, 0, 1, 2))  # (3, T, S, S) uint8
    clip = channels_first.astype(np.float32)
    clip /= 255.0  # in place: one clip-sized allocation less per clip
    if normalise == "clip":
        mean, std = _channel_stats(channels_first)
        clip -= mean[:, None, None, None]
        clip /= std[:, None, None, None]
    else:
        clip -= MEAN[:, None, None, None]
        clip /= STD[:, None, None, None]
    return clip


def _channel_stats(channels_first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (in [0, 1] units, std floored at 1/255) of each channel.

    Computed exactly from each channel's histogram of uint8 values (one ``bincount`` per
    channel), which is several times faster than float reductions over a strided axis.
    """
    levels = np.arange(256, dtype=np.float64)
    flat = channels_first.reshape(len(channels_first), -1)
    counts = np.stack([np.bincount(channel, minlength=256) for channel in flat])
    n = flat.shape[1]
    mean = counts @ levels / n
    var = np.maximum(counts @ (levels * levels) / n - mean * mean, 0.0)
    std = np.maximum(np.sqrt(var) / 255.0, 1 / 255)
    return (mean / 255.0).astype(np.float32), std.astype(np.float32)


def _temporal_train_indices(n: int, spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.sampling == "segments":
        return segment_indices(n, spec.num_frames, rng)
    start = int(rng.integers(0, _max_dense_start(n, spec.num_frames, spec.interval) + 1))
    return dense_clip_indices(n, spec.num_frames, spec.interval, start)


def _temporal_test_indices(n: int, spec: ClipSpec) -> list[np.ndarray]:
    if spec.sampling == "segments":
        shifts = (np.arange(spec.test_clips) + 0.5) / spec.test_clips
        return [segment_indices(n, spec.num_frames, shift=float(s)) for s in shifts]
    starts = dense_test_starts(n, spec.num_frames, spec.interval, spec.test_clips)
    return [dense_clip_indices(n, spec.num_frames, spec.interval, int(s)) for s in starts]


def sample_train_clip(
    frames: np.ndarray, spec: ClipSpec, rng: np.random.Generator, allow_flip: bool
) -> tuple[np.ndarray, dict]:
    """One augmented training clip from a decoded video.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(T, H, W, 3)`` RGB uint8 (a memory map is fine: only the picked frames are read).
    spec : ClipSpec
    rng : numpy.random.Generator
        Source of every random choice (start/offsets, crop, flip).
    allow_flip : bool
        Flip horizontally with probability 1/2 only when True (direction-labelled classes
        forbid flips); when False no flip is ever drawn.

    Returns
    -------
    clip : numpy.ndarray
        ``(3, T, crop_size, crop_size)`` float32, normalised as ``spec.normalise`` says.
    info : dict
        ``indices`` (frame indices), ``box`` (y0, x0, h, w) and ``flip`` (bool).
    """
    indices = _temporal_train_indices(len(frames), spec, rng)
    picked = np.asarray(frames[indices])
    box = random_resized_crop_box(picked.shape[1], picked.shape[2], spec.scale, spec.ratio, rng)
    flip = bool(allow_flip and rng.random() < 0.5)
    clip = _crop_resize_normalise(picked, box, spec.crop_size, flip, spec.normalise)
    return clip, {"indices": indices, "box": box, "flip": flip}


def sample_test_views(frames: np.ndarray, spec: ClipSpec) -> np.ndarray:
    """Every test view of a video: ``test_clips`` temporal clips × ``test_crops`` crops.

    Deterministic (no randomness at test). Views are ordered clip-major.

    Returns
    -------
    numpy.ndarray
        ``(test_clips * test_crops, 3, T, crop_size, crop_size)`` float32.
    """
    h, w = frames.shape[1:3]
    boxes = [center_crop_box(h, w)] if spec.test_crops == 1 else three_crop_boxes(h, w)
    views = []
    for indices in _temporal_test_indices(len(frames), spec):
        picked = np.asarray(frames[indices])
        views.extend(_crop_resize_normalise(picked, box, spec.crop_size, False, spec.normalise)
                     for box in boxes)
    return np.stack(views)
