"""Samplers: dense grid geometry, Harris3D against a slow reference and on moving/static
corners, dense trajectories on a known translation, pruning of static and erratic tracks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from baselines.sampling import (
    DenseGridSampler,
    Harris3DSampler,
    TrajectorySampler,
    Window,
    gaussian_kernel,
    gaussian_smooth_volume,
    harris3d_response,
    make_sampler,
    trajectory_is_valid,
    trajectory_shape,
)


# ------------------------------------------------------------------ dense grid
def test_dense_grid_covers_the_frame_with_the_requested_overlap():
    frames = np.zeros((40, 48, 64), np.uint8)
    sampler = DenseGridSampler(sizes=(16, 32), lengths=(10,), overlap=0.5)
    tubes = sampler.sample(Window(0, frames), range(0, 39))
    by_size = {int(t.size[0, 0]): t for t in tubes}
    # 16 px, step 8: x in 0..48 (7 positions), y in 0..32 (5); starts 0,5,...,25 (6 fit in 39)
    assert len(by_size[16]) == 7 * 5 * 6
    assert len(by_size[32]) == 3 * 2 * 6
    for t in tubes:
        half = t.size[:, None, :1] / 2
        assert np.all(t.centers - half >= 0)
        assert np.all(t.centers[..., 0] + half <= 64) and np.all(t.centers[..., 1] + half <= 48)
        assert np.all(t.t0 + t.length <= 39)
        assert np.all(np.ptp(t.centers, axis=1) == 0)  # cuboids do not move


# ------------------------------------------------------------------ Harris3D
def _slow_harris(volume, sigma2, tau2, s, k):
    """Reference: the 3x3 second-moment matrix per voxel and numpy.linalg.det."""
    sig, tau = math.sqrt(sigma2), math.sqrt(tau2)
    smooth = ndimage.gaussian_filter(volume, (tau, sig, sig), mode="mirror")
    grads = np.gradient(smooth)
    grads = [grads[2] * sig, grads[1] * sig, grads[0] * tau]  # x, y, t
    mu = np.empty(volume.shape + (3, 3))
    integ = (math.sqrt(s) * tau, math.sqrt(s) * sig, math.sqrt(s) * sig)
    for i in range(3):
        for j in range(3):
            mu[..., i, j] = ndimage.gaussian_filter(grads[i] * grads[j], integ, mode="mirror")
    return np.linalg.det(mu) - k * np.trace(mu, axis1=-2, axis2=-1) ** 3


@pytest.mark.parametrize("sd", [0.7, 1.414, 2.0, 2.83])
def test_gaussian_kernel_is_scipys(sd):
    impulse = np.zeros(61)
    impulse[30] = 1.0
    # the filter's response to a unit impulse is its kernel
    response = ndimage.gaussian_filter1d(impulse, sd, mode="constant")
    kernel = gaussian_kernel(sd)
    radius = len(kernel) // 2
    np.testing.assert_allclose(kernel, response[30 - radius:31 + radius], rtol=1e-12)
    assert response[:30 - radius].sum() == 0 and response[31 + radius:].sum() == 0


@pytest.mark.parametrize("shape, sd_t, sd_s", [((28, 30, 40), 1.414, 2.0),
                                               ((5, 17, 9), 2.83, 2.83),  # kernel > volume
                                               ((40, 12, 64), 2.0, 4.0)])
def test_volume_smoothing_matches_scipy_mirror_filter(shape, sd_t, sd_s):
    vol = np.random.default_rng(1).random(shape)
    want = ndimage.gaussian_filter(vol, (sd_t, sd_s, sd_s), mode="mirror")
    np.testing.assert_allclose(gaussian_smooth_volume(vol, sd_t, sd_s), want, rtol=1e-12,
                               atol=1e-15)
    # the input is left as it was
    np.testing.assert_array_equal(vol, np.random.default_rng(1).random(shape))


def test_harris3d_response_matches_slow_reference():
    rng = np.random.default_rng(0)
    vol = rng.random((9, 12, 14))
    got = harris3d_response(vol, 4.0, 2.0, s=2.0, k=0.005)
    np.testing.assert_allclose(got, _slow_harris(vol, 4.0, 2.0, 2.0, 0.005), rtol=1e-8,
                               atol=1e-14)


def _square_x(t: int, moving: bool) -> int:
    """Left edge of the square: 2 px/frame to the right, reversing at frame 12."""
    if not moving:
        return 20
    return 10 + 2 * (t if t <= 12 else 24 - t)


def _corner_video(n_frames=24, moving=True):
    """A bright square on a dark background that moves right, then back left.

    A corner in constant motion is a plane-like structure in space-time (its gradients span
    two dimensions); Harris3D responds where the motion changes: at the reversal.
    """
    frames = np.full((n_frames, 64, 64), 40, np.uint8)
    for t in range(n_frames):
        x0 = _square_x(t, moving)
        frames[t, 20:38, x0:x0 + 18] = 220
    return frames


def test_harris3d_fires_on_a_moving_corner_not_on_a_static_one():
    sampler = Harris3DSampler(sigma2s=(4.0,), tau2s=(2.0,))
    moving = sampler.detect(Window(0, _corner_video(moving=True)), range(6, 18))
    static = sampler.detect(Window(0, _corner_video(moving=False)), range(6, 18))
    assert len(static) == 0
    assert len(moving) > 0
    # every point lies near the square's outline around the reversal (frame 12)
    for x, y, t, *_ in moving:
        x0, y0 = _square_x(int(t), True), 20
        near_x = min(abs(x - x0), abs(x - (x0 + 17)))
        near_y = min(abs(y - y0), abs(y - (y0 + 17)))
        assert min(near_x, near_y) <= 4 and -4 <= x - x0 <= 21 and -4 <= y - y0 <= 21
        assert abs(t - 12) <= 4


def test_harris3d_tubes_stay_inside_the_window():
    sampler = Harris3DSampler(sigma2s=(4.0,), tau2s=(2.0,))
    win = Window(5, _corner_video(moving=True))
    for tubes in sampler.sample(win, range(8, 20)):
        assert np.all(tubes.t0 >= win.start) and np.all(tubes.t0 + tubes.length <= win.end)
        assert tubes.length == 2 * round(4 * math.sqrt(2.0))


# ------------------------------------------------------------------ trajectories
def test_trajectory_pruning_removes_static_and_erratic_tracks():
    steps = np.tile([[1.0, 0.5]], (15, 1))
    smooth = np.vstack([[0, 0], np.cumsum(steps, axis=0)])
    assert trajectory_is_valid(smooth)
    static = np.zeros((16, 2)) + np.random.default_rng(0).normal(0, 0.1, (16, 2))
    assert not trajectory_is_valid(static)
    jumpy = np.vstack([[0, 0], np.cumsum(np.tile([[0.2, 0.0]], (15, 1)), axis=0)])
    jumpy[8:] += [30.0, 0.0]  # one step of 30 px out of ~33 px in total
    assert not trajectory_is_valid(jumpy)
    shape = trajectory_shape(smooth)
    assert shape.shape == (30,)
    np.testing.assert_allclose(np.linalg.norm(shape.reshape(15, 2), axis=1).sum(), 1.0,
                               rtol=1e-6)
    np.testing.assert_allclose(shape.reshape(15, 2), steps / np.linalg.norm(steps, axis=1).sum(),
                               rtol=1e-6)


def _textured(n_frames, h=60, w=80, seed=0):
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.random((h, w)), 1.5)
    base = (255 * (base - base.min()) / np.ptp(base)).astype(np.uint8)
    return np.repeat(base[None], n_frames, axis=0)


def test_trajectories_follow_a_known_translation():
    n = 20
    frames = _textured(n)
    flows = np.zeros((n - 1, 60, 80, 2), np.float32)
    flows[..., 0], flows[..., 1] = 1.0, 0.5
    sampler = TrajectorySampler(grid_step=5, track_length=15)
    sampler.reset()
    tubes = sampler.sample(Window(0, frames, flows), range(0, n - 1))
    assert len(tubes) == 1 and len(tubes[0]) > 0
    t = tubes[0]
    np.testing.assert_allclose(t.centers[:, -1] - t.centers[:, 0], [[14.0, 7.0]] * len(t),
                               atol=1e-9)
    expected = np.tile([1.0, 0.5], 15) / (15 * math.hypot(1.0, 0.5))
    np.testing.assert_allclose(t.extra["traj"], np.tile(expected, (len(t), 1)), rtol=1e-5)
    assert np.all(t.t0 + t.length <= n - 1)


def test_static_video_yields_no_trajectories():
    n = 20
    frames = _textured(n)
    flows = np.zeros((n - 1, 60, 80, 2), np.float32)
    sampler = make_sampler("trajectories", track_length=15)
    tubes = sampler.sample(Window(0, frames, flows), range(0, n - 1))
    assert sum(len(t) for t in tubes) == 0


def test_trajectory_sampler_refuses_frames_out_of_order():
    sampler = TrajectorySampler()
    frames = _textured(5)
    flows = np.zeros((4, 60, 80, 2), np.float32)
    with pytest.raises(ValueError, match="in order"):
        sampler.sample(Window(0, frames, flows), range(2, 4))


def test_unknown_sampler_is_refused():
    with pytest.raises(ValueError, match="unknown sampler"):
        make_sampler("sift")
