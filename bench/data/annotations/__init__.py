"""Annotation tables of untrimmed videos: the ground-truth segments schema and its readers."""

from bench.data.annotations.activitynet import ACTIVITYNET_SUBSETS, read_activitynet
from bench.data.annotations.segments import (
    DURATION_TOLERANCE,
    OPTIONAL_SEGMENT_COLUMNS,
    SEGMENT_COLUMNS,
    VIDEO_COLUMNS,
    AnnotationError,
    MissingAnnotatedVideosError,
    SegmentAnnotations,
    empty_segments,
    segment_problems,
    validate_segments,
)
from bench.data.annotations.segments_csv import read_segments_csv
from bench.data.annotations.thumos14 import AMBIGUOUS, THUMOS14_SUBSETS, read_thumos14

__all__ = [
    "SEGMENT_COLUMNS",
    "OPTIONAL_SEGMENT_COLUMNS",
    "VIDEO_COLUMNS",
    "DURATION_TOLERANCE",
    "AnnotationError",
    "MissingAnnotatedVideosError",
    "SegmentAnnotations",
    "empty_segments",
    "segment_problems",
    "validate_segments",
    "read_thumos14",
    "THUMOS14_SUBSETS",
    "AMBIGUOUS",
    "read_activitynet",
    "ACTIVITYNET_SUBSETS",
    "read_segments_csv",
]
