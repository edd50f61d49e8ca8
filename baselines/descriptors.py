"""Frame-level HOG, HOF and MBH, dense orientation maps and integral histograms.

The public functions validate their input, allocate the outputs and call the Numba kernels of
:mod:`baselines._kernels`. Three families:

* :func:`hog` — the same function as ``skimage.feature.hog(image, ..., channel_axis=None)``.
* :func:`hof`, :func:`mbh` — per-cell orientation histograms of an optical-flow field (HOF)
  and of the spatial gradients of its two components (MBH).
* :func:`gradient_orientation_maps`, :func:`flow_orientation_maps`,
  :func:`mbh_orientation_maps` give the per-pixel votes as dense ``(n_bins, H, W)`` maps;
  :func:`integral_histogram` and :func:`cell_histograms` then sum any box in O(n_bins), which
  is what the space-time descriptors (:mod:`baselines.spacetime`) need.

Conventions: rows go down; the gradient is the central difference, zero on the border
rows/columns; a flow field is ``(H, W, 2)`` with ``flow[..., 0]`` the column (x) and
``flow[..., 1]`` the row (y) displacement, as OpenCV returns it; the angle of a vector is
``atan2(v_row, v_col)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from baselines import _kernels

__all__ = [
    "hog",
    "hof",
    "mbh",
    "gradient_orientation_maps",
    "flow_orientation_maps",
    "mbh_orientation_maps",
    "integral_histogram",
    "cell_histograms",
    "normalize_descriptor",
    "BLOCK_NORMS",
    "DENSETRACK_HOF_THRESHOLD",
]

#: Block normalisations accepted by :func:`hog`.
BLOCK_NORMS = tuple(_kernels.BLOCK_NORM_CODES)
#: Flow magnitude (pixels/frame) below which DenseTrack's HOF votes into the zero-motion bin.
DENSETRACK_HOF_THRESHOLD = 0.4


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if np.isscalar(value):
        value = (value, value)
    pair = tuple(int(v) for v in value)  # type: ignore[union-attr]
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"The '{name}' parameter must be a pair of positive ints. Got {value!r} instead.")
    return pair  # type: ignore[return-value]


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"The '{name}' parameter must be an int >= 1. Got {value!r} instead.")
    return int(value)


def _as_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(
            f"'{name}' must be a 2-D grayscale array (H, W); got shape {image.shape}. "
            "Convert colour frames first, e.g. cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)."
        )
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise ValueError(f"'{name}' must be numeric; got dtype {image.dtype}.")
    return image


def _as_flow(flow: np.ndarray) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(
            f"'flow' must be an (H, W, 2) array of (x, y) displacements as returned by "
            f"cv2.calcOpticalFlowFarneback; got shape {flow.shape}."
        )
    if not np.issubdtype(flow.dtype, np.floating):
        raise ValueError(f"'flow' must be a float array; got dtype {flow.dtype}.")
    return flow


def _cell_grid(shape: tuple[int, int], pixels_per_cell: tuple[int, int], name: str) -> tuple[int, int]:
    n_cells_row = shape[0] // pixels_per_cell[0]
    n_cells_col = shape[1] // pixels_per_cell[1]
    if n_cells_row < 1 or n_cells_col < 1:
        raise ValueError(
            f"The {name} is too small for pixels_per_cell={pixels_per_cell}: it has shape "
            f"{shape} and needs at least {pixels_per_cell[0]} rows and {pixels_per_cell[1]} "
            "columns. Use a larger input or smaller cells."
        )
    return n_cells_row, n_cells_col


def hog(
    image: np.ndarray,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
    block_norm: str = "L2-Hys",
    feature_vector: bool = True,
) -> np.ndarray:
    """Histogram of Oriented Gradients of a grayscale image (Dalal & Triggs 2005).

    Computes the same function as ``skimage.feature.hog(image, orientations,
    pixels_per_cell, cells_per_block, block_norm, feature_vector=feature_vector,
    channel_axis=None)``, in one fused Numba pass:

    1. central-difference gradients ``g_row``, ``g_col`` (zero on the border rows/columns);
    2. magnitude ``sqrt(g_row² + g_col²)`` and unsigned orientation
       ``atan2(g_row, g_col) mod 180°``;
    3. hard vote of the magnitude into one of ``orientations`` bins of width ``180/orientations``
       degrees and sum over each ``pixels_per_cell`` cell, divided by the cell area (pixels
       beyond the last whole cell are ignored);
    4. every ``cells_per_block`` block of cells normalised (stride one cell).

    Parameters
    ----------
    image : (H, W) array_like
        Grayscale image, any real dtype. float32 (and float16) images are processed in
        float32, all others in float64, as scikit-image does.
    orientations : int, default 9
        Number of orientation bins over 0-180 degrees.
    pixels_per_cell : (int, int), default (8, 8)
        Cell size (rows, columns).
    cells_per_block : (int, int), default (3, 3)
        Block size in cells (rows, columns).
    block_norm : {'L1', 'L1-sqrt', 'L2', 'L2-Hys'}, default 'L2-Hys'
        ``L1``: v / (‖v‖₁ + ε); ``L1-sqrt``: sqrt of that; ``L2``: v / sqrt(‖v‖₂² + ε²);
        ``L2-Hys``: L2, clip at 0.2, L2 again. ε = 1e-5.
    feature_vector : bool, default True
        Return the flattened vector instead of the
        ``(n_blocks_row, n_blocks_col, b_row, b_col, orientations)`` array.

    Returns
    -------
    ndarray
        The descriptor, dtype float32 for float32/float16 input else float64.

    Raises
    ------
    ValueError
        If the image is not 2-D, a parameter is invalid, or the image holds fewer than one
        block of cells.

    Notes
    -----
    Differences from Dalal & Triggs: as scikit-image — blocks of 3×3 cells by default (2×2 in
    the paper), no Gaussian window within the block, no spatial or orientation interpolation of
    the votes, no colour channel selection. Cell sums are accumulated in float32 as
    scikit-image does, so the results agree to rounding of the magnitude (``sqrt`` instead of
    ``hypot``, at most one float64 ulp) — about 1e-7 at worst. The orientation bin is found
    with a fast polynomial arctangent; within 1e-5 degrees of a bin edge the exact
    ``atan2`` rule of scikit-image decides, so bin assignments are identical.

    References
    ----------
    .. [1] Dalal, N. and Triggs, B. "Histograms of Oriented Gradients for Human Detection",
       CVPR 2005. :doi:`10.1109/CVPR.2005.177`
    .. [2] van der Walt, S. et al. "scikit-image: image processing in Python", PeerJ 2014.
       :doi:`10.7717/peerj.453`

    Examples
    --------
    >>> import numpy as np
    >>> hog(np.zeros((32, 32), np.uint8)).shape
    (144,)
    """
    image = _as_image(image)
    orientations = _positive_int(orientations, "orientations")
    cell = _pair(pixels_per_cell, "pixels_per_cell")
    block = _pair(cells_per_block, "cells_per_block")
    if block_norm not in _kernels.BLOCK_NORM_CODES:
        raise ValueError(
            f"The 'block_norm' parameter of hog must be one of {BLOCK_NORMS}. Got {block_norm!r} instead."
        )
    float_dtype = np.float32 if image.dtype in (np.float16, np.float32) else np.float64
    image = np.ascontiguousarray(image, dtype=float_dtype)
    n_cells_row, n_cells_col = image.shape[0] // cell[0], image.shape[1] // cell[1]
    n_blocks_row, n_blocks_col = n_cells_row - block[0] + 1, n_cells_col - block[1] + 1
    if n_blocks_row < 1 or n_blocks_col < 1:
        raise ValueError(
            "The input image is too small given the values of pixels_per_cell and "
            f"cells_per_block. It should have at least {block[0] * cell[0]} rows and "
            f"{block[1] * cell[1]} cols; got shape {image.shape}."
        )
    cells = np.zeros((n_cells_row, n_cells_col, orientations), dtype=np.float64)
    _kernels._hog_cell_histograms(image, cell[0], cell[1], orientations, cells)
    out = np.empty((n_blocks_row, n_blocks_col, block[0], block[1], orientations), dtype=float_dtype)
    _kernels._hog_normalize_blocks(
        cells, block[0], block[1], _kernels.BLOCK_NORM_CODES[block_norm], 1e-5, out
    )
    return out.ravel() if feature_vector else out


def _orientation_histograms(
    field_a: np.ndarray,
    field_b: np.ndarray | None,
    cell: tuple[int, int],
    n_bins: int,
    signed: bool,
    interpolate: bool,
    zero_bin: bool,
    threshold: float,
    dtype: type,
    what: str,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Call the orientation kernel; returns (n_bins [+1], n_cells_row, n_cells_col)."""
    n_cells_row, n_cells_col = _cell_grid(field_a.shape, cell, what)
    shape = (n_bins + int(zero_bin), n_cells_row, n_cells_col)
    out = _output_buffer(out, shape, dtype)
    from_gradient = field_b is None
    if from_gradient:  # differences of uint8 etc. must not wrap around
        field_a = np.ascontiguousarray(field_a, dtype=np.float64)
        field_b = field_a
    else:  # flow components keep float32 / float64
        keep = field_a.dtype in (np.float32, np.float64)
        field_a = np.ascontiguousarray(field_a, dtype=field_a.dtype if keep else np.float64)
        field_b = np.ascontiguousarray(field_b, dtype=field_a.dtype)
    _kernels._orientation_cells(
        field_a, field_b, from_gradient, cell[0], cell[1], n_bins, bool(signed),
        bool(interpolate), bool(zero_bin), float(threshold), out,
    )
    return out


def _output_buffer(out: np.ndarray | None, shape: tuple, dtype: type, zero: bool = True) -> np.ndarray:
    """A zeroed output array: a new one, or ``out`` after checking it (buffer reuse avoids
    page-faulting fresh memory for every frame)."""
    if out is None:
        return np.zeros(shape, dtype=dtype) if zero else np.empty(shape, dtype=dtype)
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(
            f"'out' must be a C-contiguous {np.dtype(dtype).name} array of shape {shape}; got "
            f"{out.dtype} {out.shape}."
        )
    if zero:
        out.fill(0)
    return out


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"The 'threshold' parameter must be a finite float >= 0. Got {threshold!r} instead.")
    return threshold


def hof(
    flow: np.ndarray,
    orientations: int = 8,
    pixels_per_cell: tuple[int, int] = (8, 8),
    zero_bin: bool = True,
    threshold: float = DENSETRACK_HOF_THRESHOLD,
    interpolate: bool = True,
    feature_vector: bool = True,
) -> np.ndarray:
    """Histograms of Optical Flow per cell (Laptev et al. 2008; Wang et al. 2011).

    Each pixel's flow vector votes its magnitude into the bins of its (signed, 0-360°)
    direction; with ``zero_bin`` a vector shorter than ``threshold`` pixels votes 1 into an
    extra last "no motion" bin instead. Votes are summed over each ``pixels_per_cell`` cell.

    Parameters
    ----------
    flow : (H, W, 2) float array
        Flow field, ``flow[..., 0]`` = x (column) and ``flow[..., 1]`` = y (row) displacement.
    orientations : int, default 8
        Number of direction bins over 360°; bin ``k`` starts at ``k * 360 / orientations``.
    pixels_per_cell : (int, int), default (8, 8)
        Cell size (rows, columns); pixels beyond the last whole cell are ignored.
    zero_bin : bool, default True
        Add the zero-motion bin (the last one).
    threshold : float, default 0.4
        Magnitude (pixels/frame) below which a vector counts as "no motion" (strictly less
        than); DenseTrack's value. Ignored without ``zero_bin``.
    interpolate : bool, default True
        Share each vote linearly between the two nearest bin starts (DenseTrack); False puts
        it all into the bin the direction falls in (hard assignment).
    feature_vector : bool, default True
        Flatten the ``(n_cells_row, n_cells_col, n_bins)`` result.

    Returns
    -------
    ndarray of float64
        Unnormalised cell histograms, ``n_bins = orientations + zero_bin``.

    Notes
    -----
    Presets: Laptev et al. 2008 — ``orientations=4, interpolate=False`` (4 + 1 bins);
    DenseTrack (Wang et al. 2011/2013) — the defaults (8 + 1 bins, threshold 0.4, linear
    interpolation). Differences: Laptev's and Wang's cells are space-time boxes around a sample
    point (see :mod:`baselines.spacetime`), here they tile one frame; the zero bin counts
    pixels (weight 1, as in DenseTrack's code) rather than summing magnitudes; directions come
    from a polynomial arctangent accurate to 1e-7 degrees instead of OpenCV's ``fastAtan2``
    (about 0.3° error).

    References
    ----------
    .. [1] Laptev, I., Marszałek, M., Schmid, C. and Rozenfeld, B. "Learning realistic human
       actions from movies", CVPR 2008. :doi:`10.1109/CVPR.2008.4587756`
    .. [2] Wang, H., Kläser, A., Schmid, C. and Liu, C.-L. "Action recognition by dense
       trajectories", CVPR 2011. :doi:`10.1109/CVPR.2011.5995407`
    """
    flow = _as_flow(flow)
    orientations = _positive_int(orientations, "orientations")
    cell = _pair(pixels_per_cell, "pixels_per_cell")
    threshold = _check_threshold(threshold)
    out = _orientation_histograms(
        flow[..., 0], flow[..., 1], cell, orientations, True, interpolate, zero_bin,
        threshold, np.float64, "flow field",
    )
    out = np.ascontiguousarray(out.transpose(1, 2, 0))
    return out.ravel() if feature_vector else out


def mbh(
    flow: np.ndarray,
    orientations: int = 8,
    pixels_per_cell: tuple[int, int] = (8, 8),
    signed: bool = True,
    interpolate: bool = True,
    feature_vector: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Motion Boundary Histograms per cell (Dalal, Triggs & Schmid 2006).

    MBHx is the HOG-style orientation histogram of the spatial gradient of the flow's x
    component, MBHy that of its y component: each pixel votes the gradient magnitude into the
    bins of the gradient direction, summed over cells. A constant flow (pure camera
    translation) has zero gradient, so MBH removes it.

    Parameters
    ----------
    flow : (H, W, 2) float array
        Flow field (x, y displacements), as for :func:`hof`.
    orientations : int, default 8
        Number of bins over 360° (``signed``) or 180°.
    pixels_per_cell : (int, int), default (8, 8)
        Cell size (rows, columns).
    signed : bool, default True
        Signed gradient directions (0-360°, as DenseTrack) or unsigned (0-180°).
    interpolate : bool, default True
        Linear interpolation between neighbouring bins (DenseTrack) or hard assignment.
    feature_vector : bool, default True
        Flatten each ``(n_cells_row, n_cells_col, orientations)`` result.

    Returns
    -------
    (MBHx, MBHy) : tuple of float64 ndarrays
        Unnormalised cell histograms.

    Notes
    -----
    Gradients are central differences (zero on the border), like DenseTrack's
    ``Sobel(ksize=1)``; the paper also studies smoothed and differential variants
    (IMBH). No block normalisation at frame level: the space-time descriptors normalise the
    concatenated cells.

    References
    ----------
    .. [1] Dalal, N., Triggs, B. and Schmid, C. "Human detection using oriented histograms of
       flow and appearance", ECCV 2006. :doi:`10.1007/11744047_33`
    .. [2] Wang, H., Kläser, A., Schmid, C. and Liu, C.-L. "Dense trajectories and motion
       boundary descriptors for action recognition", IJCV 2013. :doi:`10.1007/s11263-012-0594-8`
    """
    flow = _as_flow(flow)
    orientations = _positive_int(orientations, "orientations")
    cell = _pair(pixels_per_cell, "pixels_per_cell")
    results = []
    for component in range(2):
        out = _orientation_histograms(
            flow[..., component], None, cell, orientations, signed, interpolate, False, 0.0,
            np.float64, "flow field",
        )
        out = np.ascontiguousarray(out.transpose(1, 2, 0))
        results.append(out.ravel() if feature_vector else out)
    return results[0], results[1]


def gradient_orientation_maps(
    image: np.ndarray, n_bins: int, signed: bool = False, interpolate: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Dense per-pixel HOG votes: the gradient magnitude split into orientation bins.

    Parameters
    ----------
    image : (H, W) array_like
        Grayscale frame (any real dtype; differences are taken in float64).
    n_bins : int
        Number of orientation bins over 180° (unsigned) or 360° (``signed``).
    signed : bool, default False
        Signed directions (DenseTrack's HOG) or unsigned (Dalal & Triggs, Laptev).
    interpolate : bool, default False
        Linear interpolation between neighbouring bins or hard assignment.
    out : (n_bins, H, W) float32 ndarray, optional
        Buffer to fill (and return), e.g. reused across the frames of a video.

    Returns
    -------
    (n_bins, H, W) float32 ndarray
        ``maps[b, r, c]`` = the share of pixel (r, c)'s gradient magnitude in bin b.

    References
    ----------
    .. [1] Dalal, N. and Triggs, B. CVPR 2005. :doi:`10.1109/CVPR.2005.177`
    """
    image = _as_image(image)
    n_bins = _positive_int(n_bins, "n_bins")
    return _orientation_histograms(
        image, None, (1, 1), n_bins, signed, interpolate, False, 0.0, np.float32, "image", out
    )


def flow_orientation_maps(
    flow: np.ndarray,
    n_bins: int,
    zero_bin: bool = True,
    threshold: float = DENSETRACK_HOF_THRESHOLD,
    interpolate: bool = True,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Dense per-pixel HOF votes (signed flow directions, magnitude-weighted, zero bin last).

    Parameters
    ----------
    flow : (H, W, 2) float array
        Flow field (x, y displacements).
    n_bins : int
        Direction bins over 360° (not counting the zero bin).
    zero_bin, threshold, interpolate
        As in :func:`hof`.
    out : (n_bins + zero_bin, H, W) float32 ndarray, optional
        Buffer to fill (and return).

    Returns
    -------
    (n_bins + zero_bin, H, W) float32 ndarray

    References
    ----------
    .. [1] Laptev et al. CVPR 2008. :doi:`10.1109/CVPR.2008.4587756`
    """
    flow = _as_flow(flow)
    n_bins = _positive_int(n_bins, "n_bins")
    threshold = _check_threshold(threshold)
    return _orientation_histograms(
        flow[..., 0], flow[..., 1], (1, 1), n_bins, True, interpolate, zero_bin, threshold,
        np.float32, "flow field", out,
    )


def mbh_orientation_maps(
    flow: np.ndarray, n_bins: int, signed: bool = True, interpolate: bool = True,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense per-pixel MBHx and MBHy votes.

    Parameters
    ----------
    flow : (H, W, 2) float array
        Flow field (x, y displacements).
    n_bins : int
        Orientation bins of the flow-component gradients.
    signed, interpolate
        As in :func:`mbh`.
    out : pair of (n_bins, H, W) float32 ndarrays, optional
        Buffers to fill (and return).

    Returns
    -------
    (maps_x, maps_y) : two (n_bins, H, W) float32 ndarrays

    References
    ----------
    .. [1] Dalal, Triggs & Schmid, ECCV 2006. :doi:`10.1007/11744047_33`
    """
    flow = _as_flow(flow)
    n_bins = _positive_int(n_bins, "n_bins")
    buffers = (None, None) if out is None else out
    maps = [
        _orientation_histograms(flow[..., k], None, (1, 1), n_bins, signed, interpolate, False,
                                0.0, np.float32, "flow field", buffers[k])
        for k in range(2)
    ]
    return maps[0], maps[1]


def integral_histogram(maps: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Integral image of each orientation map (Porikli 2005).

    Parameters
    ----------
    maps : (n_bins, H, W) array_like
        Per-pixel votes, e.g. from :func:`gradient_orientation_maps`.
    out : (n_bins, H + 1, W + 1) float64 ndarray, optional
        Buffer to fill (and return).

    Returns
    -------
    (n_bins, H + 1, W + 1) float64 ndarray
        ``out[b, y, x] = maps[b, :y, :x].sum()``; the first row and column are zero.

    References
    ----------
    .. [1] Porikli, F. "Integral histogram: a fast way to extract histograms in Cartesian
       spaces", CVPR 2005. :doi:`10.1109/CVPR.2005.188`
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"'maps' must be an (n_bins, H, W) array; got shape {maps.shape}.")
    if maps.dtype not in (np.float32, np.float64):
        maps = maps.astype(np.float64)
    maps = np.ascontiguousarray(maps)
    shape = (maps.shape[0], maps.shape[1] + 1, maps.shape[2] + 1)
    out = _output_buffer(out, shape, np.float64, zero=False)
    _kernels._integral_histogram(maps, out)
    return out


def cell_histograms(integral: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Histograms of many boxes from an integral histogram, O(n_bins) per box.

    Parameters
    ----------
    integral : (n_bins, H + 1, W + 1) ndarray
        From :func:`integral_histogram`.
    boxes : (n_boxes, 4) int array_like
        Half-open boxes ``(y0, x0, y1, x1)`` with ``0 <= y0 <= y1 <= H`` and
        ``0 <= x0 <= x1 <= W``.

    Returns
    -------
    (n_boxes, n_bins) float64 ndarray
        ``maps[:, y0:y1, x0:x1].sum(axis=(1, 2))`` for each box.

    Raises
    ------
    ValueError
        If a box lies outside the image or is inverted.

    References
    ----------
    .. [1] Porikli, F. "Integral histogram: a fast way to extract histograms in Cartesian
       spaces", CVPR 2005. :doi:`10.1109/CVPR.2005.188`
    """
    integral = np.ascontiguousarray(integral, dtype=np.float64)
    if integral.ndim != 3:
        raise ValueError(f"'integral' must be (n_bins, H+1, W+1); got shape {integral.shape}.")
    boxes = np.ascontiguousarray(boxes, dtype=np.int64).reshape(-1, 4)
    height, width = integral.shape[1] - 1, integral.shape[2] - 1
    bad = ((boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > height) | (boxes[:, 3] > width)
           | (boxes[:, 0] > boxes[:, 2]) | (boxes[:, 1] > boxes[:, 3]))
    if bad.any():
        first = boxes[np.flatnonzero(bad)[0]].tolist()
        raise ValueError(
            f"{int(bad.sum())} box(es) fall outside the {height}x{width} image or are inverted, "
            f"e.g. (y0, x0, y1, x1) = {first}; clip boxes to 0 <= y0 <= y1 <= H, 0 <= x0 <= x1 <= W."
        )
    out = np.empty((boxes.shape[0], integral.shape[0]), dtype=np.float64)
    _kernels._box_histograms(integral, boxes, out)
    return out


def normalize_descriptor(x: np.ndarray, method: str = "l2", eps: float = 1e-12) -> np.ndarray:
    """Normalise descriptors row by row (the last axis).

    Parameters
    ----------
    x : array_like, (..., D)
        Non-negative histograms for ``"rootsift"``; any real values for ``"l2"``.
    method : {'l2', 'rootsift'}, default 'l2'
        ``l2``: x / max(‖x‖₂, eps). ``rootsift``: L1-normalise (x / max(‖x‖₁, eps)), then take
        the element-wise square root, so that the Euclidean distance of the results compares
        histograms with the Hellinger kernel.
    eps : float, default 1e-12
        Guard for all-zero rows (they stay zero).

    Returns
    -------
    ndarray of float64, same shape as ``x``.

    References
    ----------
    .. [1] Arandjelović, R. and Zisserman, A. "Three things everyone should know to improve
       object retrieval", CVPR 2012. :doi:`10.1109/CVPR.2012.6248018`
    .. [2] Wang, H. and Schmid, C. "Action recognition with improved trajectories", ICCV 2013.
       :doi:`10.1109/ICCV.2013.441`
    """
    x = np.asarray(x, dtype=np.float64)
    if method == "l2":
        norm = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
        return x / np.maximum(norm, eps)
    if method == "rootsift":
        if (x < 0).any():
            raise ValueError("normalize_descriptor(method='rootsift') needs non-negative histograms.")
        l1 = x.sum(axis=-1, keepdims=True)
        return np.sqrt(x / np.maximum(l1, eps))
    raise ValueError(f"The 'method' parameter of normalize_descriptor must be 'l2' or 'rootsift'. Got {method!r} instead.")
