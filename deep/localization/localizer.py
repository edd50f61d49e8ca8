"""``RoIActionLocalizer``: person boxes from the track's own detector, actions from a RoI head.

The two-stage AVA pipeline (Gu et al. 2018; SlowFast, Feichtenhofer et al. 2019) as a method
of the localization protocol (:mod:`bench.methods`): ``fit`` trains the person detector
(:class:`~deep.localization.person_detector.PersonDetector`) on the training keyframes'
actor boxes and the RoI action head (:class:`~deep.localization.action_head.RoIActionNet`)
on the same keyframes' ground-truth boxes and actions; ``localize`` detects the actors of
every keyframe of a test video, cuts the keyframe's clip features at each detected box and
scores every action of every box: ``person score x sigmoid(action logit)`` (so that a box the
detector doubts ranks below a sure one in every class). With ``test_boxes="ground_truth"``
the head scores the ground-truth boxes passed to :meth:`RoIActionLocalizer.localize` instead
(score: the action probability), the second number AVA papers report, which isolates the
action head from the detector; the harness, which passes no boxes, uses detected ones.

References
----------
Gu, C. et al. (2018). AVA: a video dataset of spatio-temporally localized atomic visual
actions. CVPR. arXiv:1705.08421.
Feichtenhofer, C., Fan, H., Malik, J., He, K. (2019). SlowFast networks for video
recognition. ICCV. arXiv:1812.03982.
Ren, S., He, K., Girshick, R., Sun, J. (2015). Faster R-CNN. NeurIPS. arXiv:1506.01497.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from torch import nn

from bench.device import resolve_device
from bench.methods import VideoFailure
from deep.cache import ClipCache
from deep.detection._inputs import check_videos, decode_videos
from deep.detection.snippets import MODALITIES
from deep.localization._training import resize_frames, train_by_budget, training_keyframes
from deep.localization.action_head import (
    RoIActionNet,
    TrainKeyframeClips,
    boxes_to_rois,
    keyframe_clip,
)
from deep.localization.boxes import (
    OUTPUT_COLUMNS,
    check_training_boxes,
    empty_output,
    keyframes,
)
from deep.localization.person_detector import PersonDetector
from deep.training_loop import deterministic_algorithms

__all__ = ["RoIActionLocalizer", "TEST_BOXES"]

#: Where the test boxes come from.
TEST_BOXES = ("detected", "ground_truth")


class RoIActionLocalizer(BaseEstimator):
    """Actors and their actions at every keyframe: a person detector and a RoI action head.

    Parameters
    ----------
    detector : PersonDetector or None
        The first stage (cloned at fit); None: ``PersonDetector()`` with this estimator's
        ``device``, ``random_state``, ``cache_dir``, ``rate_hz``.
    backbone : str, default "r3d_18_small"
    short_side : int, default 64
        Decode size of the action head's clips.
    clip_len, frame_interval : int, default 8, 2
        Frames of a clip and their spacing, centred on the keyframe.
    modality : {"diff", "rgb"}, default "diff"
    roi_size, sampling_ratio, hidden, dropout
        The head (:class:`~deep.localization.action_head.RoIActionNet`).
    jitter : int, default 2
        Largest temporal shift of a training clip's centre from its keyframe.
    box_jitter : float, default 0.1
        Largest shift of a training box side, as a share of the box's size.
    epochs, min_steps, max_steps, batch_size, lr, weight_decay, warmup_epochs
        The head's budget (epochs of training keyframes, bounded in steps) and AdamW.
    test_boxes : {"detected", "ground_truth"}, default "detected"
    n_classes : int or None
        None: the largest training label + 1.
    allow_flip : bool, default True
        Mirror training clips (False where a class is direction-labelled).
    rate_hz : float, default 1.0
    device, deterministic, random_state, num_workers, progress, cache_dir, work_dir
        As the deep track's other estimators (``work_dir`` is accepted and not used).

    Attributes
    ----------
    detector_, model_, n_classes_, input_size_, history_, budget_, n_params_, failures_
    """

    def __init__(self, detector: PersonDetector | None = None, backbone: str = "r3d_18_small",
                 short_side: int = 64, clip_len: int = 8, frame_interval: int = 2,
                 modality: str = "diff", roi_size: int = 4, sampling_ratio: int = 2,
                 hidden: int = 256, dropout: float = 0.3, jitter: int = 2,
                 box_jitter: float = 0.1, epochs: int = 30, min_steps: int | None = 60,
                 max_steps: int | None = 2000, batch_size: int = 8, lr: float = 1e-3,
                 weight_decay: float = 0.05, warmup_epochs: float = 1.0,
                 test_boxes: str = "detected", n_classes: int | None = None,
                 allow_flip: bool = True, rate_hz: float = 1.0, device: str = "auto",
                 deterministic: bool | None = None, random_state: int = 0,
                 num_workers: int = 0, progress: bool = False,
                 cache_dir: str | os.PathLike | None = None,
                 work_dir: str | os.PathLike | None = None):
        self.detector = detector
        self.backbone = backbone
        self.short_side = short_side
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.modality = modality
        self.roi_size = roi_size
        self.sampling_ratio = sampling_ratio
        self.hidden = hidden
        self.dropout = dropout
        self.jitter = jitter
        self.box_jitter = box_jitter
        self.epochs = epochs
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.test_boxes = test_boxes
        self.n_classes = n_classes
        self.allow_flip = allow_flip
        self.rate_hz = rate_hz
        self.device = device
        self.deterministic = deterministic
        self.random_state = random_state
        self.num_workers = num_workers
        self.progress = progress
        self.cache_dir = cache_dir
        self.work_dir = work_dir

    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"The {name!r} parameter of RoIActionLocalizer must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")

        for name in ("short_side", "clip_len", "frame_interval", "roi_size", "sampling_ratio",
                     "hidden", "epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise bad(name, "an int in [1, inf)")
        for name in ("min_steps", "max_steps"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int | np.integer) or v < 1):
                raise bad(name, "None or an int in [1, inf)")
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, int) or self.jitter < 0:
            raise bad("jitter", "an int in [0, inf)")
        if not 0 <= float(self.box_jitter) < 0.5:
            raise bad("box_jitter", "a float in [0, 0.5)")
        if not 0 <= float(self.dropout) < 1:
            raise bad("dropout", "a float in [0, 1)")
        if not (isinstance(self.lr, float | int) and self.lr > 0):
            raise bad("lr", "a float in (0, inf)")
        if self.modality not in MODALITIES:
            raise bad("modality", f"one of {MODALITIES}")
        if self.test_boxes not in TEST_BOXES:
            raise bad("test_boxes", f"one of {TEST_BOXES} (ground-truth boxes are passed to "
                      "localize(videos, boxes=...))")
        if self.detector is not None and not isinstance(self.detector, PersonDetector):
            raise bad("detector", "a PersonDetector or None")

    def _cache(self) -> ClipCache:
        return ClipCache(self.cache_dir, short_side=int(self.short_side))

    def _decode(self, videos, what: str) -> list:
        return decode_videos(self._cache(), list(videos), stride=1, clip_len=1, interval=1,
                             failures=self.failures_, progress=self.progress, what=what)

    # ------------------------------------------------------------------ fit
    def fit(self, videos, boxes: pd.DataFrame, groups=None) -> RoIActionLocalizer:
        """Train the person detector and the RoI head on the training keyframes.

        Parameters
        ----------
        videos : array of str
        boxes : DataFrame
            The protocol's training ground truth (``video, timestamp, x1, y1, x2, y2,
            label``; ``frame`` and ``person_id`` used where present).
        groups : ignored

        Raises
        ------
        ValueError
            A bad parameter or table, or no training keyframe in a decodable video.
        """
        self._check_params()
        videos = check_videos(videos, "RoIActionLocalizer.fit")
        table, self.n_classes_ = check_training_boxes(videos, boxes, self.n_classes,
                                                      "RoIActionLocalizer.fit")
        self.failures_: list[VideoFailure] = []
        decoded = self._decode(videos, "train")
        keys = training_keyframes(decoded, table, self.n_classes_)
        if not keys:
            raise ValueError("RoIActionLocalizer: no training keyframe with boxes in a "
                             "decodable video; see failures_ for the videos that did not "
                             "decode.")
        self.detector_ = (clone(self.detector) if self.detector is not None else
                          PersonDetector(device=self.device, random_state=self.random_state,
                                         cache_dir=self.cache_dir, rate_hz=self.rate_hz))
        self.detector_.failures_ = []
        if self.detector_.short_side == self.short_side:
            self.detector_.fit_keyframes(decoded, keys)
        else:
            det_decoded = self.detector_.decode(videos, self.detector_.failures_, "train")
            self.detector_.fit_keyframes(det_decoded, training_keyframes(
                det_decoded, table, self.n_classes_))
        self._merge_failures()
        self._train_head(decoded, keys)
        self.n_params_ = int(sum(p.numel() for p in self.model_.parameters())
                             + self.detector_.n_params_)
        return self

    def _train_head(self, decoded: list, keys: list) -> None:
        first = next(d for d in decoded if d is not None)
        self.input_size_ = tuple(int(v) for v in first.frames.shape[1:3])
        self.device_ = torch.device(resolve_device(self.device))
        self.deterministic_ = (self.device_.type == "cpu" if self.deterministic is None
                               else bool(self.deterministic))
        frames = [None if d is None else resize_frames(d.frames, self.input_size_)
                  for d in decoded]
        data = TrainKeyframeClips(frames, keys, self.n_classes_, max(len(k.boxes) for k in keys),
                                  int(self.clip_len), int(self.frame_interval), self.modality,
                                  int(self.random_state), int(self.jitter),
                                  float(self.box_jitter), bool(self.allow_flip))
        height, width = self.input_size_
        criterion = nn.BCEWithLogitsLoss(reduction="sum")
        with deterministic_algorithms(self.deterministic_):
            torch.manual_seed(int(self.random_state))
            model = RoIActionNet(self.backbone, self.n_classes_, int(self.roi_size),
                                 int(self.sampling_ratio), int(self.hidden),
                                 float(self.dropout)).to(self.device_)

            def step(net, batch):
                clips, boxes, labels, valid = (b.to(self.device_) for b in batch)
                rois, kept = boxes_to_rois(boxes, valid, height, width)
                logits = net(clips, rois)
                target = labels.reshape(-1, labels.shape[-1])[kept]
                return criterion(logits, target) / max(len(kept), 1)

            self.history_, budget = train_by_budget(
                model, data, step, epochs=self.epochs, batch_size=self.batch_size,
                min_steps=self.min_steps, max_steps=self.max_steps, lr=self.lr,
                weight_decay=self.weight_decay, warmup_epochs=self.warmup_epochs,
                grad_clip=1.0, seed=int(self.random_state), device=self.device_,
                num_workers=int(self.num_workers),
                desc="RoI action head" if self.progress else None)
        self.model_ = model
        self.budget_ = {**budget.to_dict(), "min_steps": self.min_steps,
                        "max_steps": self.max_steps, "validation": False,
                        "detector": self.detector_.budget_}

    def _merge_failures(self) -> None:
        seen = {f.video for f in self.failures_}
        for f in self.detector_.failures_:
            if f.video not in seen:
                self.failures_.append(f)
                seen.add(f.video)
        self.detector_.failures_ = []

    # ------------------------------------------------------------------ localize
    def action_probabilities(self, frames: np.ndarray, frame: int, boxes: np.ndarray
                             ) -> np.ndarray:
        """Sigmoid action probabilities ``(m, n_classes)`` of ``boxes`` (fractions) in the
        clip centred on ``frame`` of decoded ``frames``."""
        if len(boxes) == 0:
            return np.zeros((0, self.n_classes_))
        height, width = self.input_size_
        clip = keyframe_clip(frames, frame, int(self.clip_len), int(self.frame_interval),
                             self.modality)
        b = torch.from_numpy(np.asarray(boxes, dtype=np.float32))[None]
        rois, _ = boxes_to_rois(b, torch.ones(b.shape[:2]), height, width)
        with deterministic_algorithms(self.deterministic_), torch.inference_mode():
            logits = self.model_(torch.from_numpy(clip)[None].to(self.device_),
                                 rois.to(self.device_))
        return torch.sigmoid(logits.float()).cpu().numpy().astype(np.float64)

    def localize(self, videos, boxes: pd.DataFrame | None = None) -> pd.DataFrame:
        """Scored (box, action) rows at every keyframe of each decodable test video.

        Parameters
        ----------
        videos : array of str
        boxes : DataFrame, optional
            With ``test_boxes="ground_truth"``: the test ground truth (``video, timestamp,
            x1, y1, x2, y2``; one box per actor is kept), whose keyframes are scored instead
            of detected ones.

        Returns
        -------
        DataFrame
            :data:`~deep.localization.boxes.OUTPUT_COLUMNS`, one row per box and class.

        Raises
        ------
        ValueError
            ``test_boxes="ground_truth"`` without ``boxes``.
        """
        if not hasattr(self, "model_"):
            raise RuntimeError("This RoIActionLocalizer is not fitted yet; call fit first.")
        videos = check_videos(videos, "RoIActionLocalizer.localize")
        if self.test_boxes == "ground_truth" and boxes is None:
            raise ValueError("RoIActionLocalizer.localize: test_boxes='ground_truth' needs the "
                             "test boxes, localize(videos, boxes=<ground truth>); the harness "
                             "passes none, so run it with test_boxes='detected'.")
        decoded = self._decode(videos, "test")
        tables = []
        for d in decoded:
            if d is None:
                continue
            per_key = self._test_boxes(d, boxes)
            height, width = self.input_size_
            frames = resize_frames(d.frames, (height, width))
            for frame, t, xyxy, person in per_key:
                probs = self.action_probabilities(frames, frame, xyxy)
                if not len(probs):
                    continue
                m, c = probs.shape
                tables.append(pd.DataFrame({
                    "video": d.path, "timestamp": t,
                    **{k: np.repeat(xyxy[:, i], c) for i, k in enumerate(("x1", "y1", "x2",
                                                                           "y2"))},
                    "label": np.tile(np.arange(c, dtype=np.int64), m),
                    "score": (probs * person[:, None]).reshape(-1)}))
        self._merge_failures()
        if not tables:
            return empty_output()
        return pd.concat(tables, ignore_index=True).loc[:, list(OUTPUT_COLUMNS)]

    def _test_boxes(self, video, boxes: pd.DataFrame | None) -> list:
        """``(frame, timestamp, boxes, person scores)`` of each keyframe to score."""
        frames, times = keyframes(video.grid.n_frames, video.grid.fps, float(self.rate_hz))
        if self.test_boxes == "detected":
            found = self.detector_.detect_frames(video.frames, frames)
            return [(int(f), float(t), b, s) for f, t, (b, s) in zip(frames, times, found,
                                                                      strict=True)]
        rows = boxes[boxes["video"].astype(str) == video.path]
        out = []
        for f, t in zip(frames, times, strict=True):
            at = rows[np.isclose(rows["timestamp"].to_numpy(dtype=float), t, atol=1e-6)]
            xyxy = np.unique(at[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64), axis=0)
            if len(xyxy):
                out.append((int(f), float(t), xyxy, np.ones(len(xyxy))))
        return out
