"""What both snippet-based detectors share: fitting the backbone, the detection loop, the table.

A detector holds a :class:`~deep.detection.backbone.SnippetClassifier` (its ``backbone``
parameter, cloned at fit), trains it on the training videos, and at ``detect`` turns each
video's per-cell outputs into scored segments with its own ``_detect_video``. Failures of
decoding go to ``failures_`` (the backbone's list, shared) and the video gets no detection.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone

from bench.methods import VideoFailure
from deep.detection._inputs import (
    DETECTION_OUTPUT_COLUMNS,
    DecodedVideo,
    check_videos,
    empty_output,
    segments_by_video,
)
from deep.detection.backbone import SnippetClassifier
from deep.detection.snippets import SnippetGrid

__all__ = ["SnippetDetector"]


class SnippetDetector(BaseEstimator):
    """Base of the detectors (not an estimator by itself: subclasses define ``__init__``)."""

    def _decode_training(self, videos, segments: pd.DataFrame
                         ) -> tuple[SnippetClassifier, list[DecodedVideo | None],
                                    list[np.ndarray], int]:
        """Check the inputs, clone the backbone (failures shared with ``failures_``) and
        decode the training videos: ``(network, decoded (None: failed), segments, n_classes)``.
        """
        name = type(self).__name__
        videos = check_videos(videos, f"{name}.fit")
        per_video, n_classes = segments_by_video(videos, segments, self.n_classes,
                                                 f"{name}.fit")
        backbone = clone(self.backbone) if self.backbone is not None else SnippetClassifier()
        self.failures_: list[VideoFailure] = []
        backbone.failures_ = self.failures_
        return backbone, backbone.decode(videos, self.failures_, "train"), per_video, n_classes

    def _fit_backbone(self, videos, segments: pd.DataFrame
                      ) -> tuple[list[DecodedVideo], list[np.ndarray]]:
        """Check the inputs, decode, train ``backbone_``; the decoded videos and segments."""
        start = time.perf_counter()
        backbone, decoded, per_video, n_classes = self._decode_training(videos, segments)
        backbone.fit_decoded(decoded, per_video, n_classes)
        self.backbone_ = backbone
        self.n_classes_ = n_classes
        keep = [i for i, d in enumerate(decoded) if d is not None]
        self.timing_ = {"backbone_s": time.perf_counter() - start}
        return [decoded[i] for i in keep], [per_video[i] for i in keep]

    def detect(self, videos) -> pd.DataFrame:
        """Scored segments of every video.

        Parameters
        ----------
        videos : 1-D array-like of str
            Absolute video paths.

        Returns
        -------
        DataFrame
            ``video, t_start, t_end, label, score``: seconds inside the video, label in
            ``range(n_classes)``, higher score more confident; videos in the given order,
            each one's detections by decreasing score. A video that fails to decode has no
            row and a ``VideoFailure(stage="decode")`` in ``failures_``.
        """
        if not hasattr(self, "backbone_"):
            raise RuntimeError(f"This {type(self).__name__} is not fitted yet; call fit first.")
        videos = check_videos(videos, f"{type(self).__name__}.detect")
        decoded = self.backbone_.decode(videos, self.failures_, "test")
        tables = []
        with torch.inference_mode():
            for video in decoded:
                if video is None:
                    continue
                segments, scores, labels = self._detect_video(video)
                tables.append(_table(video.path, video.grid, segments, scores, labels))
        if not tables:
            return empty_output()
        out = pd.concat(tables, ignore_index=True)
        return out.loc[:, list(DETECTION_OUTPUT_COLUMNS)]

    def _detect_video(self, video: DecodedVideo
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
        """``(segments (k, 2) in cells, scores (k,), labels (k,))`` of one video."""
        raise NotImplementedError


def _table(path: str, grid: SnippetGrid, segments: np.ndarray, scores: np.ndarray,
           labels: np.ndarray) -> pd.DataFrame:
    """One video's detections in seconds, inside the video, empty segments dropped."""
    seconds = grid.to_seconds(np.asarray(segments, dtype=np.float64).reshape(-1, 2))
    keep = seconds[:, 1] > seconds[:, 0]
    order = np.argsort(-np.asarray(scores)[keep], kind="stable")
    return pd.DataFrame({
        "video": np.full(int(keep.sum()), path, dtype=object),
        "t_start": seconds[keep, 0][order], "t_end": seconds[keep, 1][order],
        "label": np.asarray(labels, dtype=np.int64)[keep][order],
        "score": np.asarray(scores, dtype=np.float64)[keep][order]})
