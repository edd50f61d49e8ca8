"""One generic video ResNet: R3D, MC3, R(2+1)D and frame-wise R2D differ in convolutions and stem.

References
----------
.. [1] Tran, D., Wang, H., Torresani, L., Ray, J., LeCun, Y. & Paluri, M. (2018). A Closer Look
   at Spatiotemporal Convolutions for Action Recognition. CVPR. arXiv:1711.11248.
.. [2] He, K., Zhang, X., Ren, S. & Sun, J. (2016). Deep Residual Learning for Image
   Recognition. CVPR. arXiv:1512.03385.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ._registry import register_model

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "Conv2Plus1D",
    "Conv3DNoTemporal",
    "Conv3DSimple",
    "VideoResNet",
    "basic_stem",
    "frame_stem",
    "mc3_18",
    "mc3_18_small",
    "midplanes",
    "r2plus1d_18",
    "r2plus1d_18_small",
    "r2plus1d_stem",
    "r3d_18",
    "r3d_18_small",
]

SMALL_INPUT = (3, 8, 64, 64)
"""The ``default_input`` of every ``_small`` model: 8 frames of 64×64 RGB.

It is the nominal clip (the FLOP counts of docs/models.md use it), not the only one: the video
ResNets, C3D and I3D pool adaptively and take any clip size, and TSN, LRCN and TimeSformer are
built for another size with ``num_segments`` / ``num_frames`` and ``img_size``. The benchmark's
protocols (:mod:`deep.methods`) train the small models on 8-frame clips of 48×48 (``small``)
or 32×32 (quick).
"""


def midplanes(in_planes: int, out_planes: int) -> int:
    """Hidden width of a (2+1)D block that matches the parameters of a full 3×3×3 conv.

    ``M = floor(t·d²·N_in·N_out / (d²·N_in + t·N_out))`` with ``t = d = 3`` (Tran et al. 2018,
    Sec. 3.5), so the (2+1)D factorisation keeps the parameter count of the 3D convolution.
    """
    return (in_planes * out_planes * 3 * 3 * 3) // (in_planes * 3 * 3 + 3 * out_planes)


class Conv3DSimple(nn.Conv3d):
    """A full 3×3×3 convolution (R3D); ``mid`` is ignored."""

    def __init__(self, in_planes: int, out_planes: int, mid: int, stride: int = 1) -> None:
        super().__init__(in_planes, out_planes, (3, 3, 3), stride=stride, padding=1, bias=False)

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (stride, stride, stride)


class Conv3DNoTemporal(nn.Conv3d):
    """A 1×3×3 convolution: a 2D convolution applied to every frame (MC3 upper layers, R2D)."""

    def __init__(self, in_planes: int, out_planes: int, mid: int, stride: int = 1) -> None:
        super().__init__(
            in_planes, out_planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False
        )

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (1, stride, stride)


class Conv2Plus1D(nn.Sequential):
    """A 1×3×3 spatial conv to ``mid`` channels, BN, ReLU, then a 3×1×1 temporal conv (R(2+1)D)."""

    def __init__(self, in_planes: int, out_planes: int, mid: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv3d(in_planes, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, out_planes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
        )

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (stride, stride, stride)


ConvMaker = type[Conv3DSimple] | type[Conv3DNoTemporal] | type[Conv2Plus1D]


class BasicBlock(nn.Module):
    """Two convolutions from ``conv_maker`` with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self,
        in_planes: int,
        planes: int,
        conv_maker: ConvMaker,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        mid = midplanes(in_planes, planes)
        self.conv1 = nn.Sequential(
            conv_maker(in_planes, planes, mid, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(conv_maker(planes, planes, mid), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        out += residual  # in place: one activation-sized allocation less per block
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1×1 reduce, a ``conv_maker`` convolution, 1×1×1 expand ×4 (ResNet-50 and deeper)."""

    expansion = 4

    def __init__(
        self,
        in_planes: int,
        planes: int,
        conv_maker: ConvMaker,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        mid = midplanes(in_planes, planes)
        self.conv1 = nn.Sequential(
            nn.Conv3d(in_planes, planes, 1, bias=False), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(
            conv_maker(planes, planes, mid, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)
        )
        self.conv3 = nn.Sequential(
            nn.Conv3d(planes, planes * self.expansion, 1, bias=False),
            nn.BatchNorm3d(planes * self.expansion),
        )
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.conv3(self.conv2(self.conv1(x)))
        out += residual
        return self.relu(out)


def basic_stem(width: int) -> nn.Sequential:
    """R3D/MC3 stem: a 3×7×7 conv, stride (1, 2, 2), 3 → ``width`` channels, BN, ReLU."""
    return nn.Sequential(
        nn.Conv3d(3, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    )


def r2plus1d_stem(width: int) -> nn.Sequential:
    """R(2+1)D stem: 1×7×7 conv 3 → 45·width/64, BN, ReLU, then 3×1×1 conv → ``width``, BN, ReLU."""
    mid = max(1, (45 * width) // 64)
    return nn.Sequential(
        nn.Conv3d(3, mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, width, (3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    )


def frame_stem(width: int) -> nn.Sequential:
    """2D ResNet stem on every frame: a 1×7×7 conv stride 2, BN, ReLU, 1×3×3 max-pool stride 2."""
    return nn.Sequential(
        nn.Conv3d(3, width, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    )


class VideoResNet(nn.Module):
    """A ResNet over clips whose convolutions are chosen per stage.

    Parameters
    ----------
    block : {BasicBlock, Bottleneck}
        The residual block.
    conv_makers : sequence of 4 convolution classes
        The convolution of each of the four stages: ``Conv3DSimple`` (R3D),
        ``Conv3DNoTemporal`` (2D per frame) or ``Conv2Plus1D`` (R(2+1)D).
    layers : sequence of 4 ints
        Blocks per stage, e.g. ``(2, 2, 2, 2)`` for 18 layers.
    stem : callable
        ``stem(width) -> nn.Module`` mapping 3 channels to ``widths[0]``.
    num_classes : int, default 400
    widths : sequence of 4 ints, default (64, 128, 256, 512)
        Channels of the four stages (before the block expansion).
    dropout : float, default 0.0
        Dropout before the classifier.
    default_input : tuple, default (3, 16, 112, 112)
        The clip size of the paper, ``(C, T, H, W)``.

    Notes
    -----
    Input ``(B, 3, T, H, W)``, output ``(B, num_classes)`` logits. Stage 1 keeps the resolution,
    stages 2-4 halve it (in time too, unless the stage's convolution is 2D); the features are
    averaged over time and space before the linear classifier.
    With ``num_classes=None`` the classifier is left out and ``forward`` returns the pooled
    features (``feature_dim`` of them), which is how TSN and LRCN use it as a frame encoder.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        conv_makers: Sequence[ConvMaker],
        layers: Sequence[int],
        stem: Callable[[int], nn.Module],
        num_classes: int | None = 400,
        widths: Sequence[int] = (64, 128, 256, 512),
        dropout: float = 0.0,
        default_input: tuple[int, ...] = (3, 16, 112, 112),
    ) -> None:
        super().__init__()
        if len(conv_makers) != 4 or len(layers) != 4 or len(widths) != 4:
            raise ValueError(
                "VideoResNet needs 4 stages: 'conv_makers', 'layers' and 'widths' must each have "
                f"4 entries; got {len(conv_makers)}, {len(layers)} and {len(widths)}."
            )
        self.default_input = tuple(default_input)
        self.in_planes = widths[0]
        self.stem = stem(widths[0])
        self.layer1 = self._make_layer(block, conv_makers[0], widths[0], layers[0], stride=1)
        self.layer2 = self._make_layer(block, conv_makers[1], widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, conv_makers[2], widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, conv_makers[3], widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.feature_dim = widths[3] * block.expansion
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feature_dim, num_classes) if num_classes else nn.Identity()
        _init_weights(self)

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        conv_maker: ConvMaker,
        planes: int,
        blocks: int,
        stride: int,
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.in_planes != planes * block.expansion:
            ds_stride = conv_maker.downsample_stride(stride)
            downsample = nn.Sequential(
                nn.Conv3d(self.in_planes, planes * block.expansion, 1, stride=ds_stride, bias=False),
                nn.BatchNorm3d(planes * block.expansion),
            )
        modules = [block(self.in_planes, planes, conv_maker, stride, downsample)]
        self.in_planes = planes * block.expansion
        modules += [block(self.in_planes, planes, conv_maker) for _ in range(1, blocks)]
        return nn.Sequential(*modules)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the pooled ``(B, feature_dim)`` features of a ``(B, 3, T, H, W)`` clip."""
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.forward_features(x)))


def _init_weights(model: nn.Module) -> None:
    """Kaiming-normal (fan-out) convolutions, unit BN, N(0, 0.01) classifier (He et al. 2016)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm3d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


_SMALL_ARGS = dict(layers=(1, 1, 1, 1), widths=(16, 32, 64, 128), default_input=SMALL_INPUT)


def _video_resnet(conv_makers, stem, model_args, num_classes, overrides) -> VideoResNet:
    args = {"block": BasicBlock, "conv_makers": conv_makers, "stem": stem, **model_args, **overrides}
    return VideoResNet(num_classes=num_classes, **args)


_R3D = (Conv3DSimple,) * 4
_MC3 = (Conv3DSimple,) + (Conv3DNoTemporal,) * 3
_R2PLUS1D = (Conv2Plus1D,) * 4


@register_model
def r3d_18(num_classes: int = 400, **overrides) -> VideoResNet:
    """R3D-18: 3×3×3 convolutions throughout (Tran et al. 2018, arXiv:1711.11248).

    33,371,472 parameters at 400 classes; input 3×16×112×112.
    """
    model_args = dict(layers=(2, 2, 2, 2), widths=(64, 128, 256, 512))
    return _video_resnet(_R3D, basic_stem, model_args, num_classes, overrides)


@register_model
def mc3_18(num_classes: int = 400, **overrides) -> VideoResNet:
    """MC3-18: 3D convolutions in the stem and stage 1, 2D (1×3×3) after (Tran et al. 2018).

    11,695,440 parameters at 400 classes; input 3×16×112×112.
    """
    model_args = dict(layers=(2, 2, 2, 2), widths=(64, 128, 256, 512))
    return _video_resnet(_MC3, basic_stem, model_args, num_classes, overrides)


@register_model
def r2plus1d_18(num_classes: int = 400, **overrides) -> VideoResNet:
    """R(2+1)D-18: every 3×3×3 conv factorised into 1×3×3 then 3×1×1 (Tran et al. 2018).

    31,505,325 parameters at 400 classes; input 3×16×112×112.
    """
    model_args = dict(layers=(2, 2, 2, 2), widths=(64, 128, 256, 512))
    return _video_resnet(_R2PLUS1D, r2plus1d_stem, model_args, num_classes, overrides)


@register_model
def r3d_18_small(num_classes: int = 400, **overrides) -> VideoResNet:
    """Small R3D: one block per stage, widths 16-32-64-128; ``default_input`` 3×8×64×64."""
    return _video_resnet(_R3D, basic_stem, _SMALL_ARGS, num_classes, overrides)


@register_model
def mc3_18_small(num_classes: int = 400, **overrides) -> VideoResNet:
    """Small MC3: one block per stage, widths 16-32-64-128; ``default_input`` 3×8×64×64."""
    return _video_resnet(_MC3, basic_stem, _SMALL_ARGS, num_classes, overrides)


@register_model
def r2plus1d_18_small(num_classes: int = 400, **overrides) -> VideoResNet:
    """Small R(2+1)D: one block per stage, widths 16-32-64-128; ``default_input`` 3×8×64×64."""
    return _video_resnet(_R2PLUS1D, r2plus1d_stem, _SMALL_ARGS, num_classes, overrides)


def frame_resnet(
    layers: Sequence[int] = (2, 2, 2, 2), widths: Sequence[int] = (64, 128, 256, 512)
) -> VideoResNet:
    """A 2D ResNet applied to every frame (the f-R2D of Tran et al. 2018), without classifier.

    With the default depth and width it is ResNet-18 (He et al. 2016) with its 7×7 stem and
    max-pool; feed ``(N, 3, 1, H, W)`` to encode N images into ``(N, feature_dim)`` features.
    """
    return VideoResNet(
        BasicBlock, (Conv3DNoTemporal,) * 4, layers, frame_stem, num_classes=None, widths=widths,
        default_input=(3, 1, 224, 224),
    )
