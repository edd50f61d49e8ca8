"""RoIAlign (deep.localization.roi_align) against a slow NumPy reference from the definition."""

import math

import numpy as np
import pytest
import torch

from deep.localization.roi_align import RoIAlign, roi_align, time_pooled_roi_align


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _bilinear(fmap: np.ndarray, y: float, x: float) -> np.ndarray:
    """One sample of (C, H, W) ``fmap`` by the definition: 0 beyond one cell outside, else
    clamped and interpolated from the four neighbours."""
    _, height, width = fmap.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(fmap.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = math.floor(y), math.floor(x)
    if y0 >= height - 1:
        y0 = y1 = height - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= width - 1:
        x0 = x1 = width - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * fmap[:, y0, x0] + (1 - ly) * lx * fmap[:, y0, x1]
            + ly * (1 - lx) * fmap[:, y1, x0] + ly * lx * fmap[:, y1, x1])


def slow_roi_align(features, rois, ph, pw, scale, ratio, aligned):
    """RoIAlign written from He et al. (2017) in plain loops."""
    k, c = len(rois), features.shape[1]
    out = np.zeros((k, c, ph, pw))
    offset = 0.5 if aligned else 0.0
    for r, (b, x1, y1, x2, y2) in enumerate(rois):
        x0, y0 = x1 * scale - offset, y1 * scale - offset
        w, h = x2 * scale - offset - x0, y2 * scale - offset - y0
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        for i in range(ph):
            for j in range(pw):
                acc = np.zeros(c)
                for a in range(ratio):
                    for bb in range(ratio):
                        y = y0 + i * h / ph + (a + 0.5) * h / (ph * ratio)
                        x = x0 + j * w / pw + (bb + 0.5) * w / (pw * ratio)
                        acc += _bilinear(features[int(b)], y, x)
                out[r, :, i, j] = acc / ratio ** 2
    return out


def _random_case(rng, n, c, height, width, k, scale):
    features = rng.normal(size=(n, c, height, width))
    rois = []
    for _ in range(k):
        # boxes in input pixels, some partly or wholly outside the map, some tiny
        x1 = rng.uniform(-3, width / scale + 2)
        y1 = rng.uniform(-3, height / scale + 2)
        rois.append([rng.integers(n), x1, y1, x1 + rng.uniform(0.1, width / scale),
                     y1 + rng.uniform(0.1, height / scale)])
    return features, np.array(rois)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("aligned", [True, False])
def test_roi_align_matches_the_slow_reference(seed, aligned):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    height, width = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    scale = float(rng.choice([1.0, 0.5, 0.25]))
    ph, pw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    ratio = int(rng.integers(1, 4))
    features, rois = _random_case(rng, n, c, height, width, 7, scale)
    got = roi_align(torch.from_numpy(features), torch.from_numpy(rois), (ph, pw), scale, ratio,
                    aligned).numpy()
    want = slow_roi_align(features, rois, ph, pw, scale, ratio, aligned)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_constant_map_inside_gives_the_constant_and_aligned_shifts_half_a_cell():
    features = torch.full((1, 2, 6, 6), 3.0, dtype=torch.float64)
    box = torch.tensor([[0, 1.0, 1.0, 5.0, 5.0]], dtype=torch.float64)
    assert torch.allclose(roi_align(features, box, 3), torch.full((1, 2, 3, 3), 3.0,
                                                                   dtype=torch.float64))
    # a ramp in x: aligned, the box [0, 2) covers cells 0 and 1 whose centres are 0.5, 1.5
    ramp = torch.arange(6, dtype=torch.float64).repeat(6, 1)[None, None]
    one_bin = roi_align(ramp, torch.tensor([[0, 0.0, 0.0, 2.0, 6.0]], dtype=torch.float64), 1,
                        sampling_ratio=2)
    assert one_bin.item() == pytest.approx(0.5)  # samples at x = 0 and 1 (centres - 0.5)
    legacy = roi_align(ramp, torch.tensor([[0, 0.0, 0.0, 2.0, 6.0]], dtype=torch.float64), 1,
                       sampling_ratio=2, aligned=False)
    assert legacy.item() == pytest.approx(1.0)  # samples at x = 0.5 and 1.5


def test_gradients_flow_to_features_and_boxes_and_are_finite():
    rng = np.random.default_rng(3)
    features, rois = _random_case(rng, 2, 3, 7, 6, 5, 0.5)
    f = torch.from_numpy(features).requires_grad_(True)
    r = torch.from_numpy(rois).requires_grad_(True)
    out = roi_align(f, r, 3, 0.5, 2)
    (out ** 2).sum().backward()
    assert torch.isfinite(f.grad).all() and f.grad.abs().sum() > 0
    assert torch.isfinite(r.grad).all() and r.grad[:, 1:].abs().sum() > 0
    assert torch.autograd.gradcheck(
        lambda ff: roi_align(ff, r.detach(), 2, 0.5, 2), (f,), eps=1e-6, atol=1e-6)


def test_time_pooled_map_and_module_agree_with_the_2d_call():
    rng = np.random.default_rng(5)
    features = torch.from_numpy(rng.normal(size=(2, 3, 4, 6, 8)))
    rois = torch.tensor([[1, 2.0, 1.0, 9.0, 7.5], [0, 0.0, 0.0, 16.0, 12.0]],
                        dtype=torch.float64)
    pooled = roi_align(features.mean(dim=2), rois, 2, 0.5, 2)
    assert torch.allclose(time_pooled_roi_align(features, rois, 2, 0.5, 2), pooled)
    assert torch.allclose(RoIAlign(2, 0.5, 2)(features, rois), pooled)
    assert roi_align(features[:, :, 0], rois[:0], 2).shape == (0, 3, 2, 2)


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(output_size=0), "output_size"),
    (dict(output_size=2, sampling_ratio=0), "sampling_ratio"),
])
def test_bad_parameters_say_what_to_pass(kwargs, match):
    with pytest.raises(ValueError, match=match):
        roi_align(torch.zeros(1, 1, 4, 4), torch.zeros(1, 5), **kwargs)
    with pytest.raises(ValueError, match="time"):
        roi_align(torch.zeros(1, 1, 2, 4, 4), torch.zeros(1, 5), 2)
    with pytest.raises(ValueError, match="batch index"):
        roi_align(torch.zeros(1, 1, 4, 4), torch.zeros(1, 4), 2)
