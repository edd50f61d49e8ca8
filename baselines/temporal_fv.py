"""Fisher vectors of every temporal window of a video from prefix sums of its statistics.

A Fisher vector on a diagonal GMM depends on its set of descriptors only through three
sufficient statistics per Gaussian ``k`` — ``s0_k = Σ γ_t(k)``, ``s1_k = Σ γ_t(k) x_t`` and
``s2_k = Σ γ_t(k) x_t²`` — and the descriptor count ``T``
(:meth:`baselines.encoders.FisherVector._encode_all`). The gradients before their ``1 / T``
factor are linear in these statistics, hence sums over the descriptors, so with them binned
along time and cumulated (:func:`temporal_statistics`) the gradients of any window whose ends
lie on the bin grid are the difference of two rows, and power + L2 normalisation give its
Fisher vector (:func:`window_fisher_vectors`). Each descriptor is projected and soft-assigned
once per video, however many windows hold it: the temporal form of integral images [3]_, and
the additivity that efficient Fisher-vector window scoring builds on [4]_.

:class:`WindowGrid` is the multi-scale window layout: every window starts and ends on a grid
of ``grid_frames`` frames, so the cumulative statistics are stored once per grid step, not per
frame.

References
----------
.. [1] D. Oneata, J. Verbeek, C. Schmid, "The LEAR submission at THUMOS 2014", THUMOS'14
   Action Recognition Challenge notebook paper, 2014.
.. [2] F. Perronnin, J. Sánchez, T. Mensink, "Improving the Fisher kernel for large-scale
   image classification", ECCV 2010. :doi:`10.1007/978-3-642-15561-1_11`
.. [3] P. Viola, M. Jones, "Rapid object detection using a boosted cascade of simple
   features", CVPR 2001. :doi:`10.1109/CVPR.2001.990517`
.. [4] D. Oneata, J. Verbeek, C. Schmid, "Efficient action localization with approximately
   normalized Fisher vectors", CVPR 2014.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from baselines.encoders import FisherVector

__all__ = [
    "window_ladder",
    "WindowGrid",
    "TemporalStatistics",
    "temporal_statistics",
    "window_fisher_vectors",
    "fit_channel_encoders",
    "detection_window_encoding_rows",
]


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """One controller per process (building one inspects every loaded library)."""
    return ThreadpoolController()


def window_ladder(shortest_s: float = 0.6, longest_s: float = 8.0,
                  n_scales: int = 8) -> tuple[float, ...]:
    """Window lengths in seconds: a geometric ladder from ``shortest_s`` to ``longest_s``.

    The default (0.6 s to 8 s in 8 steps, ratio about 1.45) spans the instance durations of
    the untrimmed synthetic set (:mod:`bench.data.datasets.untrimmed`): by construction every
    length in that range is within a factor 1.21 of a rung, so a window of that rung aligned
    with the instance (one holding the other) has a tIoU of at least 0.83 with it.
    """
    if not 0 < shortest_s <= longest_s or n_scales < 1:
        raise ValueError("window_ladder needs 0 < shortest_s <= longest_s and n_scales >= 1; "
                         f"got {shortest_s}, {longest_s}, {n_scales}")
    return tuple(float(v) for v in np.geomspace(shortest_s, longest_s, int(n_scales)))


@dataclass(frozen=True)
class WindowGrid:
    """Multi-scale sliding windows on a grid of ``grid_frames`` frames.

    Attributes
    ----------
    grid_frames : int
        The grid step in frames; every window starts and ends on it.
    lengths : tuple of int
        Window lengths in grid steps, one per scale.
    strides : tuple of int
        The stride of each scale in grid steps.
    """

    grid_frames: int
    lengths: tuple
    strides: tuple

    @classmethod
    def from_seconds(cls, fps: float, lengths_s, stride_fraction: float = 0.25) -> WindowGrid:
        """The grid for windows of ``lengths_s`` seconds at ``fps``, each scale sliding by
        ``stride_fraction`` of its length.

        The grid step is ``stride_fraction`` times the shortest window (at least one frame);
        lengths and strides are rounded to whole steps, duplicates removed.
        """
        if not 0 < stride_fraction <= 1:
            raise ValueError(f"stride_fraction must be in (0, 1]. Got {stride_fraction} instead.")
        lengths_s = sorted(float(v) for v in lengths_s)
        if not lengths_s or lengths_s[0] <= 0 or fps <= 0:
            raise ValueError(f"window lengths and fps must be > 0; got {lengths_s}, {fps}")
        grid = max(1, int(round(stride_fraction * lengths_s[0] * fps)))
        units = sorted({max(1, int(round(v * fps / grid))) for v in lengths_s})
        strides = tuple(max(1, int(round(stride_fraction * u))) for u in units)
        return cls(grid, tuple(units), strides)

    def n_bins(self, n_frames: int) -> int:
        """Grid steps covering ``n_frames`` frames (the last one may be partial)."""
        return max(1, -(-int(n_frames) // self.grid_frames))

    def windows(self, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """``(start, stop)`` of every window in grid steps (stop exclusive), scale by scale.

        A scale's windows start at multiples of its stride; one more window ends at the last
        step when the stride leaves the end uncovered; a scale longer than the video gives one
        window over the whole video (duplicates are removed).
        """
        n = self.n_bins(n_frames)
        pairs = set()
        for length, stride in zip(self.lengths, self.strides, strict=True):
            length = min(length, n)
            starts = list(range(0, n - length + 1, stride))
            if starts[-1] + length < n:
                starts.append(n - length)
            pairs.update((s, s + length) for s in starts)
        ordered = np.array(sorted(pairs, key=lambda p: (p[1] - p[0], p[0])), dtype=np.int64)
        return ordered[:, 0], ordered[:, 1]

    def seconds(self, start: np.ndarray, stop: np.ndarray, n_frames: int,
                fps: float) -> tuple[np.ndarray, np.ndarray]:
        """Window ends in seconds, the last clipped to the video's end."""
        frames = np.minimum(np.asarray(stop) * self.grid_frames, n_frames)
        return np.asarray(start) * self.grid_frames / fps, frames / fps


@dataclass
class TemporalStatistics:
    """Cumulative Fisher-vector gradients of one video on a time grid.

    Row ``b`` holds the sums over the descriptors of grid steps ``0 .. b-1`` (row 0 is zero),
    so a window ``[a, b)`` has the sums ``row[b] - row[a]``.

    Attributes
    ----------
    count : (n_bins + 1,) float64
        Descriptors.
    gradients : (n_bins + 1, 2 K D) float64
        The un-normalised Fisher-vector gradients ``[Σ_t G_μ, Σ_t G_σ]`` (see
        :func:`temporal_statistics`): linear in the statistics ``s0, s1, s2``.
    """

    count: np.ndarray
    gradients: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.count.nbytes + self.gradients.nbytes)


def temporal_statistics(encoder: FisherVector, descriptors: np.ndarray, frames: np.ndarray,
                        n_bins: int, grid_frames: int) -> TemporalStatistics:
    """Bin a video's descriptors by frame and cumulate their FV gradients along time.

    Parameters
    ----------
    encoder : FisherVector
        Fitted (its ``pca_`` and ``gmm_`` are used).
    descriptors : (N, D_in) array
    frames : (N,) int array
        The frame each descriptor is attributed to.
    n_bins : int
        Grid steps of the video; frames beyond the last step count in the last.
    grid_frames : int
        Frames per grid step.

    Returns
    -------
    TemporalStatistics

    Notes
    -----
    Per grid step the statistics ``s0_k = Σ γ_t(k)``, ``s1_k = Σ γ_t(k) z_t`` and
    ``s2_k = Σ γ_t(k) z_t²`` of the PCA-projected descriptors ``z_t`` are one
    ``(K, n) @ (n, D)`` product each; they are turned into the gradients of
    :class:`~baselines.encoders.FisherVector` without the ``1 / T`` factor,
    ``(s1_k − s0_k μ_k) / (σ_k √w_k)`` and
    ``((s2_k − 2 μ_k s1_k + s0_k μ_k²) / σ_k² − s0_k) / √(2 w_k)``, which are linear in the
    statistics and so can be summed over steps, and cumulated. The ``1 / T`` factor is not
    needed at all: power normalisation turns it into ``1 / √T`` on every value and the L2
    normalisation removes it.

    Memory is ``(n_bins + 1) (2 K D + 1)`` float64 values: it grows with the video's duration
    divided by the grid step, not with its frames or its descriptors (cumulating per frame
    would cost ``grid_frames`` times more). Each descriptor is projected and soft-assigned
    once. The small per-step products run on one BLAS thread (thread start-up costs more
    than they do).
    """
    K, D = encoder.gmm_.means_.shape
    s0, s1, s2 = np.zeros((n_bins, K, 1)), np.zeros((n_bins, K, D)), np.zeros((n_bins, K, D))
    count = np.zeros(n_bins + 1)
    X = np.asarray(descriptors, dtype=np.float64)
    if X.shape[0]:
        z = encoder.pca_.transform(X)
        gamma = encoder.gmm_.predict_proba(z)
        bins = np.clip(np.asarray(frames, dtype=np.int64) // int(grid_frames), 0, n_bins - 1)
        order = np.argsort(bins, kind="stable")
        bins, z, gamma = bins[order], z[order], gamma[order]
        edges = np.flatnonzero(np.diff(bins)) + 1
        with _blas_controller().limit(limits=1, user_api="blas"):
            for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(bins)], strict=True):
                g, zb = gamma[lo:hi], z[lo:hi]
                s0[bins[lo], :, 0] = g.sum(axis=0)
                s1[bins[lo]] = g.T @ zb
                s2[bins[lo]] = g.T @ (zb * zb)
        np.cumsum(np.bincount(bins + 1, minlength=n_bins + 1), out=count)
    weights, means = encoder.gmm_.weights_[:, None], encoder.gmm_.means_
    sigma = np.sqrt(encoder.gmm_.covariances_)
    gradients = np.zeros((n_bins + 1, 2, K, D))
    gradients[1:, 0] = (s1 - s0 * means) / (sigma * np.sqrt(weights))
    gradients[1:, 1] = ((s2 - 2 * means * s1 + s0 * means**2) / sigma**2 - s0) \
        / np.sqrt(2 * weights)
    gradients = gradients.reshape(n_bins + 1, 2 * K * D)
    np.cumsum(gradients, axis=0, out=gradients)
    return TemporalStatistics(count, gradients)


def window_fisher_vectors(stats: TemporalStatistics, start: np.ndarray, stop: np.ndarray, *,
                          block: int = 32) -> np.ndarray:
    """Improved Fisher vectors of the windows ``[start, stop)`` (grid steps).

    The difference of two rows of the cumulative gradients, then signed square root and L2
    normalisation as in :class:`baselines.encoders.FisherVector`; a window without
    descriptors encodes to zeros. Equal to ``encoder.transform([X_window])`` up to rounding
    (tested).

    Parameters
    ----------
    stats : TemporalStatistics
    start, stop : (n_windows,) int arrays
    block : int
        Windows normalised together (buffers that stay in the cache).

    Returns
    -------
    (n_windows, 2 K D) float64
    """
    start, stop = np.asarray(start, dtype=np.int64), np.asarray(stop, dtype=np.int64)
    n, dim = len(start), stats.gradients.shape[1]
    out = np.empty((n, dim))
    diff, root = np.empty((min(block, n), dim)), np.empty((min(block, n), dim))
    for i in range(0, n, block):
        m = min(block, n - i)
        x, y = diff[:m], root[:m]
        np.take(stats.gradients, stop[i:i + m], axis=0, out=x)
        np.take(stats.gradients, start[i:i + m], axis=0, out=y)
        np.subtract(x, y, out=x)
        np.sqrt(np.abs(x, out=y), out=y)
        np.copysign(y, x, out=y)
        norm = np.sqrt(np.einsum("ij,ij->i", y, y))
        np.divide(y, np.where(norm > 0, norm, 1.0)[:, None], out=out[i:i + m])
    out[stats.count[stop] == stats.count[start]] = 0.0
    return out


def fit_channel_encoders(handles, channels, n_components: int, random_state: int = 0,
                         max_descriptors: int = 100_000) -> tuple[dict, dict]:
    """One :class:`FisherVector` per channel, learnt from a seeded sample of the videos'
    descriptors read one video at a time.

    Parameters
    ----------
    handles : list of baselines.extraction.DescriptorFile
    channels : sequence of str
    n_components : int
        GMM components; fewer when the sample is small (at least ``2 pca_dim + 1``
        descriptors per Gaussian, the rule of :class:`baselines.methods.ClassicalVideoClassifier`).
    random_state : int
    max_descriptors : int
        Size of the sample per channel.

    Returns
    -------
    encoders : dict of str to FisherVector
    sizes : dict of str to dict
        ``{"n_components": .., "pca_dim": ..}`` per channel.
    """
    counts = np.array([h.n for h in handles], dtype=np.int64)
    total = int(counts.sum())
    keep = np.sort(np.random.default_rng(random_state).choice(
        total, min(total, max_descriptors), replace=False))
    offsets = np.r_[0, np.cumsum(counts)]
    parts: dict[str, list] = {c: [] for c in channels}
    for h, lo, hi in zip(handles, offsets[:-1], offsets[1:], strict=True):
        rows = keep[(keep >= lo) & (keep < hi)] - lo
        if len(rows):
            feats = h.load(channels)
            for c in parts:
                parts[c].append(feats[c][rows])
    encoders, sizes = {}, {}
    for c, chunks in parts.items():
        n = int(sum(len(x) for x in chunks))
        if n < 2:
            raise ValueError(f"only {n} '{c}' descriptor(s) in the training videos; they are "
                             "too short or too static for this sampler")
        sample = np.concatenate(chunks).astype(np.float64)
        pca_dim = max(1, min(sample.shape[1] // 2, n - 1))
        k = max(1, min(int(n_components), n // (2 * pca_dim + 1)))
        sizes[c] = {"n_components": k, "pca_dim": pca_dim}
        encoders[c] = FisherVector(n_components=k, pca_dim=pca_dim,
                                   max_descriptors=max_descriptors,
                                   random_state=random_state).fit(sample)
    return encoders, sizes


# ------------------------------------------------------------------ perf
def detection_window_encoding_rows(quick: bool = False) -> list[dict]:
    """``bench perf`` rows: Fisher vectors of all sliding windows of a video from prefix
    sums, against one Fisher vector of the whole video.

    A video of seeded random descriptors spread over its frames (the sizes of the detector's
    configuration: quick 300 frames, 2 000 descriptors, K = 16; full 1 000 frames, 20 000
    descriptors, K = 256; D = 96 projected to 48), the default window ladder at 25 fps.
    ``ours_s`` encodes every window (:func:`temporal_statistics` then
    :func:`window_fisher_vectors`), ``reference_s`` encodes the whole video once with
    :meth:`FisherVector.transform`; the target is at most twice the whole video's time.
    ``max_abs_diff`` compares the whole-video window from prefix sums with the direct
    encoding. Medians of repeats, after one warm-up call.
    """
    n_frames, n_desc, K = (300, 2000, 16) if quick else (1000, 20000, 256)
    repeats = 3 if quick else 5
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_desc, 96)) @ rng.normal(size=(96, 96)) * 0.1
    frames = np.sort(rng.integers(0, n_frames, n_desc))
    encoder = FisherVector(n_components=K, pca_dim=48, max_descriptors=4000,
                           random_state=0).fit(X)
    grid = WindowGrid.from_seconds(25.0, window_ladder())
    start, stop = grid.windows(n_frames)
    n_bins = grid.n_bins(n_frames)

    def ours():
        stats = temporal_statistics(encoder, X, frames, n_bins, grid.grid_frames)
        return window_fisher_vectors(stats, start, stop), stats

    def reference():
        return encoder.transform([X])

    ours(), reference()
    ours_t, ref_t = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, stats = ours()
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        direct = reference()
        ref_t.append(time.perf_counter() - t0)
    whole = window_fisher_vectors(stats, np.array([0]), np.array([n_bins]))
    ours_s, ref_s = float(np.median(ours_t)), float(np.median(ref_t))
    return [{
        "case": f"detection: FV of all {len(start)} windows from prefix sums vs the whole "
                f"video once (K={K}, {n_desc} descriptors)",
        "ours_s": ours_s,
        "reference": "FisherVector.transform (whole video)",
        "reference_s": ref_s,
        "speedup": ref_s / ours_s if ours_s > 0 else None,
        "max_abs_diff": float(np.max(np.abs(whole - direct))),
        "target": "<= 2x the whole video",
        "met": bool(ours_s <= 2.0 * ref_s),
        "notes": f"{len(grid.lengths)} scales, grid {grid.grid_frames} frames, {n_bins} bins; "
                 f"cumulative statistics {stats.nbytes / 2**20:.1f} MiB",
    }]
