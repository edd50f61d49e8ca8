"""Temporal detection: *when* does each action start and end in an untrimmed video."""

from bench.tasks.detection.formats import (
    read_database_json,
    read_results_json,
    write_database_json,
    write_results_json,
)
from bench.tasks.detection.metrics import (
    ACTIVITYNET_THRESHOLDS,
    THUMOS14_THRESHOLDS,
    DetectionResult,
    activitynet_map,
    bootstrap_map,
    evaluate_detection,
    interpolated_average_precision,
    per_class_ap,
    temporal_iou,
    thumos14_map,
)
from bench.tasks.detection.proposals import ProposalRecall, average_recall
from bench.tasks.detection.segments import (
    DETECTION_COLUMNS,
    SEGMENT_COLUMNS,
    empty_detections,
    validate_detections,
    validate_segments,
)

__all__ = [
    "SEGMENT_COLUMNS",
    "DETECTION_COLUMNS",
    "empty_detections",
    "validate_segments",
    "validate_detections",
    "ACTIVITYNET_THRESHOLDS",
    "THUMOS14_THRESHOLDS",
    "temporal_iou",
    "interpolated_average_precision",
    "DetectionResult",
    "evaluate_detection",
    "activitynet_map",
    "thumos14_map",
    "per_class_ap",
    "bootstrap_map",
    "ProposalRecall",
    "average_recall",
    "write_results_json",
    "read_results_json",
    "write_database_json",
    "read_database_json",
]
