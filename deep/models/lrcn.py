"""LRCN: a 2D CNN encodes every frame, an LSTM reads the frame features in order.

References
----------
.. [1] Donahue, J., Hendricks, L. A., Guadarrama, S., Rohrbach, M., Venugopalan, S., Saenko,
   K. & Darrell, T. (2015). Long-term Recurrent Convolutional Networks for Visual Recognition
   and Description. CVPR. arXiv:1411.4389.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._registry import register_model
from .tsn import encode_frames
from .video_resnet import SMALL_INPUT, frame_resnet

__all__ = ["LRCN", "lrcn", "lrcn_small"]

READOUTS = ("mean", "last")


class LRCN(nn.Module):
    """Frame-wise 2D ResNet features → LSTM → a classifier at every time step.

    Parameters
    ----------
    num_classes : int, default 400
    hidden_size : int, default 256
        LSTM units (the paper's activity-recognition model uses 256).
    num_layers : int, default 1
    readout : {"mean", "last"}, default "mean"
        ``"mean"``: average the per-step class scores over time (the paper's video
        prediction); ``"last"``: the score at the final step.
    layers, widths : ResNet depth and width of the frame encoder (default: ResNet-18).
    dropout : float, default 0.5
        Dropout on the frame features and before the classifier.
    num_frames, img_size : int, default 16, 224
        ``default_input`` = ``(3, num_frames, img_size, img_size)``; the paper trains on
        16-frame clips. Any number of frames is accepted.

    Notes
    -----
    The paper's frame encoder is CaffeNet; we use a 2D ResNet (frame-wise R2D). Only RGB.
    """

    def __init__(
        self,
        num_classes: int = 400,
        hidden_size: int = 256,
        num_layers: int = 1,
        readout: str = "mean",
        layers: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        dropout: float = 0.5,
        num_frames: int = 16,
        img_size: int = 224,
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"The 'readout' parameter of LRCN must be one of {READOUTS}. Got {readout!r} instead.")
        self.readout = readout
        self.default_input = (3, num_frames, img_size, img_size)
        self.backbone = frame_resnet(layers, widths)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(self.backbone.feature_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.dropout(encode_frames(self.backbone, x))  # (B, T, F)
        hidden, _ = self.lstm(features)  # (B, T, H)
        scores = self.fc(self.dropout(hidden))
        return scores.mean(1) if self.readout == "mean" else scores[:, -1]


@register_model
def lrcn(num_classes: int = 400, **overrides) -> LRCN:
    """LRCN (Donahue et al. 2015, arXiv:1411.4389): ResNet-18 frames, LSTM-256; 16×224×224."""
    model_args = dict(hidden_size=256, layers=(2, 2, 2, 2), widths=(64, 128, 256, 512))
    return LRCN(num_classes=num_classes, **{**model_args, **overrides})


@register_model
def lrcn_small(num_classes: int = 400, **overrides) -> LRCN:
    """Small LRCN: ResNet 16-32-64-128 with one block per stage, LSTM-64; input 3×8×64×64."""
    model_args = dict(
        hidden_size=64, layers=(1, 1, 1, 1), widths=(16, 32, 64, 128), num_frames=SMALL_INPUT[1],
        img_size=SMALL_INPUT[2],
    )
    return LRCN(num_classes=num_classes, **{**model_args, **overrides})
