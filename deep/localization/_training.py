"""The localization networks' training: decoded inputs, keyframes, and a budgeted loop.

Both networks of :mod:`deep.localization` (the person detector and the RoI action head)
train on the *training keyframes*: the annotated ``(video, timestamp)`` pairs of the ground
truth, each with its actors' boxes and multi-hot action labels. :func:`training_keyframes`
builds them from the protocol's table; :func:`train_by_budget` runs AdamW with a linear
warm-up and cosine decay (:mod:`deep.training_loop`) for a budget in epochs bounded in steps
(:func:`deep.budget.resolve_budget`), with gradient-norm clipping, the loader of each epoch
seeded by ``(seed, epoch)`` and every item by ``(seed, epoch, item)``, so a seeded CPU fit is
deterministic. There is no validation split and no early stopping: a training fold has few
keyframes, and held-out frames of the same videos would not be independent of the training
ones (the snippet classifier of :mod:`deep.detection.backbone` does the same).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

from deep.budget import Budget, resolve_budget
from deep.training_loop import build_optimizer, cosine_with_warmup, epoch_loader

__all__ = ["Keyframe", "training_keyframes", "resize_frames", "train_by_budget"]


@dataclass
class Keyframe:
    """One annotated keyframe: the index of its decoded video, its frame and its actors.

    ``boxes`` are ``(m, 4)`` fractions of the frame, one row per actor; ``labels`` the
    ``(m, n_classes)`` multi-hot actions of each.
    """

    video: int
    frame: int
    timestamp: float
    boxes: np.ndarray
    labels: np.ndarray


def training_keyframes(decoded: list, table: pd.DataFrame, n_classes: int) -> list[Keyframe]:
    """The keyframes of the checked training table over the decoded videos (None skipped).

    The frame of a keyframe is the table's ``frame`` where it is known (>= 0), else the frame
    nearest ``timestamp`` (``round(t * fps)``), clamped to the decoded frames. One actor is
    one row of ``(person_id, box)`` (``person_id`` where the table has it), its labels the
    union of its rows' actions.
    """
    index = {d.path: i for i, d in enumerate(decoded) if d is not None}
    has_person = "person_id" in table.columns
    has_frame = "frame" in table.columns
    out: list[Keyframe] = []
    for (video, timestamp), rows in table.groupby(["video", "timestamp"], sort=True):
        if video not in index:
            continue
        d = decoded[index[video]]
        frame = int(rows["frame"].iloc[0]) if has_frame else -1
        if frame < 0:
            frame = int(round(float(timestamp) * d.grid.fps))
        frame = min(max(frame, 0), d.grid.n_frames - 1)
        keys = (["person_id"] if has_person else []) + ["x1", "y1", "x2", "y2"]
        actors = rows.groupby(keys, sort=True)
        boxes = np.zeros((actors.ngroups, 4))
        labels = np.zeros((actors.ngroups, n_classes), dtype=np.float32)
        for a, (_, actor) in enumerate(actors):
            boxes[a] = actor[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)[0]
            labels[a, actor["label"].to_numpy(dtype=int)] = 1.0
        out.append(Keyframe(index[video], frame, float(timestamp), boxes, labels))
    return out


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` frames resized to ``size = (H', W')`` (a view when they already are)."""
    height, width = size
    if frames.shape[1:3] == (height, width):
        return frames
    return np.stack([cv2.resize(np.ascontiguousarray(f), (width, height),
                                interpolation=cv2.INTER_LINEAR) for f in frames])


def train_by_budget(model: nn.Module, dataset, step_loss: Callable[[nn.Module, list], torch.Tensor],
                    *, epochs: int, batch_size: int, min_steps: int | None,
                    max_steps: int | None, lr: float, weight_decay: float,
                    warmup_epochs: float, grad_clip: float | None, seed: int,
                    device: torch.device, num_workers: int = 0,
                    desc: str | None = None) -> tuple[list[dict], Budget]:
    """Train ``model`` on ``dataset`` for the resolved budget; the per-epoch history.

    Parameters
    ----------
    model : torch.nn.Module
        On ``device``; left in eval mode.
    dataset : torch.utils.data.Dataset
        Items the default collate can stack, with an ``epoch`` attribute set before each epoch.
    step_loss : callable
        ``step_loss(model, batch) -> loss`` of one batch (moves it to the device itself).
    epochs, batch_size, min_steps, max_steps, warmup_epochs
        The budget (:func:`deep.budget.resolve_budget`).
    lr, weight_decay, grad_clip
        AdamW, no decay on biases and norms; ``grad_clip`` the largest gradient norm.
    seed : int
    device : torch.device
    num_workers : int
    desc : str, optional
        Show a progress bar with this title.

    Returns
    -------
    history : list of dict
        ``epoch, train_loss, lr, items_per_s`` per epoch.
    budget : deep.budget.Budget
    """
    budget = resolve_budget(len(dataset), int(batch_size), int(epochs), min_steps=min_steps,
                            max_steps=max_steps, warmup_epochs=float(warmup_epochs))
    opt = build_optimizer(model, "adamw", lr=float(lr), weight_decay=float(weight_decay),
                          momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, cosine_with_warmup(budget.warmup_steps, budget.steps))
    history = []
    bar = None
    if desc is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=budget.steps, desc=desc, unit="step", leave=False)
    for epoch in range(budget.epochs):
        dataset.epoch = epoch
        loader = epoch_loader(dataset, seed=seed, epoch=epoch, batch_size=int(batch_size),
                              num_workers=int(num_workers), pin_memory=device.type == "cuda")
        model.train()
        total, seen, t0 = 0.0, 0, time.perf_counter()
        for batch in loader:
            loss = step_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
            opt.step()
            sched.step()
            n = len(batch[0])
            total += float(loss.detach()) * n
            seen += n
            if bar is not None:
                bar.update()
        loss_mean = total / max(seen, 1)
        if not math.isfinite(loss_mean):
            raise FloatingPointError(f"the training loss became {loss_mean} in epoch "
                                     f"{epoch + 1}; lower lr (now {lr:g})")
        history.append({"epoch": epoch + 1, "train_loss": loss_mean,
                        "lr": float(opt.param_groups[0]["lr"]),
                        "items_per_s": seen / max(time.perf_counter() - t0, 1e-9)})
    if bar is not None:
        bar.close()
    model.eval()
    return history, budget
