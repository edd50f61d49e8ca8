"""The per-epoch training checkpoint of :class:`deep.train.VideoClassifier`, for resuming.

A long training run can be interrupted (a killed job, a pre-empted machine). After an epoch
the estimator writes ``checkpoint_last.pt`` into its ``work_dir`` (after the first epoch, then
at most every :data:`MIN_INTERVAL_S` seconds, and after the last: a small dataset runs
hundreds of two-step epochs, where a write per epoch would cost more than the epoch): the
model, optimizer, scheduler and gradient-scaler states, the global torch RNG state, the
history so far and the loop's state (the epoch count and the :class:`deep.early_stopping.EarlyStopping` state). A
later ``fit`` with the same data and parameters resumes from it and ends with the same weights
as an uninterrupted run. The file is written atomically (:func:`bench.atomic.atomic_path`),
so an interruption while writing leaves the previous checkpoint intact, and by rank 0 only
under data-parallel training.

A checkpoint records a fingerprint of the data and parameters it was written for; one with
another fingerprint is ignored with a warning (and overwritten), never resumed.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.atomic import atomic_path
from deep import distributed

__all__ = ["CHECKPOINT_NAME", "Checkpoint"]

#: File name of the checkpoint inside ``work_dir``.
CHECKPOINT_NAME = "checkpoint_last.pt"
#: Seconds between two checkpoint writes (the last epoch's is always written).
MIN_INTERVAL_S = 30.0


class Checkpoint:
    """Save and restore the training state of one run in ``work_dir``.

    Parameters
    ----------
    work_dir : path-like or None
        Folder of the checkpoint; None disables checkpointing (``load`` finds nothing,
        ``save`` writes nothing).
    fingerprint : str
        Digest of the data and parameters of the run; a checkpoint resumes only a run with
        the same fingerprint.

    Attributes
    ----------
    path : pathlib.Path or None
        ``work_dir / CHECKPOINT_NAME``.
    """

    def __init__(self, work_dir: str | os.PathLike | None, fingerprint: str):
        self.path = Path(work_dir) / CHECKPOINT_NAME if work_dir is not None else None
        self.fingerprint = fingerprint
        self._last_save = -math.inf

    def load(self) -> dict[str, Any] | None:
        """The stored checkpoint of this run, or None (no file, or written for another run).

        Read with ``torch.load(..., weights_only=True)``: no pickled code runs.
        """
        if self.path is None or not self.path.is_file():
            return None
        ckpt = torch.load(self.path, map_location="cpu", weights_only=True)
        if ckpt.get("fingerprint") != self.fingerprint:
            # stacklevel 5: load <- resume <- VideoClassifier._train <- fit <- the caller of fit
            warnings.warn(
                f"checkpoint {self.path} was written for other data or parameters; "
                "training from scratch (it will be overwritten)", stacklevel=5)
            return None
        return ckpt

    def resume(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
               scaler: torch.amp.GradScaler) -> tuple[list[dict], dict[str, Any]] | None:
        """Load the stored states into the given objects and the global torch RNG.

        Returns
        -------
        (history, state) or None
            The per-epoch records and the loop state (``epoch`` plus the early-stopping
            state) stored with the checkpoint; None when there is nothing to resume, in
            which case nothing was changed.
        """
        ckpt = self.load()
        if ckpt is None:
            return None
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["torch_rng"])
        return list(ckpt["history"]), dict(ckpt["state"])

    def save(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
             scaler: torch.amp.GradScaler, *, history: list[dict],
             state: dict[str, Any], final: bool = True) -> None:
        """Write the checkpoint of the epoch just finished (rank 0 only, atomically).

        ``state`` is the loop state: ``{"epoch": epochs done, **EarlyStopping.state_dict()}``.
        With ``final=False`` the write is skipped when the last one is less than
        :data:`MIN_INTERVAL_S` seconds old.
        """
        if self.path is None or not distributed.is_main_process():
            return
        now = time.monotonic()
        if not final and now - self._last_save < MIN_INTERVAL_S:
            return
        self._last_save = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "fingerprint": self.fingerprint,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": history,
            "state": state,
        }
        with atomic_path(self.path) as tmp:
            torch.save(payload, tmp)
