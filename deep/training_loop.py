"""The pieces of :class:`deep.train.VideoClassifier`'s training: data, optimiser, one epoch.

* :class:`TrainClips` and :class:`ViewClips`, the datasets: one random clip per (video,
  repeat) drawn from a generator seeded by ``(seed, epoch, index)``, so a clip does not
  depend on the number of DataLoader workers; all test views of a video at once;
* :func:`epoch_loader`, whose shuffling generator is seeded by ``(seed, epoch)``, so an epoch's
  order does not depend on what ran before it (a resumed run sees the same batches);
* :func:`build_optimizer` (AdamW or Nesterov SGD, no weight decay on biases and norms) and
  :func:`cosine_with_warmup`, the per-step learning-rate factor;
* :func:`train_one_epoch`: forward under autocast, backward through the gradient scaler,
  gradient-norm clipping, optimizer and scheduler steps;
* :func:`predict_views` and :func:`validation_score`: the log of the view-averaged softmax,
  and the ``[accuracy, loss]`` that early stopping compares.

:func:`deterministic_algorithms` switches torch to deterministic kernels around fit and predict.

The functions take the model, device transfer and autocast context as arguments and keep no
state of their own; the estimator owns the objects and their order of use.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from deep.clips import ClipSpec, sample_test_views, sample_train_clip

__all__ = [
    "deterministic_algorithms",
    "TrainClips",
    "ViewClips",
    "seed_worker",
    "epoch_loader",
    "build_optimizer",
    "cosine_with_warmup",
    "train_one_epoch",
    "predict_views",
    "validation_score",
]

#: ``batch -> batch on the device`` (in the model's memory format).
Prepare = Callable[[torch.Tensor], torch.Tensor]
#: ``() -> context manager`` of the forward pass (autocast or nothing).
Autocast = Callable[[], contextlib.AbstractContextManager]


# ------------------------------------------------------------------------ determinism
@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """Deterministic kernels inside the block (on CUDA also no cuDNN autotuning).

    cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` for reproducible results; it is set to
    ``:4096:8`` when the user has not set it (it must be set before cuBLAS starts, i.e.
    before the first CUDA matrix product of the process).
    """
    previous = torch.are_deterministic_algorithms_enabled()
    previous_benchmark = torch.backends.cudnn.benchmark
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(enabled)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.backends.cudnn.benchmark = previous_benchmark


# -------------------------------------------------------------------------- datasets
class TrainClips(Dataset):
    """Training clips: one random clip per (video, repeat), seeded by (seed, epoch, index).

    Set :attr:`epoch` before each epoch's loader is iterated.
    """

    def __init__(self, cache, paths: Sequence[str], labels, spec: ClipSpec, allow_flip: bool,
                 seed: int, repeats: int):
        self.cache, self.paths, self.labels = cache, list(paths), np.asarray(labels)
        self.spec, self.allow_flip, self.seed, self.repeats = spec, allow_flip, seed, repeats
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.paths) * self.repeats

    def __getitem__(self, item: int):
        video = item % len(self.paths)
        rng = np.random.default_rng([self.seed, self.epoch, item])
        frames = self.cache.get(self.paths[video])
        clip, _ = sample_train_clip(frames, self.spec, rng, self.allow_flip)
        return torch.from_numpy(clip), int(self.labels[video])


class ViewClips(Dataset):
    """All test views of each video: ``(views, 3, T, S, S)``."""

    def __init__(self, cache, paths: Sequence[str], spec: ClipSpec):
        self.cache, self.paths, self.spec = cache, list(paths), spec

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: int):
        return torch.from_numpy(sample_test_views(self.cache.get(self.paths[item]), self.spec))


def seed_worker(worker_id: int) -> None:
    """Seed a DataLoader worker's legacy NumPy RNG from its (seeded) torch seed.

    Our clips draw from per-item generators, so this only protects third-party code that
    uses the global NumPy RNG inside a worker.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)  # noqa: NPY002 - seeding the legacy global RNG is the point


def epoch_loader(dataset: Dataset, *, seed: int, epoch: int, batch_size: int,
                 num_workers: int, pin_memory: bool, sampler: Sampler | None = None
                 ) -> DataLoader:
    """The shuffled loader of one training epoch.

    Its generator is seeded by ``seed * 100_003 + epoch``; with a distributed ``sampler``
    the sampler shuffles instead (seeded by the caller, ``set_epoch`` per epoch).
    """
    generator = torch.Generator().manual_seed(int(seed) * 100_003 + epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=seed_worker if num_workers else None,
        generator=generator,
        pin_memory=pin_memory,
        drop_last=False,
    )


# ------------------------------------------------------------------ optimiser, schedule
def build_optimizer(model: nn.Module, name: str, *, lr: float, weight_decay: float,
                    momentum: float) -> torch.optim.Optimizer:
    """AdamW (``name="adamw"``) or Nesterov SGD over the trainable parameters of ``model``.

    Weight decay applies to weight matrices and kernels only: biases and normalisation
    scales (``ndim <= 1``) form a second group without decay, as is usual for these models.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=True)


def cosine_with_warmup(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Learning-rate factor of step ``step``: linear warm-up to 1, then a cosine decay to 0.

    For :class:`torch.optim.lr_scheduler.LambdaLR`, stepped once per batch.
    """

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


# ------------------------------------------------------------------------- one epoch
def train_one_epoch(net: nn.Module, model: nn.Module, loader: DataLoader, *,
                    optimizer: torch.optim.Optimizer, scheduler: Any,
                    scaler: torch.amp.GradScaler, criterion: nn.Module,
                    grad_clip: float | None, prepare: Prepare, autocast: Autocast,
                    device: torch.device, desc: str | None = None) -> dict[str, float]:
    """Train ``net`` for one pass over ``loader``.

    Parameters
    ----------
    net : torch.nn.Module
        The model as trained: ``model`` itself, or its DistributedDataParallel wrapper.
    model : torch.nn.Module
        The bare model, whose parameters are clipped.
    loader : DataLoader
        Batches of ``(clips, labels)``.
    optimizer, scheduler, scaler, criterion
        Stepped once per batch (the scheduler too: the schedule is per step).
    grad_clip : float or None
        Maximal global gradient norm (after unscaling).
    prepare : callable
        Moves a batch of clips to the device in the model's memory format.
    autocast : callable
        Returns the context of the forward pass and loss.
    device : torch.device
        Where the labels go.
    desc : str, optional
        Show a progress bar with this title.

    Returns
    -------
    dict
        ``train_loss`` (mean over clips), ``lr`` (after the epoch's last step) and
        ``clips_per_s``.
    """
    net.train()
    total_loss, seen, t0 = 0.0, 0, time.perf_counter()
    bar = None
    if desc is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(loader), desc=desc, unit="batch", leave=False)
    for clips, labels in loader:
        clips, labels = prepare(clips), labels.to(device)
        with autocast():
            logits = net(clips)
            loss = criterion(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if grad_clip is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total_loss += float(loss.detach()) * len(labels)
        seen += len(labels)
        if bar is not None:
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", clips_s=f"{rate:.1f}")
            bar.update()
    if bar is not None:
        bar.close()
    return {"train_loss": total_loss / max(seen, 1),
            "lr": float(optimizer.param_groups[0]["lr"]),
            "clips_per_s": seen / max(time.perf_counter() - t0, 1e-9)}


# ---------------------------------------------------------------------------- testing
def predict_views(model: nn.Module, dataset: ViewClips, *, batch_videos: int, num_workers: int,
                  prepare: Prepare, autocast: Autocast, n_classes: int) -> np.ndarray:
    """Log of the view-averaged softmax probabilities, ``(n_videos, n_classes)`` float64.

    ``model`` is put in eval mode (a fitted estimator's model already is). Probabilities,
    not logits, are averaged over the views, as in the papers' multi-view testing; the log
    keeps the scores' ranking and makes ``exp`` of a row sum to 1.
    """
    loader = DataLoader(dataset, batch_size=batch_videos, shuffle=False,
                        num_workers=num_workers)
    model.eval()
    out = []
    with torch.inference_mode():
        for batch in loader:
            b, v = batch.shape[:2]
            clips = prepare(batch.flatten(0, 1))
            with autocast():
                logits = model(clips)
            logp = torch.log_softmax(logits.float(), dim=1).view(b, v, -1)
            probs = logp.exp().mean(dim=1)
            out.append(torch.log(probs.clamp_min(1e-30)).cpu().numpy())
    if not out:
        return np.zeros((0, n_classes))
    return np.concatenate(out).astype(np.float64)


def validation_score(logp: np.ndarray, y: np.ndarray) -> list[float]:
    """``[accuracy, mean negative log-likelihood]`` of log-probabilities ``logp`` for ``y``."""
    acc = float((logp.argmax(1) == y).mean())
    nll = float(-logp[np.arange(len(y)), y].mean())
    return [acc, nll]
