"""The ActionFormer head: a local-attention transformer pyramid over snippet features, and its
target assignment and decoding.

ActionFormer (Zhang, Wu & Li 2022) detects actions anchor-free: every time step of a feature
pyramid says, per class, whether an action is under it (a sigmoid score trained with the focal
loss) and how far the action's start and end are from it (two distances trained with a 1-D
DIoU loss). The network (:class:`ActionFormerHead`):

1. *projection*: two 1-D convolutions (kernel 3) from the snippet features to ``width``;
2. *stem*: ``stem_layers`` pre-norm transformer blocks whose attention sees a local window of
   ``window`` steps;
3. *pyramid*: ``n_levels - 1`` further blocks, each after a 2x max-pooling in time, so level
   ``l`` has a stride of ``2**l`` cells;
4. *heads*, shared by the levels: two 1-D convolutions then a linear map to ``n_classes``
   logits (bias ``-log((1 - pi) / pi)``, ``pi = 0.01``: every class starts rare, as in the
   focal-loss paper), and the same to two distances, made non-negative with a ReLU after a
   learned per-level scale, in units of the level's stride.

**Targets** (:func:`assign_targets`): a point of level ``l`` sits at the centre of the cells it
pools, ``x = (i + 0.5) * 2**l`` (cell units, :class:`deep.detection.snippets.SnippetGrid`). It
is positive for an instance ``[s, e]`` when it lies inside it, within ``centre_radius * 2**l``
of its centre (centre sampling), and the larger of its distances to ``s`` and ``e`` falls in
the level's regression range (levels take ranges ``(0, r], (r, 2r], (2r, 4r], ...``, the last
open). Of several instances, the shortest wins (all of that length give their class); its
distances over ``2**l`` are the regression targets.

**Decoding** (:func:`decode_points`): each (point, class) whose score passes
``min_score`` gives the segment ``[x - 2**l d_s, x + 2**l d_e]``; the best ``top_k`` go on to the
detector's per-class NMS.

Notes
-----
Differences from the paper, for a CPU and small data: max-pooling between the pyramid levels
(the paper downsamples inside the attention with strided depthwise convolutions), no layer
norm inside the heads, no dropout on the attention weights (the costliest part of a CPU step;
dropout stays in the MLPs), a plain count of positives (not its moving average) normalises the
losses, and a smaller width, depth and number of levels (:class:`ActionFormerHead`'s defaults).

References
----------
Zhang, C.-L., Wu, J., Li, Y. (2022). ActionFormer: localizing moments of actions with
transformers. ECCV. arXiv:2202.07925.
Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. (2017). Focal loss for dense object
detection. ICCV. arXiv:1708.02002.
Tian, Z., Shen, C., Chen, H., He, T. (2019). FCOS: fully convolutional one-stage object
detection (centre sampling, regression ranges). ICCV. arXiv:1904.01355.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["ActionFormerHead", "regression_ranges", "point_positions", "assign_targets",
           "points_to_segments", "decode_points"]


class _Block(nn.Module):
    """Pre-norm transformer block with local-window self-attention over valid steps."""

    def __init__(self, width: int, n_heads: int, window: int, dropout: float):
        super().__init__()
        self.n_heads, self.window = n_heads, window
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, n_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(2 * width, width), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1]
        pos = torch.arange(steps, device=x.device)
        band = (pos[:, None] - pos[None, :]).abs() <= self.window // 2
        allowed = (band[None] & valid[:, None, :]) | torch.eye(steps, dtype=torch.bool,
                                                               device=x.device)[None]
        blocked = (~allowed).repeat_interleave(self.n_heads, dim=0)
        h = self.norm1(x)
        x = x + self.attn(h, h, h, attn_mask=blocked, need_weights=False)[0]
        x = x + self.mlp(self.norm2(x))
        return x * valid[..., None]


def _conv_head(width: int, out: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [nn.Conv1d(width, width, 3, padding=1), nn.ReLU()]
    mods.append(nn.Conv1d(width, out, 3, padding=1))
    return nn.Sequential(*mods)


class ActionFormerHead(nn.Module):
    """Transformer feature pyramid with classification and regression heads.

    Parameters
    ----------
    in_dim : int
        Snippet feature size.
    n_classes : int
    width : int, default 64
    n_heads : int, default 4
    stem_layers : int, default 2
        Transformer blocks at full resolution.
    n_levels : int, default 4
        Pyramid levels (strides 1, 2, ..., ``2**(n_levels - 1)`` cells).
    window : int, default 9
        Local attention window, in steps of the level (odd).
    head_layers : int, default 2
    dropout : float, default 0.1
    prior : float, default 0.01
        Initial probability of every class.

    Notes
    -----
    ``forward(x, valid)`` takes ``(B, T, in_dim)`` features and a ``(B, T)`` bool mask of the
    real (not padded) steps, with ``T`` a multiple of ``2**(n_levels - 1)``, and returns, per
    level, ``(logits (B, T_l, n_classes), distances (B, T_l, 2), valid (B, T_l))``.
    """

    def __init__(self, in_dim: int, n_classes: int, width: int = 64, n_heads: int = 4,
                 stem_layers: int = 2, n_levels: int = 4, window: int = 9,
                 head_layers: int = 2, dropout: float = 0.1, prior: float = 0.01):
        super().__init__()
        self.n_levels = n_levels
        self.project = nn.Sequential(nn.Conv1d(in_dim, width, 3, padding=1), nn.ReLU(),
                                     nn.Conv1d(width, width, 3, padding=1), nn.ReLU())
        self.stem = nn.ModuleList(_Block(width, n_heads, window, dropout)
                                  for _ in range(stem_layers))
        self.branch = nn.ModuleList(_Block(width, n_heads, window, dropout)
                                    for _ in range(n_levels - 1))
        self.cls_head = _conv_head(width, n_classes, head_layers)
        self.reg_head = _conv_head(width, 2, head_layers)
        self.scales = nn.Parameter(torch.ones(n_levels))
        nn.init.constant_(self.cls_head[-1].bias, -math.log((1 - prior) / prior))

    def forward(self, x: torch.Tensor, valid: torch.Tensor):
        valid_f = valid.to(x.dtype)
        h = self.project((x * valid_f[..., None]).transpose(1, 2)).transpose(1, 2)
        h = h * valid_f[..., None]
        for block in self.stem:
            h = block(h, valid)
        levels = [(h, valid)]
        for block in self.branch:
            h = nn.functional.max_pool1d(h.transpose(1, 2), 2).transpose(1, 2)
            valid = valid[:, ::2]
            h = block(h * valid[..., None].to(h.dtype), valid)
            levels.append((h, valid))
        out = []
        for level, (feat, mask) in enumerate(levels):
            t = feat.transpose(1, 2)
            logits = self.cls_head(t).transpose(1, 2)
            dist = torch.relu(self.scales[level] * self.reg_head(t)).transpose(1, 2)
            out.append((logits, dist, mask))
        return out


def regression_ranges(n_levels: int, base: float = 4.0) -> np.ndarray:
    """``(n_levels, 2)`` ranges of the larger start/end distance (cells) of each level:
    ``(0, base], (base, 2 base], ...``, the last level open-ended."""
    upper = base * 2.0 ** np.arange(n_levels)
    lower = np.concatenate([[0.0], upper[:-1]])
    upper[-1] = np.inf
    return np.column_stack([lower, upper])


def point_positions(n_cells_padded: int, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``x`` (cells) and strides of every point of every level, level by level."""
    xs, strides = [], []
    for level in range(n_levels):
        stride = 2 ** level
        count = n_cells_padded // stride
        xs.append((np.arange(count) + 0.5) * stride)
        strides.append(np.full(count, float(stride)))
    return np.concatenate(xs), np.concatenate(strides)


def assign_targets(xs: np.ndarray, strides: np.ndarray, segments: np.ndarray,
                   labels: np.ndarray, n_classes: int, ranges: np.ndarray,
                   centre_radius: float | None = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Classification and regression targets of every point.

    Parameters
    ----------
    xs, strides : numpy.ndarray, shape (n,)
        From :func:`point_positions`.
    segments : numpy.ndarray, shape (m, 2)
        Instances ``[s, e]`` in cells.
    labels : numpy.ndarray of int, shape (m,)
    n_classes : int
    ranges : numpy.ndarray, shape (n_levels, 2)
        From :func:`regression_ranges`; the level of a point is ``log2(stride)``.
    centre_radius : float or None, default 1.5
        Centre sampling radius in strides (None: every point inside is a candidate).

    Returns
    -------
    cls_targets : numpy.ndarray, shape (n, n_classes)
        Multi-hot (all zeros: a negative point).
    reg_targets : numpy.ndarray, shape (n, 2)
        Distances to the start and end over the stride (0 for a negative point).
    """
    n = len(xs)
    cls = np.zeros((n, n_classes), dtype=np.float32)
    reg = np.zeros((n, 2), dtype=np.float32)
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    if not len(segments):
        return cls, reg
    s, e = segments[None, :, 0], segments[None, :, 1]
    x = xs[:, None]
    left, right = x - s, e - x
    ok = np.minimum(left, right) > 0
    if centre_radius is not None:
        centre, radius = (s + e) / 2, centre_radius * strides[:, None]
        ok &= (x >= np.maximum(s, centre - radius)) & (x <= np.minimum(e, centre + radius))
    level = np.round(np.log2(strides)).astype(np.int64)
    reach = np.maximum(left, right)
    ok &= (reach > ranges[level, 0][:, None]) & (reach <= ranges[level, 1][:, None])
    length = np.where(ok, e - s, np.inf)
    shortest = length.min(axis=1)
    pos = np.isfinite(shortest)
    chosen = ok & (length <= shortest[:, None] + 1e-6)
    onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]
    cls[:] = np.minimum(chosen.astype(np.float32) @ onehot, 1.0)
    first = np.argmax(chosen, axis=1)
    rows = np.flatnonzero(pos)
    reg[rows, 0] = left[rows, first[rows]] / strides[rows]
    reg[rows, 1] = right[rows, first[rows]] / strides[rows]
    return cls, reg


def points_to_segments(xs: np.ndarray, strides: np.ndarray, distances: np.ndarray
                       ) -> np.ndarray:
    """Segments ``[x - stride d_s, x + stride d_e]`` (cells) of points and their distances."""
    distances = np.asarray(distances, dtype=np.float64).reshape(-1, 2)
    return np.column_stack([xs - strides * distances[:, 0], xs + strides * distances[:, 1]])


def decode_points(xs: np.ndarray, strides: np.ndarray, scores: np.ndarray,
                  distances: np.ndarray, *, min_score: float = 1e-3, top_k: int = 2000
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate detections of one video from its points.

    Parameters
    ----------
    xs, strides : numpy.ndarray, shape (n,)
    scores : numpy.ndarray, shape (n, n_classes)
        Sigmoid class scores.
    distances : numpy.ndarray, shape (n, 2)
        Predicted distances in strides.
    min_score : float, default 1e-3
    top_k : int, default 2000
        Keep the best (point, class) pairs (ties: by point, then class).

    Returns
    -------
    segments : numpy.ndarray, shape (k, 2)
        In cells.
    scores : numpy.ndarray, shape (k,)
    labels : numpy.ndarray of int, shape (k,)
    """
    flat = np.asarray(scores, dtype=np.float64).ravel()
    n_classes = scores.shape[1]
    candidates = np.flatnonzero(flat > min_score)
    order = candidates[np.argsort(-flat[candidates], kind="stable")][:top_k]
    point, label = order // n_classes, order % n_classes
    segments = points_to_segments(xs[point], strides[point], distances[point])
    return segments, flat[order], label.astype(np.int64)
