"""``SnippetClassifier``: a small 3D CNN trained on snippets to tell the classes from background.

The per-snippet network both deep detectors stand on. It is a registered model of
:mod:`deep.models` (a ``_small`` preset) with ``n_classes + 1`` outputs, the last one
*background*, trained with the cross-entropy on the soft snippet targets of
:func:`deep.detection.snippets.snippet_targets` (one snippet per cell of every training video
per epoch, with the augmentation of :class:`~deep.detection.snippets.TrainSnippets`). At test
it gives, for every cell of a video, the class probabilities (softmax over the ``n_classes +
1`` outputs) and the features the classifier layer reads (the input of the model's ``fc``),
which the ActionFormer head takes as its input sequence.

Training reuses the recognition track's pieces: :func:`deep.budget.resolve_budget` (epochs
bounded in steps), AdamW without decay on biases and norms with a linear warm-up and cosine
schedule (:mod:`deep.training_loop`), gradient clipping, ``channels_last_3d`` memory for 3D
convolutions, deterministic kernels on the CPU, and the resumable per-epoch
:class:`deep.checkpoint.Checkpoint`. There is no validation split and no early stopping: the
budget decides, and the last epoch is kept (a detection training fold has few videos; held-out
snippets of the same videos would not be independent of the training ones).

Sharing: with a ``cache_dir``, the checkpoint lives under
``<cache_dir>/detection-backbones/<fingerprint>/``, the fingerprint covering the parameters,
the device type, every video's path, size and modification time and the segments, so a second
detector fitted on the same fold with the same backbone parameters (the TAG and ActionFormer
detectors of one run) loads the finished backbone instead of training it again. Without a
``cache_dir`` the checkpoint goes to ``work_dir`` (per unit, for resuming) when there is one.

References
----------
Zhao, Y., Xiong, Y., Wang, L., Wu, Z., Tang, X., Lin, D. (2017). Temporal action detection
with structured segment networks. ICCV. arXiv:1704.06228.
Tran, D. et al. (2018). A closer look at spatiotemporal convolutions for action recognition.
CVPR. arXiv:1711.11248.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch import nn
from torch.utils.data import DataLoader

from bench.data.video import file_identity
from bench.device import resolve_device
from bench.methods import VideoFailure
from deep import distributed
from deep.budget import resolve_budget
from deep.cache import ClipCache
from deep.checkpoint import Checkpoint
from deep.detection._inputs import DecodedVideo, check_videos, decode_videos, segments_by_video
from deep.detection.snippets import MODALITIES, GridSnippets, TrainSnippets
from deep.training_loop import (
    build_optimizer,
    cosine_with_warmup,
    deterministic_algorithms,
    epoch_loader,
    train_one_epoch,
)

__all__ = ["SnippetClassifier", "SnippetOutputs"]

#: ``(probs (n_cells, n_classes + 1), features (n_cells, feature_dim))`` of one video.
SnippetOutputs = tuple[np.ndarray, np.ndarray]
_NOT_IN_FINGERPRINT = ("progress", "cache_dir", "work_dir", "num_workers", "device")


class SnippetClassifier(BaseEstimator):
    """Snippet classifier over ``n_classes`` actions and background.

    Parameters
    ----------
    model : str, default "r3d_18_small"
        A model of :func:`deep.models.list_models` whose last layer is a linear ``fc``.
    model_overrides : dict, optional
        Keyword overrides for ``create_model``.
    n_classes : int, optional
        Action classes (default: largest training label + 1).
    clip_len, frame_interval : int, default 8, 2
        Frames per snippet and the interval between them.
    stride : int, default 4
        Frames per cell: one snippet per ``stride`` frames.
    short_side : int, default 48
        Short side of the decoded frames (the whole frame is the input).
    modality : {"diff", "rgb"}, default "diff"
        The RGB difference of consecutive frames, or the frames
        (:func:`deep.detection.snippets.snippet_clip`). From scratch on a few training videos,
        a network on frames learns the look of the training scenes and actors and its
        actionness does not carry over to held-out actors; on differences it does
        (measurements: docs/deep-detection.md).
    pool : {"avg", "max"}, default "avg"
        The global pooling before the classifier of a model with an ``avgpool`` layer (the
        video ResNets): the model's average, or the maximum over time and space, which does
        not dilute a small actor in a wide frame.
    scale : (float, float), default (0.7, 1.0)
        Area range of the training crop.
    allow_flip : bool, default True
    epochs : int, default 4
        Passes over every cell of every training video; bounded by the steps below.
    min_steps, max_steps : int, optional
    batch_size : int, default 32
    lr, weight_decay : float, default 2e-3, 0.05
    warmup_epochs : float, default 0.5
    label_smoothing : float, default 0.0
    grad_clip : float or None, default 1.0
    device : str, default "auto"
    num_workers : int, default 0
    deterministic : bool or None, default None
        Deterministic kernels; None: on the CPU only.
    random_state : int, default 0
    progress : bool, default False
    cache_dir, work_dir : path-like, optional
        Decoded-frame cache and shared backbone checkpoints; per-unit checkpoints.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network, in eval mode, on ``device_``.
    n_classes_ : int
    history_ : list of dict
        Per epoch ``epoch, train_loss, lr, clips_per_s``.
    budget_ : dict
        The resolved :class:`deep.budget.Budget`.
    n_params_ : int
    failures_ : list of VideoFailure
    """

    def __init__(self, model: str = "r3d_18_small", model_overrides: dict | None = None,
                 n_classes: int | None = None, clip_len: int = 8, frame_interval: int = 2,
                 stride: int = 4, short_side: int = 48, modality: str = "diff",
                 pool: str = "avg",
                 scale: tuple[float, float] = (0.7, 1.0),
                 allow_flip: bool = True, epochs: int = 4, min_steps: int | None = None,
                 max_steps: int | None = None, batch_size: int = 32, lr: float = 2e-3,
                 weight_decay: float = 0.05, warmup_epochs: float = 0.5,
                 label_smoothing: float = 0.0, grad_clip: float | None = 1.0,
                 device: str = "auto", num_workers: int = 0, deterministic: bool | None = None,
                 random_state: int = 0, progress: bool = False,
                 cache_dir: str | os.PathLike | None = None,
                 work_dir: str | os.PathLike | None = None):
        self.model = model
        self.model_overrides = model_overrides
        self.n_classes = n_classes
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.stride = stride
        self.short_side = short_side
        self.modality = modality
        self.pool = pool
        self.scale = scale
        self.allow_flip = allow_flip
        self.epochs = epochs
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.label_smoothing = label_smoothing
        self.grad_clip = grad_clip
        self.device = device
        self.num_workers = num_workers
        self.deterministic = deterministic
        self.random_state = random_state
        self.progress = progress
        self.cache_dir = cache_dir
        self.work_dir = work_dir

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"The {name!r} parameter of SnippetClassifier must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")

        for name in ("clip_len", "frame_interval", "stride", "short_side", "epochs",
                     "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise bad(name, "an int in [1, inf)")
        for name in ("min_steps", "max_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | np.integer) or value < 1):
                raise bad(name, "None or an int in [1, inf)")
        if not (isinstance(self.lr, float | int) and self.lr > 0):
            raise bad("lr", "a float in (0, inf)")
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise bad("scale", "a pair (low, high) with 0 < low <= high <= 1")
        if not 0 <= self.label_smoothing < 1:
            raise bad("label_smoothing", "a float in [0, 1)")
        if self.modality not in MODALITIES:
            raise bad("modality", f"one of {MODALITIES}")
        if self.pool not in ("avg", "max"):
            raise bad("pool", "'avg' or 'max'")

    def make_cache(self) -> ClipCache:
        """The decoded-frame cache of these parameters."""
        return ClipCache(self.cache_dir, short_side=int(self.short_side))

    def decode(self, videos, failures: list[VideoFailure], what: str) -> list[DecodedVideo | None]:
        """Decode ``videos`` once each with this backbone's grid (failures appended)."""
        return decode_videos(self.make_cache(), list(videos), stride=int(self.stride),
                             clip_len=int(self.clip_len), interval=int(self.frame_interval),
                             failures=failures, progress=self.progress, what=what)

    def _fingerprint(self, decoded: list[DecodedVideo], segments: list[np.ndarray],
                     device: torch.device) -> str:
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k not in _NOT_IN_FINGERPRINT}
        videos = [[v.path, *file_identity(v.path)] for v in decoded]
        blob = json.dumps([params, device.type, videos, [s.tolist() for s in segments]],
                          default=str, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _checkpoint_dir(self, fingerprint: str) -> Path | None:
        if self.cache_dir is not None:
            return Path(self.cache_dir) / "detection-backbones" / fingerprint[:24]
        if self.work_dir is not None:
            return Path(self.work_dir) / "snippet-backbone"
        return None

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device_.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_device(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device_, non_blocking=True)
        if self.channels_last_:
            batch = batch.contiguous(memory_format=torch.channels_last_3d)
        return batch

    # ------------------------------------------------------------------ fit
    def fit(self, videos, segments: pd.DataFrame, groups=None) -> SnippetClassifier:
        """Train on every cell of ``videos`` (protocol inputs; ``groups`` is not read)."""
        videos = check_videos(videos, "SnippetClassifier.fit")
        per_video, n_classes = segments_by_video(videos, segments, self.n_classes,
                                                 "SnippetClassifier.fit")
        self.failures_ = []
        decoded = self.decode(videos, self.failures_, "train")
        return self.fit_decoded(decoded, per_video, n_classes)

    def fit_decoded(self, decoded: list[DecodedVideo | None], segments: list[np.ndarray],
                    n_classes: int) -> SnippetClassifier:
        """Train on decoded videos (None entries, the failures, are skipped).

        Parameters
        ----------
        decoded : list of DecodedVideo or None
        segments : list of numpy.ndarray
            Per entry of ``decoded``, ``(m, 3)``: ``t_start, t_end, label``.
        n_classes : int
        """
        self._check_params()
        if not hasattr(self, "failures_"):
            self.failures_ = []
        keep = [i for i, d in enumerate(decoded) if d is not None]
        if not keep:
            raise ValueError("no training video could be decoded; see failures_ for the reasons.")
        decoded = [decoded[i] for i in keep]
        segments = [np.asarray(segments[i], dtype=np.float64).reshape(-1, 3) for i in keep]
        self.start_training(n_classes)
        with deterministic_algorithms(self.deterministic_):
            self._train(decoded, segments)
        return self

    def _init_model(self) -> nn.Module:
        from deep.models import create_model

        torch.manual_seed(int(self.random_state))
        model = create_model(self.model, self.n_classes_ + 1, **(self.model_overrides or {}))
        if not isinstance(getattr(model, "fc", None), nn.Linear):
            raise ValueError(f"The 'model' parameter of SnippetClassifier must name a model "
                             f"whose last layer is a linear 'fc' (its input is the snippet "
                             f"feature). {self.model!r} has none.")
        if self.pool == "max":
            if not isinstance(getattr(model, "avgpool", None), nn.AdaptiveAvgPool3d):
                raise ValueError(f"pool='max' needs a model with an 'avgpool' layer (the video "
                                 f"ResNets); {self.model!r} has none. Use pool='avg'.")
            model.avgpool = nn.AdaptiveMaxPool3d(1)
        model.to(self.device_)
        self.channels_last_ = any(isinstance(m, nn.Conv3d) for m in model.modules())
        if self.channels_last_:
            model = model.to(memory_format=torch.channels_last_3d)
        self.feature_dim_ = int(model.fc.in_features)
        return model

    def _train(self, decoded: list[DecodedVideo], segments: list[np.ndarray]) -> None:
        frames = _FrameList(decoded)
        train_set = TrainSnippets(frames, [d.path for d in decoded], [d.grid for d in decoded],
                                  segments, self.n_classes_, int(self.random_state),
                                  tuple(self.scale), bool(self.allow_flip), self.modality)
        criterion = nn.CrossEntropyLoss(label_smoothing=float(self.label_smoothing))
        fingerprint = self._fingerprint(decoded, segments, self.device_)
        self.train_network(train_set, criterion, fingerprint, self._checkpoint_dir(fingerprint),
                           "snippets")

    def start_training(self, n_classes: int) -> None:
        """Resolve the device and the kernels for a training run over ``n_classes`` classes.

        :meth:`fit_decoded` calls it; a detector that trains this network on its own samples
        (:class:`deep.detection.segment_cnn.SegmentCNNDetector`) calls it before
        :meth:`train_network`, inside ``deterministic_algorithms(self.deterministic_)``.
        """
        self._check_params()
        self.n_classes_ = int(n_classes)
        self.device_ = torch.device(resolve_device(self.device))
        self.deterministic_ = (self.device_.type == "cpu" if self.deterministic is None
                               else bool(self.deterministic))

    def train_network(self, train_set, criterion: nn.Module, fingerprint: str,
                      checkpoint_dir: Path | None, what: str) -> None:
        """Train a fresh network on ``train_set`` under this classifier's budget.

        Parameters
        ----------
        train_set : torch.utils.data.Dataset
            ``(clip, target)`` items with an ``epoch`` attribute set before each epoch.
        criterion : torch.nn.Module
            ``criterion(logits, targets)``: the loss of a batch.
        fingerprint : str
            What the checkpoint must match to be resumed.
        checkpoint_dir : pathlib.Path or None
            Where the per-epoch checkpoint lives (None: no checkpoint).
        what : str
            The progress bar's title (``"snippets"``).

        Sets ``model_`` (eval mode), ``history_``, ``budget_``. Under ``torchrun``
        (:mod:`deep.distributed`) the model trains inside DistributedDataParallel on a
        per-rank shard of each epoch (the budget counts the shard), and only rank 0 writes the
        checkpoint, as the recognition track does.
        """
        model = self._init_model()
        net = distributed.wrap_model(model, self.device_)
        info = distributed.current()
        seed = int(self.random_state)
        sampler = distributed.make_sampler(train_set, shuffle=True, seed=seed)
        per_rank = math.ceil(len(train_set) / info.world_size)
        budget = resolve_budget(per_rank, int(self.batch_size), int(self.epochs),
                                min_steps=self.min_steps, max_steps=self.max_steps,
                                warmup_epochs=float(self.warmup_epochs))
        opt = build_optimizer(model, "adamw", lr=float(self.lr),
                              weight_decay=float(self.weight_decay), momentum=0.9)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, cosine_with_warmup(budget.warmup_steps, budget.steps))
        scaler = torch.amp.GradScaler("cuda", enabled=False)
        checkpoint = Checkpoint(checkpoint_dir, fingerprint)
        self.history_, epoch = [], 0
        resumed = checkpoint.resume(model, opt, sched, scaler)
        if resumed is not None:
            self.history_, state = resumed
            epoch = int(state["epoch"])
        while epoch < budget.epochs:
            train_set.epoch = epoch
            if sampler is not None:
                sampler.set_epoch(epoch)
            loader = epoch_loader(train_set, seed=seed, epoch=epoch,
                                  batch_size=int(self.batch_size),
                                  num_workers=int(self.num_workers),
                                  pin_memory=self.device_.type == "cuda", sampler=sampler)
            desc = (f"{what} {epoch + 1}/{budget.epochs}" if self.progress and info.rank == 0
                    else None)
            record = train_one_epoch(net, model, loader, optimizer=opt, scheduler=sched,
                                     scaler=scaler, criterion=criterion,
                                     grad_clip=self.grad_clip, prepare=self._to_device,
                                     autocast=self._autocast, device=self.device_, desc=desc)
            self.history_.append({"epoch": epoch + 1, **record})
            epoch += 1
            checkpoint.save(model, opt, sched, scaler, history=self.history_,
                            state={"epoch": epoch}, final=epoch >= budget.epochs)
        self.budget_ = {**budget.to_dict(), "min_steps": self.min_steps,
                        "max_steps": self.max_steps, "validation": False,
                        "resumed": resumed is not None}
        self.model_ = model.eval()
        self.n_params_ = int(sum(p.numel() for p in self.model_.parameters()))

    def clip_outputs(self, clips, batch_size: int | None = None) -> SnippetOutputs:
        """Class probabilities and ``fc`` input features of a dataset of clips, in order."""
        if not hasattr(self, "model_"):
            raise RuntimeError("This SnippetClassifier is not fitted yet; call fit first.")
        loader = DataLoader(clips, batch_size=int(batch_size or 2 * self.batch_size),
                            shuffle=False)
        captured: list[torch.Tensor] = []
        hook = self.model_.fc.register_forward_hook(
            lambda _m, args, _out: captured.append(args[0].detach().float().cpu()))
        probs = []
        try:
            with deterministic_algorithms(self.deterministic_), torch.inference_mode():
                for batch in loader:
                    with self._autocast():
                        logits = self.model_(self._to_device(batch))
                    probs.append(torch.softmax(logits.float(), dim=1).cpu())
        finally:
            hook.remove()
        if not probs:
            return (np.zeros((0, self.n_classes_ + 1)),
                    np.zeros((0, self.feature_dim_), dtype=np.float32))
        return (torch.cat(probs).numpy().astype(np.float64),
                torch.cat(captured).numpy().astype(np.float32))

    # ------------------------------------------------------------------ outputs
    def snippet_outputs(self, video: DecodedVideo, batch_size: int | None = None
                        ) -> SnippetOutputs:
        """Class probabilities and features of every cell of one decoded video.

        Returns
        -------
        probs : numpy.ndarray, shape (n_cells, n_classes + 1)
            Softmax over the classes and background (last column).
        features : numpy.ndarray, shape (n_cells, feature_dim)
            The input of the model's ``fc`` layer (float32).
        """
        return self.clip_outputs(GridSnippets(video.frames, video.grid, self.modality),
                                 batch_size)

    def predict_snippets(self, videos) -> list[SnippetOutputs | None]:
        """:meth:`snippet_outputs` of each video (None, and a failure, where it fails)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("This SnippetClassifier is not fitted yet; call fit first.")
        videos = check_videos(videos, "SnippetClassifier.predict_snippets")
        decoded = self.decode(videos, self.failures_, "test")
        return [None if d is None else self.snippet_outputs(d) for d in decoded]


class _FrameList:
    """The ``cache.get(path)`` of :class:`TrainSnippets` over frames already decoded."""

    def __init__(self, decoded: list[DecodedVideo]):
        self._frames = {d.path: d.frames for d in decoded}

    def get(self, path: str) -> np.ndarray:
        return self._frames[path]
