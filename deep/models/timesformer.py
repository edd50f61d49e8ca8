"""TimeSformer: a ViT over frame patches with divided space-time attention.

References
----------
.. [1] Bertasius, G., Wang, H. & Torresani, L. (2021). Is Space-Time Attention All You Need
   for Video Understanding? ICML. arXiv:2102.05095.
.. [2] Dosovitskiy, A. et al. (2021). An Image is Worth 16x16 Words: Transformers for Image
   Recognition at Scale. ICLR. arXiv:2010.11929.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import register_model
from .video_resnet import SMALL_INPUT

__all__ = ["Attention", "DividedSpaceTimeBlock", "PooledFeatureNorm", "TimeSformer", "timesformer",
           "timesformer_small"]


class Attention(nn.Module):
    """Multi-head self-attention over ``(N, L, D)`` tokens with ``scaled_dot_product_attention``."""

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"'dim' ({dim}) must be divisible by 'num_heads' ({num_heads}).")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (N, heads, L, head_dim)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class Mlp(nn.Sequential):
    """Linear → GELU → Linear, hidden width ``ratio · dim``."""

    def __init__(self, dim: int, ratio: float = 4.0, drop: float = 0.0) -> None:
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(drop), nn.Linear(hidden, dim), nn.Dropout(drop))


class DividedSpaceTimeBlock(nn.Module):
    """Temporal attention (same patch across frames), then spatial attention (within a frame), then MLP.

    Patch tokens are ``(B, T, N, D)``; the class token ``(B, 1, D)`` joins the spatial
    attention of every frame and its per-frame outputs are averaged (as in the reference
    implementation). ``temporal_fc`` projects the temporal-attention output before the residual.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, drop: float = 0.0,
                 layer_scale: float | None = None) -> None:
        super().__init__()
        self.temporal_norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.temporal_attn = Attention(dim, num_heads, drop)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, drop)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_ratio, drop)
        # LayerScale (Touvron et al. 2021): a learned per-channel gain on each residual branch,
        # starting at ``layer_scale``; None: no gain (the paper's block).
        if layer_scale is None:
            self.gamma_temporal = self.gamma_spatial = self.gamma_mlp = None
        else:
            self.gamma_temporal = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.gamma_spatial = nn.Parameter(torch.full((dim,), float(layer_scale)))
            self.gamma_mlp = nn.Parameter(torch.full((dim,), float(layer_scale)))

    @staticmethod
    def _scaled(gamma: nn.Parameter | None, x: torch.Tensor) -> torch.Tensor:
        return x if gamma is None else gamma * x

    def forward(self, cls: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, n, d = patches.shape
        # Temporal attention: each spatial position attends over the T frames.
        xt = patches.transpose(1, 2).reshape(b * n, t, d)
        xt = self.temporal_fc(self.temporal_attn(self.temporal_norm1(xt)))
        patches = patches + self._scaled(self.gamma_temporal, xt.reshape(b, n, t, d).transpose(1, 2))
        # Spatial attention: within each frame, the class token plus the N patches.
        xs = torch.cat([cls.unsqueeze(1).expand(b, t, 1, d), patches], dim=2).reshape(b * t, n + 1, d)
        xs = self._scaled(self.gamma_spatial, self.attn(self.norm1(xs))).reshape(b, t, n + 1, d)
        cls = cls + xs[:, :, 0].mean(1, keepdim=True)
        patches = patches + xs[:, :, 1:]
        cls = cls + self._scaled(self.gamma_mlp, self.mlp(self.norm2(cls)))
        return cls, patches + self._scaled(self.gamma_mlp, self.mlp(self.norm2(patches)))


class PooledFeatureNorm(nn.BatchNorm1d):
    """Standardise ``(N, D)`` pooled features over the batch (``BatchNorm1d``, no affine).

    A training batch of one clip has no batch statistics (``BatchNorm1d`` raises); it is
    standardised with the running statistics instead, as at evaluation, and leaves them as they
    are. This happens when the training clips do not divide into batches, e.g. 17 clips in
    batches of 16.
    """

    def __init__(self, dim: int) -> None:
        super().__init__(dim, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, training=False, eps=self.eps)
        return super().forward(x)


def _conv_stem(dim: int, patch_size: int) -> nn.Sequential:
    """Per-frame 3×3 stride-2 convolutions down to the patch grid, then a 1×1 projection.

    The convolutional stem of Xiao et al. 2021 ("Early convolutions help transformers see
    better", arXiv:2106.14881), applied frame by frame (kernels 1×3×3).
    """
    layers: list[nn.Module] = []
    steps = int(math.log2(patch_size))
    channels, width = 3, max(8, dim >> steps)
    for _ in range(steps):
        layers += [nn.Conv3d(channels, width, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False),
                   nn.BatchNorm3d(width), nn.ReLU(inplace=True)]
        channels, width = width, min(dim, width * 2)
    layers.append(nn.Conv3d(channels, dim, 1))
    return nn.Sequential(*layers)


class TimeSformer(nn.Module):
    """TimeSformer with divided space-time attention.

    Parameters
    ----------
    num_classes : int, default 400
    img_size, patch_size : int, default 224, 16
    num_frames : int, default 8
    dim, depth, num_heads : int, default 768, 12, 12 (ViT-Base)
    mlp_ratio : float, default 4.0
    dropout : float, default 0.0
        Dropout in attention, MLP and before the head.
    pool : {"cls", "mean"}, default "cls"
        What the head reads: the class token (the paper) or the mean of the normalised patch
        tokens (as in VideoMAE, Tong et al. 2022, arXiv:2203.12602). See Notes.
    stem : {"patch", "conv"}, default "patch"
        The patch embedding: a 1×p×p ``Conv3d`` (the paper's patchify layer), or per-frame 3×3
        stride-2 convolutions down to the patch grid (Xiao et al. 2021, arXiv:2106.14881;
        ``patch_size`` must be a power of two). See Notes.
    layer_scale : float or None, default None
        LayerScale (Touvron et al. 2021, arXiv:2103.17239): a learned per-channel gain on each
        residual branch, starting at this value; None: no gain (the paper's block).
    head_norm : bool, default False
        Standardise the pooled features over the batch before the classifier: a
        ``BatchNorm1d`` without affine parameters, as in MAE's linear probe (He et al. 2022,
        arXiv:2111.06377, linear probing). It adds no parameter. See Notes.
    default_input : tuple, default (3, num_frames, img_size, img_size)

    Notes
    -----
    Other clip sizes are accepted: the spatial position embedding is interpolated
    (bilinear) to the patch grid and the time embedding (nearest) to the number of frames, as
    in the reference implementation. With ``stem="patch"`` the patch embedding is a 1×p×p
    ``Conv3d`` (the same weights as a per-frame 2D one). Stochastic depth is not implemented. The time embedding
    starts from N(0, 0.02²) rather than zeros, so that the untrained network already tells
    frame orders apart (with zeros, divided attention is blind to order until it is learned).

    The small preset (``timesformer_small``) turns on four options that the paper-size
    ``timesformer`` leaves off, because trained from scratch (the paper starts from ImageNet
    ViT weights) on a small dataset the paper's network stays at chance:

    * ``pool="mean"``: the class token only gathers the patches through spatial attention,
      which starts nearly uniform, so at initialisation it receives about the mean of the
      patch embeddings -- the same for every clip once clips are standardised
      (``normalise="clip"`` in :mod:`deep.clips`); the mean of the patch tokens carries the
      signal from the first step.
    * ``stem="conv"``: early convolutions make the optimisation of a vision transformer
      easier (Xiao et al. 2021); the patchify layer stayed longer on the initial plateau.
    * ``layer_scale``: small residual gains keep the initial blocks close to the identity
      (Touvron et al. 2021).
    * ``head_norm=True``: the pooled features of the untrained network vary little across
      clips (unlike those of the CNNs, they do not come out of BatchNorm layers);
      standardised, the training loss leaves the initial plateau epochs earlier.

    The measurements behind each choice (dated): docs/deep-recipes.md and docs/models.md.
    """

    def __init__(
        self,
        num_classes: int = 400,
        img_size: int = 224,
        patch_size: int = 16,
        num_frames: int = 8,
        dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        pool: str = "cls",
        stem: str = "patch",
        layer_scale: float | None = None,
        head_norm: bool = False,
        default_input: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if pool not in ("cls", "mean"):
            raise ValueError(f"The 'pool' parameter must be 'cls' or 'mean'. Got {pool!r} instead.")
        self.pool = pool
        if img_size % patch_size:
            raise ValueError(f"'img_size' ({img_size}) must be a multiple of 'patch_size' ({patch_size}).")
        self.patch_size = patch_size
        self.grid = img_size // patch_size
        self.default_input = tuple(default_input or (3, num_frames, img_size, img_size))
        if stem not in ("patch", "conv"):
            raise ValueError(f"The 'stem' parameter must be 'patch' or 'conv'. Got {stem!r} instead.")
        if stem == "conv" and patch_size & (patch_size - 1):
            raise ValueError(f"A conv stem needs a power-of-two 'patch_size'. Got {patch_size}.")
        self.patch_embed = (_conv_stem(dim, patch_size) if stem == "conv" else
                            nn.Conv3d(3, dim, (1, patch_size, patch_size), (1, patch_size, patch_size)))
        self.cls_token = nn.Parameter(torch.zeros(1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid * self.grid + 1, dim))
        self.time_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            DividedSpaceTimeBlock(dim, num_heads, mlp_ratio, dropout, layer_scale) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head_drop = nn.Dropout(dropout)
        self.head_norm = PooledFeatureNorm(dim) if head_norm else nn.Identity()
        self.head = nn.Linear(dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.time_embed, std=0.02)
        for i, block in enumerate(self.blocks):
            if i > 0:  # the reference implementation starts later blocks as purely spatial
                nn.init.zeros_(block.temporal_fc.weight)
                nn.init.zeros_(block.temporal_fc.bias)

    def _embeddings(self, grid_hw: tuple[int, int], frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        pos = self.pos_embed[:, 1:]
        if grid_hw != (self.grid, self.grid):
            pos = pos.reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
            pos = F.interpolate(pos, size=grid_hw, mode="bilinear", align_corners=False)
            pos = pos.flatten(2).transpose(1, 2)
        time = self.time_embed
        if frames != time.shape[1]:
            time = F.interpolate(time.transpose(1, 2), size=frames, mode="nearest").transpose(1, 2)
        return pos, time

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[-1] % self.patch_size or x.shape[-2] % self.patch_size:
            raise ValueError(
                f"TimeSformer expects (B, C, T, H, W) with H and W multiples of {self.patch_size}; "
                f"got shape {tuple(x.shape)}."
            )
        x = self.patch_embed(x)  # (B, D, T, h, w)
        b, d, t, h, w = x.shape
        patches = x.flatten(3).permute(0, 2, 3, 1)  # (B, T, N, D)
        pos, time = self._embeddings((h, w), t)
        patches = self.pos_drop(patches + pos.unsqueeze(1) + time.unsqueeze(2))
        cls = (self.cls_token + self.pos_embed[:, 0]).expand(b, d).unsqueeze(1)  # (B, 1, D)
        for block in self.blocks:
            cls, patches = block(cls, patches)
        features = self.norm(cls[:, 0]) if self.pool == "cls" else self.norm(patches).mean((1, 2))
        return self.head(self.head_drop(self.head_norm(features)))


@register_model
def timesformer(num_classes: int = 400, **overrides) -> TimeSformer:
    """TimeSformer-Base (Bertasius et al. 2021, arXiv:2102.05095): 12 × 768, 12 heads, 8×224², patch 16."""
    model_args = dict(img_size=224, patch_size=16, num_frames=8, dim=768, depth=12, num_heads=12)
    return TimeSformer(num_classes=num_classes, **{**model_args, **overrides})


@register_model
def timesformer_small(num_classes: int = 400, **overrides) -> TimeSformer:
    """Small TimeSformer: 4 blocks × 96, 3 heads, 8-pixel tokens from a conv stem, input 3×8×64×64,
    mean-pooled, pooled features standardised before the head."""
    model_args = dict(
        img_size=SMALL_INPUT[2], patch_size=8, num_frames=SMALL_INPUT[1], dim=96, depth=4, num_heads=3,
        pool="mean", stem="conv", layer_scale=0.1, head_norm=True,
    )
    return TimeSformer(num_classes=num_classes, **{**model_args, **overrides})
