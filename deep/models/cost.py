"""Cost accounting for models: parameter counts and FLOPs per clip."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "count_parameters"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Return the number of parameters of ``model`` (shared parameters counted once).

    Parameters
    ----------
    model : torch.nn.Module
    trainable_only : bool, default False
        Count only parameters with ``requires_grad``.

    Returns
    -------
    int
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Return the floating-point operations of one forward pass on one clip.

    The count comes from :class:`torch.utils.flop_counter.FlopCounterMode`, which counts
    **FLOPs = 2 × multiply-accumulates** of matrix multiplications, convolutions and
    scaled-dot-product attention (elementwise operations, pooling and normalisation are not
    counted). Divide by 2 for MACs (the "GFLOPs" of many papers are GMACs).

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated in eval mode on copies of its weights on the ``meta`` device: nothing is
        computed and the model is not modified.
    input_shape : sequence of int
        One clip without the batch dimension, e.g. ``model.default_input`` = ``(3, 16, 112, 112)``.

    Returns
    -------
    int
        FLOPs per clip.

    Raises
    ------
    ValueError
        If ``input_shape`` is not a sequence of positive ints.
    """
    shape = tuple(input_shape)
    if not shape or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(
            f"The 'input_shape' parameter of count_flops must be a clip shape without the batch "
            f"dimension, e.g. (3, 16, 112, 112). Got {input_shape!r} instead."
        )
    state = {
        name: torch.empty_like(t, device="meta")
        for name, t in [*model.named_parameters(), *model.named_buffers()]
    }
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            functional_call(model, state, (torch.empty((1, *shape), device="meta"),))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
