"""``PersonDetector``: the deep track's own actor detector, a small CenterNet trained from scratch.

Trained on the actor boxes of the training keyframes (the ground truth of the localization
protocol: the actors who act at a keyframe, as AVA annotates them), it finds the actors of
every keyframe of a test video: the first stage of the two-stage AVA pipeline (Gu et al.
2018), whose boxes the RoI action head (:mod:`deep.localization.action_head`) classifies. The
network, its targets, loss and decoding: :mod:`deep.localization.centernet`.

Training draws, per keyframe and epoch, the keyframe's frame moved by up to ``jitter`` frames
(the actors barely move in so few frames; the boxes are the keyframe's), mirrored with
probability 1/2 (a mirrored person is a person, whatever the dataset's action classes), from
a generator seeded by ``(seed, epoch, item)``.

References
----------
Zhou, X., Wang, D., Krähenbühl, P. (2019). Objects as points. arXiv:1904.07850.
Gu, C. et al. (2018). AVA: a video dataset of spatio-temporally localized atomic visual
actions. CVPR. arXiv:1705.08421.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch.utils.data import Dataset

from bench.device import resolve_device
from bench.methods import VideoFailure
from deep.cache import ClipCache
from deep.detection._inputs import check_videos, decode_videos
from deep.localization._training import (
    Keyframe,
    resize_frames,
    train_by_budget,
    training_keyframes,
)
from deep.localization.boxes import check_training_boxes, keyframes, nms
from deep.localization.centernet import (
    STRIDE,
    CenterNetLite,
    centernet_loss,
    centernet_targets,
    decode_peaks,
    output_shape,
)
from deep.training_loop import deterministic_algorithms

__all__ = ["PersonDetector", "detector_input", "DETECTION_COLUMNS"]

#: Columns of :meth:`PersonDetector.detect`.
DETECTION_COLUMNS = ("video", "timestamp", "x1", "y1", "x2", "y2", "score")


def detector_input(frames: np.ndarray, frame: int, gap: int, flip: bool = False) -> np.ndarray:
    """The detector's ``(6, H, W)`` float32 input at ``frame``: the frame and the RGB
    difference of frames ``frame + gap`` and ``frame - gap`` (clamped to the video), each
    standardised per channel (floored at 1/255)."""
    last = len(frames) - 1
    rgb = frames[frame].astype(np.float32)
    diff = (frames[min(frame + gap, last)].astype(np.float32)
            - frames[max(frame - gap, 0)].astype(np.float32))
    x = np.concatenate([rgb, diff], axis=2).transpose(2, 0, 1) / 255.0
    if flip:
        x = x[:, :, ::-1]
    flat = x.reshape(6, -1)
    x = (x - flat.mean(1)[:, None, None]) / np.maximum(flat.std(1), 1 / 255)[:, None, None]
    return np.ascontiguousarray(x, dtype=np.float32)


class _TrainFrames(Dataset):
    def __init__(self, frames: list[np.ndarray], keys: list[Keyframe], seed: int, jitter: int,
                 gap: int):
        self.frames, self.keys, self.seed = frames, keys, int(seed)
        self.jitter, self.gap, self.epoch = int(jitter), int(gap), 0

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, item: int):
        key = self.keys[item]
        rng = np.random.default_rng([self.seed, self.epoch, item])
        frames = self.frames[key.video]
        frame = int(np.clip(key.frame + rng.integers(-self.jitter, self.jitter + 1), 0,
                            len(frames) - 1))
        flip = bool(rng.random() < 0.5)
        x = detector_input(frames, frame, self.gap, flip)
        height, width = x.shape[1:]
        out_h, out_w = output_shape(height, width)
        boxes = key.boxes.copy()
        if flip:
            boxes[:, [0, 2]] = 1.0 - boxes[:, [2, 0]]
        cells = boxes * np.array([width, height, width, height]) / STRIDE
        heat, size, offset, mask = centernet_targets(cells, out_h, out_w)
        return tuple(torch.from_numpy(a) for a in (x, heat, size, offset, mask))


class PersonDetector(BaseEstimator):
    """Person boxes at every keyframe of a video, from a CenterNet trained on the training
    keyframes' actor boxes.

    Parameters
    ----------
    short_side : int, default 64
        Frames are decoded at this short side (and all resized to the first training video's
        size, so that a batch stacks).
    width : int, default 32
        Width of :class:`~deep.localization.centernet.CenterNetLite`.
    gap : int, default 2
        Frames between the keyframe and each end of its RGB difference.
    jitter : int, default 3
        Largest temporal shift of a training frame from its keyframe.
    epochs, min_steps, max_steps, batch_size, lr, weight_decay, warmup_epochs
        The budget (epochs of keyframes, bounded in steps) and AdamW.
    max_detections : int, default 8
        Peaks kept per keyframe before NMS.
    min_score : float, default 0.02
        Least heatmap score of a detection.
    nms_iou : float, default 0.5
        NMS threshold (:func:`deep.localization.boxes.nms`).
    rate_hz : float, default 1.0
        Keyframes per second at test (the ground truth's rule).
    device : str, default "auto"
    deterministic : bool or None
        Deterministic kernels (None: on the CPU).
    random_state : int, default 0
    num_workers : int, default 0
    progress : bool, default False
    cache_dir : path or None
        The decoded-frame cache's root (:class:`deep.cache.ClipCache`).

    Attributes
    ----------
    model_, input_size_, history_, budget_, n_params_, failures_
    """

    def __init__(self, short_side: int = 64, width: int = 32, gap: int = 2, jitter: int = 3,
                 epochs: int = 30, min_steps: int | None = 150, max_steps: int | None = 2000,
                 batch_size: int = 8, lr: float = 2e-3, weight_decay: float = 1e-4,
                 warmup_epochs: float = 1.0, max_detections: int = 8, min_score: float = 0.02,
                 nms_iou: float = 0.5, rate_hz: float = 1.0, device: str = "auto",
                 deterministic: bool | None = None, random_state: int = 0,
                 num_workers: int = 0, progress: bool = False,
                 cache_dir: str | os.PathLike | None = None):
        self.short_side = short_side
        self.width = width
        self.gap = gap
        self.jitter = jitter
        self.epochs = epochs
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.max_detections = max_detections
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.rate_hz = rate_hz
        self.device = device
        self.deterministic = deterministic
        self.random_state = random_state
        self.num_workers = num_workers
        self.progress = progress
        self.cache_dir = cache_dir

    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"The {name!r} parameter of PersonDetector must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")

        for name in ("short_side", "width", "gap", "epochs", "batch_size", "max_detections"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise bad(name, "an int in [1, inf)")
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, int) or self.jitter < 0:
            raise bad("jitter", "an int in [0, inf)")
        for name in ("min_steps", "max_steps"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int | np.integer) or v < 1):
                raise bad(name, "None or an int in [1, inf)")
        if not (isinstance(self.lr, float | int) and self.lr > 0):
            raise bad("lr", "a float in (0, inf)")
        if not 0 <= float(self.min_score) < 1:
            raise bad("min_score", "a float in [0, 1)")
        if not 0 <= float(self.nms_iou) <= 1:
            raise bad("nms_iou", "a float in [0, 1]")

    def make_cache(self) -> ClipCache:
        """The decoded-frame cache at this detector's short side."""
        return ClipCache(self.cache_dir, short_side=int(self.short_side))

    def decode(self, videos, failures: list[VideoFailure], what: str) -> list:
        """Decode ``videos`` once each (failures appended, None in their place)."""
        return decode_videos(self.make_cache(), list(videos), stride=1, clip_len=1,
                             interval=1, failures=failures, progress=self.progress, what=what)

    def fit(self, videos, boxes: pd.DataFrame, groups=None) -> PersonDetector:
        """Train on the actor boxes of the training keyframes (``groups`` is not read)."""
        self._check_params()
        videos = check_videos(videos, "PersonDetector.fit")
        table, n_classes = check_training_boxes(videos, boxes, None, "PersonDetector.fit")
        self.failures_: list[VideoFailure] = []
        decoded = self.decode(videos, self.failures_, "train")
        return self.fit_keyframes(decoded, training_keyframes(decoded, table, n_classes))

    def fit_keyframes(self, decoded: list, keys: list[Keyframe]) -> PersonDetector:
        """Train on ``keys`` over the already decoded videos (None entries: failures)."""
        self._check_params()
        if not hasattr(self, "failures_"):
            self.failures_ = []
        if not keys:
            raise ValueError("PersonDetector: no training keyframe with boxes in a decodable "
                             "video; see failures_ for the videos that did not decode.")
        first = next(d for d in decoded if d is not None)
        self.input_size_ = tuple(int(v) for v in first.frames.shape[1:3])
        self.device_ = torch.device(resolve_device(self.device))
        self.deterministic_ = (self.device_.type == "cpu" if self.deterministic is None
                               else bool(self.deterministic))
        frames = [None if d is None else resize_frames(d.frames, self.input_size_)
                  for d in decoded]
        data = _TrainFrames(frames, keys, int(self.random_state), int(self.jitter),
                            int(self.gap))
        with deterministic_algorithms(self.deterministic_):
            torch.manual_seed(int(self.random_state))
            model = CenterNetLite(int(self.width)).to(self.device_)

            def step(net, batch):
                x, heat, size, offset, mask = (b.to(self.device_) for b in batch)
                return centernet_loss(net(x), heat, size, offset, mask)

            self.history_, budget = train_by_budget(
                model, data, step, epochs=self.epochs, batch_size=self.batch_size,
                min_steps=self.min_steps, max_steps=self.max_steps, lr=self.lr,
                weight_decay=self.weight_decay, warmup_epochs=self.warmup_epochs,
                grad_clip=10.0, seed=int(self.random_state), device=self.device_,
                num_workers=int(self.num_workers),
                desc="person detector" if self.progress else None)
        self.model_ = model
        self.budget_ = {**budget.to_dict(), "min_steps": self.min_steps,
                        "max_steps": self.max_steps, "validation": False}
        self.n_params_ = int(sum(p.numel() for p in model.parameters()))
        return self

    def detect_frames(self, frames: np.ndarray, at: np.ndarray, batch_size: int = 16
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Boxes (fractions of the frame) and scores at frames ``at`` of decoded ``frames``."""
        if not hasattr(self, "model_"):
            raise RuntimeError("This PersonDetector is not fitted yet; call fit first.")
        frames = resize_frames(frames, self.input_size_)
        height, width = self.input_size_
        scale = np.array([width, height, width, height]) / STRIDE
        out = []
        with deterministic_algorithms(self.deterministic_), torch.inference_mode():
            for start in range(0, len(at), batch_size):
                x = np.stack([detector_input(frames, int(f), int(self.gap))
                              for f in at[start:start + batch_size]])
                heat, size, offset = self.model_(torch.from_numpy(x).to(self.device_))
                for i in range(len(x)):
                    cells, scores = decode_peaks(heat[i].sigmoid(), size[i],
                                                 offset[i].sigmoid(), int(self.max_detections),
                                                 float(self.min_score))
                    boxes = np.clip(cells / scale, 0.0, 1.0)
                    keep = nms(boxes, scores, float(self.nms_iou))
                    out.append((boxes[keep], scores[keep]))
        return out

    def detect_decoded(self, video) -> pd.DataFrame:
        """:data:`DETECTION_COLUMNS` at every keyframe of one decoded video."""
        at, times = keyframes(video.grid.n_frames, video.grid.fps, float(self.rate_hz))
        rows = []
        for t, (boxes, scores) in zip(times, self.detect_frames(video.frames, at), strict=True):
            rows.append(pd.DataFrame({"video": video.path, "timestamp": t, "x1": boxes[:, 0],
                                      "y1": boxes[:, 1], "x2": boxes[:, 2], "y2": boxes[:, 3],
                                      "score": scores}))
        if not rows:
            return pd.DataFrame({c: pd.Series([], dtype=object if c == "video" else float)
                                 for c in DETECTION_COLUMNS})
        return pd.concat(rows, ignore_index=True)

    def detect(self, videos) -> pd.DataFrame:
        """Scored person boxes at every keyframe of each decodable video (failures recorded)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("This PersonDetector is not fitted yet; call fit first.")
        videos = check_videos(videos, "PersonDetector.detect")
        decoded = self.decode(videos, self.failures_, "test")
        tables = [self.detect_decoded(d) for d in decoded if d is not None]
        if not tables:
            return self.detect_decoded_empty()
        return pd.concat(tables, ignore_index=True)

    @staticmethod
    def detect_decoded_empty() -> pd.DataFrame:
        """An empty :data:`DETECTION_COLUMNS` table."""
        return pd.DataFrame({c: pd.Series([], dtype=object if c == "video" else float)
                             for c in DETECTION_COLUMNS})
