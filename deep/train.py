"""``VideoClassifier``: train and evaluate a video network as an sklearn-style estimator.

The estimator takes absolute video paths and integer labels, like every method of the
benchmark (``fit(paths, y) -> self``, ``decision_function(paths) -> (n, C)``). Inside it:

1. decodes each video once into the :class:`deep.cache.ClipCache` (a video that fails becomes
   a :class:`bench.methods.VideoFailure` with ``stage="decode"`` and leaves training);
2. carves a validation split out of the training videos (stratified; grouped by actor when
   ``groups`` are given) for early stopping;
3. trains with AdamW (or SGD with momentum), a linear warm-up then cosine schedule per step,
   label smoothing, gradient-norm clipping, mixed precision (bf16 autocast on CPU on request;
   bf16, or fp16 with a gradient scaler, on CUDA), ``channels_last_3d`` memory for 3D CNNs;
4. writes a checkpoint per epoch (model, optimizer, scheduler, epoch, RNG state, early-stopping
   state) into ``work_dir`` and resumes from it when one is there;
5. tests on ``test_clips × test_crops`` views per video and averages their softmax
   probabilities; ``decision_function`` returns the **log** of those averaged probabilities.

Determinism: on CPU, ``deterministic=True`` (the default there) turns on
``torch.use_deterministic_algorithms`` during fit and predict, seeds the model initialisation,
draws each training clip from a generator seeded by ``(random_state, epoch, video index)``
(so results do not depend on the number of DataLoader workers) and orders each epoch with a
generator seeded by ``(random_state, epoch)``: the same seed gives the same scores. CUDA
kernels (cuDNN convolutions, atomics in backward) may be nondeterministic; ``deterministic``
defaults to False there; switched on, it turns off cuDNN autotuning and sets
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` unless it is set (before the first CUDA matrix product).

References
----------
Loshchilov, I., Hutter, F. (2019). Decoupled weight decay regularization (AdamW). ICLR.
arXiv:1711.05101.
Loshchilov, I., Hutter, F. (2017). SGDR: stochastic gradient descent with warm restarts
(cosine schedule). ICLR. arXiv:1608.03983.
Goyal, P. et al. (2017). Accurate, large minibatch SGD: training ImageNet in 1 hour (linear
warm-up). arXiv:1706.02677.
Szegedy, C. et al. (2016). Rethinking the Inception architecture (label smoothing). CVPR.
arXiv:1512.00567.
Micikevicius, P. et al. (2018). Mixed precision training. ICLR. arXiv:1710.03740.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from bench.atomic import atomic_path
from bench.device import resolve_device
from bench.methods import VideoFailure
from deep import distributed
from deep.cache import ClipCache
from deep.clips import ClipSpec, sample_test_views, sample_train_clip

__all__ = ["VideoClassifier", "WeightsMismatchError", "load_weights"]

CHECKPOINT_NAME = "checkpoint_last.pt"


class WeightsMismatchError(ValueError):
    """A weights file whose keys or shapes do not fit the model; the message lists them."""


# --------------------------------------------------------------------------- helpers
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


@contextlib.contextmanager
def _deterministic_algorithms(enabled: bool) -> Iterator[None]:
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


def _count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int | None:
    try:
        from deep.models import count_flops
    except ImportError:
        return None
    try:
        return int(count_flops(model, input_shape))
    except Exception:  # noqa: BLE001 - cost accounting must never break training
        return None


def _has_conv3d(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv3d) for m in model.modules())


def _validation_split(
    y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): stratified, grouped when ``groups`` is given; no val if too few."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

    everything = np.arange(len(y))
    counts = np.bincount(y)
    present = int((counts > 0).sum())
    if fraction <= 0 or counts[counts > 0].min() < 2 or len(y) * fraction < present:
        return everything, everything[:0]
    try:
        if groups is not None and len(np.unique(groups)) >= 2:
            n_splits = max(2, int(round(1 / fraction)))
            n_splits = min(n_splits, len(np.unique(groups)))
            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            train, val = next(splitter.split(everything, y, groups))
        else:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
            train, val = next(splitter.split(everything, y))
    except ValueError:
        return everything, everything[:0]
    if len(train) == 0 or len(val) == 0:
        return everything, everything[:0]
    return np.sort(train), np.sort(val)


def _cosine_with_warmup(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _improves(score: list[float], best: list[float] | None, min_delta: float = 1e-4) -> bool:
    """Validation ``[accuracy, loss]`` beats ``best``: higher accuracy, or the same accuracy
    and a loss lower by more than ``min_delta``."""
    if best is None:
        return True
    return score[0] > best[0] or (score[0] == best[0] and score[1] < best[1] - min_delta)


# -------------------------------------------------------------------------- datasets
class _TrainClips(Dataset):
    """Training clips: one random clip per (video, repeat), seeded by (seed, epoch, index)."""

    def __init__(self, cache, paths, labels, spec, allow_flip, seed, repeats):
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


class _TestViews(Dataset):
    """All test views of each video: ``(views, 3, T, S, S)``."""

    def __init__(self, cache, paths, spec):
        self.cache, self.paths, self.spec = cache, list(paths), spec

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: int):
        return torch.from_numpy(sample_test_views(self.cache.get(self.paths[item]), self.spec))


def _seed_worker(worker_id: int) -> None:
    """Seed a DataLoader worker's legacy NumPy RNG from its (seeded) torch seed.

    Our clips draw from per-item generators, so this only protects third-party code that
    uses the global NumPy RNG inside a worker.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)  # noqa: NPY002 - seeding the legacy global RNG is the point


# ------------------------------------------------------------------------- estimator
class VideoClassifier:
    """A video network trained and tested under the benchmark's method protocol.

    Parameters
    ----------
    model : str or callable, default "r3d_18_small"
        A name in :func:`deep.models.list_models`, built with
        ``create_model(model, num_classes, **model_overrides)``, or a callable
        ``(num_classes) -> nn.Module`` taking ``(B, 3, T, H, W)`` and returning ``(B, C)``.
    model_overrides : dict, optional
        Keyword overrides for ``create_model`` (width, depth, ...).
    num_classes : int, optional
        Output size; default ``max(y) + 1``. Set it to the dataset's class count so that every
        class gets a column even when absent from training.
    sampling : {"dense", "segments"}, default "dense"
    clip_len : int, default 8
        Frames per dense clip, or TSN segments.
    frame_interval : int, default 2
        Frame interval of dense clips.
    crop_size : int, default 64
        Network input side.
    short_side : int, optional
        Short side of decoded frames (default ``round(crop_size * 8 / 7)``).
    fps : float, optional
        Decode at this frame rate (default: every frame).
    scale : tuple of float, default (0.4, 1.0)
        Area range of the random resized crop.
    test_clips : int, default 2
    test_crops : {1, 3}, default 1
    normalise : {"clip", "imagenet"}, default "clip"
        Input normalisation (see :class:`deep.clips.ClipSpec`): per-clip channel
        standardisation, or the ImageNet statistics (for weights pretrained with them).
    allow_flip : bool, default True
        Horizontal flips in training (False for direction-labelled classes).
    epochs : int, default 10
    batch_size : int, default 16
    clips_per_video : int, default 1
        Random clips drawn from each training video per epoch.
    optimizer : {"adamw", "sgd"}, default "adamw"
    lr : float, default 1e-3
        Peak learning rate (after warm-up).
    weight_decay : float, default 0.05
    momentum : float, default 0.9
        SGD momentum (Nesterov).
    warmup_epochs : float, default 1.0
    label_smoothing : float, default 0.1
    grad_clip : float or None, default 1.0
        Maximal global gradient norm.
    precision : {"auto", "fp32", "bf16", "fp16"}, default "auto"
        ``auto``: fp32 on CPU, bf16 on CUDA when supported else fp16 (with a GradScaler).
        ``bf16`` on CPU uses bf16 autocast (fast on CPUs with AVX-512 BF16 / AMX).
    channels_last : {"auto", True, False}, default "auto"
        ``channels_last_3d`` memory for models with 3D convolutions (``auto``: on). On the
        2-core CPU (oneDNN, fp32, batch 16 of 3x8x48x48) it made a training step of the small
        presets 1.1-1.5x faster (``r2plus1d_18_small`` 0.112 -> 0.074 s, ``c3d_small`` 0.068 ->
        0.052 s); ``False`` keeps the contiguous layout.
    val_fraction : float, default 0.15
        Share of training videos held out for early stopping (0 disables).
    patience : int or None, default 3
        Stop after this many epochs without validation improvement; the best epoch's weights
        are kept whenever there is a validation split.
    device : str, default "auto"
    num_workers : int, default 0
        DataLoader worker processes.
    deterministic : bool or None, default None
        Deterministic algorithms; None: True on CPU, False on CUDA.
    random_state : int, default 0
    progress : bool, default False
    cache_dir : path-like, optional
        Decoded-frame cache root (None: decode in memory each time).
    work_dir : path-like, optional
        Checkpoint folder; training resumes from its last checkpoint.
    weights : path-like, optional
        Local pretrained state dict (see :func:`load_weights`).
    reinit_head : bool, default False
        Re-initialise a shape-mismatched classifier head when loading ``weights``.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network (on CPU after fit... on ``device_``).
    device_ : torch.device
    spec_ : deep.clips.ClipSpec
    failures_ : list of VideoFailure
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_acc``, ``val_loss``, ``lr``, ``clips_per_s``.
    best_epoch_ : int
    cost_ : dict
        ``params``, ``flops_per_clip`` (FLOPs, not MACs, per input clip of the training
        size), ``flops_per_video`` (times the test views), ``train_time_s``,
        ``infer_clips_per_s`` (views per second of network forward at test).
    n_classes_ : int
    n_params_ : int
        Learnable parameters (read by the runner).
    """

    def __init__(
        self,
        model: str | Callable[[int], nn.Module] = "r3d_18_small",
        model_overrides: dict | None = None,
        num_classes: int | None = None,
        sampling: str = "dense",
        clip_len: int = 8,
        frame_interval: int = 2,
        crop_size: int = 64,
        short_side: int | None = None,
        fps: float | None = None,
        scale: tuple[float, float] = (0.4, 1.0),
        test_clips: int = 2,
        test_crops: int = 1,
        normalise: str = "clip",
        allow_flip: bool = True,
        epochs: int = 10,
        batch_size: int = 16,
        clips_per_video: int = 1,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        momentum: float = 0.9,
        warmup_epochs: float = 1.0,
        label_smoothing: float = 0.1,
        grad_clip: float | None = 1.0,
        precision: str = "auto",
        channels_last: str | bool = "auto",
        val_fraction: float = 0.15,
        patience: int | None = 3,
        device: str = "auto",
        num_workers: int = 0,
        deterministic: bool | None = None,
        random_state: int = 0,
        progress: bool = False,
        cache_dir: str | os.PathLike | None = None,
        work_dir: str | os.PathLike | None = None,
        weights: str | os.PathLike | None = None,
        reinit_head: bool = False,
    ):
        self.model = model
        self.model_overrides = model_overrides
        self.num_classes = num_classes
        self.sampling = sampling
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.crop_size = crop_size
        self.short_side = short_side
        self.fps = fps
        self.scale = scale
        self.test_clips = test_clips
        self.test_crops = test_crops
        self.normalise = normalise
        self.allow_flip = allow_flip
        self.epochs = epochs
        self.batch_size = batch_size
        self.clips_per_video = clips_per_video
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.warmup_epochs = warmup_epochs
        self.label_smoothing = label_smoothing
        self.grad_clip = grad_clip
        self.precision = precision
        self.channels_last = channels_last
        self.val_fraction = val_fraction
        self.patience = patience
        self.device = device
        self.num_workers = num_workers
        self.deterministic = deterministic
        self.random_state = random_state
        self.progress = progress
        self.cache_dir = cache_dir
        self.work_dir = work_dir
        self.weights = weights
        self.reinit_head = reinit_head

    # ------------------------------------------------------------------ sklearn API
    _PARAM_NAMES = (
        "model model_overrides num_classes sampling clip_len frame_interval crop_size short_side "
        "fps scale test_clips test_crops normalise allow_flip epochs batch_size clips_per_video "
        "optimizer lr weight_decay momentum warmup_epochs label_smoothing grad_clip precision "
        "channels_last val_fraction patience device num_workers deterministic random_state "
        "progress cache_dir work_dir weights reinit_head"
    ).split()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAM_NAMES}

    def set_params(self, **params: Any) -> VideoClassifier:
        for name, value in params.items():
            if name not in self._PARAM_NAMES:
                raise ValueError(f"Invalid parameter {name!r} for VideoClassifier.")
            setattr(self, name, value)
        return self

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        def bad(name: str, what: str) -> ValueError:
            return ValueError(
                f"The {name!r} parameter of VideoClassifier must be {what}. "
                f"Got {getattr(self, name)!r} instead."
            )

        for name in ("epochs", "batch_size", "clips_per_video", "clip_len", "frame_interval",
                     "crop_size", "test_clips"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise bad(name, "an int in [1, inf)")
        if self.optimizer not in ("adamw", "sgd"):
            raise bad("optimizer", "'adamw' or 'sgd'")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise bad("precision", "one of 'auto', 'fp32', 'bf16', 'fp16'")
        if not (isinstance(self.lr, float | int) and self.lr > 0):
            raise bad("lr", "a float in (0, inf)")
        if not 0 <= self.label_smoothing < 1:
            raise bad("label_smoothing", "a float in [0, 1)")
        if not 0 <= self.val_fraction < 1:
            raise bad("val_fraction", "a float in [0, 1)")
        if self.patience is not None and self.patience < 1:
            raise bad("patience", "None or an int in [1, inf)")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise bad("grad_clip", "None or a float in (0, inf)")
        if self.num_workers < 0:
            raise bad("num_workers", "an int in [0, inf)")

    def _spec(self) -> ClipSpec:
        return ClipSpec(
            sampling=self.sampling,
            num_frames=int(self.clip_len),
            interval=int(self.frame_interval),
            crop_size=int(self.crop_size),
            scale=tuple(self.scale),
            test_clips=int(self.test_clips),
            test_crops=int(self.test_crops),
            normalise=self.normalise,
        )

    def _cache(self) -> ClipCache:
        short = self.short_side or int(round(self.crop_size * 8 / 7))
        return ClipCache(self.cache_dir, short_side=short, fps=self.fps)

    def _build_model(self, num_classes: int) -> nn.Module:
        if callable(self.model):
            return self.model(num_classes)
        from deep.models import create_model

        return create_model(self.model, num_classes, **(self.model_overrides or {}))

    def _precision(self, device: torch.device) -> str:
        if self.precision == "auto":
            if device.type == "cuda":
                return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            return "fp32"
        if self.precision == "fp16" and device.type != "cuda":
            raise ValueError("precision='fp16' needs CUDA; on CPU use 'bf16' or 'fp32'.")
        return self.precision

    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision_)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_.type, dtype=dtype)

    def _to_device(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device_, non_blocking=True)
        if self.channels_last_ and batch.dim() == 5:
            batch = batch.contiguous(memory_format=torch.channels_last_3d)
        return batch

    def _decode_all(self, cache: ClipCache, paths: Sequence[str], what: str) -> np.ndarray:
        """Decode (and cache) every video; returns a mask of the ones that decoded."""
        from bench.video import VideoDecodeError

        ok = np.ones(len(paths), dtype=bool)
        iterator = paths
        if self.progress:
            from tqdm.auto import tqdm

            iterator = tqdm(paths, desc=f"decode ({what})", unit="video", leave=False)
        for i, path in enumerate(iterator):
            try:
                frames = cache.get(path)
                if len(frames) == 0:
                    raise VideoDecodeError(path, "no frames")
            except (VideoDecodeError, OSError, ValueError) as exc:
                ok[i] = False
                self.failures_.append(VideoFailure(video=str(path), stage="decode",
                                                   reason=str(exc)))
        return ok

    def _fingerprint(self, paths: Sequence[str], y: np.ndarray) -> str:
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("progress", "num_workers", "cache_dir", "work_dir")}
        params["model"] = self.model if isinstance(self.model, str) else repr(self.model)
        blob = json.dumps([params, [str(p) for p in paths], y.tolist()], default=str,
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    # ------------------------------------------------------------------ fit
    def fit(self, paths: Sequence[str], y: Sequence[int], groups: Sequence | None = None):
        """Train on the videos ``paths`` with labels ``y``.

        Parameters
        ----------
        paths : 1-D array-like of str
            Absolute video paths.
        y : 1-D array-like of int
            Labels in ``range(num_classes)``.
        groups : 1-D array-like, optional
            Group (e.g. actor) of each video: the validation split keeps groups apart.

        Returns
        -------
        self
        """
        self._check_params()
        paths = np.asarray(paths, dtype=object)
        y = np.asarray(y)
        if paths.ndim != 1 or y.ndim != 1 or len(paths) != len(y):
            raise ValueError(
                f"paths and y must be 1-D of the same length. Got {paths.shape} and {y.shape}."
            )
        if len(y) == 0:
            raise ValueError("VideoClassifier.fit needs at least one training video.")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError("y must hold non-negative integer labels.")
        y = y.astype(np.int64)
        n_classes = int(self.num_classes) if self.num_classes is not None else int(y.max()) + 1
        if y.max() >= n_classes:
            raise ValueError(f"label {int(y.max())} is out of range for num_classes={n_classes}.")
        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise ValueError("groups must have one entry per video.")
        self.n_classes_ = n_classes
        self.failures_: list[VideoFailure] = []
        self.device_ = torch.device(resolve_device(self.device))
        self.precision_ = self._precision(self.device_)
        deterministic = (
            self.device_.type == "cpu" if self.deterministic is None else bool(self.deterministic)
        )
        self.deterministic_ = deterministic
        self.spec_ = self._spec()
        self.cache_ = self._cache()

        ok = self._decode_all(self.cache_, list(paths), "train")
        if not ok.any():
            raise ValueError("no training video could be decoded; see failures_ for the reasons.")
        paths, y = paths[ok], y[ok]
        groups = groups[ok] if groups is not None else None
        train_idx, val_idx = _validation_split(y, groups, self.val_fraction, self.random_state)

        with _deterministic_algorithms(deterministic):
            start = time.perf_counter()
            self._train(paths, y, train_idx, val_idx)
            train_time = time.perf_counter() - start
        core = self.model_
        clip_shape = (3, self.spec_.num_frames, self.spec_.crop_size, self.spec_.crop_size)
        flops = _count_flops(core, clip_shape)
        self.cost_ = {
            "params": _count_parameters(core),
            "flops_per_clip": flops,
            "flops_per_video": None if flops is None else flops * self.spec_.views,
            "train_time_s": train_time,
            "infer_clips_per_s": None,
            "epochs_run": len(self.history_),
        }
        self.n_params_ = self.cost_["params"]
        return self

    def _loader(self, dataset: Dataset, *, shuffle: bool, epoch: int, batch_size: int,
                sampler=None) -> DataLoader:
        generator = torch.Generator().manual_seed(int(self.random_state) * 100_003 + epoch)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            worker_init_fn=_seed_worker if self.num_workers else None,
            generator=generator,
            pin_memory=self.device_.type == "cuda",
            drop_last=False,
        )

    def _train(self, paths, y, train_idx, val_idx) -> None:
        torch.manual_seed(int(self.random_state))
        model = self._build_model(self.n_classes_)
        if self.weights is not None:
            load_weights(model, self.weights, num_classes=self.n_classes_,
                         reinit_head=self.reinit_head)
        model.to(self.device_)
        use_cl = True if self.channels_last == "auto" else bool(self.channels_last)
        self.channels_last_ = use_cl and _has_conv3d(model)
        if self.channels_last_:
            model = model.to(memory_format=torch.channels_last_3d)
        self.model_ = model
        net = distributed.wrap_model(model, self.device_)
        info = distributed.current()

        train_set = _TrainClips(self.cache_, paths[train_idx], y[train_idx], self.spec_,
                                self.allow_flip, int(self.random_state), self.clips_per_video)
        val_set = _TestViews(self.cache_, paths[val_idx], self._val_spec()) if len(
            val_idx) else None
        sampler = distributed.make_sampler(train_set, shuffle=True, seed=int(self.random_state))
        per_rank = math.ceil(len(train_set) / info.world_size)
        steps_per_epoch = math.ceil(per_rank / self.batch_size)
        total_steps = steps_per_epoch * self.epochs
        warmup = min(total_steps, int(round(self.warmup_epochs * steps_per_epoch)))

        decay, no_decay = [], []
        for p in model.parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 else decay).append(p)
        groups = [{"params": decay, "weight_decay": self.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        if self.optimizer == "adamw":
            opt = torch.optim.AdamW(groups, lr=self.lr)
        else:
            opt = torch.optim.SGD(groups, lr=self.lr, momentum=self.momentum, nesterov=True)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _cosine_with_warmup(warmup, total_steps))
        scaler = torch.amp.GradScaler("cuda", enabled=self.precision_ == "fp16")
        criterion = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)

        self.history_: list[dict] = []
        state = {"epoch": 0, "best_score": None, "best_epoch": 0, "best_model": None,
                 "bad_epochs": 0, "stopped": False}
        fingerprint = self._fingerprint(paths, y)
        ckpt_path = Path(self.work_dir) / CHECKPOINT_NAME if self.work_dir is not None else None
        if ckpt_path is not None and ckpt_path.is_file():
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            if ckpt.get("fingerprint") != fingerprint:
                warnings.warn(
                    f"checkpoint {ckpt_path} was written for other data or parameters; "
                    "training from scratch (it will be overwritten)", stacklevel=3)
            else:
                model.load_state_dict(ckpt["model"])
                opt.load_state_dict(ckpt["optimizer"])
                sched.load_state_dict(ckpt["scheduler"])
                scaler.load_state_dict(ckpt["scaler"])
                torch.set_rng_state(ckpt["torch_rng"])
                self.history_ = list(ckpt["history"])
                state = dict(ckpt["state"])

        progress = self.progress and info.rank == 0
        while state["epoch"] < self.epochs and not state["stopped"]:
            epoch = state["epoch"]
            train_set.epoch = epoch
            if sampler is not None:
                sampler.set_epoch(epoch)
            loader = self._loader(train_set, shuffle=True, epoch=epoch,
                                  batch_size=self.batch_size, sampler=sampler)
            net.train()
            total_loss, seen, t0 = 0.0, 0, time.perf_counter()
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(loader), desc=f"epoch {epoch + 1}/{self.epochs}",
                           unit="batch", leave=False)
            for clips, labels in loader:
                clips, labels = self._to_device(clips), labels.to(self.device_)
                with self._autocast():
                    logits = net(clips)
                    loss = criterion(logits.float(), labels)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if self.grad_clip is not None:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
                scaler.step(opt)
                scaler.update()
                sched.step()
                total_loss += float(loss.detach()) * len(labels)
                seen += len(labels)
                if bar is not None:
                    rate = seen / max(time.perf_counter() - t0, 1e-9)
                    bar.set_postfix(loss=f"{total_loss / seen:.3f}", clips_s=f"{rate:.1f}")
                    bar.update()
            if bar is not None:
                bar.close()
            record = {"epoch": epoch + 1, "train_loss": total_loss / max(seen, 1),
                      "lr": float(opt.param_groups[0]["lr"]),
                      "clips_per_s": seen / max(time.perf_counter() - t0, 1e-9)}
            if val_set is not None:
                val_logp = self._predict_views(val_set)
                val_y = y[val_idx]
                acc = float((val_logp.argmax(1) == val_y).mean())
                nll = float(-val_logp[np.arange(len(val_y)), val_y].mean())
                record.update(val_acc=acc, val_loss=nll)
                score = [acc, nll]
                if _improves(score, state["best_score"]):
                    state.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0,
                                 best_model={k: v.detach().cpu().clone()
                                             for k, v in model.state_dict().items()})
                else:
                    state["bad_epochs"] += 1
                    if self.patience is not None and state["bad_epochs"] >= self.patience:
                        state["stopped"] = True
            self.history_.append(record)
            state["epoch"] = epoch + 1
            self._end_epoch(ckpt_path, fingerprint, model, opt, sched, scaler, state)
        if state["best_model"] is not None:
            model.load_state_dict(state["best_model"])
        self.best_epoch_ = int(state["best_epoch"] or state["epoch"])

    def _val_spec(self) -> ClipSpec:
        spec = self._spec()
        return ClipSpec(**{**spec.to_dict(), "test_clips": 1, "test_crops": 1})

    def _end_epoch(self, ckpt_path, fingerprint, model, opt, sched, scaler, state) -> None:
        """Write the checkpoint of the epoch just finished (rank 0 only, atomically)."""
        if ckpt_path is None or not distributed.is_main_process():
            return
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "fingerprint": fingerprint,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history_,
            "state": state,
        }
        with atomic_path(ckpt_path) as tmp:
            torch.save(payload, tmp)

    # ------------------------------------------------------------------ predict
    def _predict_views(self, dataset: _TestViews, batch_videos: int | None = None) -> np.ndarray:
        """Log of the view-averaged softmax probabilities, ``(n_videos, n_classes)``."""
        views = dataset.spec.views
        batch_videos = batch_videos or max(1, self.batch_size // views)
        loader = DataLoader(dataset, batch_size=batch_videos, shuffle=False,
                            num_workers=self.num_workers)
        self.model_.eval()
        out, forward_s, n_clips = [], 0.0, 0
        with torch.inference_mode():
            for batch in loader:
                b, v = batch.shape[:2]
                clips = self._to_device(batch.flatten(0, 1))
                t0 = time.perf_counter()
                with self._autocast():
                    logits = self.model_(clips)
                logp = torch.log_softmax(logits.float(), dim=1).view(b, v, -1)
                probs = logp.exp().mean(dim=1)
                out.append(torch.log(probs.clamp_min(1e-30)).cpu().numpy())
                forward_s += time.perf_counter() - t0
                n_clips += b * v
        self._last_infer_rate = n_clips / forward_s if forward_s > 0 else None
        if not out:
            return np.zeros((0, self.n_classes_))
        return np.concatenate(out).astype(np.float64)

    def decision_function(self, paths: Sequence[str]) -> np.ndarray:
        """Scores of every video for every class.

        Returns
        -------
        numpy.ndarray, shape (n_videos, n_classes)
            The log of the softmax probabilities averaged over the ``test_clips ×
            test_crops`` views (so ``exp`` of a row sums to 1). A video that fails to decode
            gets a row of NaN and a ``VideoFailure(stage="decode")`` in ``failures_``.
        """
        if not hasattr(self, "model_"):
            raise RuntimeError("This VideoClassifier is not fitted yet; call fit first.")
        paths = np.asarray(paths, dtype=object)
        scores = np.full((len(paths), self.n_classes_), np.nan)
        ok = self._decode_all(self.cache_, list(paths), "test")
        with _deterministic_algorithms(self.deterministic_):
            scores[ok] = self._predict_views(_TestViews(self.cache_, paths[ok], self.spec_))
        if self._last_infer_rate is not None:
            self.cost_["infer_clips_per_s"] = self._last_infer_rate
        return scores

    def predict(self, paths: Sequence[str]) -> np.ndarray:
        """Index of the best-scoring class per video (-1 for a video that failed)."""
        scores = self.decision_function(paths)
        bad = np.isnan(scores).any(axis=1)
        pred = np.where(bad, -1, np.nan_to_num(scores, nan=-np.inf).argmax(axis=1))
        return pred
