"""Spatio-temporal action localization: *who* does what, *where*, at each keyframe or frame."""

from bench.tasks.localization.boxes import (
    BOX_COLUMNS,
    BOX_DETECTION_COLUMNS,
    KEYFRAME_COLUMNS,
    OPTIONAL_BOX_COLUMNS,
    TUBE_COLUMNS,
    TUBE_DETECTION_COLUMNS,
    box_iou,
    empty_boxes,
    validate_box_detections,
    validate_boxes,
    validate_keyframes,
    validate_tubes,
)
from bench.tasks.localization.frame_ap import (
    AVA_MAX_DETECTIONS_PER_KEYFRAME,
    bootstrap_frame_map,
    frame_map,
)
from bench.tasks.localization.persons import PersonDetectionResult, person_detection
from bench.tasks.localization.result import LocalizationResult
from bench.tasks.localization.video_ap import VIDEO_MAP_THRESHOLDS, tube_iou, video_map

__all__ = [
    "BOX_COLUMNS",
    "OPTIONAL_BOX_COLUMNS",
    "BOX_DETECTION_COLUMNS",
    "KEYFRAME_COLUMNS",
    "TUBE_COLUMNS",
    "TUBE_DETECTION_COLUMNS",
    "empty_boxes",
    "validate_boxes",
    "validate_box_detections",
    "validate_keyframes",
    "validate_tubes",
    "box_iou",
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
