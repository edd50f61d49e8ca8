"""Temporal Segment Networks: a 2D ResNet on K sparse segments and a segmental consensus.

References
----------
.. [1] Wang, L., Xiong, Y., Wang, Z., Qiao, Y., Lin, D., Tang, X. & Van Gool, L. (2016).
   Temporal Segment Networks: Towards Good Practices for Deep Action Recognition. ECCV.
   arXiv:1608.00859.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._registry import register_model
from .video_resnet import SMALL_INPUT, frame_resnet

__all__ = ["TSN", "encode_frames", "tsn", "tsn_small"]

CONSENSUS = ("average", "ordered")


def encode_frames(backbone: nn.Module, clip: torch.Tensor) -> torch.Tensor:
    """Run a frame encoder on every frame of ``(B, C, T, H, W)``; return ``(B, T, F)`` features."""
    if clip.dim() != 5:
        raise ValueError(f"Expected a clip of shape (B, C, T, H, W); got shape {tuple(clip.shape)}.")
    b, c, t, h, w = clip.shape
    frames = clip.transpose(1, 2).reshape(b * t, c, 1, h, w)
    return backbone(frames).reshape(b, t, -1)


class TSN(nn.Module):
    """A 2D ResNet scores each of the K segments; a consensus combines the segments.

    Parameters
    ----------
    num_classes : int, default 400
    num_segments : int, default 8
        K. The input ``(B, 3, T, H, W)`` holds one frame per segment, T = K (the clip sampler
        picks them). Average consensus accepts any T; ordered consensus needs T = K.
    consensus : {"average", "ordered"}, default "average"
        ``"average"``: the paper's consensus, the mean of the segment scores — blind to segment
        order. ``"ordered"``: the segment features are concatenated in temporal order before
        the classifier (a linear layer over K·F features), so order matters.
    layers, widths : ResNet depth and width of the frame encoder (default: ResNet-18).
    dropout : float, default 0.5
        Dropout before the classifier (the paper uses a high dropout ratio).
    img_size : int, default 224
        Frame size of ``default_input`` = ``(3, num_segments, img_size, img_size)``.

    Notes
    -----
    The paper's backbone is BN-Inception; we use a 2D ResNet (the frame-wise R2D of Tran et
    al. 2018), as later TSN implementations do. Only the RGB stream is modelled.
    """

    def __init__(
        self,
        num_classes: int = 400,
        num_segments: int = 8,
        consensus: str = "average",
        layers: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        dropout: float = 0.5,
        img_size: int = 224,
    ) -> None:
        super().__init__()
        if consensus not in CONSENSUS:
            raise ValueError(f"The 'consensus' parameter of TSN must be one of {CONSENSUS}. Got {consensus!r} instead.")
        if num_segments < 1:
            raise ValueError(f"The 'num_segments' parameter of TSN must be >= 1. Got {num_segments!r} instead.")
        self.num_segments = num_segments
        self.consensus = consensus
        self.default_input = (3, num_segments, img_size, img_size)
        self.backbone = frame_resnet(layers, widths)
        self.dropout = nn.Dropout(dropout)
        feature_dim = self.backbone.feature_dim
        in_features = feature_dim * num_segments if consensus == "ordered" else feature_dim
        self.fc = nn.Linear(in_features, num_classes)
        nn.init.normal_(self.fc.weight, 0, 0.001)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.dropout(encode_frames(self.backbone, x))  # (B, K, F)
        if self.consensus == "average":
            return self.fc(features).mean(1)
        if features.shape[1] != self.num_segments:
            raise ValueError(
                f"TSN with ordered consensus was built for {self.num_segments} segments but got a "
                f"clip of {features.shape[1]} frames; sample T = num_segments frames."
            )
        return self.fc(features.flatten(1))


@register_model
def tsn(num_classes: int = 400, **overrides) -> TSN:
    """TSN (Wang et al. 2016, arXiv:1608.00859) on ResNet-18, K = 8 segments of 224×224."""
    model_args = dict(num_segments=8, layers=(2, 2, 2, 2), widths=(64, 128, 256, 512))
    return TSN(num_classes=num_classes, **{**model_args, **overrides})


@register_model
def tsn_small(num_classes: int = 400, **overrides) -> TSN:
    """Small TSN: ResNet with one block per stage, widths 16-32-64-128; 8 segments of 64×64."""
    model_args = dict(
        num_segments=SMALL_INPUT[1], layers=(1, 1, 1, 1), widths=(16, 32, 64, 128), img_size=SMALL_INPUT[2]
    )
    return TSN(num_classes=num_classes, **{**model_args, **overrides})
