"""Inflation of a 2D network into 3D (Carreira & Zisserman 2017, Sec. 2.4)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deep.models import create_model, inflate
from deep.models.inception import ConvNormAct


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _trained_looking_2d(seed: int = 0) -> nn.Module:
    """inception_v1_small with non-trivial BatchNorm statistics and affine parameters."""
    torch.manual_seed(seed)
    model = create_model("inception_v1_small", num_classes=6)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0, 0.1)
    return model.eval()


def _static_clip(frame: torch.Tensor, frames: int) -> torch.Tensor:
    return frame.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()


def test_inflated_kernels_sum_over_time_to_the_2d_kernel():
    model_2d = _trained_looking_2d()
    model_3d = inflate(model_2d, create_model("i3d_small", num_classes=6))
    modules_2d = dict(model_2d.named_modules())
    n_conv = 0
    for name, m3 in model_3d.named_modules():
        m2 = modules_2d.get(name)
        if isinstance(m3, nn.Conv3d):
            n_conv += 1
            t = m3.weight.shape[2]
            torch.testing.assert_close(m3.weight.sum(2), m2.weight, rtol=1e-6, atol=1e-7)
            # Every time slice is the same: the kernel is the 2D kernel repeated and divided by T.
            torch.testing.assert_close(m3.weight, m2.weight.unsqueeze(2).expand_as(m3.weight) / t)
        elif isinstance(m3, (nn.BatchNorm3d, nn.Linear)):
            for key, value in m2.state_dict().items():
                assert torch.equal(m3.state_dict()[key], value), f"{name}.{key}"
    assert n_conv == 57  # 3 stem convs + 9 Inception modules × 6


def test_boring_video_reproduces_the_2d_network_with_replicate_padding():
    """A static clip through the inflated network equals the 2D output on its frame (eval mode).

    With temporal padding "replicate" every layer sees a clip that is constant in time, so each
    inflated conv returns Σ_t W3[:, :, t] * x = W2 * x at every frame, pooling over constant
    frames changes nothing, and the global average equals the 2D average.
    """
    model_2d = _trained_looking_2d()
    model_3d = inflate(model_2d, create_model("i3d_small", num_classes=6, temporal_padding="replicate")).eval()
    frame = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model_2d(frame)
        got = model_3d(_static_clip(frame, 8))
    assert expected.abs().max() > 1.0  # a non-trivial output
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_boring_video_with_zero_padding_holds_away_from_the_temporal_borders():
    """With zero temporal padding a 3×3×3 unit matches its 2D source on every frame but the first and last."""
    torch.manual_seed(0)
    unit_2d = ConvNormAct(2, 3, 5, kernel=3).eval()
    unit_3d = inflate(unit_2d, ConvNormAct(3, 3, 5, kernel=3, temporal_kernel=3)).eval()
    frame = torch.randn(1, 3, 9, 9)
    with torch.no_grad():
        expected = unit_2d(frame)
        got = unit_3d(_static_clip(frame, 7))
    for t in range(1, 6):
        torch.testing.assert_close(got[:, :, t], expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got[:, :, 0], expected, atol=1e-3)
    assert not torch.allclose(got[:, :, -1], expected, atol=1e-3)


def test_the_inflated_network_still_trains():
    model_3d = inflate(_trained_looking_2d(), create_model("i3d_small", num_classes=6)).train()
    logits = model_3d(torch.randn(2, 3, 8, 32, 32))
    nn.functional.cross_entropy(logits, torch.tensor([1, 2])).backward()
    assert all(torch.isfinite(p.grad).all() for p in model_3d.parameters())


def test_mismatched_structures_are_refused_with_the_layer_name():
    with pytest.raises(ValueError, match="do not have the same layers"):
        inflate(create_model("inception_v1_small"), create_model("r3d_18_small"))
    with pytest.raises(ValueError, match="conv1.conv"):
        inflate(create_model("inception_v1", num_classes=6), create_model("i3d_small", num_classes=6))
    with pytest.raises(ValueError, match="fc"):
        inflate(create_model("inception_v1_small", num_classes=5), create_model("i3d_small", num_classes=6))
    with pytest.raises(ValueError, match="temporal kernel"):
        inflate(create_model("i3d_small"), create_model("i3d_small"))
