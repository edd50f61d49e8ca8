"""Detection metrics: hand-worked cases, a slow reference from the protocol, the real files."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from bench.data.annotations import AnnotationError, read_activitynet, read_thumos14
from bench.tasks.detection import (
    ACTIVITYNET_THRESHOLDS,
    THUMOS14_THRESHOLDS,
    activitynet_map,
    average_recall,
    bootstrap_map,
    evaluate_detection,
    interpolated_average_precision,
    per_class_ap,
    read_results_json,
    temporal_iou,
    thumos14_map,
)

SAMPLE = "annotations/activitynet/sample_detection_prediction_v1-3.json"
ANET12 = "annotations/activitynet/activity_net.v1-2.min-missing-removed.json"


def _gt(*rows):
    return pd.DataFrame(list(rows), columns=["video_id", "t_start", "t_end", "label"])


def _det(*rows):
    return pd.DataFrame(list(rows), columns=["video_id", "t_start", "t_end", "label", "score"])


# --- the slow reference, written from the protocol's definition --------------------------

def _ref_iou(s1, e1, s2, e2):
    inter = max(0.0, min(e1, e2) - max(s1, s2))
    union = (e1 - s1) + (e2 - s2) - inter
    return inter / union if union > 0 else 0.0


def _ref_voc_ap(precision, recall):
    """VOC all-point AP: close the curve, make precision monotone, sum over recall steps."""
    mprec = [0.0, *precision, 0.0]
    mrec = [0.0, *recall, 1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec))
               if mrec[i] != mrec[i - 1])


def _ref_class_ap(gts, dets, threshold, ambiguous):
    """One class: gts ``[(video, s, e)]``, dets ``[(video, s, e, score)]``."""
    gts = sorted(gts, key=lambda g: (g[0], g[1], g[2]))
    dets = sorted(dets, key=lambda d: (-d[3], d[0], d[1], d[2]))
    taken = [False] * len(gts)
    flags = []
    for video, s, e, _ in dets:
        best, best_iou = None, -1.0
        for i, (g_video, gs, ge) in enumerate(gts):
            if g_video != video or taken[i]:
                continue
            iou = _ref_iou(s, e, gs, ge)
            if iou >= threshold and iou > best_iou:
                best, best_iou = i, iou
        if best is not None:
            taken[best] = True
            flags.append("tp")
        elif any(a[0] == video and min(a[2], e) - max(a[1], s) > 0 for a in ambiguous):
            flags.append("ignored")
        else:
            flags.append("fp")
    tp = fp = 0
    precision, recall = [], []
    for flag in flags:
        if flag == "ignored":
            continue
        tp, fp = tp + (flag == "tp"), fp + (flag == "fp")
        precision.append(tp / (tp + fp))
        recall.append(tp / len(gts))
    return _ref_voc_ap(precision, recall)


def _ref_map(gt, det, thresholds, ambiguous=None):
    """``(per-threshold mAP, {class: [AP per threshold]})`` by plain loops."""
    amb = [] if ambiguous is None else list(
        ambiguous[["video_id", "t_start", "t_end"]].itertuples(index=False, name=None))
    classes = sorted(set(gt["label"]))
    aps = {}
    for c in classes:
        gts = list(gt.loc[gt["label"] == c, ["video_id", "t_start", "t_end"]]
                   .itertuples(index=False, name=None))
        dets = list(det.loc[det["label"] == c, ["video_id", "t_start", "t_end", "score"]]
                    .itertuples(index=False, name=None))
        aps[c] = [_ref_class_ap(gts, dets, t, amb) for t in thresholds]
    per_threshold = [float(np.mean([aps[c][k] for c in classes])) for k in range(len(thresholds))]
    return per_threshold, aps


def _random_case(rng, n_videos=12, n_classes=4, grid=True):
    gt_rows, det_rows = [], []
    classes = [f"c{k}" for k in range(n_classes)]
    for v in range(n_videos):
        video = f"vid{v:02d}"
        for _ in range(rng.integers(0, 5)):  # some videos have no ground truth
            s = float(rng.integers(0, 40)) if grid else float(rng.uniform(0, 40))
            gt_rows.append((video, s, s + float(rng.integers(0, 15)), rng.choice(classes)))
        for _ in range(rng.integers(0, 9)):
            s = float(rng.integers(0, 40)) if grid else float(rng.uniform(0, 40))
            score = round(float(rng.uniform()), 1) if grid else float(rng.uniform())
            det_rows.append((video, s, s + float(rng.integers(0, 15)), rng.choice(classes),
                             score))
    # Duplicates of matched ground truth, and a label without ground truth.
    det_rows += [(g[0], g[1], g[2], g[3], 0.5) for g in gt_rows[:3]]
    det_rows += [("vid00", 1.0, 5.0, "unseen", 0.9)]
    return _gt(*gt_rows), _det(*det_rows)


@pytest.mark.parametrize("seed", range(12))
def test_fast_metric_equals_the_slow_reference(seed):
    rng = np.random.default_rng(seed)
    gt, det = _random_case(rng, n_videos=int(rng.integers(3, 25)),
                           n_classes=int(rng.integers(1, 6)), grid=seed % 3 != 0)
    if gt.empty:
        gt = _gt(("vid00", 0.0, 4.0, "c0"))
    thresholds = (0.1, 0.3, 0.5, 0.7, 0.95) if seed % 2 else ACTIVITYNET_THRESHOLDS
    amb = None
    if seed % 4 == 1:
        amb = pd.DataFrame({"video_id": ["vid00", "vid01", "vid02"], "t_start": [0.0, 10, 20],
                            "t_end": [8.0, 30, 25]})
    result = evaluate_detection(gt, det, thresholds, ambiguous=amb)
    per_threshold, aps = _ref_map(gt, det, thresholds, amb)
    np.testing.assert_allclose(result.map_per_threshold, per_threshold, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.ap, np.array([aps[c] for c in result.classes]),
                               rtol=0, atol=1e-12)
    assert result.average_map == pytest.approx(np.mean(per_threshold), abs=1e-12)


def test_the_result_does_not_depend_on_row_order():
    gt, det = _random_case(np.random.default_rng(7), n_videos=20, n_classes=3)
    base = evaluate_detection(gt, det)
    shuffled = evaluate_detection(gt.sample(frac=1, random_state=1),
                                  det.sample(frac=1, random_state=2))
    np.testing.assert_array_equal(base.ap, shuffled.ap)


def test_temporal_iou_against_the_plain_formula():
    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 20, size=(30, 2)), axis=1)
    b = np.sort(rng.uniform(0, 20, size=(25, 2)), axis=1)
    b[0] = a[0]  # an exact match
    b[1] = [a[1, 0], a[1, 0]]  # zero length inside another segment
    got = temporal_iou(a, b)
    for i, (s1, e1) in enumerate(a):
        for j, (s2, e2) in enumerate(b):
            inter = max(0.0, min(e1, e2) - max(s1, s2))
            hull = max(e1, e2) - min(s1, s2)  # the union, when they overlap
            expected = inter / hull if inter > 0 else 0.0
            assert got[i, j] == pytest.approx(expected, abs=1e-12)
    assert got[0, 0] == 1.0 and got[1, 1] == 0.0
    assert temporal_iou([[3, 3]], [[3, 3]])[0, 0] == 0.0  # two points: no union, no match


# --- hand-worked cases ------------------------------------------------------------------

def test_the_protocols_thresholds():
    assert ACTIVITYNET_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    assert THUMOS14_THRESHOLDS == (0.3, 0.4, 0.5, 0.6, 0.7)
    result = thumos14_map(_gt(("a", 0.0, 10.0, "x")), _det(("a", 0.0, 10.0, "x", 1.0)))
    assert result.thresholds == THUMOS14_THRESHOLDS


def test_an_exact_hit_has_ap_one_at_every_threshold():
    result = activitynet_map(_gt(("a", 0.0, 10.0, "x")), _det(("a", 0.0, 10.0, "x", 0.3)))
    np.testing.assert_array_equal(result.map_per_threshold, np.ones(10))
    assert result.average_map == 1.0


def test_a_miss_below_the_threshold():
    # tIoU 4/10 = 0.4: a hit at 0.3 and 0.4 (>=), a miss at 0.5 and above.
    result = thumos14_map(_gt(("a", 0.0, 10.0, "x")), _det(("a", 0.0, 4.0, "x", 0.9)))
    np.testing.assert_array_equal(result.map_per_threshold, [1, 1, 0, 0, 0])
    assert result.average_map == pytest.approx(0.4)
    assert result.map_at(0.5) == 0.0


def test_a_duplicate_of_a_matched_segment_is_a_false_positive():
    gt = _gt(("a", 0.0, 10.0, "x"), ("a", 20.0, 30.0, "x"))
    det = _det(("a", 0.0, 10.0, "x", 0.9), ("a", 0.0, 10.0, "x", 0.8),
               ("a", 20.0, 30.0, "x", 0.7))
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: AP = 1/2 * 1 + 1/2 * 2/3.
    assert activitynet_map(gt, det).average_map == pytest.approx(0.5 + 1 / 3)


def test_ties_in_score_are_broken_by_video_id():
    gt = _gt(("a", 0.0, 10.0, "x"), ("b", 0.0, 10.0, "x"))
    det = _det(("b", 0.0, 10.0, "x", 0.5), ("a", 50.0, 60.0, "x", 0.5))
    # 'a' ranks first: a false positive, then the true positive at precision 1/2.
    assert activitynet_map(gt, det).average_map == pytest.approx(0.25)
    assert activitynet_map(gt, det.iloc[::-1]).average_map == pytest.approx(0.25)


def test_a_detection_in_a_video_without_ground_truth_is_a_false_positive():
    gt = _gt(("a", 0.0, 10.0, "x"))
    det = _det(("z", 0.0, 10.0, "x", 0.9), ("a", 0.0, 10.0, "x", 0.8))
    assert activitynet_map(gt, det).average_map == pytest.approx(0.5)


def test_a_class_without_detections_has_ap_zero():
    gt = _gt(("a", 0.0, 10.0, "x"), ("a", 20.0, 30.0, "y"))
    det = _det(("a", 0.0, 10.0, "x", 0.9), ("a", 20.0, 30.0, "other", 0.9))
    result = activitynet_map(gt, det)
    table = result.table().set_index("label")
    assert table.loc["y", "average"] == 0.0 and table.loc["y", "n_detections"] == 0
    assert table.loc["x", "average"] == 1.0
    assert list(table.index) == ["x", "y"]  # a label without ground truth is not a class
    assert result.average_map == 0.5
    assert list(per_class_ap(gt, det).columns[:4]) == ["label", "n_ground_truth",
                                                       "n_detections", "ap@0.50"]


def test_the_best_remaining_ground_truth_is_taken():
    gt = _gt(("a", 0.0, 10.0, "x"), ("a", 2.0, 12.0, "x"))
    # [1, 11] overlaps both by 9/11: the tie goes to the earlier segment; [0, 10] then takes
    # [2, 12] at tIoU 8/12 (a hit at 0.5, a false positive at 0.7).
    det = _det(("a", 1.0, 11.0, "x", 0.9), ("a", 0.0, 10.0, "x", 0.8))
    result = evaluate_detection(gt, det, (0.5, 0.7))
    np.testing.assert_allclose(result.map_per_threshold, [1.0, 0.5])


def test_ambiguous_overlaps_are_neither_true_nor_false_positives():
    gt = _gt(("a", 0.0, 10.0, "x"))
    det = _det(("a", 50.0, 60.0, "x", 0.9), ("a", 0.0, 10.0, "x", 0.8),
               ("b", 0.0, 1.0, "x", 0.7))
    amb = pd.DataFrame({"video_id": ["a", "a"], "t_start": [55.0, 0.0], "t_end": [70.0, 5.0]})
    assert thumos14_map(gt, det).average_map == pytest.approx(0.5)
    # The first is ignored; the true positive overlapping [0, 5] stays a true positive.
    assert thumos14_map(gt, det, ambiguous=amb).average_map == pytest.approx(1.0)
    touching = amb.assign(t_start=[60.0, 10.0], t_end=[70.0, 12.0])  # no positive overlap
    assert thumos14_map(gt, det, ambiguous=touching).average_map == pytest.approx(0.5)


def test_interpolated_average_precision_by_hand():
    assert interpolated_average_precision([1, 0.5, 2 / 3], [0.5, 0.5, 1]) == pytest.approx(
        5 / 6)
    assert interpolated_average_precision([0.5, 1.0], [0.5, 1.0]) == pytest.approx(1.0)
    assert interpolated_average_precision([], []) == 0.0


def test_no_detections_and_bad_input():
    gt = _gt(("a", 0.0, 10.0, "x"))
    empty = _det()
    assert activitynet_map(gt, empty).average_map == 0.0
    assert np.isnan(activitynet_map(_gt(), empty).average_map)
    with pytest.raises(ValueError, match="thresholds"):
        evaluate_detection(gt, empty, (0.0, 0.5))
    with pytest.raises(AnnotationError, match="detections row 0.*ends before it starts"):
        activitynet_map(gt, _det(("a", 5.0, 1.0, "x", 0.9)))
    with pytest.raises(AnnotationError, match="score"):
        activitynet_map(gt, _det(("a", 1.0, 5.0, "x", float("nan"))))


# --- bootstrap ---------------------------------------------------------------------------

def test_bootstrap_is_seeded_and_contains_the_estimate():
    gt, det = _random_case(np.random.default_rng(3), n_videos=40, n_classes=3, grid=False)
    first = evaluate_detection(gt, det, n_boot=300, seed=5)
    again = evaluate_detection(gt, det, n_boot=300, seed=5)
    other = evaluate_detection(gt, det, n_boot=300, seed=6)
    assert first.interval == again.interval and first.interval != other.interval
    low, high = first.interval
    assert low <= first.average_map <= high and low < high


def test_a_bootstrap_resample_is_the_metric_of_the_resampled_videos():
    gt, det = _random_case(np.random.default_rng(11), n_videos=15, n_classes=3, grid=False)
    scored = det[det["label"].isin(gt["label"])]  # a label without ground truth is no sample
    videos = np.unique(np.concatenate([gt["video_id"], scored["video_id"]]).astype(str))
    draws = np.random.default_rng(4).integers(0, len(videos), size=(1, len(videos)))[0]
    copies = np.bincount(draws, minlength=len(videos))

    def expand(table):
        parts = [table[table["video_id"] == v].assign(video_id=f"{v}#{k}")
                 for v, n in zip(videos, copies, strict=True) for k in range(n)]
        return pd.concat(parts, ignore_index=True)

    expected = evaluate_detection(expand(gt), expand(det)).average_map
    got = bootstrap_map(gt, det, n_boot=1, seed=4)
    assert got[0] == pytest.approx(expected, abs=1e-12)


def test_the_test_sets_videos_are_the_bootstrap_sample():
    gt, det = _random_case(np.random.default_rng(5), n_videos=30, n_classes=2, grid=False)
    empty_videos = [f"quiet{k}" for k in range(30)]  # test videos with nothing in them
    plain = evaluate_detection(gt, det, n_boot=200, seed=1)
    wider = evaluate_detection(gt, det, videos=empty_videos, n_boot=200, seed=1)
    assert wider.average_map == plain.average_map
    assert wider.interval != plain.interval


# --- proposals: AR@AN ---------------------------------------------------------------------

def _ref_recall(gt, proposals, max_proposals, thresholds):
    curves = []
    for t in thresholds:
        row = []
        for k in range(1, max_proposals + 1):
            hit = 0
            for video, s, e in gt[["video_id", "t_start", "t_end"]].itertuples(index=False):
                mine = proposals[proposals["video_id"] == video]
                mine = sorted(mine.itertuples(index=False), key=lambda p: (-p.score, p.t_start,
                                                                           p.t_end))[:k]
                hit += any(_ref_iou(p.t_start, p.t_end, s, e) >= t for p in mine)
            row.append(hit / len(gt))
        curves.append(row)
    return np.array(curves)


def test_average_recall_by_hand_and_against_the_reference():
    gt = _gt(("a", 0.0, 10.0, "x"), ("a", 20.0, 30.0, "y"), ("b", 0.0, 5.0, "x"))
    props = _det(("a", 0.0, 10.0, "", 0.9), ("a", 50.0, 60.0, "", 0.8),
                 ("a", 20.0, 28.0, "", 0.7), ("b", 0.0, 4.9, "", 0.1),
                 ("z", 0.0, 10.0, "", 1.0))  # empty labels: class-agnostic
    result = average_recall(gt, props, max_proposals=5)
    np.testing.assert_allclose(result.recall, _ref_recall(gt, props, 5, ACTIVITYNET_THRESHOLDS))
    # tIoU 0.8 ([20, 28]) counts at 0.5..0.8, 0.98 ([0, 4.9]) at every threshold.
    assert result.at(1) == pytest.approx((1 + 1) / 3)
    assert result.at(3) == pytest.approx((1 + 1 + 7 / 10) / 3)
    rng = np.random.default_rng(2)
    gt, det = _random_case(rng, n_videos=10, n_classes=1, grid=False)
    result = average_recall(gt, det, max_proposals=6, thresholds=(0.3, 0.6))
    np.testing.assert_allclose(result.recall, _ref_recall(gt, det, 6, (0.3, 0.6)))
    ar = result.average_recall
    assert result.auc == pytest.approx(sum((ar[i] + ar[i + 1]) / 2 for i in range(5)) / 6)


# --- the real files ------------------------------------------------------------------------

def test_the_sample_prediction_file(shared_real):
    det = read_results_json(shared_real / SAMPLE)
    assert det["video_id"].nunique() == 4926
    assert len(det) == 7654
    assert det["label"].nunique() == 200
    gt = read_activitynet(shared_real / ANET12, "validation").segments
    start = time.perf_counter()
    result = activitynet_map(gt, det, n_boot=100)
    assert time.perf_counter() - start < 3.0
    assert result.interval[0] <= result.average_map <= result.interval[1]
    # The v1.2 validation videos and classes: the fast metric equals the slow reference.
    videos = set(gt["video_id"]) & set(det["video_id"])
    labels = sorted(set(gt["label"]))[:25]
    sub_gt = gt[gt["video_id"].isin(videos) & gt["label"].isin(labels)]
    sub_det = det[det["label"].isin(labels)]
    thresholds = (0.5, 0.75, 0.95)
    per_threshold, _ = _ref_map(sub_gt, sub_det, thresholds)
    np.testing.assert_allclose(evaluate_detection(sub_gt, sub_det, thresholds).map_per_threshold,
                               per_threshold, atol=1e-12, rtol=0)


def test_thumos14_ground_truth_through_the_metric(shared_real):
    ann = read_thumos14(shared_real / "annotations" / "thumos14" / "test")
    gt = ann.segments
    # Perfect detections: every instance found (AP 1 at every threshold) ...
    perfect = gt.assign(score=1.0 - np.arange(len(gt)) / len(gt))
    assert thumos14_map(gt, perfect, ambiguous=ann.ambiguous).average_map == 1.0
    # ... and one detection on every ambiguous segment, which the protocol ignores.
    extra = ann.ambiguous.assign(label="Diving", score=2.0)
    both = pd.concat([perfect, extra], ignore_index=True)
    assert thumos14_map(gt, both, ambiguous=ann.ambiguous).average_map == 1.0
    assert thumos14_map(gt, both).average_map < 1.0
