"""C3D: eight 3×3×3 convolutions, five max-pools and two 4096-wide fully connected layers.

References
----------
.. [1] Tran, D., Bourdev, L., Fergus, R., Torresani, L. & Paluri, M. (2015). Learning
   Spatiotemporal Features with 3D Convolutional Networks. ICCV. arXiv:1412.0767.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._registry import register_model
from .video_resnet import SMALL_INPUT

__all__ = ["C3D", "c3d", "c3d_small"]


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True))


class C3D(nn.Module):
    """The C3D network.

    Parameters
    ----------
    num_classes : int, default 400
        (The paper's Sports-1M classifier has 487.)
    widths : sequence of 5 ints, default (64, 128, 256, 512, 512)
        Channels of conv1a, conv2a, conv3a/b, conv4a/b, conv5a/b.
    fc_width : int, default 4096
        Width of fc6 and fc7.
    feature_grid : (int, int, int), default (1, 4, 4)
        The (T, H, W) grid pool5's output is average-pooled to before fc6. At the paper's
        16×112×112 input pool5 already gives 1×4×4, so the pooling is the identity there and fc6
        sees 512·16 = 8192 features as in the paper; other clip sizes work too.
    dropout : float, default 0.5
        Dropout after fc6 and fc7.
    default_input : tuple, default (3, 16, 112, 112)

    Notes
    -----
    conv1a (64) – pool1 1×2×2 – conv2a (128) – pool2 – conv3a/b (256) – pool3 – conv4a/b (512) –
    pool4 – conv5a/b (512) – pool5 – fc6 – fc7 – classifier; every convolution 3×3×3 stride 1
    with padding 1, pools 2×2×2 stride 2 except pool1, pool5 padded by 1 spatially (the
    reference Caffe model's 1×4×4 output). Departures: ceil-mode pooling (the same sizes at
    16×112×112; it lets 8-frame clips through), and the adaptive ``feature_grid`` pooling.
    """

    def __init__(
        self,
        num_classes: int = 400,
        widths: Sequence[int] = (64, 128, 256, 512, 512),
        fc_width: int = 4096,
        feature_grid: Sequence[int] = (1, 4, 4),
        dropout: float = 0.5,
        default_input: tuple[int, ...] = (3, 16, 112, 112),
    ) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"The 'widths' parameter of C3D must have 5 entries. Got {widths!r} instead.")
        if len(feature_grid) != 3:
            raise ValueError(f"The 'feature_grid' parameter of C3D must be (T, H, W). Got {feature_grid!r}.")
        self.default_input = tuple(default_input)
        w1, w2, w3, w4, w5 = widths
        self.features = nn.Sequential(
            _conv(3, w1), nn.MaxPool3d((1, 2, 2), (1, 2, 2), ceil_mode=True),
            _conv(w1, w2), nn.MaxPool3d(2, 2, ceil_mode=True),
            _conv(w2, w3), _conv(w3, w3), nn.MaxPool3d(2, 2, ceil_mode=True),
            _conv(w3, w4), _conv(w4, w4), nn.MaxPool3d(2, 2, ceil_mode=True),
            _conv(w4, w5), _conv(w5, w5), nn.MaxPool3d(2, 2, padding=(0, 1, 1), ceil_mode=True),
        )
        self.grid = nn.AdaptiveAvgPool3d(tuple(feature_grid))
        self.feature_dim = w5 * feature_grid[0] * feature_grid[1] * feature_grid[2]
        self.fc6 = nn.Sequential(nn.Linear(self.feature_dim, fc_width), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.fc7 = nn.Sequential(nn.Linear(fc_width, fc_width), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.fc = nn.Linear(fc_width, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # Without BatchNorm the signal must be kept by the initialisation: He (fan-in) for every
        # hidden layer, N(0, 0.01) for the classifier.
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc.weight, 0, 0.01)

    def pool5(self, x: torch.Tensor) -> torch.Tensor:
        """Return pool5's ``(B, C, T', H', W')`` output (before the feature-grid pooling)."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.grid(self.features(x)).flatten(1)
        return self.fc(self.fc7(self.fc6(x)))


@register_model
def c3d(num_classes: int = 400, **overrides) -> C3D:
    """C3D (Tran et al. 2015, arXiv:1412.0767): 8 conv, 5 pools, fc6/fc7 4096; 16×112×112."""
    model_args = dict(widths=(64, 128, 256, 512, 512), fc_width=4096, feature_grid=(1, 4, 4))
    return C3D(num_classes=num_classes, **{**model_args, **overrides})


@register_model
def c3d_small(num_classes: int = 400, **overrides) -> C3D:
    """Small C3D: widths 16-32-64-64-64, fc 256, a 1×2×2 feature grid; input 3×8×64×64."""
    model_args = dict(
        widths=(16, 32, 64, 64, 64), fc_width=256, feature_grid=(1, 2, 2), default_input=SMALL_INPUT
    )
    return C3D(num_classes=num_classes, **{**model_args, **overrides})
