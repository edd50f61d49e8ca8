"""Load a local pretrained state dict into a video network, with errors that name each key.

Split out of :mod:`deep.train` so that the estimator module holds the estimator only; the
loader is also useful on its own (fine-tuning a model outside :class:`VideoClassifier`).
Nothing is ever downloaded: a weights file is a path the user provides.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["WeightsMismatchError", "load_weights"]


class WeightsMismatchError(ValueError):
    """A weights file whose keys or shapes do not fit the model; the message lists them."""


def _head_keys(model: nn.Module, num_classes: int) -> set[str]:
    """State-dict keys of the classifier head: the last Linear with ``num_classes`` outputs."""
    head = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and module.out_features == num_classes:
            head = name
    if head is None:
        return set()
    prefix = f"{head}." if head else ""
    return {prefix + "weight", prefix + "bias"}


def load_weights(
    model: nn.Module, path: str | os.PathLike, *, num_classes: int, reinit_head: bool = False
) -> dict[str, list[str]]:
    """Load a local state dict into ``model``; never downloads anything.

    Parameters
    ----------
    model : torch.nn.Module
    path : path-like
        A file written by ``torch.save(model.state_dict(), path)`` or one of our checkpoints
        (a dict with a ``"model"`` entry). Read with ``torch.load(..., weights_only=True)``:
        no pickled code runs.
    num_classes : int
        Output size of the model, to recognise its classifier head.
    reinit_head : bool, default False
        When the head's shapes differ (pretrained on another label set), keep the model's
        freshly initialised head instead of failing.

    Returns
    -------
    dict
        ``{"skipped_head": [...keys kept at their initialisation]}``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    WeightsMismatchError
        Missing, unexpected or shape-mismatched keys; the message lists each group.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {str(path)!r} does not exist; pass a local file to --weights "
            "(nothing is downloaded)"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise WeightsMismatchError(f"{path}: expected a state dict, got {type(state).__name__}")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(
        k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape)
    )
    skipped: list[str] = []
    if reinit_head and mismatched:
        head = _head_keys(model, num_classes)
        skipped = [k for k in mismatched if k in head]
        mismatched = [k for k in mismatched if k not in head]
    if missing or unexpected or mismatched:
        lines = [f"weights file {str(path)!r} does not fit the model:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {', '.join(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
        for k in mismatched:
            lines.append(
                f"  shape mismatch {k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
            )
        if mismatched and not reinit_head:
            lines.append("  (a different classifier head? pass reinit_head=True to re-initialise it)")
        raise WeightsMismatchError("\n".join(lines))
    for k in skipped:
        state[k] = own[k]
    model.load_state_dict(state, strict=True)
    return {"skipped_head": skipped}
