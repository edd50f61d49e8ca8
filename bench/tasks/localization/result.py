"""What frame-mAP and video-mAP return: AP per class and threshold, and their mean.

:class:`LocalizationResult` is the one result type of the class-wise localization metrics,
:func:`~bench.tasks.localization.frame_ap.frame_map` (one box-IoU threshold) and
:func:`~bench.tasks.localization.video_ap.video_map` (tube-IoU thresholds), so that a report
reads both the same way. The class-agnostic person detection has its own,
:class:`~bench.tasks.localization.persons.PersonDetectionResult`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.tasks._ranking import PerClassAP

__all__ = ["LocalizationResult"]


@dataclass(frozen=True)
class LocalizationResult(PerClassAP):
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

    @property
    def map(self) -> float:
        """The mAP; with several thresholds, the mean of :attr:`map_per_threshold`."""
        return self._mean_map()
