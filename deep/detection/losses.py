"""The losses of the anchor-free head: sigmoid focal loss and 1-D IoU losses on distances.

**Sigmoid focal loss** (Lin et al. 2017), as ``torchvision.ops.sigmoid_focal_loss`` defines
it: with ``p = sigmoid(x)`` and a target ``y`` in {0, 1} (or in [0, 1]),
``p_t = p y + (1 - p)(1 - y)``, ``alpha_t = alpha y + (1 - alpha)(1 - y)``::

    FL = alpha_t * (1 - p_t) ** gamma * BCE(x, y)

(``alpha < 0`` turns the weighting off). Easy negatives, the many background time steps of an
untrimmed video, contribute almost nothing.

**1-D IoU losses** compare a predicted and a target segment that both contain the same time
step ``x``, each given by its distances to the start and to the end, ``(l, r)`` with the
segment ``[x - l, x + r]``. Both contain ``x``, so the intersection is ``min(l, l*) + min(r,
r*)`` and the union ``l + r + l* + r* - intersection``; the enclosing segment has length
``max(l, l*) + max(r, r*)``::

    IoU loss  = 1 - IoU
    GIoU loss = 1 - IoU + (enclosing - union) / enclosing           (Rezatofighi et al. 2019)
    DIoU loss = 1 - IoU + (centre distance / enclosing) ** 2         (Zheng et al. 2020)

ActionFormer (Zhang et al. 2022) uses the DIoU loss (its ``ctr_diou_loss_1d``).

References
----------
Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. (2017). Focal loss for dense object
detection. ICCV. arXiv:1708.02002.
Rezatofighi, H. et al. (2019). Generalized intersection over union. CVPR. arXiv:1902.09630.
Zheng, Z. et al. (2020). Distance-IoU loss. AAAI. arXiv:1911.08287.
Zhang, C.-L., Wu, J., Li, Y. (2022). ActionFormer: localizing moments of actions with
transformers. ECCV. arXiv:2202.07925.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["sigmoid_focal_loss", "iou_loss_1d", "IOU_LOSSES"]

#: The kinds of :func:`iou_loss_1d`.
IOU_LOSSES = ("iou", "giou", "diou")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"The 'reduction' parameter must be 'none', 'mean' or 'sum'. "
                     f"Got {reduction!r} instead.")


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25,
                       gamma: float = 2.0, reduction: str = "none") -> torch.Tensor:
    """Sigmoid focal loss of ``logits`` against ``targets`` (same shape), elementwise.

    Parameters
    ----------
    logits : torch.Tensor
    targets : torch.Tensor
        In [0, 1], same shape as ``logits``.
    alpha : float, default 0.25
        Weight of the positives (``1 - alpha`` for the negatives); negative: no weighting.
    gamma : float, default 2.0
        Focusing exponent (0: the binary cross-entropy).
    reduction : {"none", "mean", "sum"}

    Returns
    -------
    torch.Tensor
    """
    targets = targets.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return _reduce(loss, reduction)


def iou_loss_1d(pred: torch.Tensor, target: torch.Tensor, kind: str = "diou",
                reduction: str = "none", eps: float = 1e-8) -> torch.Tensor:
    """1-D IoU, GIoU or DIoU loss between segments given as distances from a shared point.

    Parameters
    ----------
    pred, target : torch.Tensor, shape (..., 2)
        Non-negative distances ``(to the start, to the end)``.
    kind : {"iou", "giou", "diou"}, default "diou"
    reduction : {"none", "mean", "sum"}
    eps : float
        Guards the divisions (empty segments).

    Returns
    -------
    torch.Tensor
        Shape ``(...)`` without reduction; 0 for a perfect prediction.
    """
    if kind not in IOU_LOSSES:
        raise ValueError(f"The 'kind' parameter of iou_loss_1d must be one of {IOU_LOSSES}. "
                         f"Got {kind!r} instead.")
    lp, rp = pred[..., 0], pred[..., 1]
    lt, rt = target[..., 0], target[..., 1]
    inter = torch.minimum(lp, lt) + torch.minimum(rp, rt)
    union = lp + rp + lt + rt - inter
    iou = inter / union.clamp(min=eps)
    loss = 1.0 - iou
    if kind != "iou":
        enclosing = (torch.maximum(lp, lt) + torch.maximum(rp, rt)).clamp(min=eps)
        if kind == "giou":
            loss = loss + (enclosing - union) / enclosing
        else:
            centre_gap = 0.5 * ((rp - lp) - (rt - lt))
            loss = loss + (centre_gap / enclosing) ** 2
    return _reduce(loss, reduction)
