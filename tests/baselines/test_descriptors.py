"""HOG / HOF / MBH kernels against scikit-image and slow NumPy references."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from skimage.feature import hog as skimage_hog

from baselines import _kernels
from baselines.descriptors import (
    BLOCK_NORMS,
    cell_histograms,
    flow_orientation_maps,
    gradient_orientation_maps,
    hof,
    hog,
    integral_histogram,
    mbh,
    mbh_orientation_maps,
    normalize_descriptor,
)

# ---------------------------------------------------------------- slow NumPy references


def ref_gradient(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = image.astype(np.float64)
    g_row = np.zeros_like(image)
    g_col = np.zeros_like(image)
    g_row[1:-1] = image[2:] - image[:-2]
    g_col[:, 1:-1] = image[:, 2:] - image[:, :-2]
    return g_col, g_row


def ref_vote_maps(v_col, v_row, n_bins, signed, interpolate, zero_bin=False, threshold=0.0):
    magnitude = np.sqrt(v_col.astype(np.float64) ** 2 + v_row.astype(np.float64) ** 2)
    span = 360.0 if signed else 180.0
    angle = np.degrees(np.arctan2(v_row, v_col)) % span
    fbin = angle * n_bins / span
    b0 = np.floor(fbin).astype(int)
    frac = fbin - b0 if interpolate else np.zeros_like(fbin)
    maps = np.zeros((n_bins + int(zero_bin),) + v_col.shape)
    rows, cols = np.indices(v_col.shape)
    moving = ~(magnitude < threshold) if zero_bin else np.ones(v_col.shape, bool)
    np.add.at(maps, (b0[moving] % n_bins, rows[moving], cols[moving]),
              (magnitude * (1 - frac))[moving])
    np.add.at(maps, ((b0[moving] + 1) % n_bins, rows[moving], cols[moving]),
              (magnitude * frac)[moving])
    if zero_bin:
        maps[n_bins][~moving] = 1.0
    return maps


def ref_cell_sums(maps, cell):
    n_bins, height, width = maps.shape
    n_r, n_c = height // cell[0], width // cell[1]
    cropped = maps[:, : n_r * cell[0], : n_c * cell[1]]
    sums = cropped.reshape(n_bins, n_r, cell[0], n_c, cell[1]).sum(axis=(2, 4))
    return sums.transpose(1, 2, 0)


def random_flow(rng, shape, scale=2.0):
    return (rng.standard_normal(shape + (2,)) * scale).astype(np.float32)


# ---------------------------------------------------------------- HOG vs scikit-image


@pytest.mark.parametrize("shape", [(64, 64), (61, 83), (120, 160)])
@pytest.mark.parametrize("dtype", ["uint8", "float64", "float32"])
@pytest.mark.parametrize("block_norm", BLOCK_NORMS)
def test_hog_matches_skimage(shape, dtype, block_norm):
    rng = np.random.default_rng()  # fresh images every run
    if dtype == "uint8":
        image = rng.integers(0, 256, shape).astype(np.uint8)
    else:
        image = rng.random(shape).astype(dtype)
    ours = hog(image, block_norm=block_norm)
    theirs = skimage_hog(image, block_norm=block_norm, channel_axis=None)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("orientations", [4, 8, 9, 12])
def test_hog_matches_skimage_on_bin_edges(orientations):
    # Small-integer images put many gradients exactly on bin edges (0, 45, 90, ... degrees).
    rng = np.random.default_rng()
    image = rng.integers(0, 4, (48, 56)).astype(np.uint8)
    kwargs = dict(orientations=orientations, pixels_per_cell=(6, 7), cells_per_block=(2, 2),
                  feature_vector=False)
    ours = hog(image, **kwargs)
    theirs = skimage_hog(image, channel_axis=None, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_hog_rejects_small_and_colour_images():
    with pytest.raises(ValueError, match="at least 24 rows"):
        hog(np.zeros((20, 40)))
    with pytest.raises(ValueError, match="2-D grayscale"):
        hog(np.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match="block_norm"):
        hog(np.zeros((32, 32)), block_norm="L3")


def test_fast_arctangent_accuracy():
    rng = np.random.default_rng()
    vectors = rng.standard_normal((2000, 2)) * 10.0 ** rng.integers(-3, 4, (2000, 1))
    ours = np.array([_kernels._fast_atan2_deg(y, x) for x, y in vectors])
    exact = np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0])) % 360
    diff = np.abs((ours - exact + 180) % 360 - 180)
    assert diff.max() < 1e-6


# ---------------------------------------------------------------- HOF / MBH / maps


@pytest.mark.parametrize("interpolate", [True, False])
@pytest.mark.parametrize("orientations", [4, 8])
def test_hof_matches_reference(orientations, interpolate):
    rng = np.random.default_rng()
    flow = random_flow(rng, (37, 45), scale=0.6)  # many vectors below the 0.4 threshold
    ours = hof(flow, orientations=orientations, pixels_per_cell=(6, 8), interpolate=interpolate,
               threshold=0.4, feature_vector=False)
    maps = ref_vote_maps(flow[..., 0], flow[..., 1], orientations, True, interpolate,
                         zero_bin=True, threshold=0.4)
    expected = ref_cell_sums(maps, (6, 8))
    assert ours.shape == (6, 5, orientations + 1)
    assert expected[..., -1].sum() > 0 and expected[..., :-1].sum() > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-5)


def test_hof_without_zero_bin_sums_magnitudes():
    rng = np.random.default_rng()
    flow = random_flow(rng, (16, 16))
    ours = hof(flow, orientations=8, pixels_per_cell=(16, 16), zero_bin=False)
    magnitude = np.hypot(flow[..., 0].astype(float), flow[..., 1].astype(float)).sum()
    np.testing.assert_allclose(ours.sum(), magnitude, rtol=1e-6)


@pytest.mark.parametrize("signed", [True, False])
def test_mbh_matches_reference(signed):
    rng = np.random.default_rng()
    flow = random_flow(rng, (30, 41))
    mbh_x, mbh_y = mbh(flow, orientations=8, pixels_per_cell=(5, 5), signed=signed,
                       feature_vector=False)
    for ours, component in ((mbh_x, 0), (mbh_y, 1)):
        g_col, g_row = ref_gradient(flow[..., component])
        expected = ref_cell_sums(ref_vote_maps(g_col, g_row, 8, signed, True), (5, 5))
        np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-6)


def test_mbh_is_zero_for_constant_flow():
    # Pure camera translation: HOF sees it, MBH does not.
    flow = np.empty((40, 48, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.25, -1.5
    mbh_x, mbh_y = mbh(flow)
    assert not mbh_x.any() and not mbh_y.any()
    assert hof(flow).sum() > 0


@pytest.mark.parametrize("signed,interpolate", [(False, False), (True, True), (False, True)])
def test_gradient_orientation_maps(signed, interpolate):
    rng = np.random.default_rng()
    image = rng.integers(0, 256, (23, 31)).astype(np.uint8)
    ours = gradient_orientation_maps(image, 6, signed=signed, interpolate=interpolate)
    expected = ref_vote_maps(*ref_gradient(image), 6, signed, interpolate)
    assert ours.shape == (6, 23, 31) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-4)


def test_flow_and_mbh_orientation_maps():
    rng = np.random.default_rng()
    flow = random_flow(rng, (19, 26), scale=0.5)
    ours = flow_orientation_maps(flow, 8, threshold=0.4)
    expected = ref_vote_maps(flow[..., 0], flow[..., 1], 8, True, True, True, 0.4)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-5)
    maps_x, maps_y = mbh_orientation_maps(flow, 8)
    np.testing.assert_allclose(maps_y, ref_vote_maps(*ref_gradient(flow[..., 1]), 8, True, True),
                               rtol=1e-6, atol=1e-5)
    # the cell kernel and the maps describe the same votes
    cells = mbh(flow, pixels_per_cell=(3, 4), feature_vector=False)[0]
    np.testing.assert_allclose(cells, ref_cell_sums(maps_x.astype(float), (3, 4)), atol=1e-4)


def test_integral_histogram_and_boxes():
    rng = np.random.default_rng()
    maps = rng.random((5, 17, 23))
    integral = integral_histogram(maps)
    assert integral.shape == (5, 18, 24)
    y0 = rng.integers(0, 17, 200)
    x0 = rng.integers(0, 23, 200)
    y1 = rng.integers(y0, 18)
    x1 = rng.integers(x0, 24)
    boxes = np.stack([y0, x0, y1, x1], axis=1)
    ours = cell_histograms(integral, boxes)
    expected = np.stack([maps[:, a:c, b:d].sum(axis=(1, 2)) for a, b, c, d in boxes])
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="outside"):
        cell_histograms(integral, [[0, 0, 19, 5]])


def test_normalize_descriptor():
    rng = np.random.default_rng()
    x = rng.random((7, 12))
    x[3] = 0
    root = normalize_descriptor(x, "rootsift")
    np.testing.assert_allclose(root[[0, 1, 2, 4, 5, 6]] ** 2 @ np.ones(12), 1.0)
    np.testing.assert_allclose(root[0], np.sqrt(x[0] / x[0].sum()))
    assert not root[3].any()
    l2 = normalize_descriptor(x, "l2")
    np.testing.assert_allclose(np.linalg.norm(l2[0]), 1.0)
    with pytest.raises(ValueError, match="rootsift"):
        normalize_descriptor(x, "l1")


# ---------------------------------------------------------------- parallel == serial


def test_parallel_kernels_equal_serial():
    rng = np.random.default_rng()
    image = rng.integers(0, 256, (96, 128)).astype(np.uint8)
    flow = random_flow(rng, (96, 128))
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            results.append((hog(image), hof(flow), *mbh(flow),
                            integral_histogram(gradient_orientation_maps(image, 4))))
    finally:
        numba.set_num_threads(before)
    for serial, parallel in zip(*results, strict=True):
        np.testing.assert_array_equal(serial, parallel)
