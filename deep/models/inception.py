"""Inception-v1 in 2D (GoogLeNet with BatchNorm) and 3D (I3D) from one definition.

The network is written once, parametrised by its dimensionality: the same code builds the
2D image network and its inflated 3D counterpart, so the two have the same module names and
:func:`deep.models.inflate` can copy one into the other.

References
----------
.. [1] Szegedy, C. et al. (2015). Going Deeper with Convolutions. CVPR. arXiv:1409.4842.
.. [2] Ioffe, S. & Szegedy, C. (2015). Batch Normalization. ICML. arXiv:1502.03167.
.. [3] Carreira, J. & Zisserman, A. (2017). Quo Vadis, Action Recognition? A New Model and the
   Kinetics Dataset. CVPR. arXiv:1705.07750.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import register_model
from .video_resnet import SMALL_INPUT, _init_weights

__all__ = ["ConvNormAct", "Inception", "InceptionV1", "i3d", "i3d_small", "inception_v1", "inception_v1_small"]

TEMPORAL_PADDINGS = ("zeros", "replicate")


def _check_dims(dims: int) -> None:
    if dims not in (2, 3):
        raise ValueError(f"The 'dims' parameter must be 2 (images) or 3 (clips). Got {dims!r} instead.")


class ConvNormAct(nn.Module):
    """A bias-free convolution, BatchNorm and ReLU in 2D or 3D ('Unit3D' of I3D).

    Parameters
    ----------
    dims : {2, 3}
    in_channels, out_channels : int
    kernel : int
        Spatial kernel size ``k`` (padding ``k // 2``).
    stride : int, default 1
        Spatial stride.
    temporal_kernel, temporal_stride : int, default 1
        Only for ``dims == 3``; padding ``temporal_kernel // 2``.
    temporal_padding : {"zeros", "replicate"}, default "zeros"
        How the clip is padded in time. ``"replicate"`` repeats the first and last frames, so a
        static clip stays static at every layer (the inflated network then reproduces its 2D
        source exactly on it).
    """

    def __init__(
        self,
        dims: int,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        temporal_kernel: int = 1,
        temporal_stride: int = 1,
        temporal_padding: str = "zeros",
    ) -> None:
        super().__init__()
        _check_dims(dims)
        if temporal_padding not in TEMPORAL_PADDINGS:
            raise ValueError(
                f"The 'temporal_padding' parameter must be one of {TEMPORAL_PADDINGS}. "
                f"Got {temporal_padding!r} instead."
            )
        pad = kernel // 2
        self.temporal_pad = 0
        if dims == 2:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, pad, bias=False)
            self.bn = nn.BatchNorm2d(out_channels)
        else:
            t_pad = temporal_kernel // 2
            if temporal_padding == "replicate":
                self.temporal_pad, t_pad = t_pad, 0
            self.conv = nn.Conv3d(
                in_channels, out_channels, (temporal_kernel, kernel, kernel),
                (temporal_stride, stride, stride), (t_pad, pad, pad), bias=False,
            )
            self.bn = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.temporal_pad:
            x = F.pad(x, (0, 0, 0, 0, self.temporal_pad, self.temporal_pad), mode="replicate")
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _max_pool(dims: int, kernel: int, stride: int, temporal_kernel: int = 1, temporal_stride: int = 1) -> nn.Module:
    """Max-pooling with TF 'SAME'-like output size (ceil mode; padding 1 only when stride is 1)."""
    pad = kernel // 2 if stride == 1 else 0
    if dims == 2:
        return nn.MaxPool2d(kernel, stride, pad, ceil_mode=True)
    t_pad = temporal_kernel // 2 if temporal_stride == 1 else 0
    return nn.MaxPool3d(
        (temporal_kernel, kernel, kernel), (temporal_stride, stride, stride), (t_pad, pad, pad), ceil_mode=True
    )


class Inception(nn.Module):
    """An Inception module: 1×1 | 1×1→3×3 | 1×1→3×3 | pool→1×1 branches, concatenated.

    In 3D every k×k kernel becomes k×k×k (I3D); the third branch uses 3×3 where the original
    GoogLeNet uses 5×5, as in the BN-Inception/TF-slim network I3D inflates.
    """

    def __init__(
        self,
        dims: int,
        in_channels: int,
        c1: int,
        c3_reduce: int,
        c3: int,
        c5_reduce: int,
        c5: int,
        pool_proj: int,
        temporal_padding: str = "zeros",
    ) -> None:
        super().__init__()
        kt = 3 if dims == 3 else 1
        tp = temporal_padding

        def unit(cin: int, cout: int, k: int) -> ConvNormAct:
            return ConvNormAct(dims, cin, cout, k, temporal_kernel=kt if k > 1 else 1, temporal_padding=tp)

        self.branch0 = unit(in_channels, c1, 1)
        self.branch1 = nn.Sequential(unit(in_channels, c3_reduce, 1), unit(c3_reduce, c3, 3))
        self.branch2 = nn.Sequential(unit(in_channels, c5_reduce, 1), unit(c5_reduce, c5, 3))
        self.branch3 = nn.Sequential(_max_pool(dims, 3, 1, kt, 1), unit(in_channels, pool_proj, 1))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


# (name, c1, c3_reduce, c3, c5_reduce, c5, pool_proj) of GoogLeNet, Table 1 of Szegedy et al.
_MIXED = {
    "mixed_3b": (64, 96, 128, 16, 32, 32),
    "mixed_3c": (128, 128, 192, 32, 96, 64),
    "mixed_4b": (192, 96, 208, 16, 48, 64),
    "mixed_4c": (160, 112, 224, 24, 64, 64),
    "mixed_4d": (128, 128, 256, 24, 64, 64),
    "mixed_4e": (112, 144, 288, 32, 64, 64),
    "mixed_4f": (256, 160, 320, 32, 128, 128),
    "mixed_5b": (256, 160, 320, 32, 128, 128),
    "mixed_5c": (384, 192, 384, 48, 128, 128),
}


class InceptionV1(nn.Module):
    """Inception-v1 with BatchNorm, as a 2D image network or as I3D.

    Parameters
    ----------
    dims : {2, 3}
        2: input ``(B, 3, H, W)``; 3: input ``(B, 3, T, H, W)`` (I3D).
    num_classes : int, default 400
    width_mult : float, default 1.0
        Every channel count is multiplied by this (rounded, at least 1).
    dropout : float, default 0.5
    temporal_padding : {"zeros", "replicate"}, default "zeros"
        See :class:`ConvNormAct`.
    default_input : tuple
        ``(3, 224, 224)`` in 2D, ``(3, 64, 224, 224)`` for I3D (its training clips).

    Notes
    -----
    Layout as in I3D, Fig. 3: 7×7(×7) conv stride 2, 1×3×3 max-pool, 1×1 conv, 3×3(×3) conv,
    1×3×3 max-pool, Mixed 3b-3c, 3×3×3 max-pool stride 2, Mixed 4b-4f, 2×2×2 max-pool stride 2,
    Mixed 5b-5c, average pool, dropout, classifier. Departures: symmetric padding with ceil-mode
    pooling instead of TF 'SAME' padding (same output sizes at 224×224); global average pooling
    instead of a 2×7×7 pool followed by averaging the logits over time; a linear classifier
    (equal to the 1×1×1 logits convolution).
    """

    def __init__(
        self,
        dims: int = 3,
        num_classes: int = 400,
        width_mult: float = 1.0,
        dropout: float = 0.5,
        temporal_padding: str = "zeros",
        default_input: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        _check_dims(dims)
        if width_mult <= 0:
            raise ValueError(f"The 'width_mult' parameter must be > 0. Got {width_mult!r} instead.")

        def ch(c: int) -> int:
            return max(1, round(c * width_mult))

        three_d = dims == 3
        tp = temporal_padding
        self.dims = dims
        if default_input is None:
            default_input = (3, 64, 224, 224) if three_d else (3, 224, 224)
        self.default_input = tuple(default_input)
        self.conv1 = ConvNormAct(dims, 3, ch(64), 7, 2, 7 if three_d else 1, 2, tp)
        self.pool1 = _max_pool(dims, 3, 2)
        self.conv2 = ConvNormAct(dims, ch(64), ch(64), 1, temporal_padding=tp)
        self.conv3 = ConvNormAct(dims, ch(64), ch(192), 3, 1, 3 if three_d else 1, 1, tp)
        self.pool2 = _max_pool(dims, 3, 2)
        pools = {"mixed_4b": _max_pool(dims, 3, 2, 3, 2), "mixed_5b": _max_pool(dims, 2, 2, 2, 2)}
        blocks: list[tuple[str, nn.Module]] = []
        in_channels = ch(192)
        for name, spec in _MIXED.items():
            if name in pools:
                blocks.append(("pool_" + name[-2:-1], pools[name]))
            block = Inception(dims, in_channels, *(ch(c) for c in spec), temporal_padding=tp)
            blocks.append((name, block))
            in_channels = block.out_channels
        self.mixed = nn.ModuleDict(blocks)
        self.avgpool = nn.AdaptiveAvgPool3d(1) if three_d else nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.feature_dim = in_channels
        self.fc = nn.Linear(in_channels, num_classes)
        _init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the pooled ``(B, feature_dim)`` features."""
        expected = self.dims + 2
        if x.dim() != expected:
            raise ValueError(
                f"InceptionV1(dims={self.dims}) expects a {expected}-D input "
                f"{'(B, C, T, H, W)' if self.dims == 3 else '(B, C, H, W)'}; got shape {tuple(x.shape)}."
            )
        x = self.pool2(self.conv3(self.conv2(self.pool1(self.conv1(x)))))
        for module in self.mixed.values():
            x = module(x)
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.forward_features(x)))


_SMALL_ARGS = dict(width_mult=0.25)


@register_model
def inception_v1(num_classes: int = 400, **overrides) -> InceptionV1:
    """2D Inception-v1 (GoogLeNet) with BatchNorm, the network I3D inflates (Szegedy et al. 2015)."""
    model_args = dict(dims=2, width_mult=1.0)
    return InceptionV1(num_classes=num_classes, **{**model_args, **overrides})


@register_model
def inception_v1_small(num_classes: int = 400, **overrides) -> InceptionV1:
    """2D Inception-v1 at a quarter of the width, input 3×64×64: the source of ``i3d_small``."""
    model_args = dict(dims=2, default_input=SMALL_INPUT[:1] + SMALL_INPUT[2:], **_SMALL_ARGS)
    return InceptionV1(num_classes=num_classes, **{**model_args, **overrides})


@register_model
def i3d(num_classes: int = 400, **overrides) -> InceptionV1:
    """I3D: Inception-v1 inflated to 3D (Carreira & Zisserman 2017, arXiv:1705.07750); 64×224²."""
    model_args = dict(dims=3, width_mult=1.0)
    return InceptionV1(num_classes=num_classes, **{**model_args, **overrides})


@register_model
def i3d_small(num_classes: int = 400, **overrides) -> InceptionV1:
    """I3D at a quarter of the width (channels ×0.25), input 3×8×64×64."""
    model_args = dict(dims=3, default_input=SMALL_INPUT, **_SMALL_ARGS)
    return InceptionV1(num_classes=num_classes, **{**model_args, **overrides})
