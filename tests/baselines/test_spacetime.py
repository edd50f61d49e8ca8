"""Space-time descriptors: exact dimensions, and cell sums equal to a brute-force NumPy sum."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.spacetime import (
    DENSETRACK_GRID,
    LAPTEV_GRID,
    CellGrid,
    Tubes,
    cell_sums,
    channel_maps,
    descriptor_dims,
    integral_maps,
    tube_descriptors,
)


def test_descriptor_dimensions_match_the_papers():
    assert descriptor_dims(LAPTEV_GRID) == {"hog": 72, "hof": 90}
    assert descriptor_dims(DENSETRACK_GRID) == {"hog": 96, "hof": 108, "mbhx": 96, "mbhy": 96}


def test_integral_maps_equal_cumulative_sums():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 7, 9)).astype(np.float32)
    integ = integral_maps(maps)
    assert integ.shape == (3, 8, 10)
    for y in range(8):
        for x in range(10):
            np.testing.assert_allclose(integ[:, y, x],
                                       maps[:, :y, :x].astype(np.float64).sum(axis=(1, 2)),
                                       atol=1e-9)


def _brute_force_cells(maps, tube_t0, centers, size, grid):
    """Slow reference: explicit loops over cells, frames and pixels."""
    n_frames, n_bins, h, w = maps.shape
    length = centers.shape[0]
    bw, bh = min(size[0], w), min(size[1], h)
    t_edges = [int(round(v)) for v in np.linspace(0, length, grid.n_t + 1)]
    out = np.zeros((grid.n_t, grid.n_y, grid.n_x, n_bins))
    for ct in range(grid.n_t):
        for t in range(t_edges[ct], t_edges[ct + 1]):
            cx, cy = centers[t]
            x0 = min(max(int(round(cx - bw / 2)), 0), w - bw)
            y0 = min(max(int(round(cy - bh / 2)), 0), h - bh)
            xs = [x0 + int(round(v)) for v in np.linspace(0, bw, grid.n_x + 1)]
            ys = [y0 + int(round(v)) for v in np.linspace(0, bh, grid.n_y + 1)]
            for cy_ in range(grid.n_y):
                for cx_ in range(grid.n_x):
                    for yy in range(ys[cy_], ys[cy_ + 1]):
                        for xx in range(xs[cx_], xs[cx_ + 1]):
                            out[ct, cy_, cx_] += maps[tube_t0 + t, :, yy, xx]
    return out


@pytest.mark.parametrize("grid", [LAPTEV_GRID, DENSETRACK_GRID], ids=["laptev", "densetrack"])
def test_cell_sums_equal_brute_force(grid):
    rng = np.random.default_rng(1)
    n_frames, h, w, n_bins = 14, 23, 31, 5
    maps = rng.random((n_frames, n_bins, h, w))
    integrals = np.stack([integral_maps(m) for m in maps])
    length, n = 9, 6
    t0 = rng.integers(2, n_frames - length + 1, n)
    # moving centres (some partly outside the frame: the box is shifted inside)
    start = rng.uniform(-5, [w + 5, h + 5], size=(n, 2))
    step = rng.uniform(-2, 2, size=(n, 2))
    centers = start[:, None, :] + step[:, None, :] * np.arange(length)[None, :, None]
    size = np.array([[12, 9], [7, 7], [40, 10], [6, 11], [12, 9], [31, 23]])
    tubes = Tubes(t0 + 100, centers, size, length)
    got = cell_sums(integrals, tubes, grid, t_offset=100)
    for i in range(n):
        ref = _brute_force_cells(maps, t0[i], centers[i], size[i], grid)
        np.testing.assert_allclose(got[i], ref, rtol=1e-10, atol=1e-10)


def test_tube_outside_the_window_is_refused():
    integrals = np.zeros((5, 2, 9, 9))
    tubes = Tubes(np.array([3]), np.full((1, 4, 2), 4.0), np.array([[4, 4]]), 4)
    with pytest.raises(ValueError, match="outside the frames"):
        cell_sums(integrals, tubes, CellGrid(2, 2, 2, {"hog": 2}))


@pytest.mark.parametrize("grid", [LAPTEV_GRID, DENSETRACK_GRID], ids=["laptev", "densetrack"])
def test_real_channel_descriptors_have_paper_dims_and_norms(grid):
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (8, 40, 48)).astype(np.float32)
    flows = rng.normal(0, 2, (8, 40, 48, 2)).astype(np.float32)
    tubes = Tubes(np.array([0, 2]), np.full((2, 6, 2), 20.0), np.array([[18, 18], [24, 16]]), 6)
    for channel, dim in descriptor_dims(grid).items():
        integ = np.stack([
            integral_maps(channel_maps(channel, frames[t], flows[t], grid)) for t in range(8)
        ])
        assert integ.shape[1] == grid.bins[channel]
        desc = tube_descriptors(integ, tubes, grid)
        assert desc.shape == (2, dim) and desc.dtype == np.float32
        assert np.all(desc >= 0)
        if grid.normalization == "l2":
            np.testing.assert_allclose(np.linalg.norm(desc, axis=1), 1.0, rtol=1e-5)
        else:  # RootSIFT: the squares sum to one (L1 of the squared vector)
            np.testing.assert_allclose((desc.astype(np.float64) ** 2).sum(axis=1), 1.0,
                                       rtol=1e-5)


def test_ring_buffer_indexing_equals_plain_indexing():
    rng = np.random.default_rng(3)
    maps = rng.random((6, 2, 12, 15))
    integrals = np.stack([integral_maps(m) for m in maps])
    tubes = Tubes(np.array([13, 14]), np.full((2, 4, 2), 6.0), np.array([[8, 8], [6, 9]]), 4)
    plain = cell_sums(integrals, tubes, LAPTEV_GRID, t_offset=12)
    ring = np.empty_like(integrals)
    ring[np.arange(12, 18) % 6] = integrals  # frames 12..17 stored at slot t % 6
    np.testing.assert_array_equal(cell_sums(ring, tubes, LAPTEV_GRID, ring=True), plain)


def test_cell_sums_parallel_equals_serial():
    numba = pytest.importorskip("numba")
    rng = np.random.default_rng(4)
    maps = rng.random((10, 3, 20, 24))
    integrals = np.stack([integral_maps(m) for m in maps])
    n = 40
    centers = rng.uniform(0, 24, (n, 1, 2)).repeat(6, axis=1)
    tubes = Tubes(rng.integers(0, 5, n), centers, rng.integers(4, 20, (n, 2)), 6)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = cell_sums(integrals, tubes, DENSETRACK_GRID)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        parallel = cell_sums(integrals, tubes, DENSETRACK_GRID)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(serial, parallel)
