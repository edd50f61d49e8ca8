"""Speed of the classical track's kernels against their references (``python -m bench perf``).

:func:`run_perf` returns one dict per case with the keys ``case, ours_s, reference,
reference_s, speedup, max_abs_diff, target, met, notes`` (see :mod:`bench.cli.perf`).
Every case times ours and the reference in this process on the same input, after a warm-up
call, alternating the two, and reports medians. Everything runs single-threaded (Numba, BLAS,
OpenCV) unless the case says otherwise.

Extraction-throughput rows belong to :mod:`baselines.extraction`: if that module defines
``_extraction_rows(quick: bool) -> list[dict]``, its rows are appended (an ImportError or a
missing function skips them silently).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["run_perf", "CASES"]

#: Substring names of the cases, for ``--only``.
CASES = ("hog-skimage", "hog-opencv", "chi2", "codebook", "gmm", "harris3d", "hog+hof+mbh",
         "maps+integral", "extraction", "detection-windows")


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Limit Numba, BLAS/OpenMP and OpenCV to ``n`` threads inside the block."""
    import cv2
    import numba
    from threadpoolctl import threadpool_limits

    numba_before, cv2_before = numba.get_num_threads(), cv2.getNumThreads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    cv2.setNumThreads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        numba.set_num_threads(numba_before)
        cv2.setNumThreads(cv2_before)


def _median_times(ours: Callable[[], object], reference: Callable[[], object],
                  repeats: int, reference_repeats: int,
                  warm_reference: bool = True) -> tuple[float, float]:
    """Warm up, then alternate timed calls; returns the two medians in seconds.

    ``warm_reference=False`` skips the reference's warm-up call (for a compiled reference
    that takes tens of seconds per call).
    """
    ours()
    if warm_reference:
        reference()
    ours_times, reference_times = [], []
    for i in range(max(repeats, reference_repeats)):  # alternate: load changes hit both
        if i < repeats:
            start = time.perf_counter()
            ours()
            ours_times.append(time.perf_counter() - start)
        if i < reference_repeats:
            start = time.perf_counter()
            reference()
            reference_times.append(time.perf_counter() - start)
    return (statistics.median(ours_times),
            statistics.median(reference_times) if reference_times else float("nan"))


def _row(case, ours_s, reference, reference_s, max_abs_diff, target, met, notes) -> dict:
    return {
        "case": case,
        "ours_s": ours_s,
        "reference": reference,
        "reference_s": reference_s,
        "speedup": reference_s / ours_s if ours_s > 0 else None,
        "max_abs_diff": max_abs_diff,
        "target": target,
        "met": met,
        "notes": notes,
    }


def _test_frames(height: int = 240, width: int = 320, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured frame and the same texture shifted by (2, 1) px with a little noise."""
    import cv2

    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.random((height + 8, width + 8)).astype(np.float32), (0, 0), 2.0)
    texture = (texture - texture.min()) / (texture.max() - texture.min()) * 255
    first = texture[4:-4, 4:-4]
    second = texture[3:-5, 2:-6] + rng.normal(0, 2, (height, width))
    return (np.clip(first, 0, 255).astype(np.uint8), np.clip(second, 0, 255).astype(np.uint8))


def _hog_vs_skimage(quick: bool) -> dict:
    from skimage.feature import hog as skimage_hog

    from baselines.descriptors import hog

    frame, _ = _test_frames()
    ours_s, ref_s = _median_times(lambda: hog(frame), lambda: skimage_hog(frame, channel_axis=None),
                                  20 if quick else 100, 5 if quick else 20)
    diff = float(np.abs(hog(frame) - skimage_hog(frame, channel_axis=None)).max())
    speedup = ref_s / ours_s
    return _row("hog-skimage 320x240 uint8 (9 bins, 8x8 cells, 3x3 blocks, L2-Hys)", ours_s,
                "skimage.feature.hog", ref_s, diff, ">= 10x faster, max diff <= 1e-6",
                bool(speedup >= 10 and diff <= 1e-6), "1 thread")


def _hog_vs_opencv(quick: bool) -> dict:
    import cv2

    from baselines.descriptors import hog

    frame, _ = _test_frames()
    height, width = frame.shape
    descriptor = cv2.HOGDescriptor((width, height), (16, 16), (8, 8), (8, 8), 9)
    ours_s, ref_s = _median_times(
        lambda: hog(frame, cells_per_block=(2, 2)), lambda: descriptor.compute(frame),
        30 if quick else 200, 30 if quick else 200,
    )
    return _row(
        "hog-opencv 320x240 uint8 (9 bins, 8x8 cells, 2x2 blocks, stride 1 cell, L2-Hys)",
        ours_s, "cv2.HOGDescriptor.compute", ref_s, None, "<= 1.5x OpenCV's time",
        bool(ours_s <= 1.5 * ref_s),
        "same grid and block layout: HOGDescriptor(win=320x240, block=16x16, stride=8x8, "
        "cell=8x8, 9 bins); OpenCV also applies a Gaussian block window and trilinear "
        "interpolation, so outputs differ (no oracle); 1 thread",
    )


def _chi2_vs_sklearn(quick: bool) -> dict:
    from sklearn.metrics.pairwise import chi2_kernel as sklearn_chi2_kernel

    from baselines.svm import chi2_kernel

    n, d = (200, 500) if quick else (1000, 4000)
    rng = np.random.default_rng(0)
    X = rng.random((n, d))
    Y = rng.random((n, d))
    X[X < 0.3] = 0.0  # sparse-ish histograms with zero denominators
    Y[Y < 0.3] = 0.0
    gamma = 1.0 / d
    with _threads(2):
        ours_s, ref_s = _median_times(lambda: chi2_kernel(X, Y, gamma=gamma),
                                      lambda: sklearn_chi2_kernel(X, Y, gamma=gamma),
                                      5 if quick else 3, 3 if quick else 1,
                                      warm_reference=quick)
        diff = float(np.abs(chi2_kernel(X, Y, gamma=gamma)
                            - sklearn_chi2_kernel(X, Y, gamma=gamma)).max())
    one_thread_s, _ = _median_times(lambda: chi2_kernel(X, Y, gamma=gamma), lambda: None,
                                    5 if quick else 3, 0)
    speedup = ref_s / ours_s
    return _row(f"chi2 kernel {n}x{n}x{d} float64", ours_s,
                "sklearn.metrics.pairwise.chi2_kernel", ref_s, diff,
                ">= 10x faster on 2 threads, max diff <= 1e-10",
                bool(speedup >= 10 and diff <= 1e-10),
                f"ours on 2 Numba threads; on 1 thread {one_thread_s:.4g} s "
                f"({ref_s / one_thread_s:.3g}x); scikit-learn's kernel is single-threaded Cython")


def _descriptor_sample(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Non-negative, unit-norm, clustered rows: the shape of pooled HOG / HOF histograms."""
    rng = np.random.default_rng(seed)
    modes = rng.gamma(0.5, size=(max(16, n // 50), dim))
    sample = modes[rng.integers(0, len(modes), n)] * rng.gamma(4.0, 0.25, size=(n, dim))
    return sample / np.linalg.norm(sample, axis=1, keepdims=True)


def _codebook_vs_minibatch(quick: bool) -> dict:
    from baselines.codebook import fit_codebook, quantisation_error

    n, dim, words = (20_000, 72, 500) if quick else (100_000, 72, 4000)
    sample = _descriptor_sample(n, dim)
    books: dict[str, np.ndarray] = {}

    def fit(backend: str) -> Callable[[], object]:
        def run() -> None:
            books[backend] = fit_codebook(sample, words, seed=0, backend=backend)
        return run

    with _threads(2):
        ours_s, ref_s = _median_times(fit("faiss"), fit("sklearn"), 3 if quick else 1,
                                      1, warm_reference=False)
    ours_err = quantisation_error(sample, books["faiss"])
    ref_err = quantisation_error(sample, books["sklearn"])
    ratio = ours_err / ref_err
    speedup = ref_s / ours_s
    return _row(f"codebook k-means {n}x{dim} -> {words} words", ours_s,
                "sklearn.cluster.MiniBatchKMeans(n_init=3)", ref_s, ours_err - ref_err,
                ">= 10x faster on 2 threads at quantisation error within 1 %",
                bool(speedup >= 10 and ratio <= 1.01),
                f"faiss Lloyd k-means ({words} words, random start) on 2 threads; "
                f"quantisation error {ours_err:.5g} vs {ref_err:.5g} ({ratio:.4f}x); "
                "max_abs_diff is the error difference")


def _gmm_vs_sklearn(quick: bool) -> dict:
    """The Fisher vectors' GMM fit against scikit-learn's on the same PCA-projected sample."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from baselines.gmm import DiagonalGMM

    n, dim, components = (20_000, 96, 64) if quick else (100_000, 96, 256)
    sample = PCA(dim // 2, random_state=0).fit_transform(_descriptor_sample(n, dim))
    sample = sample.astype(np.float32)
    fitted: dict[str, object] = {}

    def ours() -> None:
        fitted["ours"] = DiagonalGMM(components, random_state=0).fit(sample)

    def reference() -> None:
        fitted["sklearn"] = GaussianMixture(components, covariance_type="diag", reg_covar=1e-6,
                                            random_state=0).fit(sample)

    with _threads(2):
        ours_s, ref_s = _median_times(ours, reference, 3 if quick else 1, 1,
                                      warm_reference=False)
    ours_ll = float(np.mean(fitted["ours"].score_samples(sample)))
    ref_ll = float(np.mean(fitted["sklearn"].score_samples(sample)))
    per_dim = (ref_ll - ours_ll) / (dim // 2)
    speedup = ref_s / ours_s
    return _row(f"gmm diag EM {n}x{dim // 2} -> {components} components", ours_s,
                "sklearn.mixture.GaussianMixture(covariance_type='diag')", ref_s,
                ours_ll - ref_ll,
                ">= 3x faster on 2 threads, mean log-likelihood at most 0.01 nats per "
                "dimension below scikit-learn's",
                bool(speedup >= 3 and per_dim <= 0.01),
                f"ours: faiss k-means start, float32 EM, {fitted['ours'].n_iter_} iterations; "
                f"scikit-learn: k-means start, {fitted['sklearn'].n_iter_} iterations; mean "
                f"log-likelihood {ours_ll:.5g} vs {ref_ll:.5g} nats; max_abs_diff is their "
                "difference")


def _harris3d_vs_scipy(quick: bool) -> dict:
    """Harris3D's response (OpenCV separable smoothing) against the same in scipy.ndimage."""
    import math

    import cv2
    from scipy import ndimage

    from baselines.sampling import harris3d_response

    def scipy_response(v: np.ndarray, sigma2: float, tau2: float, s: float = 2.0,
                       k: float = 0.005) -> np.ndarray:
        sig, tau = math.sqrt(sigma2), math.sqrt(tau2)
        smooth = ndimage.gaussian_filter(v, sigma=(tau, sig, sig), mode="mirror")
        lt, ly, lx = np.gradient(smooth)
        lx, ly, lt = lx * sig, ly * sig, lt * tau
        integ = (math.sqrt(s) * tau, math.sqrt(s) * sig, math.sqrt(s) * sig)
        mu = [ndimage.gaussian_filter(a, sigma=integ, mode="mirror")
              for a in (lx * lx, ly * ly, lt * lt, lx * ly, lx * lt, ly * lt)]
        xx, yy, tt, xy, xt, yt = mu
        det = xx * (yy * tt - yt * yt) - xy * (xy * tt - yt * xt) + xt * (xy * yt - yy * xt)
        return det - k * (xx + yy + tt) ** 3

    n_frames, height, width = (24, 60, 80) if quick else (64, 120, 160)
    rng = np.random.default_rng(0)
    volume = np.stack([cv2.GaussianBlur(rng.random((height, width)), (0, 0), 1.5)
                       for _ in range(n_frames)])
    scales = ((4.0, 2.0), (8.0, 4.0))
    ours_s, ref_s = _median_times(
        lambda: [harris3d_response(volume, s2, t2) for s2, t2 in scales],
        lambda: [scipy_response(volume, s2, t2) for s2, t2 in scales], 3, 3)
    diff = max(float(np.abs(harris3d_response(volume, s2, t2) - scipy_response(volume, s2, t2)
                            ).max() / np.abs(scipy_response(volume, s2, t2)).max())
               for s2, t2 in scales)
    speedup = ref_s / ours_s
    return _row(f"Harris3D response {n_frames}x{height}x{width} float64, 2 scales", ours_s,
                "scipy.ndimage.gaussian_filter (mode='mirror')", ref_s, diff,
                ">= 2x faster, max diff relative to the response's range <= 1e-12",
                bool(speedup >= 2 and diff <= 1e-12),
                "1 thread; the same kernels and borders, so only the rounding differs")


def _farneback(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    import cv2

    # OpenCV's documented example parameters, the defaults of baselines.flow.FlowConfig.
    return cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def _descriptors_vs_flow(quick: bool) -> dict:
    from baselines.descriptors import hof, hog, mbh

    first, second = _test_frames()
    flow = _farneback(first, second)

    def ours() -> None:
        hog(first)
        hof(flow)
        mbh(flow)

    ours_s, ref_s = _median_times(ours, lambda: _farneback(first, second),
                                  20 if quick else 100, 10 if quick else 50)
    ratio = ours_s / ref_s
    return _row("hog+hof+mbh one 320x240 frame (cells 8x8: HOG 9, HOF 8+1, MBH 2x8)", ours_s,
                "cv2.calcOpticalFlowFarneback (same frame pair)", ref_s, None,
                "<= 0.3x the flow time", bool(ratio <= 0.3),
                f"ours/flow = {ratio:.3f}; Farneback(0.5, 3, 15, 3, 5, 1.2); 1 thread")


def _maps_vs_flow(quick: bool) -> dict:
    from baselines.descriptors import (
        flow_orientation_maps,
        gradient_orientation_maps,
        integral_histogram,
        mbh_orientation_maps,
    )

    first, second = _test_frames()
    flow = _farneback(first, second)
    height, width = first.shape
    # Buffers reused from frame to frame, as a streaming extractor does.
    maps8 = [np.empty((8, height, width), np.float32) for _ in range(3)]
    maps9 = np.empty((9, height, width), np.float32)
    integral8 = np.empty((8, height + 1, width + 1))
    integral9 = np.empty((9, height + 1, width + 1))

    def ours() -> None:
        integral_histogram(gradient_orientation_maps(first, 8, True, True, out=maps8[0]),
                           out=integral8)
        integral_histogram(flow_orientation_maps(flow, 8, out=maps9), out=integral9)
        for maps in mbh_orientation_maps(flow, 8, out=(maps8[1], maps8[2])):
            integral_histogram(maps, out=integral8)

    ours_s, ref_s = _median_times(ours, lambda: _farneback(first, second),
                                  10 if quick else 50, 10 if quick else 50)
    ratio = ours_s / ref_s
    return _row("maps+integral one 320x240 frame (HOG 8, HOF 8+1, MBH 2x8: 33 integral maps)",
                ours_s, "cv2.calcOpticalFlowFarneback (same frame pair)", ref_s, None,
                "<= 0.3x the flow time", bool(ratio <= 0.3),
                f"ours/flow = {ratio:.3f}; the dense path used by the space-time descriptors, "
                "output buffers reused across frames; 1 thread")


_CASE_FUNCTIONS = {
    "hog-skimage": _hog_vs_skimage,
    "hog-opencv": _hog_vs_opencv,
    "chi2": _chi2_vs_sklearn,
    "codebook": _codebook_vs_minibatch,
    "gmm": _gmm_vs_sklearn,
    "harris3d": _harris3d_vs_scipy,
    "hog+hof+mbh": _descriptors_vs_flow,
    "maps+integral": _maps_vs_flow,
}


def _extraction_hook(quick: bool) -> list[dict]:
    try:
        from baselines.extraction import _extraction_rows  # type: ignore[attr-defined]
    except ImportError:
        return []
    return list(_extraction_rows(quick))


def run_perf(quick: bool = False, *, only: str | None = None, device: str = "auto",
             ) -> list[dict]:
    """Time every case; returns the rows (see the module docstring).

    The signature is the perf protocol every track follows (``python -m bench perf``).

    Parameters
    ----------
    quick : bool, default False
        Smaller inputs (χ² on 200×200×500 instead of 1000×1000×4000) and fewer repeats.
    device : str
        Not used: the classical kernels always run on the CPU.
    only : str, optional
        Run only the cases whose name contains this substring (case-insensitive). The
        extraction rows run as one group named ``extraction`` (``--only extraction``), the
        detector's window-encoding rows as ``detection-windows`` (``--only detection``).

    Returns
    -------
    list of dict
    """
    pattern = (only or "").lower()
    rows = []
    with _threads(1):
        for name, case in _CASE_FUNCTIONS.items():
            if pattern and pattern not in name.lower():
                continue
            rows.append(case(quick))
        if not pattern or pattern in "extraction" or "extraction" in pattern:
            rows.extend(_extraction_hook(quick))
        if not pattern or pattern in "detection-windows" or "detection" in pattern:
            from baselines.temporal_fv import detection_window_encoding_rows

            rows.extend(detection_window_encoding_rows(quick))
    return rows
