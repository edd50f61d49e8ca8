"""Spatio-temporal action localization metrics: frame-mAP, video-mAP and person-detection AP.

One namespace for the three metrics, each in its own module with its protocol, its
differences from the official evaluators and its references:

* **frame-mAP** (AVA; the frame-AP of UCF101-24 and J-HMDB), PASCAL VOC AP of actor boxes
  at keyframes with the VOC matching rule (no fallback to a second-best box), the AVA
  script's class list, excluded keyframes and per-keyframe cap, and its video bootstrap:
  :mod:`bench.tasks.localization.frame_ap`;
* **video-mAP**, VOC AP of whole tubes at tube IoU with the ACT-detector matching rule (a
  tube falls back to the next free ground truth): :mod:`bench.tasks.localization.video_ap`;
* **person detection**, frame-mAP's matching on class-agnostic boxes:
  :mod:`bench.tasks.localization.persons`.

Both class-wise metrics return a :class:`~bench.tasks.localization.result.LocalizationResult`.
The ranking, AP and bootstrap helpers they share with temporal detection are
:mod:`bench.tasks._ranking`'s.
"""

from bench.tasks.localization.frame_ap import (
    AVA_MAX_DETECTIONS_PER_KEYFRAME,
    bootstrap_frame_map,
    frame_map,
)
from bench.tasks.localization.persons import PersonDetectionResult, person_detection
from bench.tasks.localization.result import LocalizationResult
from bench.tasks.localization.video_ap import VIDEO_MAP_THRESHOLDS, tube_iou, video_map

__all__ = [
    "AVA_MAX_DETECTIONS_PER_KEYFRAME",
    "VIDEO_MAP_THRESHOLDS",
    "LocalizationResult",
    "PersonDetectionResult",
    "frame_map",
    "bootstrap_frame_map",
    "person_detection",
    "tube_iou",
    "video_map",
]
