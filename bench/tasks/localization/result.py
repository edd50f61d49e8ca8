"""What frame-mAP and video-mAP return: AP per class and threshold, and their mean.

:class:`LocalizationResult` is the one result type of the class-wise localization metrics,
:func:`~bench.tasks.localization.frame_ap.frame_map` (one box-IoU threshold) and
:func:`~bench.tasks.localization.video_ap.video_map` (tube-IoU thresholds), so that a report
reads both the same way. The class-agnostic person detection has its own,
:class:`~bench.tasks.localization.persons.PersonDetectionResult`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["LocalizationResult"]


@dataclass(frozen=True)
class LocalizationResult:
    """AP per class at one or more IoU thresholds, and their mean over the classes.

    Attributes
    ----------
    thresholds : tuple of float
        Box IoU thresholds (frame-mAP: one) or tube-IoU thresholds (video-mAP).
    classes : tuple of str
        The classes with ground truth, sorted (as strings).
    ap : ndarray, shape (n_classes, n_thresholds)
    n_ground_truth, n_detections : ndarray of int, shape (n_classes,)
        Boxes (frame-mAP) or tubes (video-mAP) of each class that were evaluated: after the
        exclusions, the class restriction and the per-keyframe cap.
    interval : tuple of float or None
        Percentile bootstrap interval of :attr:`map` over videos, when asked for.
    """

    thresholds: tuple[float, ...]
    classes: tuple[str, ...]
    ap: np.ndarray
    n_ground_truth: np.ndarray
    n_detections: np.ndarray
    interval: tuple[float, float] | None = None

    @property
    def map_per_threshold(self) -> np.ndarray:
        """mAP at each threshold (NaN without ground truth)."""
        if not len(self.classes):
            return np.full(len(self.thresholds), np.nan)
        return self.ap.mean(axis=0)

    @property
    def map(self) -> float:
        """The mAP; with several thresholds, the mean of :attr:`map_per_threshold`."""
        return float(np.mean(self.map_per_threshold))

    def map_at(self, threshold: float) -> float:
        """The mAP at one of :attr:`thresholds`."""
        index = int(np.argmin(np.abs(np.asarray(self.thresholds) - threshold)))
        if not np.isclose(self.thresholds[index], threshold):
            raise KeyError(f"threshold {threshold} was not evaluated; have {self.thresholds}")
        return float(self.map_per_threshold[index])

    def table(self) -> pd.DataFrame:
        """Per-class AP: ``label, n_ground_truth, n_detections, ap@<t>...``."""
        table = pd.DataFrame({"label": list(self.classes),
                              "n_ground_truth": self.n_ground_truth,
                              "n_detections": self.n_detections})
        for k, t in enumerate(self.thresholds):
            table[f"ap@{t:.2f}"] = self.ap[:, k]
        return table
