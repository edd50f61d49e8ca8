"""Annotation tables of untrimmed videos: the segments and boxes schemas and their readers."""

from bench.data.annotations.activitynet import ACTIVITYNET_SUBSETS, read_activitynet
from bench.data.annotations.ava import (
    AVA_KEYFRAME_RANGE,
    AVA_KEYFRAME_RATE,
    read_ava,
    read_ava_excluded,
    write_ava_csv,
    write_ava_excluded,
)
from bench.data.annotations.boxes import (
    BOX_COLUMNS,
    BOX_TOLERANCE,
    KEYFRAME_COLUMNS,
    NO_PERSON,
    BoxAnnotations,
    box_problem,
    validate_boxes,
)
from bench.data.annotations.cvat import CVAT_BOX_COLUMNS, read_cvat_video
from bench.data.annotations.cvat_export import write_cvat_video_xml
from bench.data.annotations.pbtxt import read_ava_label_map, write_ava_label_map
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
    "BOX_COLUMNS",
    "KEYFRAME_COLUMNS",
    "BOX_TOLERANCE",
    "NO_PERSON",
    "AVA_KEYFRAME_RATE",
    "AVA_KEYFRAME_RANGE",
    "BoxAnnotations",
    "box_problem",
    "validate_boxes",
    "read_ava",
    "read_ava_label_map",
    "read_ava_excluded",
    "write_ava_csv",
    "write_ava_label_map",
    "write_ava_excluded",
    "CVAT_BOX_COLUMNS",
    "read_cvat_video",
    "write_cvat_video_xml",
]
