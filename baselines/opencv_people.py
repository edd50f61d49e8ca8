"""OpenCV's bundled HOG people detector as a pretrained person-detection reference.

``cv2.HOGDescriptor()`` with ``cv2.HOGDescriptor_getDefaultPeopleDetector()``: the linear SVM
of Dalal & Triggs [1]_ trained on the INRIA person set, shipped inside OpenCV (no download).
Its 64 x 128 window holds a person about 96 px tall, so each keyframe is upscaled until the
training actors' median height is about 96 px. It knows no actions: every box gets one row
per class scored ``detector weight x training frequency of the class``, so only its person
AP (and recall) means something; its frame-mAP is that of a labeller by prior.

References
----------
.. [1] N. Dalal, B. Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005.
   :doi:`10.1109/CVPR.2005.177`
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from baselines.keyframes import TRAINING_COLUMNS, KeyframeVideo, empty_localization, sigmoid
from bench.data.video import VideoDecodeError, probe_video
from bench.methods import MethodCard, MethodContext, VideoFailure

__all__ = ["OpenCVPeopleLocalizer", "OPENCV_PEOPLE_CARD", "build_opencv_people"]

#: Height of a person in the default detector's 64 x 128 window (Dalal & Triggs' margins).
PERSON_HEIGHT_PX = 96


class OpenCVPeopleLocalizer(BaseEstimator):
    """Pretrained HOG people boxes at every keyframe, labelled by the training priors.

    Parameters
    ----------
    hit_threshold : float, default 0.0
        ``detectMultiScale``'s SVM threshold.
    scale : float, default 1.05
        Pyramid step of ``detectMultiScale``.
    max_boxes : int, default 4
        Boxes per keyframe, by detector weight.
    rate_hz : float, default 1.0

    Attributes
    ----------
    upscale_ : float
        Resize factor of the frames: 96 px over the training boxes' median height (in pixels).
    class_prior_ : ndarray
    failures_ : list of VideoFailure
    """

    def __init__(self, hit_threshold: float = 0.0, scale: float = 1.05, max_boxes: int = 4,
                 rate_hz: float = 1.0):
        self.hit_threshold = hit_threshold
        self.scale = scale
        self.max_boxes = max_boxes
        self.rate_hz = rate_hz

    def fit(self, videos, boxes: pd.DataFrame, groups=None) -> OpenCVPeopleLocalizer:
        """Learn the class frequencies and the upscale factor from the training boxes (the
        detector itself is pretrained; one training video is probed for its frame size)."""
        if not isinstance(self.max_boxes, int) or isinstance(self.max_boxes, bool) \
                or self.max_boxes < 1:
            raise ValueError("The 'max_boxes' parameter of OpenCVPeopleLocalizer must be an int "
                             f"in the range [1, inf). Got {self.max_boxes!r} instead.")
        if not isinstance(self.scale, int | float) or not self.scale > 1:
            raise ValueError("The 'scale' parameter of OpenCVPeopleLocalizer must be a float "
                             f"> 1. Got {self.scale!r} instead.")
        missing = [c for c in TRAINING_COLUMNS if c not in boxes.columns]
        if missing or not len(boxes):
            raise ValueError("OpenCVPeopleLocalizer.fit needs training boxes with the columns "
                             f"{list(TRAINING_COLUMNS)}; missing {missing}, {len(boxes)} rows")
        self.failures_: list[VideoFailure] = []
        counts = np.bincount(boxes["label"].to_numpy(int)).astype(float)
        self.class_prior_ = counts / counts.sum()
        heights = (boxes["y2"] - boxes["y1"]).to_numpy(float)
        height_px = None
        for path in map(str, boxes["video"].unique()):
            try:
                height_px = probe_video(path).height
                break
            except VideoDecodeError as exc:
                self.failures_.append(VideoFailure(path, "decode", exc.reason))
        if height_px is None:
            raise ValueError("OpenCVPeopleLocalizer: no training video could be probed")
        self.upscale_ = float(PERSON_HEIGHT_PX / max(1.0, np.median(heights) * height_px))
        return self

    def localize(self, videos) -> pd.DataFrame:
        """One row per (box, class) at every keyframe of each video that decodes."""
        check_is_fitted(self, "class_prior_")
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        C, out = len(self.class_prior_), []
        for path in map(str, videos):
            try:
                video = KeyframeVideo(path, float(self.rate_hz))
            except VideoDecodeError as exc:
                self.failures_.append(VideoFailure(path, "decode", exc.reason))
                continue
            for frame, time in zip(video.key_frames, video.key_times, strict=True):
                image = cv2.resize(video.frames[frame], None, fx=self.upscale_,
                                   fy=self.upscale_, interpolation=cv2.INTER_LINEAR)
                rects, weights = hog.detectMultiScale(image, hitThreshold=self.hit_threshold,
                                                      winStride=(4, 4), padding=(16, 16),
                                                      scale=self.scale)
                if len(rects) == 0:
                    continue
                weights = np.asarray(weights, dtype=float).reshape(-1)
                order = np.argsort(-weights, kind="stable")[:self.max_boxes]
                rects = np.asarray(rects, dtype=float)[order]
                # the person is the window's central 48 x 96 of 64 x 128
                x1 = (rects[:, 0] + rects[:, 2] / 8) / self.upscale_ / video.width
                y1 = (rects[:, 1] + rects[:, 3] / 8) / self.upscale_ / video.height
                x2 = (rects[:, 0] + rects[:, 2] * 7 / 8) / self.upscale_ / video.width
                y2 = (rects[:, 1] + rects[:, 3] * 7 / 8) / self.upscale_ / video.height
                person = sigmoid(weights[order])
                n = len(order)
                out.append(pd.DataFrame({
                    "video": path, "timestamp": float(time),
                    "x1": np.repeat(np.clip(x1, 0, 1), C), "y1": np.repeat(np.clip(y1, 0, 1), C),
                    "x2": np.repeat(np.clip(x2, 0, 1), C), "y2": np.repeat(np.clip(y2, 0, 1), C),
                    "label": np.tile(np.arange(C), n),
                    "score": (person[:, None] * self.class_prior_[None, :]).ravel(),
                    "person_id": np.int64(-1)}))
        return pd.concat(out, ignore_index=True) if out else empty_localization()


OPENCV_PEOPLE_CARD = MethodCard(
    name="opencv_hog_people",
    track="reference",
    family="pretrained HOG people detector (INRIA), labels by training frequency",
    year=2005,
    paper="N. Dalal, B. Triggs, \"Histograms of Oriented Gradients for Human Detection\", CVPR "
          "2005, doi:10.1109/CVPR.2005.177 (OpenCV's bundled INRIA-trained detector)",
    protocol="cv2.HOGDescriptor default people detector (64x128 window, trained on INRIA "
             "persons) on every 1 Hz keyframe upscaled so the training actors are ~96 px tall; "
             "detectMultiScale (stride 4, scale 1.05), 4 boxes per keyframe; each box scored "
             "for every class by sigmoid(weight) x the class's training frequency: only its "
             "person AP is meaningful",
    params=3781,
    description="OpenCV's pretrained HOG people detector; person-detection reference only "
                "(actions by training frequency)",
    task="localization",
)


def build_opencv_people(ctx: MethodContext, **params) -> OpenCVPeopleLocalizer:
    """The reference of :data:`OPENCV_PEOPLE_CARD` (``ctx`` sets nothing: it is seedless)."""
    return OpenCVPeopleLocalizer(**params)
