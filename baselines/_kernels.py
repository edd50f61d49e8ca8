"""All Numba kernels of :mod:`baselines` (private; public wrappers validate and allocate).

Each kernel fills an output buffer that its caller allocated. Flags come from
:mod:`baselines._numba_config`. Kernels that loop with ``prange`` write disjoint slices of the
output per iteration, so their result does not depend on the number of threads.

Conventions shared by the orientation kernels: ``image[r, c]`` with rows going down; the
gradient is the central difference ``I[r+1] - I[r-1]`` (rows) and ``I[:, c+1] - I[:, c-1]``
(columns), zero on the first and last row / column (scikit-image's ``hog`` and OpenCV's
``Sobel(ksize=1)`` with the default reflect-101 border agree on this); the angle of a vector
``(v_col, v_row)`` is ``atan2(v_row, v_col)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from baselines._numba_config import JIT, JIT_PARALLEL, JIT_REDUCTION

_RAD2DEG = 180.0 / math.pi
_HALF_PI = 0.5 * math.pi

# atan(t) = t * P(t**2) on [0, 1]: least-squares fit on Chebyshev nodes, max error 1e-9 rad
# (6e-8 degrees); tests check it against np.arctan2.
_ATAN_C0 = 0.9999999841268145
_ATAN_C1 = -0.3333319473140081
_ATAN_C2 = 0.19996625891618838
_ATAN_C3 = -0.14248417242415623
_ATAN_C4 = 0.10882231205683109
_ATAN_C5 = -0.0822271104905809
_ATAN_C6 = 0.05514446487127596
_ATAN_C7 = -0.028581632370606985
_ATAN_C8 = 0.009606423267945377
_ATAN_C9 = -0.0015164181109124514

# Block normalisation codes for _hog_normalize_blocks.
BLOCK_NORM_CODES = {"L1": 0, "L1-sqrt": 1, "L2": 2, "L2-Hys": 3}

# Tolerance (degrees) below which the fast angle is not trusted for a hard bin decision and
# the exact libm atan2 decides instead (the fast angle is within 1e-7 degrees of it).
_HOG_BOUNDARY_TOL_DEG = 1e-5


@njit(**JIT)
def _atan_poly(t):
    """atan(t) for t in [0, 1] (polynomial above, |error| < 1e-9 rad)."""
    u = t * t
    p = _ATAN_C9
    p = p * u + _ATAN_C8
    p = p * u + _ATAN_C7
    p = p * u + _ATAN_C6
    p = p * u + _ATAN_C5
    p = p * u + _ATAN_C4
    p = p * u + _ATAN_C3
    p = p * u + _ATAN_C2
    p = p * u + _ATAN_C1
    p = p * u + _ATAN_C0
    return t * p


@njit(**JIT)
def _fast_atan2_deg(y, x):
    """Angle of the vector (x, y) in degrees in [0, 360], |error| < 1e-7 degrees.

    Branch-free (selects only) so that loops calling it vectorise; (0, 0) gives 0.
    """
    ax = abs(x)
    ay = abs(y)
    a = _atan_poly(min(ax, ay) / max(max(ax, ay), 1e-300))
    a = _HALF_PI - a if ay > ax else a
    a = math.pi - a if x < 0.0 else a
    a = 2.0 * math.pi - a if y < 0.0 else a
    return a * _RAD2DEG


@njit(**JIT)
def _row_gradients(image, r, n_cols_used, g_col, g_row):
    """Central-difference gradients of row ``r`` (zero on the border rows/columns) as float64."""
    n_rows, n_cols = image.shape
    interior_row = r > 0 and r < n_rows - 1
    r_up = r - 1 if interior_row else r
    r_down = r + 1 if interior_row else r
    for c in range(n_cols_used):
        interior_col = c > 0 and c < n_cols - 1
        c_left = c - 1 if interior_col else c
        c_right = c + 1 if interior_col else c
        g_row[c] = float(image[r_down, c] - image[r_up, c])
        g_col[c] = float(image[r, c_right] - image[r, c_left])


@njit(**JIT)
def _skimage_exact_bin(g_col, g_row, n_orient, per_bin):
    """Bin ``i`` with ``per_bin*i <= ori < per_bin*(i+1)``, ``ori = rad2deg(atan2) % 180``.

    This is scikit-image's rule evaluated with libm's ``atan2``; -1 when no bin holds it.
    """
    ori = (math.atan2(g_row, g_col) * _RAD2DEG) % 180.0
    b = int(ori / per_bin)
    if b > 0 and ori < per_bin * b:
        b -= 1
    elif ori >= per_bin * (b + 1):
        b += 1
    if b >= n_orient or ori < per_bin * b or ori >= per_bin * (b + 1):
        return -1
    return b


@njit(**JIT)
def _hog_row_pass(image, r, n_cols_used, n_orient, per_bin, g_col, g_row, magnitude, bins):
    """Gradient, magnitude and unsigned hard bin of one row (vectorisable loops).

    ``bins[c]`` is -1 where the fast angle lies within ``_HOG_BOUNDARY_TOL_DEG`` of a bin
    edge: the caller then decides with :func:`_skimage_exact_bin`.
    """
    _row_gradients(image, r, n_cols_used, g_col, g_row)
    for c in range(n_cols_used):
        deg = _fast_atan2_deg(g_row[c], g_col[c])
        deg = deg - 180.0 if deg >= 180.0 else deg
        deg = deg - 180.0 if deg >= 180.0 else deg
        b = int(deg / per_bin)
        lo = per_bin * b
        near = ((deg - lo <= _HOG_BOUNDARY_TOL_DEG)
                | (lo + per_bin - deg <= _HOG_BOUNDARY_TOL_DEG) | (b >= n_orient))
        bins[c] = -1 if near else b
        magnitude[c] = math.sqrt(g_col[c] * g_col[c] + g_row[c] * g_row[c])


@njit(**JIT_PARALLEL)
def _hog_cell_histograms(image, cell_rows, cell_cols, n_orient, out):
    """Fused HOG pass: gradient, magnitude, orientation bin and cell sums, row by row.

    ``image`` (H, W) float32/float64; ``out`` (n_cells_row, n_cells_col, n_orient) float64.
    Sums accumulate in float32 in row-major order inside each cell and are divided by the cell
    area in float32, which reproduces scikit-image's ``hog_histograms``; magnitudes use
    ``sqrt(gx² + gy²)`` instead of ``hypot`` (at most 1 ulp apart in float64).
    """
    n_cells_row = out.shape[0]
    n_cells_col = out.shape[1]
    n_cols_used = n_cells_col * cell_cols
    per_bin = 180.0 / n_orient
    area = np.float32(cell_rows * cell_cols)
    for cell_r in prange(n_cells_row):
        acc = np.zeros((n_cells_col, n_orient), dtype=np.float32)
        g_col = np.empty(n_cols_used, dtype=np.float64)
        g_row = np.empty(n_cols_used, dtype=np.float64)
        magnitude = np.empty(n_cols_used, dtype=np.float64)
        bins = np.empty(n_cols_used, dtype=np.int64)
        for r in range(cell_r * cell_rows, (cell_r + 1) * cell_rows):
            _hog_row_pass(image, r, n_cols_used, n_orient, per_bin, g_col, g_row, magnitude, bins)
            for cell_c in range(n_cells_col):
                for c in range(cell_c * cell_cols, (cell_c + 1) * cell_cols):
                    m = magnitude[c]
                    if m == 0.0:
                        continue
                    b = bins[c]
                    if b < 0:
                        b = _skimage_exact_bin(g_col[c], g_row[c], n_orient, per_bin)
                        if b < 0:
                            continue
                    acc[cell_c, b] += m
        for cell_c in range(n_cells_col):
            for b in range(n_orient):
                out[cell_r, cell_c, b] = acc[cell_c, b] / area


@njit(**JIT_PARALLEL)
def _hog_normalize_blocks(hist, block_rows, block_cols, method, eps, out):
    """Normalise every (block_rows, block_cols) block of cells; ``out`` (nbr, nbc, br, bc, o)."""
    n_blocks_row = out.shape[0]
    n_blocks_col = out.shape[1]
    n_orient = hist.shape[2]
    for br in prange(n_blocks_row):
        for bc in range(n_blocks_col):
            total = 0.0
            for i in range(block_rows):
                for j in range(block_cols):
                    for o in range(n_orient):
                        v = hist[br + i, bc + j, o]
                        total += abs(v) if method <= 1 else v * v
            if method <= 1:
                scale = 1.0 / (total + eps)
            else:
                scale = 1.0 / math.sqrt(total + eps * eps)
            clipped_total = 0.0
            for i in range(block_rows):
                for j in range(block_cols):
                    for o in range(n_orient):
                        v = hist[br + i, bc + j, o] * scale
                        if method == 1:
                            v = math.sqrt(v)
                        elif method == 3:
                            v = min(v, 0.2)
                            clipped_total += v * v
                        out[br, bc, i, j, o] = v
            if method == 3:
                rescale = 1.0 / math.sqrt(clipped_total + eps * eps)
                for i in range(block_rows):
                    for j in range(block_cols):
                        for o in range(n_orient):
                            out[br, bc, i, j, o] = out[br, bc, i, j, o] * rescale


@njit(**JIT)
def _row_votes(v_col, v_row, n_used, n_bins, signed, interpolate, zero_bin, threshold,
               bin0, bin1, weight0, weight1):
    """Split each vector's vote of one row between two bins (vectorisable loop).

    Bins start at angle ``k * span / n_bins`` (span 360 signed, 180 unsigned); with
    ``interpolate`` the magnitude is shared linearly between the bin below and the next one
    (cyclically), else it all goes to the bin below. With ``zero_bin`` a vector shorter than
    ``threshold`` votes 1 into bin ``n_bins`` instead.
    """
    span = 360.0 if signed else 180.0
    scale = n_bins / span
    for c in range(n_used):
        x = v_col[c]
        y = v_row[c]
        magnitude = math.sqrt(x * x + y * y)
        angle = _fast_atan2_deg(y, x)
        angle = angle - span if angle >= span else angle
        angle = angle - span if angle >= span else angle
        fbin = angle * scale
        b0 = min(int(fbin), n_bins - 1)
        frac = min(fbin - b0, 1.0) if interpolate else 0.0
        b1 = b0 + 1 if b0 + 1 < n_bins else 0
        w1 = magnitude * frac
        w0 = magnitude - w1
        still = zero_bin and magnitude < threshold
        bin0[c] = n_bins if still else b0
        bin1[c] = n_bins if still else b1
        weight0[c] = 1.0 if still else w0
        weight1[c] = 0.0 if still else w1


@njit(**JIT_PARALLEL)
def _orientation_cells(field_a, field_b, from_gradient, cell_rows, cell_cols, n_bins, signed,
                       interpolate, zero_bin, threshold, out):
    """Orientation histograms of a vector field summed over cells.

    With ``from_gradient`` the vectors are the central-difference gradients of the scalar
    image ``field_a`` (``field_b`` is ignored); otherwise the vectors are
    ``(field_a, field_b) = (v_col, v_row)`` (a flow field). Votes are weighted by magnitude
    (see :func:`_row_votes`). ``out`` is (n_bins [+1], n_cells_row, n_cells_col), float32 or
    float64, zeroed; a cell size of (1, 1) gives dense per-pixel orientation maps.
    """
    n_cells_row = out.shape[1]
    n_cells_col = out.shape[2]
    n_used = n_cells_col * cell_cols
    for cell_r in prange(n_cells_row):
        v_col = np.empty(n_used, dtype=np.float64)
        v_row = np.empty(n_used, dtype=np.float64)
        bin0 = np.empty(n_used, dtype=np.int64)
        bin1 = np.empty(n_used, dtype=np.int64)
        weight0 = np.empty(n_used, dtype=np.float64)
        weight1 = np.empty(n_used, dtype=np.float64)
        for r in range(cell_r * cell_rows, (cell_r + 1) * cell_rows):
            if from_gradient:
                _row_gradients(field_a, r, n_used, v_col, v_row)
            else:
                for c in range(n_used):
                    v_col[c] = field_a[r, c]
                    v_row[c] = field_b[r, c]
            _row_votes(v_col, v_row, n_used, n_bins, signed, interpolate, zero_bin, threshold,
                       bin0, bin1, weight0, weight1)
            for cell_c in range(n_cells_col):
                for c in range(cell_c * cell_cols, (cell_c + 1) * cell_cols):
                    out[bin0[c], cell_r, cell_c] += weight0[c]
                    out[bin1[c], cell_r, cell_c] += weight1[c]


@njit(**JIT_PARALLEL)
def _integral_histogram(maps, out):
    """``out[b, y, x] = maps[b, :y, :x].sum()``; ``out`` (n_bins, H+1, W+1) float64.

    Bins go in pairs whose running row sums are two independent dependency chains held in
    registers (the CPU overlaps them); with an odd count the last pair repeats its bin, which
    writes the same values twice. Pairs are independent and run in parallel.
    """
    n_bins, n_rows, n_cols = maps.shape
    for pair in prange((n_bins + 1) // 2):
        b0 = 2 * pair
        b1 = min(b0 + 1, n_bins - 1)
        for c in range(n_cols + 1):
            out[b0, 0, c] = 0.0
            out[b1, 0, c] = 0.0
        for r in range(n_rows):
            out[b0, r + 1, 0] = 0.0
            out[b1, r + 1, 0] = 0.0
            sum0 = 0.0
            sum1 = 0.0
            for c in range(n_cols):
                sum0 += maps[b0, r, c]
                sum1 += maps[b1, r, c]
                out[b0, r + 1, c + 1] = out[b0, r, c + 1] + sum0
                out[b1, r + 1, c + 1] = out[b1, r, c + 1] + sum1


@njit(**JIT_PARALLEL)
def _box_histograms(integral, boxes, out):
    """Sum of each half-open box ``(y0, x0, y1, x1)`` per bin; ``out`` (n_boxes, n_bins)."""
    n_bins = integral.shape[0]
    for i in prange(boxes.shape[0]):
        y0 = boxes[i, 0]
        x0 = boxes[i, 1]
        y1 = boxes[i, 2]
        x1 = boxes[i, 3]
        for b in range(n_bins):
            out[i, b] = (integral[b, y1, x1] - integral[b, y0, x1]
                         - integral[b, y1, x0] + integral[b, y0, x0])


_CHI2_ROW_BLOCK = 16
_TINY = 5e-324  # the smallest subnormal: max(s, _TINY) == s for every s > 0


@njit(**JIT_REDUCTION)
def _chi2_distance(X, Y, fast_reciprocal, symmetric, out):
    """Additive χ² distance ``out[i, j] = Σ_k (x-y)² / (x+y)`` (terms with x+y = 0 skipped).

    Inputs must be non-negative (then x + y = 0 implies x - y = 0, so dividing by
    ``max(x + y, tiny)`` skips exactly those terms without a branch). ``fast_reciprocal`` may
    be set only when every non-zero input lies in [1e-18, 1e18] (float32 range for x + y).
    With ``symmetric`` (Y is X) only ``j >= i`` is computed; the caller mirrors the rest
    (every term is symmetric in x and y, so the mirror is bit-identical). Rows of X go in blocks
    of 16 that stay in cache while each row of Y streams past; blocks are independent.
    """
    n_x, n_features = X.shape
    n_y = Y.shape[0]
    n_blocks = (n_x + _CHI2_ROW_BLOCK - 1) // _CHI2_ROW_BLOCK
    for block in prange(n_blocks):
        i_start = block * _CHI2_ROW_BLOCK
        i_stop = min(i_start + _CHI2_ROW_BLOCK, n_x)
        for j in range(i_start if symmetric else 0, n_y):
            for i in range(i_start, min(i_stop, j + 1) if symmetric else i_stop):
                acc = 0.0
                for k in range(n_features):
                    s = X[i, k] + Y[j, k]
                    d = X[i, k] - Y[j, k]
                    if fast_reciprocal:
                        # 1/s from a float32 division refined by two Newton steps (full
                        # float64 accuracy, 3x cheaper than a float64 division); s = 0
                        # gives NaN, which the select drops.
                        inv = np.float64(np.float32(1.0) / np.float32(s))
                        inv = inv * (2.0 - s * inv)
                        inv = inv * (2.0 - s * inv)
                        acc += d * d * inv if s > 0.0 else 0.0
                    else:
                        acc += d * d / max(s, _TINY)
                out[i, j] = acc


# ---- space-time sampling kernels (pipeline) ----


@njit(**JIT_PARALLEL)
def _tube_cell_sums(integrals, frames, x0, y0, x_offsets, y_offsets, t_cell, out):
    """Cell histograms of space-time tubes from per-frame integral histograms.

    ``integrals`` (T, n_bins, H+1, W+1) float64; tube ``i`` covers frames ``frames[i, l]``
    with its box at ``(x0[i, l], y0[i, l])``; its spatial cell edges are the box origin plus
    ``x_offsets[i]`` (n_x + 1) and ``y_offsets[i]`` (n_y + 1); frame ``l`` falls in temporal
    cell ``t_cell[l]``. ``out`` (n, n_t, n_y, n_x, n_bins) float64, zeroed. Each tube writes
    only its own ``out[i]``.
    """
    n_tubes, length = frames.shape
    n_bins = integrals.shape[1]
    n_y = y_offsets.shape[1] - 1
    n_x = x_offsets.shape[1] - 1
    for i in prange(n_tubes):
        for l in range(length):
            f = frames[i, l]
            ct = t_cell[l]
            for cy in range(n_y):
                ya = y0[i, l] + y_offsets[i, cy]
                yb = y0[i, l] + y_offsets[i, cy + 1]
                for cx in range(n_x):
                    xa = x0[i, l] + x_offsets[i, cx]
                    xb = x0[i, l] + x_offsets[i, cx + 1]
                    for b in range(n_bins):
                        out[i, ct, cy, cx, b] += (
                            integrals[f, b, yb, xb] - integrals[f, b, ya, xb]
                            - integrals[f, b, yb, xa] + integrals[f, b, ya, xa]
                        )
