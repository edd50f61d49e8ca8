"""``SnippetTAGDetector``: snippet classifier + temporal actionness grouping (SSN / TAG, 2017).

The detector of Zhao et al. (2017) without its structured second stage:

1. a small 3D CNN (:class:`~deep.detection.backbone.SnippetClassifier`) classifies every
   snippet of a video into the classes or background;
2. the actionness of a cell is ``1 - P(background)``;
3. temporal actionness grouping (:func:`~deep.detection.grouping.tag_proposals`) over the
   paper's ladders of thresholds and tolerances gives class-agnostic proposals
   (``grouping="actionness"``); ``grouping="class"`` also groups each class's own probability
   sequence (a class-aware variant, which can split back-to-back instances of different
   classes that actionness alone merges);
4. each proposal is scored for each class (:func:`~deep.detection.grouping.score_proposals`:
   the class's mean probability inside times its contrast with the flanks, a stand-in for
   SSN's completeness classifier), and per-class temporal NMS keeps the best.

Notes
-----
Differences from the paper: no structured temporal pyramid and no learned completeness
classifier or location regression (the flank contrast stands in for completeness); the snippet
network is a small 3D CNN on RGB trained from scratch (the paper: a two-stream BN-Inception
pretrained on ImageNet); several actors at once give soft snippet targets.

References
----------
Zhao, Y., Xiong, Y., Wang, L., Wu, Z., Tang, X., Lin, D. (2017). Temporal action detection
with structured segment networks. ICCV. arXiv:1704.06228.
Xiong, Y., Zhao, Y., Wang, L., Lin, D., Tang, X. (2017). A pursuit of temporal accuracy in
general activity detection. arXiv:1703.02716.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from deep.detection._base import SnippetDetector
from deep.detection._inputs import DecodedVideo
from deep.detection.backbone import SnippetClassifier
from deep.detection.grouping import SCORINGS, TAG_LADDER, score_proposals, tag_proposals
from deep.detection.nms import multiclass_nms

__all__ = ["SnippetTAGDetector", "GROUPINGS"]

#: What TAG groups: actionness only (the paper), or also each class's probability.
GROUPINGS = ("actionness", "class")


class SnippetTAGDetector(SnippetDetector):
    """Snippet classifier + temporal actionness grouping, under the detection protocol.

    Parameters
    ----------
    backbone : SnippetClassifier, optional
        The snippet network and its training (cloned at fit); default ``SnippetClassifier()``.
    n_classes : int, optional
        Action classes (default: largest training label + 1).
    thresholds, tolerances : sequence of float, default 0.05, 0.10, ..., 0.95
        The TAG ladders of actionness levels and least basin shares.
    grouping : {"actionness", "class"}, default "actionness"
    scoring : {"completeness", "mean"}, default "completeness"
    min_cells : int, default 1
        Shortest proposal, in cells.
    nms : {"hard", "soft"}, default "hard"
    nms_iou : float, default 0.5
        Hard NMS threshold.
    nms_sigma : float, default 0.5
        Soft-NMS width.
    min_score : float, default 1e-3
        Drop class scores at or below it.
    max_detections : int, default 100
        Per video, after NMS.

    Attributes
    ----------
    backbone_ : SnippetClassifier
    n_classes_ : int
    failures_ : list of VideoFailure
    budget_ : dict
        ``{"snippets": the backbone's resolved budget}``.
    n_params_ : int
    timing_ : dict
        ``backbone_s``: seconds to decode and train.

    Examples
    --------
    >>> det = SnippetTAGDetector(SnippetClassifier(epochs=2))  # doctest: +SKIP
    >>> det.fit(paths, segments).detect(test_paths)  # doctest: +SKIP
    """

    def __init__(self, backbone: SnippetClassifier | None = None, n_classes: int | None = None,
                 thresholds: Sequence[float] = TAG_LADDER,
                 tolerances: Sequence[float] = TAG_LADDER, grouping: str = "actionness",
                 scoring: str = "completeness", min_cells: int = 1, nms: str = "hard",
                 nms_iou: float = 0.5, nms_sigma: float = 0.5, min_score: float = 1e-3,
                 max_detections: int = 100):
        self.backbone = backbone
        self.n_classes = n_classes
        self.thresholds = thresholds
        self.tolerances = tolerances
        self.grouping = grouping
        self.scoring = scoring
        self.min_cells = min_cells
        self.nms = nms
        self.nms_iou = nms_iou
        self.nms_sigma = nms_sigma
        self.min_score = min_score
        self.max_detections = max_detections

    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"The {name!r} parameter of SnippetTAGDetector must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")

        for name in ("thresholds", "tolerances"):
            values = np.asarray(getattr(self, name), dtype=np.float64).ravel()
            if not len(values) or not np.all((values > 0) & (values <= 1)):
                raise bad(name, "a non-empty sequence of numbers in (0, 1]")
        if self.grouping not in GROUPINGS:
            raise bad("grouping", f"one of {GROUPINGS}")
        if self.scoring not in SCORINGS:
            raise bad("scoring", f"one of {SCORINGS}")
        if self.nms not in ("hard", "soft"):
            raise bad("nms", "'hard' or 'soft'")
        if not isinstance(self.max_detections, int | np.integer) or self.max_detections < 1:
            raise bad("max_detections", "an int in [1, inf)")
        if not isinstance(self.min_cells, int | np.integer) or self.min_cells < 1:
            raise bad("min_cells", "an int in [1, inf)")

    def fit(self, videos, segments: pd.DataFrame, groups=None) -> SnippetTAGDetector:
        """Train the snippet classifier on the training videos and their segments.

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
        self._fit_backbone(videos, segments)
        self.budget_ = {"snippets": self.backbone_.budget_}
        self.n_params_ = self.backbone_.n_params_
        return self

    def proposals(self, probs: np.ndarray) -> np.ndarray:
        """TAG proposals ``[start, end)`` (cells) of one video's cell probabilities."""
        sequences = [1.0 - probs[:, -1]]
        if self.grouping == "class":
            sequences += [probs[:, c] for c in range(probs.shape[1] - 1)]
        spans = [tag_proposals(s, self.thresholds, self.tolerances, int(self.min_cells))
                 for s in sequences]
        return np.unique(np.concatenate(spans), axis=0) if spans else np.zeros((0, 2), int)

    def _detect_video(self, video: DecodedVideo):
        probs, _ = self.backbone_.snippet_outputs(video)
        spans = self.proposals(probs)
        if not len(spans):
            return np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=np.int64)
        scores = score_proposals(probs, spans, self.n_classes_, self.scoring)
        rows, labels = np.nonzero(scores > self.min_score)
        segments = spans[rows].astype(np.float64)
        flat = scores[rows, labels]
        keep, kept = multiclass_nms(segments[:, 0], segments[:, 1], flat, labels,
                                    max_keep=int(self.max_detections), method=self.nms,
                                    iou_threshold=float(self.nms_iou),
                                    sigma=float(self.nms_sigma), min_score=float(self.min_score))
        return segments[keep], kept, labels[keep]
