"""Temporal action detection in the deep track: S-CNN windows, snippet classifier, TAG,
ActionFormer head."""

from deep.detection.actionformer import (
    ActionFormerHead,
    assign_targets,
    decode_points,
    point_positions,
    points_to_segments,
    regression_ranges,
)
from deep.detection.actionformer_detector import ActionFormerDetector
from deep.detection.backbone import SnippetClassifier
from deep.detection.grouping import TAG_LADDER, basins, score_proposals, tag_proposals
from deep.detection.losses import iou_loss_1d, sigmoid_focal_loss
from deep.detection.methods import (
    ACTIONFORMER_CARD,
    S_CNN_CARD,
    SSN_TAG_CARD,
    build_actionformer_detector,
    build_segment_cnn_detector,
    build_snippet_tag_detector,
)
from deep.detection.nms import multiclass_nms, segment_iou, temporal_nms
from deep.detection.segment_cnn import OverlapLoss, SegmentCNNDetector, segment_windows
from deep.detection.snippets import SnippetGrid, snippet_clip, snippet_targets
from deep.detection.tag_detector import SnippetTAGDetector

__all__ = [
    "ACTIONFORMER_CARD",
    "OverlapLoss",
    "S_CNN_CARD",
    "SSN_TAG_CARD",
    "SegmentCNNDetector",
    "TAG_LADDER",
    "ActionFormerDetector",
    "ActionFormerHead",
    "SnippetClassifier",
    "SnippetGrid",
    "SnippetTAGDetector",
    "assign_targets",
    "basins",
    "build_actionformer_detector",
    "build_segment_cnn_detector",
    "build_snippet_tag_detector",
    "decode_points",
    "iou_loss_1d",
    "multiclass_nms",
    "point_positions",
    "points_to_segments",
    "regression_ranges",
    "score_proposals",
    "segment_iou",
    "segment_windows",
    "sigmoid_focal_loss",
    "snippet_clip",
    "snippet_targets",
    "tag_proposals",
    "temporal_nms",
]
