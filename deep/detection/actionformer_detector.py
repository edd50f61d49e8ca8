"""``ActionFormerDetector``: the anchor-free transformer head on snippet features (2022).

Two stages, as in ActionFormer (Zhang, Wu & Li 2022), whose head is trained on features of a
separately trained clip network:

1. the :class:`~deep.detection.backbone.SnippetClassifier` is trained on snippets (classes and
   background), then **frozen**; the input of its classifier layer is the feature of every
   cell of every video;
2. the :class:`~deep.detection.actionformer.ActionFormerHead` is trained on those feature
   sequences (standardised with the training videos' statistics) with the sigmoid focal loss
   on the class scores of every valid point and the DIoU loss on the distances of the positive
   points, both over the number of positives; AdamW with warm-up and cosine decay, a budget in
   steps of ``head_batch`` videos (:func:`deep.budget.resolve_budget`). Training sequences
   longer than ``max_cells`` are cropped at random; dropout on the input features keeps the
   head from trusting the backbone's features of its own training videos too much.

At test: every point's class scores and segment, the best ``top_k`` (point, class) pairs,
per-class soft-NMS (the paper's default), the best ``max_detections`` per video.

References
----------
Zhang, C.-L., Wu, J., Li, Y. (2022). ActionFormer: localizing moments of actions with
transformers. ECCV. arXiv:2202.07925.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import nn

from deep.budget import resolve_budget
from deep.detection._base import SnippetDetector
from deep.detection._inputs import DecodedVideo
from deep.detection.actionformer import (
    ActionFormerHead,
    assign_targets,
    decode_points,
    point_positions,
    regression_ranges,
)
from deep.detection.backbone import SnippetClassifier
from deep.detection.losses import iou_loss_1d, sigmoid_focal_loss
from deep.detection.nms import multiclass_nms
from deep.training_loop import build_optimizer, cosine_with_warmup, deterministic_algorithms

__all__ = ["ActionFormerDetector"]


class ActionFormerDetector(SnippetDetector):
    """Snippet features + ActionFormer head, under the detection protocol.

    Parameters
    ----------
    backbone : SnippetClassifier, optional
        The snippet network (trained, then frozen); default ``SnippetClassifier()``.
    n_classes : int, optional
    width, n_heads, stem_layers, n_levels, window, head_layers : int
        :class:`~deep.detection.actionformer.ActionFormerHead` sizes (64, 4, 2, 4, 9, 2).
    dropout : float, default 0.1
    feature_dropout : float, default 0.3
        Dropout on the input features in training.
    range_base : float, default 4.0
        Regression range of level 0, in cells (doubling per level).
    centre_radius : float or None, default 1.5
    epochs : int, default 60
        Passes over the training videos; bounded by ``min_steps`` / ``max_steps``.
    min_steps, max_steps : int, optional
    head_batch : int, default 4
        Videos per step.
    max_cells : int, default 256
        Longest training sequence (longer ones are cropped at random).
    lr, weight_decay : float, default 1e-3, 0.05
    warmup_epochs : float, default 5.0
    grad_clip : float, default 1.0
    reg_weight : float, default 1.0
    iou_loss : {"diou", "giou", "iou"}, default "diou"
    top_k : int, default 2000
    nms : {"soft", "hard"}, default "soft"
    nms_iou, nms_sigma : float, default 0.5, 0.5
    min_score : float, default 1e-3
    max_detections : int, default 100
    random_state : int, default 0

    Attributes
    ----------
    backbone_ : SnippetClassifier
    head_ : ActionFormerHead
        In eval mode, on the backbone's device.
    feature_mean_, feature_std_ : numpy.ndarray
    head_history_ : list of dict
        Per epoch ``epoch, loss, cls_loss, reg_loss, lr``.
    budget_ : dict
        ``{"snippets": ..., "head": ...}`` resolved budgets.
    n_params_ : int
    failures_ : list of VideoFailure
    timing_ : dict
        ``backbone_s``, ``features_s``, ``head_s``.
    """

    def __init__(self, backbone: SnippetClassifier | None = None, n_classes: int | None = None,
                 width: int = 64, n_heads: int = 4, stem_layers: int = 2, n_levels: int = 4,
                 window: int = 9, head_layers: int = 2, dropout: float = 0.1,
                 feature_dropout: float = 0.3, range_base: float = 4.0,
                 centre_radius: float | None = 1.5, epochs: int = 60,
                 min_steps: int | None = None, max_steps: int | None = None,
                 head_batch: int = 4, max_cells: int = 256, lr: float = 1e-3,
                 weight_decay: float = 0.05, warmup_epochs: float = 5.0,
                 grad_clip: float = 1.0, reg_weight: float = 1.0, iou_loss: str = "diou",
                 top_k: int = 2000, nms: str = "soft", nms_iou: float = 0.5,
                 nms_sigma: float = 0.5, min_score: float = 1e-3, max_detections: int = 100,
                 random_state: int = 0):
        self.backbone = backbone
        self.n_classes = n_classes
        self.width = width
        self.n_heads = n_heads
        self.stem_layers = stem_layers
        self.n_levels = n_levels
        self.window = window
        self.head_layers = head_layers
        self.dropout = dropout
        self.feature_dropout = feature_dropout
        self.range_base = range_base
        self.centre_radius = centre_radius
        self.epochs = epochs
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.head_batch = head_batch
        self.max_cells = max_cells
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.grad_clip = grad_clip
        self.reg_weight = reg_weight
        self.iou_loss = iou_loss
        self.top_k = top_k
        self.nms = nms
        self.nms_iou = nms_iou
        self.nms_sigma = nms_sigma
        self.min_score = min_score
        self.max_detections = max_detections
        self.random_state = random_state

    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"The {name!r} parameter of ActionFormerDetector must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")

        for name in ("width", "n_heads", "n_levels", "window", "epochs", "head_batch",
                     "top_k", "max_detections"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise bad(name, "an int in [1, inf)")
        if self.width % self.n_heads:
            raise bad("width", f"a multiple of n_heads ({self.n_heads})")
        if self.max_cells < 2 ** (self.n_levels - 1):
            raise bad("max_cells", f"at least 2**(n_levels - 1) = {2 ** (self.n_levels - 1)}")
        if self.iou_loss not in ("diou", "giou", "iou"):
            raise bad("iou_loss", "'diou', 'giou' or 'iou'")
        if self.nms not in ("hard", "soft"):
            raise bad("nms", "'hard' or 'soft'")
        if not 0 <= self.feature_dropout < 1:
            raise bad("feature_dropout", "a float in [0, 1)")

    # ------------------------------------------------------------------ fit
    def fit(self, videos, segments: pd.DataFrame, groups=None) -> ActionFormerDetector:
        """Train the snippet classifier, extract features, train the head.

        Parameters
        ----------
        videos : 1-D array-like of str
        segments : DataFrame
            ``video, t_start, t_end, label``.
        groups : array-like, optional
            Not read: nothing is selected on a validation split.

        Returns
        -------
        self
        """
        import time

        self._check_params()
        decoded, per_video = self._fit_backbone(videos, segments)
        start = time.perf_counter()
        feats = [self.backbone_.snippet_outputs(v)[1] for v in decoded]
        self.timing_["features_s"] = time.perf_counter() - start
        stacked = np.concatenate(feats)
        self.feature_mean_ = stacked.mean(axis=0)
        self.feature_std_ = stacked.std(axis=0) + 1e-6
        feats = [(f - self.feature_mean_) / self.feature_std_ for f in feats]
        cells = [np.column_stack([v.grid.to_cells(s[:, 0]), v.grid.to_cells(s[:, 1])])
                 for v, s in zip(decoded, per_video, strict=True)]
        labels = [s[:, 2].astype(np.int64) for s in per_video]
        start = time.perf_counter()
        with deterministic_algorithms(self.backbone_.deterministic_):
            self._train_head(feats, cells, labels)
        self.timing_["head_s"] = time.perf_counter() - start
        self.n_params_ = self.backbone_.n_params_ + int(
            sum(p.numel() for p in self.head_.parameters()))
        return self

    def _batch(self, feats, cells, labels, order, rng):
        """Padded ``(x, valid, cls_t, reg_t)`` tensors of the videos ``order``."""
        unit = 2 ** (self.n_levels - 1)
        crops = []
        for i in order:
            f, seg, lab = feats[i], cells[i], labels[i]
            if len(f) > self.max_cells:
                first = int(rng.integers(0, len(f) - self.max_cells + 1))
                f = f[first:first + self.max_cells]
                seg = np.clip(seg - first, 0, self.max_cells)
                inside = seg[:, 1] - seg[:, 0] > 0
                seg, lab = seg[inside], lab[inside]
            crops.append((f, seg, lab))
        length = unit * math.ceil(max(len(f) for f, _, _ in crops) / unit)
        xs, strides = point_positions(length, self.n_levels)
        ranges = regression_ranges(self.n_levels, float(self.range_base))
        x = np.zeros((len(crops), length, feats[0].shape[1]), dtype=np.float32)
        valid = np.zeros((len(crops), length), dtype=bool)
        cls_t, reg_t = [], []
        for b, (f, seg, lab) in enumerate(crops):
            x[b, :len(f)], valid[b, :len(f)] = f, True
            c, r = assign_targets(xs, strides, seg, lab, self.n_classes_, ranges,
                                  self.centre_radius)
            cls_t.append(c)
            reg_t.append(r)
        device = self.backbone_.device_
        return (torch.from_numpy(x).to(device), torch.from_numpy(valid).to(device),
                torch.from_numpy(np.stack(cls_t)).to(device),
                torch.from_numpy(np.stack(reg_t)).to(device))

    def _loss(self, x, valid, cls_t, reg_t, drop: nn.Module):
        outputs = self.head_(drop(x), valid)
        logits = torch.cat([o[0] for o in outputs], dim=1)
        dist = torch.cat([o[1] for o in outputs], dim=1)
        mask = torch.cat([o[2] for o in outputs], dim=1)
        pos = mask & (cls_t.sum(dim=2) > 0)
        norm = max(int(pos.sum()), 1)
        cls_loss = sigmoid_focal_loss(logits[mask], cls_t[mask], reduction="sum") / norm
        reg_loss = iou_loss_1d(dist[pos], reg_t[pos], kind=self.iou_loss,
                               reduction="sum") / norm
        return cls_loss + self.reg_weight * reg_loss, cls_loss, reg_loss

    def _train_head(self, feats, cells, labels) -> None:
        device = self.backbone_.device_
        seed = int(self.random_state)
        torch.manual_seed(seed)
        head = ActionFormerHead(feats[0].shape[1], self.n_classes_, width=int(self.width),
                                n_heads=int(self.n_heads), stem_layers=int(self.stem_layers),
                                n_levels=int(self.n_levels), window=int(self.window),
                                head_layers=int(self.head_layers),
                                dropout=float(self.dropout)).to(device)
        self.head_ = head
        drop = nn.Dropout(float(self.feature_dropout))
        budget = resolve_budget(len(feats), int(self.head_batch), int(self.epochs),
                                min_steps=self.min_steps, max_steps=self.max_steps,
                                warmup_epochs=float(self.warmup_epochs))
        opt = build_optimizer(head, "adamw", lr=float(self.lr),
                              weight_decay=float(self.weight_decay), momentum=0.9)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, cosine_with_warmup(budget.warmup_steps, budget.steps))
        self.head_history_ = []
        head.train()
        drop.train()
        for epoch in range(budget.epochs):
            rng = np.random.default_rng([seed, epoch, 0xAF])
            perm = rng.permutation(len(feats))
            totals = np.zeros(3)
            for first in range(0, len(perm), int(self.head_batch)):
                batch = self._batch(feats, cells, labels, perm[first:first + self.head_batch],
                                    rng)
                loss, cls_loss, reg_loss = self._loss(*batch, drop)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(head.parameters(), float(self.grad_clip))
                opt.step()
                sched.step()
                totals += [float(loss.detach()), float(cls_loss.detach()), float(reg_loss.detach())]
            steps = budget.steps_per_epoch
            self.head_history_.append({"epoch": epoch + 1, "loss": totals[0] / steps,
                                       "cls_loss": totals[1] / steps,
                                       "reg_loss": totals[2] / steps,
                                       "lr": float(opt.param_groups[0]["lr"])})
        self.budget_ = {"snippets": self.backbone_.budget_, "head": budget.to_dict()}
        head.eval()

    # ------------------------------------------------------------------ detect
    def _detect_video(self, video: DecodedVideo):
        _, feats = self.backbone_.snippet_outputs(video)
        feats = ((feats - self.feature_mean_) / self.feature_std_).astype(np.float32)
        unit = 2 ** (self.n_levels - 1)
        length = unit * math.ceil(len(feats) / unit)
        x = np.zeros((1, length, feats.shape[1]), dtype=np.float32)
        x[0, :len(feats)] = feats
        valid = np.zeros((1, length), dtype=bool)
        valid[0, :len(feats)] = True
        device = self.backbone_.device_
        with deterministic_algorithms(self.backbone_.deterministic_), torch.inference_mode():
            outputs = self.head_(torch.from_numpy(x).to(device),
                                 torch.from_numpy(valid).to(device))
        scores = torch.cat([torch.sigmoid(o[0][0]) for o in outputs]).cpu().numpy()
        dist = torch.cat([o[1][0] for o in outputs]).float().cpu().numpy()
        mask = torch.cat([o[2][0] for o in outputs]).cpu().numpy()
        xs, strides = point_positions(length, self.n_levels)
        segments, flat, labels = decode_points(xs[mask], strides[mask], scores[mask],
                                               dist[mask], min_score=float(self.min_score),
                                               top_k=int(self.top_k))
        segments = np.clip(segments, 0.0, float(video.grid.n_cells))
        ok = segments[:, 1] > segments[:, 0]
        segments, flat, labels = segments[ok], flat[ok], labels[ok]
        keep, kept = multiclass_nms(segments[:, 0], segments[:, 1], flat, labels,
                                    max_keep=int(self.max_detections), method=self.nms,
                                    iou_threshold=float(self.nms_iou),
                                    sigma=float(self.nms_sigma), min_score=float(self.min_score))
        return segments[keep], kept, labels[keep]
