"""The deep track's spatio-temporal action localization: person detector, RoIAlign, RoI head."""

from deep.localization.localizer import TEST_BOXES, RoIActionLocalizer
from deep.localization.person_detector import PersonDetector
from deep.localization.roi_align import RoIAlign, roi_align, time_pooled_roi_align

__all__ = ["RoIActionLocalizer", "PersonDetector", "TEST_BOXES", "RoIAlign", "roi_align",
           "time_pooled_roi_align"]
