"""The training budget of a fit, resolved from the recipe and the amount of training data.

A recipe states its budget as a number of passes (``epochs``) bounded in optimisation steps:
``min_steps`` is the floor that lets a small dataset train as long as a network needs (30
training videos at 16 clips per step are 2 steps per epoch, so 14 epochs would be 28 steps),
``max_steps`` the ceiling that keeps a large one from growing without bound. The steps are
rounded up to whole epochs, because validation, early stopping and checkpoints happen between
epochs.

The learning-rate schedule and the early-stopping patience keep their *shape* when the budget
is stretched or shrunk: the recipe's warm-up (``warmup_epochs``) and patience are read as
shares of its nominal ``epochs`` and applied to the resolved steps. Where no bound applies the
result is exactly the recipe's epochs, warm-up and patience.

References
----------
Goyal, P. et al. (2017). Accurate, large minibatch SGD: training ImageNet in 1 hour.
arXiv:1706.02677 (budgets and warm-up stated in iterations, scaled with the data).
Prechelt, L. (1998). Early stopping — but when? In *Neural Networks: Tricks of the Trade*,
Springer. doi:10.1007/3-540-49430-8_3.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Budget", "resolve_budget"]


@dataclass(frozen=True)
class Budget:
    """A resolved training budget (what ``VideoClassifier.budget_`` records).

    Attributes
    ----------
    epochs : int
        Epochs to train unless early stopping ends sooner.
    steps : int
        Optimisation steps over those epochs (``epochs * steps_per_epoch``).
    steps_per_epoch : int
    warmup_steps : int
        Linear warm-up steps of the learning-rate schedule (cosine decay over the rest).
    patience : int or None
        Epochs without validation improvement before early stopping.
    patience_steps : int or None
        The same patience in optimisation steps.
    bound : {"none", "min_steps", "max_steps"}
        Which bound decided the steps (``none``: the recipe's epochs did).
    """

    epochs: int
    steps: int
    steps_per_epoch: int
    warmup_steps: int
    patience: int | None
    patience_steps: int | None
    bound: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_budget(n_clips: int, batch_size: int, epochs: int, *,
                   min_steps: int | None = None, max_steps: int | None = None,
                   warmup_epochs: float = 1.0, patience: int | None = None) -> Budget:
    """The budget of a fit over ``n_clips`` training clips per epoch.

    Parameters
    ----------
    n_clips : int
        Training clips drawn per epoch (videos times clips per video, on this rank).
    batch_size : int
    epochs : int
        The recipe's nominal number of epochs.
    min_steps, max_steps : int, optional
        Bounds on the optimisation steps (None: unbounded on that side).
    warmup_epochs : float
        The recipe's warm-up, in nominal epochs.
    patience : int, optional
        The recipe's early-stopping patience, in nominal epochs.

    Returns
    -------
    Budget
    """
    if n_clips < 1 or batch_size < 1 or epochs < 1:
        raise ValueError(f"n_clips, batch_size and epochs must be >= 1; got {n_clips}, "
                         f"{batch_size}, {epochs}.")
    if min_steps is not None and max_steps is not None and min_steps > max_steps:
        raise ValueError(f"min_steps ({min_steps}) must not exceed max_steps ({max_steps}).")
    steps_per_epoch = math.ceil(n_clips / batch_size)
    steps, bound = epochs * steps_per_epoch, "none"
    if min_steps is not None and steps < min_steps:
        steps, bound = min_steps, "min_steps"
    elif max_steps is not None and steps > max_steps:
        steps, bound = max_steps, "max_steps"
    n_epochs = max(1, math.ceil(steps / steps_per_epoch))
    total = n_epochs * steps_per_epoch
    stretch = n_epochs / epochs
    warmup = min(total, int(round(warmup_epochs * stretch * steps_per_epoch)))
    # unbounded, stretch is 1 and the recipe's patience stands
    resolved_patience = None if patience is None else max(1, math.ceil(patience * stretch))
    return Budget(
        epochs=n_epochs, steps=total, steps_per_epoch=steps_per_epoch, warmup_steps=warmup,
        patience=resolved_patience,
        patience_steps=None if resolved_patience is None else resolved_patience * steps_per_epoch,
        bound=bound)
