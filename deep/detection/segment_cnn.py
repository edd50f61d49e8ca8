"""``SegmentCNNDetector``: multi-scale segment 3D CNN with an overlap loss (S-CNN, 2016).

The detector of Shou, Wang & Chang (2016), in the protocol of :mod:`deep.detection`:

1. **multi-scale segments**: sliding windows of 16, 32, 64, 128 and 256 frames (the paper's
   ladder without its 512; ``window_frames``) overlapping by 75 % (``window_overlap``);
2. each window is **uniformly resampled** to ``clip_len`` frames spread over its whole length
   (the paper: 16 frames for C3D), so one network input sees a short and a long window alike;
3. a small 3D CNN (the backbone's model, classes + background) classifies a window. It is
   trained as the paper's *localization network*: the softmax loss plus the overlap loss

   .. math:: L_{overlap} = \\frac{1}{N} \\sum_n \\frac{1}{2}
      \\left(\\frac{(P_n^{(k_n)})^2}{v_n^{\\alpha}} - 1\\right) [k_n > 0],

   with ``v_n`` the window's tIoU with its instance, so that at the optimum the class
   probability grows with the overlap (``P = v^(alpha/2)``) and a window that fits its
   instance outranks one that only overlaps it;
4. the score of a window for a class is that probability; per-class temporal NMS at
   ``nms_iou`` (the paper: 0.1 below the evaluation threshold, 0.4 for tIoU 0.5).

Training windows: a window of tIoU at least ``positive_iou`` with an instance is a positive of
the instance's class (the one of highest tIoU), below ``background_iou`` with every instance a
background window, in between unused (the paper: 0.7 / 0.3 for its proposal network, the
classification network on the proposals). Each epoch takes every positive and
``background_ratio`` times as many background windows, drawn again per epoch (the paper
balances background against the classes the same way).

Notes
-----
Differences from the paper: one network instead of three (the proposal network's
action-versus-background decision is the network's background class, and the classification
network is the localization network before its fine-tuning), trained from scratch on the RGB
difference of consecutive frames (the paper: C3D pretrained on Sports-1M, RGB) at the
snippet classifier's resolution; no 512-frame scale (the untrimmed set's instances are at most
8 s). The window network shares the snippet classifier's model and training recipe
(:class:`~deep.detection.backbone.SnippetClassifier`, its ``backbone``), not its weights.

References
----------
Shou, Z., Wang, D., Chang, S.-F. (2016). Temporal action localization in untrimmed videos via
multi-stage CNNs. CVPR. arXiv:1601.02129.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset

from deep.clips import random_resized_crop_box
from deep.detection._base import SnippetDetector
from deep.detection._inputs import DecodedVideo
from deep.detection.backbone import SnippetClassifier
from deep.detection.nms import multiclass_nms, segment_iou
from deep.detection.snippets import snippet_clip
from deep.training_loop import deterministic_algorithms

__all__ = ["SegmentCNNDetector", "segment_windows", "window_frame_indices", "label_windows",
           "OverlapLoss", "S_CNN_WINDOW_FRAMES"]

#: The paper's window lengths in frames, without its 512 (longer than any instance here).
S_CNN_WINDOW_FRAMES: tuple[int, ...] = (16, 32, 64, 128, 256)


def segment_windows(n_frames: int, lengths: Sequence[int], overlap: float) -> np.ndarray:
    """The multi-scale sliding windows of a video, ``(n, 2)`` ``[start, end)`` in frames.

    Each length slides by ``round(length * (1 - overlap))`` frames (at least 1) from frame 0;
    a scale whose windows would not reach the last frame gets one more window ending there.
    Lengths longer than the video are skipped, except that a video shorter than every length
    gets one window over all of it.

    Examples
    --------
    >>> segment_windows(40, [16], 0.75).tolist()[:3], len(segment_windows(40, [16], 0.75))
    ([[0, 16], [4, 20], [8, 24]], 7)
    >>> segment_windows(10, [16, 32], 0.75).tolist()
    [[0, 10]]
    """
    if n_frames < 1:
        raise ValueError(f"segment_windows needs n_frames >= 1; got {n_frames}")
    if not 0 <= overlap < 1:
        raise ValueError(f"The window overlap must be in [0, 1); got {overlap!r}")
    windows = []
    for length in sorted({int(v) for v in lengths}):
        if length < 1:
            raise ValueError(f"window lengths must be >= 1 frame; got {length}")
        if length > n_frames:
            continue
        step = max(1, round(length * (1 - overlap)))
        starts = np.arange(0, n_frames - length + 1, step)
        if starts[-1] + length < n_frames:
            starts = np.append(starts, n_frames - length)
        windows.append(np.column_stack([starts, starts + length]))
    if not windows:
        return np.array([[0, n_frames]], dtype=np.int64)
    return np.concatenate(windows).astype(np.int64)


def window_frame_indices(start: int, end: int, clip_len: int,
                         rng: np.random.Generator | None = None) -> np.ndarray:
    """``clip_len`` frame indices spread over ``[start, end)``: one per equal part.

    The middle frame of each part at test (``rng`` None); a random frame of each part in
    training (TSN's segment sampling, Wang et al. 2016). Parts shorter than a frame repeat
    frames.
    """
    edges = start + (end - start) * np.arange(clip_len + 1, dtype=np.float64) / clip_len
    if rng is None:
        positions = (edges[:-1] + edges[1:]) / 2
    else:
        positions = edges[:-1] + rng.random(clip_len) * (edges[1:] - edges[:-1])
    return np.clip(np.floor(positions).astype(np.int64), start, end - 1)


def label_windows(windows_s: np.ndarray, segments: np.ndarray, n_classes: int,
                  positive_iou: float, background_iou: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Training label and overlap of each window.

    Parameters
    ----------
    windows_s : numpy.ndarray, shape (n, 2)
        Windows in seconds.
    segments : numpy.ndarray, shape (m, 3)
        The video's instances ``t_start, t_end, label``.
    n_classes : int
    positive_iou, background_iou : float

    Returns
    -------
    labels : numpy.ndarray of int64, shape (n,)
        The class of the instance of highest tIoU where it is at least ``positive_iou``;
        ``n_classes`` (background) where every tIoU is below ``background_iou``; -1 (unused)
        otherwise.
    overlap : numpy.ndarray, shape (n,)
        The highest tIoU with any instance.
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 3)
    labels = np.full(len(windows_s), -1, dtype=np.int64)
    if not len(segments):
        labels[:] = n_classes
        return labels, np.zeros(len(windows_s))
    windows_s = np.asarray(windows_s, dtype=np.float64).reshape(-1, 2)
    iou = segment_iou(windows_s[:, :1], windows_s[:, 1:], segments[None, :, 0],
                      segments[None, :, 1])
    best = iou.argmax(axis=1)
    overlap = iou[np.arange(len(windows_s)), best]
    labels[overlap >= positive_iou] = segments[best, 2].astype(np.int64)[overlap >= positive_iou]
    labels[overlap < background_iou] = n_classes
    return labels, overlap


class OverlapLoss(nn.Module):
    """Softmax loss plus S-CNN's overlap loss; targets are ``(label, overlap)`` rows.

    Parameters
    ----------
    n_classes : int
        Action classes; label ``n_classes`` is background (no overlap term).
    weight : float, default 1.0
        ``lambda``, the overlap term's weight (the paper: 1).
    alpha : float, default 0.25
        The exponent of the overlap (the paper: 0.25).
    """

    def __init__(self, n_classes: int, weight: float = 1.0, alpha: float = 0.25):
        super().__init__()
        self.n_classes, self.weight, self.alpha = int(n_classes), float(weight), float(alpha)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        labels = targets[:, 0].long()
        overlap = targets[:, 1].clamp_min(1e-6)
        loss = nn.functional.cross_entropy(logits, labels)
        action = labels < self.n_classes
        if self.weight and bool(action.any()):
            p = torch.softmax(logits, dim=1).gather(1, labels[:, None])[:, 0]
            term = 0.5 * (p.square() / overlap.pow(self.alpha) - 1.0)
            loss = loss + self.weight * (term * action).sum() / len(labels)
        return loss


class _TrainWindows(Dataset):
    """Each epoch: every positive window and ``n_background`` background windows (redrawn per
    epoch); a window's clip augmented as the snippets are (crop, flip, random frame per part).
    """

    def __init__(self, frames: dict[str, np.ndarray], rows: np.ndarray, paths: list[str],
                 positives: np.ndarray, background: np.ndarray, n_background: int,
                 clip_len: int, seed: int, scale: tuple[float, float], allow_flip: bool,
                 modality: str):
        self.frames, self.rows, self.paths = frames, rows, paths
        self.positives, self.background = positives, background
        self.n_background, self.clip_len, self.seed = int(n_background), int(clip_len), seed
        self.scale, self.allow_flip, self.modality = tuple(scale), bool(allow_flip), modality
        self.epoch = 0
        self._epoch_items: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.positives) + self.n_background

    def _items(self) -> np.ndarray:
        if self._epoch_items is None or self._epoch_items[0] != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch, 7])
            drawn = rng.choice(self.background, size=self.n_background, replace=False)
            self._epoch_items = (self.epoch, np.concatenate([self.positives, np.sort(drawn)]))
        return self._epoch_items[1]

    def __getitem__(self, item: int):
        row = self.rows[int(self._items()[item])]
        video, start, end, label, overlap = int(row[0]), int(row[1]), int(row[2]), row[3], row[4]
        rng = np.random.default_rng([self.seed, self.epoch, item])
        frames = self.frames[self.paths[video]]
        height, width = frames.shape[1:3]
        box = None
        if self.scale != (1.0, 1.0):
            aspect = width / height
            box = random_resized_crop_box(height, width, self.scale,
                                          (aspect * 0.9, aspect / 0.9), rng)
        flip = bool(self.allow_flip and rng.random() < 0.5)
        clip = snippet_clip(frames, window_frame_indices(start, end, self.clip_len, rng),
                            box=box, flip=flip, modality=self.modality)
        return torch.from_numpy(clip), torch.tensor([label, overlap], dtype=torch.float32)


class _TestWindows(Dataset):
    """The test clip of each window of one video (middle frame of each part, whole frame)."""

    def __init__(self, frames: np.ndarray, windows: np.ndarray, clip_len: int, modality: str):
        self.frames, self.windows, self.clip_len = frames, windows, int(clip_len)
        self.modality = modality

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, item: int) -> torch.Tensor:
        start, end = (int(v) for v in self.windows[item])
        return torch.from_numpy(snippet_clip(
            self.frames, window_frame_indices(start, end, self.clip_len), modality=self.modality))


class SegmentCNNDetector(SnippetDetector):
    """Multi-scale segment 3D CNN with the overlap loss, under the detection protocol.

    Parameters
    ----------
    backbone : SnippetClassifier, optional
        The network and its training recipe (model, ``clip_len``, short side, modality,
        budget; cloned at fit; its ``stride`` only sets the time grid of the outputs);
        default ``SnippetClassifier()``.
    n_classes : int, optional
        Action classes (default: largest training label + 1).
    window_frames : sequence of int, default (16, 32, 64, 128, 256)
        Window lengths in frames of the decoded video.
    window_overlap : float, default 0.75
    positive_iou, background_iou : float, default 0.5, 0.3
        Labelling thresholds of the training windows (:func:`label_windows`).
    background_ratio : float, default 1.0
        Background windows per positive window in an epoch.
    overlap_weight, overlap_alpha : float, default 1.0, 0.25
        ``lambda`` and ``alpha`` of :class:`OverlapLoss`.
    nms_iou : float, default 0.4
    min_score : float, default 1e-3
    max_detections : int, default 100

    Attributes
    ----------
    backbone_ : SnippetClassifier
        Trained on the windows (``model_``, ``history_``, ``budget_``).
    n_classes_ : int
    n_training_windows_ : dict
        ``positive``, ``background`` (available), ``unused``.
    failures_ : list of VideoFailure
    budget_ : dict
        ``{"windows": the network's resolved budget}``.
    n_params_ : int
    timing_ : dict
        ``backbone_s``: seconds to decode and train.
    """

    def __init__(self, backbone: SnippetClassifier | None = None, n_classes: int | None = None,
                 window_frames: Sequence[int] = S_CNN_WINDOW_FRAMES,
                 window_overlap: float = 0.75, positive_iou: float = 0.5,
                 background_iou: float = 0.3, background_ratio: float = 1.0,
                 overlap_weight: float = 1.0, overlap_alpha: float = 0.25,
                 nms_iou: float = 0.4, min_score: float = 1e-3, max_detections: int = 100):
        self.backbone = backbone
        self.n_classes = n_classes
        self.window_frames = window_frames
        self.window_overlap = window_overlap
        self.positive_iou = positive_iou
        self.background_iou = background_iou
        self.background_ratio = background_ratio
        self.overlap_weight = overlap_weight
        self.overlap_alpha = overlap_alpha
        self.nms_iou = nms_iou
        self.min_score = min_score
        self.max_detections = max_detections

    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"The {name!r} parameter of SegmentCNNDetector must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")

        lengths = np.asarray(self.window_frames).ravel()
        if not len(lengths) or not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 1:
            raise bad("window_frames", "a non-empty sequence of ints >= 1")
        if not 0 <= self.window_overlap < 1:
            raise bad("window_overlap", "a float in [0, 1)")
        if not 0 < self.background_iou <= self.positive_iou <= 1:
            raise bad("positive_iou", f"in [background_iou, 1] (background_iou = "
                                      f"{self.background_iou!r}, which must be > 0)")
        if not self.background_ratio >= 0:
            raise bad("background_ratio", "a float in [0, inf)")
        if not (self.overlap_weight >= 0 and self.overlap_alpha >= 0):
            raise bad("overlap_weight", "a float >= 0 (and overlap_alpha too)")
        if not isinstance(self.max_detections, int | np.integer) or self.max_detections < 1:
            raise bad("max_detections", "an int in [1, inf)")

    def _windows(self, video: DecodedVideo) -> np.ndarray:
        return segment_windows(video.grid.n_frames, self.window_frames,
                               float(self.window_overlap))

    def _fingerprint(self, network: SnippetClassifier, decoded: list[DecodedVideo],
                     segments: list[np.ndarray]) -> str:
        own = {k: v for k, v in self.get_params(deep=False).items()
               if k not in ("backbone", "nms_iou", "min_score", "max_detections")}
        base = network._fingerprint(decoded, segments, network.device_)
        blob = json.dumps(["segment-cnn", base, own], default=str, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _checkpoint_dir(self, network: SnippetClassifier, fingerprint: str) -> Path | None:
        if network.cache_dir is not None:
            return Path(network.cache_dir) / "detection-segment-networks" / fingerprint[:24]
        if network.work_dir is not None:
            return Path(network.work_dir) / "segment-network"
        return None

    def fit(self, videos, segments: pd.DataFrame, groups=None) -> SegmentCNNDetector:
        """Train the window network on the training videos' multi-scale windows.

        Parameters
        ----------
        videos : 1-D array-like of str
            Absolute video paths.
        segments : DataFrame
            ``video, t_start, t_end, label`` (seconds; label in ``range(n_classes)``).
        groups : array-like, optional
            Not read: nothing is selected on a validation split.

        Returns
        -------
        self
        """
        self._check_params()
        start = time.perf_counter()
        network, decoded, per_video, n_classes = self._decode_training(videos, segments)
        keep = [i for i, d in enumerate(decoded) if d is not None]
        if not keep:
            raise ValueError("no training video could be decoded; see failures_ for the reasons.")
        decoded = [decoded[i] for i in keep]
        per_video = [np.asarray(per_video[i], dtype=np.float64).reshape(-1, 3) for i in keep]
        rows = []
        for v, (video, truth) in enumerate(zip(decoded, per_video, strict=True)):
            windows = self._windows(video)
            labels, overlap = label_windows(windows / video.grid.fps, truth, n_classes,
                                            float(self.positive_iou), float(self.background_iou))
            rows.append(np.column_stack([np.full(len(windows), v), windows, labels, overlap]))
        table = np.concatenate(rows)
        labels = table[:, 3].astype(np.int64)
        positives = np.flatnonzero((labels >= 0) & (labels < n_classes))
        background = np.flatnonzero(labels == n_classes)
        if not len(positives):
            raise ValueError(f"SegmentCNNDetector.fit: no training window reaches tIoU "
                             f"{self.positive_iou} with an instance; add window lengths "
                             f"(window_frames={tuple(self.window_frames)}) near the instances' "
                             f"durations or lower positive_iou.")
        n_background = min(len(background), round(float(self.background_ratio) * len(positives)))
        self.n_training_windows_ = {"positive": int(len(positives)),
                                    "background": int(len(background)),
                                    "unused": int((labels < 0).sum())}
        network.start_training(n_classes)
        train_set = _TrainWindows({d.path: d.frames for d in decoded}, table,
                                  [d.path for d in decoded], positives, background, n_background,
                                  int(network.clip_len), int(network.random_state),
                                  tuple(network.scale), bool(network.allow_flip),
                                  network.modality)
        criterion = OverlapLoss(n_classes, float(self.overlap_weight), float(self.overlap_alpha))
        fingerprint = self._fingerprint(network, decoded, per_video)
        with deterministic_algorithms(network.deterministic_):
            network.train_network(train_set, criterion, fingerprint,
                                  self._checkpoint_dir(network, fingerprint), "windows")
        self.backbone_ = network
        self.n_classes_ = int(n_classes)
        self.timing_ = {"backbone_s": time.perf_counter() - start}
        self.budget_ = {"windows": network.budget_}
        self.n_params_ = network.n_params_
        return self

    def window_scores(self, video: DecodedVideo) -> tuple[np.ndarray, np.ndarray]:
        """Every window of one video and its class probabilities (background last)."""
        windows = self._windows(video)
        probs, _ = self.backbone_.clip_outputs(
            _TestWindows(video.frames, windows, int(self.backbone_.clip_len),
                         self.backbone_.modality))
        return windows, probs

    def _detect_video(self, video: DecodedVideo):
        windows, probs = self.window_scores(video)
        scores = probs[:, :self.n_classes_]
        rows, labels = np.nonzero(scores > self.min_score)
        cells = windows[rows].astype(np.float64) / video.grid.stride
        flat = scores[rows, labels]
        keep, kept = multiclass_nms(cells[:, 0], cells[:, 1], flat, labels,
                                    max_keep=int(self.max_detections), method="hard",
                                    iou_threshold=float(self.nms_iou),
                                    min_score=float(self.min_score))
        return cells[keep], kept, labels[keep]
