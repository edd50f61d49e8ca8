"""A small CenterNet: actors as points, a centre heatmap with a size and an offset per cell.

The deep track's person detector (Zhou, Wang & Krähenbühl 2019, "Objects as points"): a
fully convolutional network maps the frame to, at stride 4,

* a **centre heatmap** (one class, *person*): sigmoid scores trained with the penalty-reduced
  focal loss of CornerNet / CenterNet against Gaussian bumps at the box centres;
* the **size** of the box at its centre cell, here ``log`` of width and height in cells
  (L1 loss at the centre cells only);
* the sub-cell **offset** of the centre (L1 at the centre cells).

Decoding keeps the cells that are the maximum of their 3 x 3 neighbourhood (the paper's
max-pool "NMS"), the ``k`` best of them, and builds a box from each peak's offset and size;
:func:`deep.localization.boxes.nms` then removes overlapping boxes (the paper needs none for
well-separated objects; actors here walk past each other).

Why this detector and not an RPN with a box head: one dense head trained with one loss on
every cell, no anchors to match, no proposal sampling and no second stage, so the few
hundred training keyframes of a fold train it in a minute on 2 CPU cores; a two-stage
detector's box head sees few positive proposals per image early in training and needs its
RPN to converge first. (The choice is argued, not measured: no RPN was built to compare.)

Differences from the paper: no ImageNet backbone (a plain 8-layer CNN with dilated
convolutions, from scratch); the input is the frame *and* its RGB difference to a nearby
frame (acting people move, the textured background does not); the size head regresses
``log`` sizes (scale-invariant, no 0.1 weight) instead of pixels; the Gaussians are
elliptic with ``sigma = 0.54 * size / 6`` per axis (TTFNet's rule, Liu et al. 2020) instead
of CornerNet's radius formula.

References
----------
Zhou, X., Wang, D., Krähenbühl, P. (2019). Objects as points. arXiv:1904.07850.
Law, H., Deng, J. (2018). CornerNet: detecting objects as paired keypoints. ECCV.
arXiv:1808.01244 (the focal loss on heatmaps).
Liu, Z. et al. (2020). Training-time-friendly network for real-time object detection (TTFNet).
AAAI. arXiv:1909.00700 (elliptic Gaussian targets).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CenterNetLite", "STRIDE", "IN_CHANNELS", "centernet_targets", "focal_loss",
           "centernet_loss", "decode_peaks"]

#: Input pixels per output cell.
STRIDE = 4
#: RGB and RGB difference.
IN_CHANNELS = 6
#: TTFNet's Gaussian size factor.
GAUSSIAN_ALPHA = 0.54


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation,
                                   bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CenterNetLite(nn.Module):
    """The detector network: ``(B, 6, H, W)`` frames to heatmap logits, log sizes, offsets.

    Parameters
    ----------
    width : int, default 32
        Channels at stride 2; stride 4 has twice as many. Dilations 2, 4 and 8 at stride 4
        give a receptive field of about 130 input pixels, larger than an actor.
    """

    def __init__(self, width: int = 32):
        super().__init__()
        w = int(width)
        self.body = nn.Sequential(
            _conv(IN_CHANNELS, w // 2), _conv(w // 2, w, stride=2), _conv(w, w),
            _conv(w, 2 * w, stride=2), _conv(2 * w, 2 * w), _conv(2 * w, 2 * w, dilation=2),
            _conv(2 * w, 2 * w, dilation=4), _conv(2 * w, 2 * w, dilation=8))

        def head(out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(2 * w, w, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(w, out, 1))

        self.heat, self.size, self.offset = head(1), head(2), head(2)
        # CenterNet's prior: every cell starts at a person probability of 0.1
        nn.init.constant_(self.heat[-1].bias, -math.log((1 - 0.1) / 0.1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return self.heat(f)[:, 0], self.size(f), self.offset(f)


def output_shape(height: int, width: int) -> tuple[int, int]:
    """The heatmap's ``(h, w)`` for a ``height x width`` input (two stride-2 convolutions)."""
    return math.ceil(math.ceil(height / 2) / 2), math.ceil(math.ceil(width / 2) / 2)


def centernet_targets(boxes: np.ndarray, out_h: int, out_w: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training targets of one frame's boxes, given in *cell* coordinates ``(m, 4)``.

    Returns
    -------
    heat : (out_h, out_w) float32
        The maximum over boxes of ``exp(-dx^2 / 2 sx^2 - dy^2 / 2 sy^2)`` around each box's
        centre cell (exactly 1 there), ``s = 0.54 * size / 6`` per axis (at least 0.2 cells).
    size : (2, out_h, out_w) float32
        ``log(w), log(h)`` in cells at the centre cells (0 elsewhere).
    offset : (2, out_h, out_w) float32
        Centre minus its cell's corner, in ``[0, 1)``, at the centre cells.
    mask : (out_h, out_w) float32
        1 at the centre cells. Two boxes with one centre cell: the later one's size and offset.
    """
    heat = np.zeros((out_h, out_w), dtype=np.float32)
    size = np.zeros((2, out_h, out_w), dtype=np.float32)
    offset = np.zeros((2, out_h, out_w), dtype=np.float32)
    mask = np.zeros((out_h, out_w), dtype=np.float32)
    ys, xs = np.mgrid[0:out_h, 0:out_w]
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        w, h = max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        i, j = min(max(int(math.floor(cy)), 0), out_h - 1), min(max(int(math.floor(cx)), 0),
                                                                out_w - 1)
        sx, sy = max(GAUSSIAN_ALPHA * w / 6, 0.2), max(GAUSSIAN_ALPHA * h / 6, 0.2)
        bump = np.exp(-((xs - j) ** 2) / (2 * sx ** 2) - ((ys - i) ** 2) / (2 * sy ** 2))
        np.maximum(heat, bump.astype(np.float32), out=heat)
        size[:, i, j] = np.log(w), np.log(h)
        offset[:, i, j] = np.clip(cx - j, 0, 1 - 1e-6), np.clip(cy - i, 0, 1 - 1e-6)
        mask[i, j] = 1.0
    return heat, size, offset, mask


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CornerNet's penalty-reduced focal loss (alpha 2, beta 4), summed over the cells and
    divided by the number of centres (at least 1)."""
    logp, log1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = logits.sigmoid()
    pos = (target >= 1.0).to(logits.dtype)
    pos_loss = -((1 - p) ** 2) * logp * pos
    neg_loss = -((1 - target) ** 4) * (p ** 2) * log1mp * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def centernet_loss(outputs, heat, size, offset, mask) -> torch.Tensor:
    """Focal loss on the heatmap plus the L1 losses of size and offset at the centres."""
    heat_logits, size_pred, offset_pred = outputs
    n = mask.sum().clamp(min=1.0)
    m = mask[:, None]
    l1_size = ((size_pred - size).abs() * m).sum() / n
    l1_offset = ((offset_pred.sigmoid() - offset).abs() * m).sum() / n
    return focal_loss(heat_logits, heat) + l1_size + l1_offset


def decode_peaks(heat: torch.Tensor, size: torch.Tensor, offset: torch.Tensor, k: int,
                 min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of the ``k`` best local maxima of one frame's outputs, in cell coordinates.

    Parameters
    ----------
    heat : (h, w) tensor
        Person probabilities (after the sigmoid).
    size : (2, h, w) tensor
        ``log`` width and height in cells.
    offset : (2, h, w) tensor
        Centre offsets in ``[0, 1]`` (after the sigmoid).
    k : int
    min_score : float
        Peaks below it are dropped.

    Returns
    -------
    boxes : (n, 4) float64, cells; scores : (n,) float64, descending (ties: row-major order).

    Notes
    -----
    A peak is a cell equal to the maximum of its 3 x 3 neighbourhood (cells outside the map
    do not count), so two equal neighbours are both peaks, as with the paper's max-pool.
    """
    pooled = F.max_pool2d(heat[None, None], 3, stride=1, padding=1)[0, 0]
    peak = (heat == pooled) & (heat >= min_score)
    flat = torch.where(peak, heat, torch.full_like(heat, -1.0)).flatten()
    n = int(min(k, int(peak.sum())))
    if n == 0:
        return np.zeros((0, 4)), np.zeros(0)
    scores = flat.double().cpu().numpy()
    order = np.lexsort((np.arange(len(scores)), -scores))[:n]
    rows, cols = np.divmod(order, heat.shape[1])
    size, offset = size.double().cpu().numpy(), offset.double().cpu().numpy()
    cx = cols + offset[0, rows, cols]
    cy = rows + offset[1, rows, cols]
    w, h = np.exp(size[0, rows, cols]), np.exp(size[1, rows, cols])
    boxes = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return boxes, scores[order]
