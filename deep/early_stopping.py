"""Early stopping on a validation split: the split, the best score so far, patience.

:func:`validation_split` holds some training videos out (stratified, whole actors apart).
:class:`VideoClassifier` scores the held-out videos after every epoch and hands the score
to an :class:`EarlyStopping` tracker, which remembers the best epoch (and a CPU copy of its
weights) and says when ``patience`` epochs in a row have not improved on it. The tracker's
state goes into each checkpoint (:meth:`EarlyStopping.state_dict`), so a resumed run stops
at the same epoch and keeps the same weights as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["EarlyStopping", "improves", "validation_split"]


def improves(score: list[float], best: list[float] | None, min_delta: float = 1e-4) -> bool:
    """Whether a validation ``[accuracy, loss]`` beats ``best``.

    Higher accuracy wins; at the same accuracy, a loss lower by more than ``min_delta``.
    Accuracy comes first because it is the benchmark's metric; the loss breaks the ties that
    a small validation split makes frequent.
    """
    if best is None:
        return True
    return score[0] > best[0] or (score[0] == best[0] and score[1] < best[1] - min_delta)


class EarlyStopping:
    """Track the best validation epoch and decide when to stop.

    Parameters
    ----------
    patience : int or None
        Stop after this many epochs in a row without improvement; None never stops (the best
        epoch's weights are still kept).
    min_delta : float, default 1e-4
        Loss margin of :func:`improves` at equal accuracy.

    Attributes
    ----------
    best_score : list of float or None
        ``[accuracy, loss]`` of the best epoch so far.
    best_epoch : int
        1-based number of that epoch (0 before any).
    best_model : dict or None
        CPU copy of the model's state dict at that epoch.
    bad_epochs : int
        Epochs since the last improvement.
    stopped : bool
        Whether ``patience`` ran out.
    """

    #: The keys of :meth:`state_dict`, as stored in checkpoints.
    STATE_KEYS = ("best_score", "best_epoch", "best_model", "bad_epochs", "stopped")

    def __init__(self, patience: int | None, min_delta: float = 1e-4):
        self.patience = patience
        self.min_delta = min_delta
        self.best_score: list[float] | None = None
        self.best_epoch = 0
        self.best_model: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.stopped = False

    def update(self, score: list[float], epoch: int, model: nn.Module) -> bool:
        """Record the validation ``score`` of ``epoch`` (1-based) for ``model``.

        Returns
        -------
        bool
            Whether the epoch is the new best (its weights were copied).
        """
        if improves(score, self.best_score, self.min_delta):
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
            self.best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            return True
        self.bad_epochs += 1
        if self.patience is not None and self.bad_epochs >= self.patience:
            self.stopped = True
        return False

    def restore_best(self, model: nn.Module) -> None:
        """Load the best epoch's weights into ``model`` (nothing when there was no validation)."""
        if self.best_model is not None:
            model.load_state_dict(self.best_model)

    def state_dict(self) -> dict[str, Any]:
        """The tracker's state, for a checkpoint (plain values and CPU tensors only)."""
        return {key: getattr(self, key) for key in self.STATE_KEYS}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict` (extra keys are ignored)."""
        for key in self.STATE_KEYS:
            setattr(self, key, state[key])


def validation_split(
    y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int, min_size: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` of the videos trained on and held out for early stopping.

    The split is stratified by label and, when ``groups`` (actors) are given, keeps each group
    on one side, as the benchmark's folds do, so that validation measures generalisation to
    unseen actors. No validation split (``val`` empty) when ``fraction`` is 0, when a class
    has a single video, when (without groups) the share is too small to hold every class, or
    when the splitter fails. With groups, at least one whole group is held out however small
    the share: on 8 training actors and ``fraction=0.1``, one actor.

    A held-out split of fewer than ``min_size`` videos is not made either, and its videos are
    trained on: its accuracy moves in steps of at least ``1 / len(val)``, and on a handful of
    videos one video's flip decides the "best" epoch and the stop (Prechelt 1998 assumes a
    validation error that is a usable estimate of the generalisation error).

    Parameters
    ----------
    y : numpy.ndarray of int
    groups : numpy.ndarray or None
    fraction : float
        Share of videos held out (with groups: about ``1 / round(1 / fraction)`` of them).
    seed : int
        Seed of the splitter's shuffle.
    min_size : int, default 1
        Fewest held-out videos worth validating on.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

    everything = np.arange(len(y))
    counts = np.bincount(y)
    present = int((counts > 0).sum())
    grouped = groups is not None and len(np.unique(groups)) >= 2
    # Without groups, the share must hold a video of every class; with groups, one held-out
    # group does (a small dataset of one clip per class and actor holds out one actor).
    if fraction <= 0 or counts[counts > 0].min() < 2 or (not grouped and
                                                          len(y) * fraction < present):
        return everything, everything[:0]
    try:
        if grouped:
            n_splits = max(2, int(round(1 / fraction)))
            n_splits = min(n_splits, len(np.unique(groups)))
            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            train, val = next(splitter.split(everything, y, groups))
        else:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
            train, val = next(splitter.split(everything, y))
    except ValueError:
        return everything, everything[:0]
    if len(train) == 0 or len(val) < max(1, min_size):
        return everything, everything[:0]
    return np.sort(train), np.sort(val)
