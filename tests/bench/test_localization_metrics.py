"""Localization metrics: hand-worked cases and slow references written from the definitions.

The references below are plain Python loops over rows, written from the protocols (PASCAL
VOC / AVA for frame-mAP, the ACT-detector rule for video-mAP) and sharing no code with
``bench.tasks.localization``; the package must agree with them to 1e-12 on random tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from bench.data.annotations import AnnotationError
from bench.tasks.localization import (
    AVA_MAX_DETECTIONS_PER_KEYFRAME,
    BOX_COLUMNS,
    BOX_DETECTION_COLUMNS,
    TUBE_COLUMNS,
    bootstrap_frame_map,
    box_iou,
    frame_map,
    person_detection,
    tube_iou,
    validate_tubes,
    video_map,
)

BOX = ["x1", "y1", "x2", "y2"]


def _gt(*rows):
    return pd.DataFrame(list(rows), columns=list(BOX_COLUMNS))


def _det(*rows):
    return pd.DataFrame(list(rows), columns=list(BOX_DETECTION_COLUMNS))


# --- the slow references --------------------------------------------------------------------

def _ref_iou(a, b):
    """IoU of two [x1, y1, x2, y2] boxes, continuous coordinates."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _ref_voc_ap(flags, n_gt):
    """VOC all-point AP of a ranked list of true (1) / false (0) positives."""
    tp = fp = 0
    precision, recall = [], []
    for flag in flags:
        tp, fp = tp + flag, fp + (1 - flag)
        precision.append(tp / (tp + fp))
        recall.append(tp / n_gt)
    mprec = [0.0, *precision, 0.0]
    mrec = [0.0, *recall, 1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec))
               if mrec[i] != mrec[i - 1])


def _rows(table, columns):
    return [tuple(r) for r in table[columns].itertuples(index=False, name=None)]


def _ref_voc_flags(gts, dets, threshold):
    """The VOC rule for one class: ``gts`` ``[(keyframe, box)]``, ``dets`` ``[(keyframe,
    box, score)]``. Returns the flags in ranking order."""
    by_keyframe = {}
    for keyframe, box in sorted(gts, key=lambda g: tuple(g[1])):  # stable: ties by input
        by_keyframe.setdefault(keyframe, []).append(box)
    taken = {k: [False] * len(v) for k, v in by_keyframe.items()}
    flags = []
    for keyframe, box, _ in sorted(dets, key=lambda d: (-d[2], d[0], *d[1])):
        candidates = by_keyframe.get(keyframe, [])
        best, best_iou = None, -1.0
        for j, g in enumerate(candidates):  # the best box among *all*, taken or not
            iou = _ref_iou(box, g)
            if iou > best_iou:
                best, best_iou = j, iou
        if best is not None and best_iou >= threshold and not taken[keyframe][best]:
            taken[keyframe][best] = True
            flags.append(1)
        else:
            flags.append(0)
    return flags


def _ref_frame_map(gt, det, threshold=0.5, classes=None, excluded=(), cap=None):
    """``{class: (AP, n_gt, n_det)}`` by the AVA script's steps, in loops."""
    gt_rows = [(str(v), float(t), [float(x) for x in b], str(lab))
               for v, t, *b, lab in _rows(gt, ["video_id", "timestamp", *BOX, "label"])]
    det_rows = [(str(v), float(t), [float(x) for x in b], str(lab), float(s))
                for v, t, *b, lab, s in _rows(det, ["video_id", "timestamp", *BOX, "label",
                                                    "score"])]
    if classes is not None:
        keep = {str(c) for c in classes}
        gt_rows = [r for r in gt_rows if r[3] in keep]
        det_rows = [r for r in det_rows if r[3] in keep]
    if cap is not None:
        per_keyframe = {}
        for r in det_rows:
            per_keyframe.setdefault((r[0], r[1]), []).append(r)
        det_rows = [r for rows in per_keyframe.values()
                    for r in sorted(rows, key=lambda r: (-r[4], r[3], *r[2]))[:cap]]
    excluded = {(str(v), float(t)) for v, t in excluded}
    gt_rows = [r for r in gt_rows if (r[0], r[1]) not in excluded]
    det_rows = [r for r in det_rows if (r[0], r[1]) not in excluded]
    det_rows = [r for r in det_rows if r[2][2] > r[2][0] and r[2][3] > r[2][1]]
    out = {}
    for c in sorted({r[3] for r in gt_rows}):
        gts = [((r[0], r[1]), r[2]) for r in gt_rows if r[3] == c]
        dets = [((r[0], r[1]), r[2], r[4]) for r in det_rows if r[3] == c]
        out[c] = (_ref_voc_ap(_ref_voc_flags(gts, dets, threshold), len(gts)), len(gts),
                  len(dets))
    return out


def _random_boxes(rng, n, grid):
    if grid:  # multiples of 1/8: exact arithmetic, many exact ties and IoUs of exactly 0.5
        corners = rng.integers(0, 9, size=(n, 2, 2)) / 8.0
    else:
        corners = rng.uniform(0, 1, size=(n, 2, 2))
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    return np.column_stack([lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]])


def _random_frames(rng, n_videos=6, n_classes=4, grid=True, degenerate=True):
    classes = [f"a{k}" for k in range(n_classes)]
    keyframes = [(f"vid{v:02d}", float(t)) for v in range(n_videos) for t in range(900, 903)]
    gt_rows, det_rows = [], []
    for video, t in keyframes:
        boxes = _random_boxes(rng, int(rng.integers(0, 4)), grid)
        if len(boxes) and rng.uniform() < 0.5:  # two actors side by side: boxes overlap
            shifted = boxes[0] + [0.125, 0, 0.125, 0]
            boxes = np.vstack([boxes, shifted if grid else shifted + rng.uniform(0, 0.05)])
        for box in boxes:
            for label in rng.choice(classes, size=min(len(classes), int(rng.integers(1, 3))),
                                    replace=False):
                gt_rows.append((video, t, *box, label))
        for box in _random_boxes(rng, int(rng.integers(0, 7)), grid):
            score = round(float(rng.uniform()), 1) if grid else float(rng.uniform())
            det_rows.append((video, t, *box, rng.choice(classes), score))
    # Near copies of ground truth, exact duplicates, a label without ground truth, a
    # keyframe without ground truth and, optionally, a box of zero area.
    for g in gt_rows[: len(gt_rows) // 2]:
        for _ in range(int(rng.integers(1, 3))):  # found, sometimes twice
            det_rows.append((*g, round(float(rng.uniform()), 1) if grid
                             else float(rng.uniform())))
    det_rows += det_rows[:2]
    det_rows.append(("vid00", 900.0, 0.0, 0.0, 0.5, 0.5, "unseen", 0.95))
    det_rows.append(("quiet", 1.0, 0.0, 0.0, 0.5, 0.5, classes[0], 0.97))
    if degenerate:
        det_rows.append(("vid00", 900.0, 0.25, 0.25, 0.25, 0.75, classes[0], 0.99))
    return _gt(*gt_rows), _det(*det_rows)


def _check_frame_map(result, expected):
    assert result.classes == tuple(expected)
    np.testing.assert_allclose(result.ap[:, 0], [expected[c][0] for c in result.classes],
                               rtol=0, atol=1e-12)
    assert result.n_ground_truth.tolist() == [expected[c][1] for c in result.classes]
    assert result.n_detections.tolist() == [expected[c][2] for c in result.classes]
    assert result.map == pytest.approx(np.mean([expected[c][0] for c in expected]), abs=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_frame_map_equals_the_slow_reference(seed):
    rng = np.random.default_rng(seed)
    gt, det = _random_frames(rng, n_videos=int(rng.integers(1, 8)),
                             n_classes=int(rng.integers(1, 5)), grid=seed % 4 != 3)
    if gt.empty:
        gt = _gt(("vid00", 900.0, 0.0, 0.0, 0.5, 0.5, "a0"))
    threshold = (0.5, 0.5, 0.3, 0.75, 1.0)[seed % 5]
    _check_frame_map(frame_map(gt, det, threshold), _ref_frame_map(gt, det, threshold))
    # The AVA script's steps: a class list, excluded keyframes, a cap per keyframe.
    classes = ["a0", "a1", "a2", "unseen"][: 1 + seed % 4]
    excluded = [("vid00", 901.0), ("vid01", 900.0), ("nowhere", 3.0)]
    cap = 1 + seed % 4
    result = frame_map(gt, det, threshold, classes=classes, excluded=excluded,
                       max_detections_per_keyframe=cap)
    expected = _ref_frame_map(gt, det, threshold, classes, excluded, cap)
    if expected:
        _check_frame_map(result, expected)
    else:
        assert result.classes == () and np.isnan(result.map)


def test_frame_map_does_not_depend_on_row_order():
    gt, det = _random_frames(np.random.default_rng(3), n_videos=8, n_classes=3)
    base = frame_map(gt, det, max_detections_per_keyframe=3)
    shuffled = frame_map(gt.sample(frac=1, random_state=1), det.sample(frac=1, random_state=2),
                         max_detections_per_keyframe=3)
    np.testing.assert_array_equal(base.ap, shuffled.ap)


def test_box_iou_against_a_loop_over_pairs():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 40, grid=False), _random_boxes(rng, 30, grid=False)
    a[:5], b[:5] = _random_boxes(rng, 5, grid=True), _random_boxes(rng, 5, grid=True)
    b[5] = a[5]  # identical
    b[6] = [a[6, 0], a[6, 1], a[6, 0], a[6, 3]]  # zero width, inside a[6]
    b[7] = [a[7, 2], a[7, 1], a[7, 2] + 0.1, a[7, 3]]  # touching
    got = box_iou(a, b)
    assert got.shape == (40, 30) and got.dtype == np.float64
    for i in range(len(a)):
        for j in range(len(b)):
            assert got[i, j] == _ref_iou(a[i], b[j])
    assert got[5, 5] == 1.0 and got[6, 6] == 0.0 and got[7, 7] == 0.0
    assert box_iou([[0, 0, 10, 10]], [[0, 0, 10, 5], [5, 0, 15, 10]]).tolist() == [[0.5, 1 / 3]]
    assert box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0.0  # empty union
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 30)


# --- frame-mAP: hand-worked cases -----------------------------------------------------------

def _two_actors():
    # Two actors in one keyframe, boxes of area 100.
    return _gt(("v", 902, 0, 0, 10, 10, "stand"), ("v", 902, 20, 20, 30, 30, "stand"))


def test_two_ground_truths_three_detections():
    gt = _two_actors()
    det = _det(("v", 902, 0, 0, 10, 5, "stand", 0.9),      # IoU exactly 0.5 with the first
               ("v", 902, 50, 50, 60, 60, "stand", 0.8),   # nothing
               ("v", 902, 20, 20, 30, 30, "stand", 0.7))   # the second
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: AP = 1/2 * 1 + 1/2 * 2/3.
    result = frame_map(gt, det)
    assert result.map == pytest.approx(5 / 6, abs=1e-15)
    assert result.thresholds == (0.5,) and result.classes == ("stand",)
    assert result.n_ground_truth.tolist() == [2] and result.n_detections.tolist() == [3]
    # At 0.6 the first detection is a false positive: precision 1/3 at recall 1.
    assert frame_map(gt, det, 0.6).map == pytest.approx(1 / 6, abs=1e-15)
    table = result.table()
    assert list(table.columns) == ["label", "n_ground_truth", "n_detections", "ap@0.50"]


def test_an_iou_of_exactly_the_threshold_counts():
    gt = _gt(("v", 1, 0, 0, 4, 4, "x"))
    det = _det(("v", 1, 0, 0, 4, 2, "x", 0.5))  # 8 / 16
    assert box_iou([[0, 0, 4, 4]], [[0, 0, 4, 2]])[0, 0] == 0.5
    assert frame_map(gt, det, 0.5).map == 1.0
    assert frame_map(gt, det, 0.5 + 1e-12).map == 0.0


def test_a_duplicate_is_a_false_positive():
    gt = _two_actors()
    det = _det(("v", 902, 0, 0, 10, 10, "stand", 0.9), ("v", 902, 0, 0, 10, 10, "stand", 0.8),
               ("v", 902, 20, 20, 30, 30, "stand", 0.7))
    assert frame_map(gt, det).map == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_a_detection_whose_best_box_is_taken_does_not_fall_back():
    # A = [0, 10] x [0, 10], B = [2, 12] x [0, 10]. The first detection overlaps both by
    # 90/110 and takes A (the tie goes to the smaller x1); the second is A itself (IoU 1)
    # and overlaps B by 80/120 >= 0.5, but its best box, A, is taken: a false positive
    # (VOC devkit, AVA evaluator). A fallback would have made it a hit and AP 1.
    gt = _gt(("v", 0, 0, 0, 10, 10, "x"), ("v", 0, 2, 0, 12, 10, "x"))
    det = _det(("v", 0, 1, 0, 11, 10, "x", 0.9), ("v", 0, 0, 0, 10, 10, "x", 0.8))
    result = frame_map(gt, det)
    assert result.map == pytest.approx(0.5)
    expected = _ref_frame_map(gt, det)
    assert result.map == pytest.approx(expected["x"][0])


def test_boxes_meet_only_in_their_keyframe_and_class():
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"), ("v", 2, 0, 0, 10, 10, "y"))
    det = _det(("v", 2, 0, 0, 10, 10, "x", 0.9),   # right box, wrong keyframe: false positive
               ("w", 1, 0, 0, 10, 10, "x", 0.8),   # another video: false positive
               ("v", 1, 0, 0, 10, 10, "y", 0.7),   # the wrong class at that keyframe
               ("v", 1, 0, 0, 10, 10, "x", 0.6),
               ("v", 2, 0, 0, 10, 10, "y", 0.5))
    result = frame_map(gt, det)
    ap = dict(zip(result.classes, result.ap[:, 0], strict=True))
    assert ap["x"] == pytest.approx(1 / 3) and ap["y"] == pytest.approx(0.5)


def test_a_class_without_ground_truth_is_ignored():
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"))
    det = _det(("v", 1, 0, 0, 10, 10, "x", 0.5), ("v", 1, 0, 0, 10, 10, "other", 0.9))
    result = frame_map(gt, det)
    assert result.classes == ("x",) and result.map == 1.0
    assert result.n_detections.tolist() == [1]


def test_empty_detections_give_ap_zero_and_no_ground_truth_no_map():
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"), ("v", 1, 0, 0, 10, 10, "y"))
    result = frame_map(gt, _det())
    assert result.ap[:, 0].tolist() == [0.0, 0.0] and result.map == 0.0
    empty = frame_map(_gt(), _det(("v", 1, 0, 0, 1, 1, "x", 0.5)))
    assert empty.classes == () and np.isnan(empty.map)
    assert np.isnan(frame_map(_gt(), _det()).map)


def test_ties_in_score_are_broken_by_video_id_then_box():
    gt = _gt(("a", 1, 0, 0, 10, 10, "x"), ("b", 1, 0, 0, 10, 10, "x"))
    det = _det(("b", 1, 0, 0, 10, 10, "x", 0.5), ("a", 1, 50, 50, 60, 60, "x", 0.5))
    # 'a' ranks first: a false positive, then the true positive at precision 1/2.
    assert frame_map(gt, det).map == pytest.approx(0.25)
    assert frame_map(gt, det.iloc[::-1]).map == pytest.approx(0.25)
    # Within one keyframe, equal scores: the smaller x1 goes first and takes the box.
    gt = _gt(("a", 1, 0, 0, 10, 10, "x"))
    det = _det(("a", 1, 1, 0, 10, 10, "x", 0.5), ("a", 1, 0, 0, 10, 10, "x", 0.5))
    assert frame_map(gt, det).map == 1.0


def test_excluded_keyframes_leave_both_tables():
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"), ("v", 2, 0, 0, 10, 10, "x"))
    det = _det(("v", 2, 50, 50, 60, 60, "x", 0.9), ("v", 1, 0, 0, 10, 10, "x", 0.8))
    # Without exclusions: a false positive, then one of two found.
    assert frame_map(gt, det).map == pytest.approx(0.25)
    excluded = pd.DataFrame({"video_id": ["v"], "timestamp": [2]})
    result = frame_map(gt, det, excluded=excluded)
    assert result.map == 1.0 and result.n_ground_truth.tolist() == [1]
    assert frame_map(gt, det, excluded=[("v", 2.0)]).map == 1.0


def test_the_cap_per_keyframe_and_the_class_list():
    assert AVA_MAX_DETECTIONS_PER_KEYFRAME == 50
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"), ("v", 1, 0, 0, 10, 10, "y"))
    det = _det(("v", 1, 0, 0, 10, 10, "x", 0.2), ("v", 1, 50, 50, 60, 60, "y", 0.9),
               ("v", 1, 0, 0, 10, 10, "y", 0.8), ("v", 1, 0, 0, 10, 10, "z", 0.95))
    full = frame_map(gt, det)
    assert full.ap[:, 0].tolist() == [1.0, 0.5]
    # Two per keyframe, over all classes: 'z' (0.95) and the first 'y' (0.9) stay.
    capped = frame_map(gt, det, max_detections_per_keyframe=2)
    assert capped.ap[:, 0].tolist() == [0.0, 0.0]
    # With 'z' outside the class list, it no longer takes a place: 'y' 0.9 and 0.8 stay.
    listed = frame_map(gt, det, classes=["x", "y"], max_detections_per_keyframe=2)
    assert listed.ap[:, 0].tolist() == [0.0, 0.5]
    only_x = frame_map(gt, det, classes=["x"])
    assert only_x.classes == ("x",) and only_x.map == 1.0


def test_a_detection_of_zero_area_is_dropped_as_the_ava_evaluator_does():
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"))
    det = _det(("v", 1, 5, 0, 5, 10, "x", 0.9), ("v", 1, 0, 0, 10, 10, "x", 0.5))
    result = frame_map(gt, det)
    assert result.map == 1.0 and result.n_detections.tolist() == [1]
    # A zero-area ground-truth box stays: it can only be missed.
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"), ("v", 1, 3, 3, 3, 3, "x"))
    assert frame_map(gt, det).map == 0.5


def test_labels_are_compared_as_strings():
    gt = _gt(("v", 1, 0, 0, 10, 10, 12))
    det = _det(("v", 1, 0, 0, 10, 10, "12", 0.5))
    result = frame_map(gt, det, classes=[12])
    assert result.classes == ("12",) and result.map == 1.0


def test_bad_tables_and_parameters_name_the_fix():
    gt = _gt(("v", 1, 0, 0, 10, 10, "x"))
    with pytest.raises(AnnotationError, match=r"lacks the column\(s\) \['label'\]"):
        frame_map(gt.drop(columns="label"), _det())
    with pytest.raises(AnnotationError, match="detections row 0 .*x2 < x1. Fix"):
        frame_map(gt, _det(("v", 1, 10, 0, 0, 10, "x", 0.5)))
    with pytest.raises(AnnotationError, match="ground truth row 0 .*y2 < y1"):
        frame_map(_gt(("v", 1, 0, 10, 10, 0, "x")), _det())
    with pytest.raises(AnnotationError, match="score nan is not a finite number"):
        frame_map(gt, _det(("v", 1, 0, 0, 10, 10, "x", float("nan"))))
    with pytest.raises(AnnotationError, match="lacks the column.*score"):
        frame_map(gt, gt)
    with pytest.raises(AnnotationError, match="timestamp 'noon' is not a finite number"):
        frame_map(_gt(("v", "noon", 0, 0, 10, 10, "x")), _det())
    with pytest.raises(AnnotationError, match="row 0: the video_id is empty"):
        frame_map(_gt(("", 1, 0, 0, 10, 10, "x")), _det())
    with pytest.raises(AnnotationError, match="excluded keyframes"):
        frame_map(gt, _det(), excluded=pd.DataFrame({"video": ["v"]}))
    with pytest.raises(ValueError, match="'iou_threshold' parameter must be a number in"):
        frame_map(gt, _det(), 0.0)
    with pytest.raises(ValueError, match="'max_detections_per_keyframe' parameter"):
        frame_map(gt, _det(), max_detections_per_keyframe=0)
    with pytest.raises(ValueError, match="'n_boot' parameter must be an int >= 0"):
        frame_map(gt, _det(), n_boot=-1)


def test_sklearn_average_precision_is_not_the_voc_ap():
    # sklearn's AP sums raw precision over recall steps (no monotone envelope) and counts the
    # positives among the given detections, not the ground truth; it is no oracle here. The
    # two agree when every ground truth is found and precision never rises at a later true
    # positive (true positives, then false positives, one box per keyframe), not otherwise.
    gt = _gt(*[("v", t, 0, 0, 10, 10, "x") for t in range(3)])
    hits = [("v", t, 0, 0, 10, 10, "x", 0.9 - 0.1 * t) for t in range(3)]
    det = _det(*hits, ("v", 0, 50, 50, 60, 60, "x", 0.1))
    flags, scores = [1, 1, 1, 0], [0.9, 0.8, 0.7, 0.1]
    assert frame_map(gt, det).map == pytest.approx(average_precision_score(flags, scores))
    # A false positive first: precision 0, 1/2, 2/3, 3/4; VOC lifts the first two to 3/4.
    det = _det(("v", 0, 50, 50, 60, 60, "x", 0.95), *hits)
    voc = frame_map(gt, det).map
    assert voc == pytest.approx(0.75)
    assert average_precision_score([0, 1, 1, 1], [0.95, 0.9, 0.8, 0.7]) == pytest.approx(
        (1 / 2 + 2 / 3 + 3 / 4) / 3)


# --- bootstrap --------------------------------------------------------------------------------

def test_a_bootstrap_resample_is_the_metric_of_the_resampled_videos():
    gt, det = _random_frames(np.random.default_rng(11), n_videos=9, n_classes=3, grid=False,
                             degenerate=False)
    scored = det[det["label"].isin(gt["label"])]
    videos = np.unique(np.concatenate([gt["video_id"], scored["video_id"]]).astype(str))
    for seed in range(3):
        draws = np.random.default_rng(seed).integers(0, len(videos), size=(1, len(videos)))[0]
        copies = np.bincount(draws, minlength=len(videos))

        def expand(table, copies=copies):
            parts = [table[table["video_id"] == v].assign(video_id=f"{v}#{k}")
                     for v, n in zip(videos, copies, strict=True) for k in range(n)]
            return pd.concat(parts, ignore_index=True)

        expected = frame_map(expand(gt), expand(det)).map
        got = bootstrap_frame_map(gt, det, n_boot=1, seed=seed)
        assert got.shape == (1,)
        assert got[0] == pytest.approx(expected, abs=1e-12)


def test_the_bootstrap_is_seeded_and_contains_the_estimate():
    gt, det = _random_frames(np.random.default_rng(5), n_videos=30, n_classes=3, grid=False)
    first = frame_map(gt, det, n_boot=300, seed=5)
    again = frame_map(gt, det, n_boot=300, seed=5)
    other = frame_map(gt, det, n_boot=300, seed=6)
    assert first.interval == again.interval and first.interval != other.interval
    low, high = first.interval
    assert low <= first.map <= high and low < high
    wider = frame_map(gt, det, n_boot=300, seed=5, videos=[f"quiet{k}" for k in range(30)])
    assert wider.map == first.map and wider.interval != first.interval
    assert frame_map(gt, det).interval is None


# --- person detection ---------------------------------------------------------------------

def test_person_detection_by_hand():
    # Three ground-truth rows, two persons; detections: one box under two labels (best score
    # 0.9), one miss, and the second person found at IoU 1/2.
    gt = _gt(("v", 1, 0, 0, 10, 10, "stand"), ("v", 1, 0, 0, 10, 10, "talk"),
             ("v", 1, 20, 20, 30, 30, "sit"))
    det = _det(("v", 1, 0, 0, 10, 10, "stand", 0.3), ("v", 1, 0, 0, 10, 10, "sit", 0.9),
               ("v", 1, 50, 50, 60, 60, "stand", 0.8), ("v", 1, 20, 20, 30, 25, "sit", 0.7))
    result = person_detection(gt, det)
    assert (result.n_ground_truth, result.n_detections) == (2, 3)
    assert result.ap == pytest.approx(5 / 6) and result.recall == 1.0
    strict = person_detection(gt, det, iou_threshold=0.75)
    assert strict.ap == pytest.approx(0.5) and strict.recall == 0.5
    none = person_detection(_gt(), det)
    assert np.isnan(none.ap) and np.isnan(none.recall) and none.n_ground_truth == 0


@pytest.mark.parametrize("seed", range(10))
def test_person_detection_equals_the_slow_reference(seed):
    gt, det = _random_frames(np.random.default_rng(100 + seed), grid=seed % 2 == 0)
    result = person_detection(gt, det)
    keys = ["video_id", "timestamp", *BOX]
    people = gt.drop_duplicates(keys)[keys].assign(label="p")
    boxes = det.groupby(keys, as_index=False)["score"].max().assign(label="p")
    expected = _ref_frame_map(people, boxes)
    assert result.ap == pytest.approx(expected["p"][0], abs=1e-12)
    gts = [((v, t), list(b)) for v, t, *b in _rows(people, keys)]
    kept = boxes[(boxes["x2"] > boxes["x1"]) & (boxes["y2"] > boxes["y1"])]
    dets = [((v, t), list(b), s) for v, t, *b, s in _rows(kept, [*keys, "score"])]
    assert result.recall == pytest.approx(sum(_ref_voc_flags(gts, dets, 0.5)) / len(gts))


# --- tubes ------------------------------------------------------------------------------------

def _ref_tube_iou(a, b):
    """Tubes as ``{frame: box}``: temporal IoU of the ranges x mean IoU on common frames."""
    s, e = max(min(a), min(b)), min(max(a), max(b))
    common = sorted(set(a) & set(b))
    if e < s or not common:
        return 0.0
    spatial = sum(_ref_iou(a[f], b[f]) for f in common) / len(common)
    return ((e - s + 1) / (max(max(a), max(b)) - min(min(a), min(b)) + 1)) * spatial


def _tube_dicts(table):
    tubes = {}
    for v, tid, lab, f, *box in _rows(table, list(TUBE_COLUMNS)):
        tubes.setdefault((str(v), str(tid), str(lab)), {})[int(f)] = [float(x) for x in box]
    return tubes


def _ref_video_map(gt, det, thresholds):
    """``{class: [AP per threshold]}`` by the ACT-detector rule (free ground truth only)."""
    gt_tubes, det_tubes = _tube_dicts(gt), _tube_dicts(det)
    scores = {(str(v), str(t), str(lab)): float(s) for v, t, lab, s in
              _rows(det, ["video_id", "tube_id", "label", "score"])}
    out = {}
    for c in sorted({k[2] for k in gt_tubes}):
        mine = {k: t for k, t in gt_tubes.items() if k[2] == c}
        ranked = sorted((k for k in det_tubes if k[2] == c),
                        key=lambda k: (-scores[k], k[0], k[1]))
        aps = []
        for threshold in thresholds:
            free = set(mine)
            flags = []
            for key in ranked:
                best, best_iou = None, -1.0
                for g in sorted(k for k in free if k[0] == key[0]):  # by tube id
                    iou = _ref_tube_iou(det_tubes[key], mine[g])
                    if iou >= threshold and iou > best_iou:
                        best, best_iou = g, iou
                if best is not None:
                    free.discard(best)
                flags.append(int(best is not None))
            aps.append(_ref_voc_ap(flags, len(mine)))
        out[c] = aps
    return out


def _tube_rows(video, tube_id, label, frames, boxes, score=None):
    rows = [(video, tube_id, label, int(f), *map(float, b)) for f, b in zip(frames, boxes,
                                                                              strict=True)]
    columns = list(TUBE_COLUMNS)
    if score is not None:
        rows = [(*r, score) for r in rows]
        columns.append("score")
    return pd.DataFrame(rows, columns=columns)


def _random_tubes(rng, n_videos, n_classes, tied_scores):
    classes = [f"c{k}" for k in range(n_classes)]
    gt_parts, det_parts = [], []
    next_id = 0
    for v in range(n_videos):
        video = f"vid{v}"
        for _ in range(int(rng.integers(0, 4))):
            label = str(rng.choice(classes))
            start, length = int(rng.integers(0, 30)), int(rng.integers(1, 25))
            frames = np.arange(start, start + length)
            base = _random_boxes(rng, 1, grid=False)[0] * 100
            boxes = base + rng.normal(0, 2, size=(length, 4)).cumsum(axis=0)
            boxes = np.column_stack([np.minimum(boxes[:, 0], boxes[:, 2]),
                                     np.minimum(boxes[:, 1], boxes[:, 3]),
                                     np.maximum(boxes[:, 0], boxes[:, 2]),
                                     np.maximum(boxes[:, 1], boxes[:, 3])])
            gt_parts.append(_tube_rows(video, next_id, label, frames, boxes))
            next_id += 1
            for _ in range(int(rng.integers(0, 3))):  # detections of this tube
                shift, cut = int(rng.integers(-6, 7)), int(rng.integers(0, max(1, length // 2)))
                keep = np.ones(length, dtype=bool)
                keep[:cut] = False
                if rng.uniform() < 0.3:  # a gap inside the tube
                    keep[rng.integers(0, length, size=2)] = False
                if not keep.any():
                    keep[-1] = True
                jitter = boxes[keep] + rng.normal(0, 4, size=(keep.sum(), 4))
                jitter = np.column_stack([np.minimum(jitter[:, 0], jitter[:, 2]),
                                          np.minimum(jitter[:, 1], jitter[:, 3]),
                                          np.maximum(jitter[:, 0], jitter[:, 2]),
                                          np.maximum(jitter[:, 1], jitter[:, 3])])
                score = round(float(rng.uniform()), 1) if tied_scores else float(rng.uniform())
                det_label = label if rng.uniform() < 0.85 else str(rng.choice(classes))
                det_parts.append(_tube_rows(video, next_id, det_label, frames[keep] + shift,
                                            jitter, score))
                next_id += 1
        for _ in range(int(rng.integers(0, 3))):  # detections of nothing
            start, length = int(rng.integers(0, 30)), int(rng.integers(1, 15))
            boxes = np.repeat(_random_boxes(rng, 1, grid=False) * 100, length, axis=0)
            det_parts.append(_tube_rows(video, next_id, str(rng.choice(classes)),
                                        np.arange(start, start + length), boxes,
                                        round(float(rng.uniform()), 1)))
            next_id += 1
    empty = pd.DataFrame(columns=list(TUBE_COLUMNS))
    gt = pd.concat(gt_parts, ignore_index=True) if gt_parts else empty
    det = pd.concat(det_parts, ignore_index=True) if det_parts else empty.assign(score=[])
    return gt, det


@pytest.mark.parametrize("seed", range(30))
def test_video_map_equals_the_slow_reference(seed):
    rng = np.random.default_rng(seed)
    gt, det = _random_tubes(rng, int(rng.integers(1, 6)), int(rng.integers(1, 4)),
                            tied_scores=seed % 2 == 0)
    if gt.empty:
        gt = _tube_rows("vid0", 999, "c0", range(3), [[0, 0, 10, 10]] * 3)
    thresholds = (0.1, 0.2, 0.3, 0.5, 0.7)
    result = video_map(gt, det, thresholds)
    expected = _ref_video_map(gt, det, thresholds)
    assert result.classes == tuple(expected)
    np.testing.assert_allclose(result.ap, np.array([expected[c] for c in result.classes]),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.map_per_threshold,
                               np.mean([expected[c] for c in expected], axis=0), atol=1e-12)
    n_gt = {c: sum(k[2] == c for k in _tube_dicts(gt)) for c in expected}
    assert result.n_ground_truth.tolist() == [n_gt[c] for c in result.classes]
    # The ground-truth tubes themselves, scored: every class at AP 1 at every threshold.
    perfect = video_map(gt, gt.assign(score=1.0), thresholds)
    assert perfect.map == 1.0


def test_tube_iou_by_hand():
    a = [[f, 0, 0, 2, 2] for f in range(4)]                      # frames 0..3
    b = [[2, 0, 0, 2, 1], [3, 1, 0, 3, 2], [4, 0, 0, 2, 2], [5, 0, 0, 2, 2]]  # frames 2..5
    # temporal: frames 2..3 of 0..5 = 2/6; spatial: mean of 1/2 and 2/6 = 5/12.
    assert tube_iou(a, b) == pytest.approx(2 / 6 * 5 / 12, abs=1e-15)
    assert tube_iou(b[::-1], a[::-1]) == pytest.approx(2 / 6 * 5 / 12, abs=1e-15)
    # A gap at frame 3 in b: the range stays 2..5, the mean runs over frame 2 alone.
    assert tube_iou(a, [b[0], *b[2:]]) == pytest.approx(2 / 6 * 1 / 2, abs=1e-15)
    assert tube_iou(a, [[10, 0, 0, 2, 2]]) == 0.0  # no temporal overlap
    assert tube_iou(a, [[f, 5, 5, 6, 6] for f in range(4)]) == 0.0  # no spatial overlap
    assert tube_iou(a, a) == 1.0
    assert tube_iou(a, np.zeros((0, 5))) == 0.0
    # The docstring's case: frames 0..9 and 5..14, half the box: 5/15 * 1/2.
    assert tube_iou([[f, 0, 0, 10, 10] for f in range(10)],
                    [[f, 0, 0, 10, 5] for f in range(5, 15)]) == pytest.approx(1 / 6)
    with pytest.raises(AnnotationError, match="second box in frame 1"):
        tube_iou([[1, 0, 0, 1, 1], [1, 0, 0, 2, 2]], a)


def test_video_map_falls_back_to_the_next_free_tube():
    frames = range(10)
    g0 = _tube_rows("v", "g0", "run", frames, [[0, 0, 10, 10]] * 10)
    g1 = _tube_rows("v", "g1", "run", frames, [[2, 0, 12, 10]] * 10)
    d1 = _tube_rows("v", "d1", "run", frames, [[1, 0, 11, 10]] * 10, 0.9)  # 9/11 with both
    d2 = _tube_rows("v", "d2", "run", frames, [[0, 0, 10, 10]] * 10, 0.8)  # 1 g0, 2/3 g1
    gt, det = pd.concat([g0, g1]), pd.concat([d1, d2])
    # d1 takes g0 (tie: the smaller tube id); d2's best, g0, is taken, so it takes g1.
    result = video_map(gt, det, (0.5, 0.7))
    assert result.map_per_threshold.tolist() == [1.0, 0.5]
    assert result.n_ground_truth.tolist() == [2] and result.n_detections.tolist() == [2]


def test_video_map_hand_cases():
    gt = pd.concat([_tube_rows("v", 0, "run", range(10), [[0, 0, 10, 10]] * 10),
                    _tube_rows("w", 0, "jump", range(5), [[0, 0, 10, 10]] * 5)])
    det = pd.concat([
        _tube_rows("w", 7, "run", range(10), [[0, 0, 10, 10]] * 10, 0.95),  # wrong video
        _tube_rows("v", 1, "run", range(5, 15), [[0, 0, 10, 10]] * 10, 0.9),  # 5/15
        _tube_rows("v", 2, "run", range(10), [[0, 0, 10, 10]] * 10, 0.8),  # exact
        _tube_rows("v", 3, "ski", range(10), [[0, 0, 10, 10]] * 10, 0.99),  # no ground truth
    ])
    result = video_map(gt, det)
    assert result.thresholds == (0.2, 0.5) and result.classes == ("jump", "run")
    # run at 0.2: FP, TP (1/3 >= 0.2), FP -> AP 1/2; at 0.5: FP, FP, TP -> AP 1/3.
    np.testing.assert_allclose(result.ap, [[0.0, 0.0], [0.5, 1 / 3]])
    assert result.map_at(0.5) == pytest.approx(1 / 6) and result.map == pytest.approx(
        (0.25 + 1 / 6) / 2)
    assert video_map(gt, det, classes=["run"]).classes == ("run",)
    with pytest.raises(KeyError, match="not evaluated"):
        result.map_at(0.3)
    empty = video_map(gt, det.iloc[:0])
    assert empty.map == 0.0
    # A tube IoU of exactly the threshold counts: same frames, half of every box.
    half = _tube_rows("v", 9, "run", range(10), [[0, 0, 10, 5]] * 10, 0.5)
    assert video_map(gt, half, (0.5,)).ap[1].tolist() == [1.0]
    assert video_map(gt, half, (0.5 + 1e-12,)).ap[1].tolist() == [0.0]


def test_bad_tubes_name_the_fix():
    tube = _tube_rows("v", 0, "run", range(3), [[0, 0, 1, 1]] * 3, 0.5)
    with pytest.raises(AnnotationError, match="the frame 1.5 is not an integer"):
        validate_tubes(tube.assign(frame=[0, 1.5, 2]))
    with pytest.raises(AnnotationError, match="more than one score. Fix: give every row"):
        video_map(tube, tube.assign(score=[0.1, 0.2, 0.3]))
    with pytest.raises(AnnotationError, match="detected tubes row 1 .*second box in frame 0"):
        video_map(tube, tube.assign(frame=[0, 0, 1]))
    with pytest.raises(AnnotationError, match=r"lacks the column\(s\) \['score'\]"):
        video_map(tube, tube.drop(columns="score"))
    with pytest.raises(ValueError, match="'thresholds' parameter"):
        video_map(tube, tube, thresholds=(0.0,))
    # The same tube id under two labels is two tubes, each with its own score.
    two = pd.concat([tube, tube.assign(label="walk", score=0.9)])
    assert validate_tubes(two, scored=True).shape == (6, 9)
