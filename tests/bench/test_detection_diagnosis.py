"""DETAD-style diagnosis: false-positive types on hand-built cases, AP by duration against the
metric itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.tasks.detection import evaluate_detection
from bench.tasks.detection.diagnosis import (
    ERROR_TYPES,
    ap_by_duration,
    ap_by_group,
    back_to_back,
    classify_detections,
    false_positive_profile,
)


def _segments(rows, score=False):
    columns = ["video_id", "t_start", "t_end", "label"] + (["score"] if score else [])
    return pd.DataFrame(rows, columns=columns)


TRUTH = _segments([("v", 10.0, 20.0, "a"), ("v", 40.0, 50.0, "b")])


@pytest.mark.parametrize(("detection", "kind"), [
    (("v", 10.0, 20.0, "a", 0.9), "true positive"),
    (("v", 14.0, 20.0, "a", 0.9), "true positive"),       # tIoU 6/10 is a hit at 0.5
    (("v", 18.0, 22.0, "a", 0.9), "localization"),        # tIoU 2/12
    (("v", 40.0, 50.0, "a", 0.9), "wrong label"),
    (("v", 46.0, 52.0, "a", 0.9), "confusion"),            # 4/12 with b
    (("v", 70.0, 80.0, "a", 0.9), "background"),
    (("w", 10.0, 20.0, "a", 0.9), "background"),           # a video without ground truth
])
def test_each_false_positive_type(detection, kind):
    out = classify_detections(TRUTH, _segments([detection], score=True))
    assert out["type"].tolist() == [kind]


def test_a_second_hit_on_a_taken_instance_is_a_duplicate():
    dets = _segments([("v", 10.0, 20.0, "a", 0.9), ("v", 11.0, 20.0, "a", 0.8)], score=True)
    out = classify_detections(TRUTH, dets)
    assert out["type"].tolist() == ["true positive", "duplicate"]
    assert out["matched"].tolist() == [0, -1] and out["rank"].tolist() == [0, 1]


def _random_case(seed):
    rng = np.random.default_rng(seed)
    truth, dets = [], []
    for v in range(6):
        for _ in range(rng.integers(1, 5)):
            start = float(rng.uniform(0, 50))
            truth.append((f"v{v}", start, start + float(rng.uniform(0.6, 8)),
                          str(rng.choice(["a", "b", "c"]))))
        for _ in range(rng.integers(0, 8)):
            start = float(rng.uniform(0, 50))
            dets.append((f"v{v}", start, start + float(rng.uniform(0.5, 9)),
                         str(rng.choice(["a", "b", "c"])), float(rng.random())))
    for row in truth[::2]:  # some near hits
        dets.append((row[0], row[1] + 0.2, row[2], row[3], float(rng.random())))
    return _segments(truth), _segments(dets, score=True)


@pytest.mark.parametrize("seed", range(5))
def test_true_positives_agree_with_the_metric_and_one_bucket_is_the_map(seed):
    truth, dets = _random_case(seed)
    out = classify_detections(truth, dets, 0.5)
    assert set(out["type"]) <= set(ERROR_TYPES)
    everything = ap_by_duration(truth, dets, 0.5, buckets={"all": (0.0, np.inf)})
    want = evaluate_detection(truth, dets, (0.5,)).average_map
    assert everything["all"] == pytest.approx(want)


def test_profile_counts_the_top_g_of_each_class():
    truth, dets = _random_case(7)
    profile = false_positive_profile(truth, dets)
    g = truth["label"].value_counts()
    n_det = dets["label"].value_counts()
    assert int(profile.sum()) == int(sum(min(g[c], n_det.get(c, 0)) for c in g.index))
    assert list(profile.index) == list(ERROR_TYPES)


def test_duration_buckets_score_their_own_instances():
    truth = _segments([("v", 0.0, 1.0, "a"), ("v", 10.0, 16.0, "a")])
    dets = _segments([("v", 0.0, 1.0, "a", 0.9), ("v", 30.0, 36.0, "a", 0.8)], score=True)
    by = ap_by_duration(truth, dets)
    assert by["short (< 1.5 s)"] == pytest.approx(1.0)   # its one instance found first
    assert by["long (>= 4 s)"] == 0.0                   # the long one is never found
    assert np.isnan(by["medium (1.5-4 s)"])


def test_back_to_back_marks_instances_that_share_a_boundary_in_their_video():
    truth = _segments([("v", 1.0, 3.0, "a"), ("v", 3.0, 5.0, "b"), ("v", 6.0, 7.0, "a"),
                       ("w", 5.0, 6.0, "a"), ("w", 0.0, 2.0, "b"), ("v", 7.5, 9.0, "b")])
    # v: [1,3] meets [3,5]; [6,7] touches nothing; w's [5,6] does not meet v's [3,5]
    assert back_to_back(truth).tolist() == [True, True, False, False, False, False]
    rng = np.random.default_rng(3)
    for _ in range(20):  # against a slow double loop
        rows = [("v" if rng.random() < 0.5 else "w", float(s), float(s + rng.integers(1, 4)),
                 "a") for s in rng.integers(0, 12, 8)]
        t = _segments(rows)
        want = [any(j != i and r[0] == o[0] and (abs(r[1] - o[2]) < 1e-9 or abs(r[2] - o[1])
                                                 < 1e-9) for j, o in enumerate(rows))
                for i, r in enumerate(rows)]
        assert back_to_back(t).tolist() == want


@pytest.mark.parametrize("seed", range(3))
def test_a_group_of_every_instance_is_the_map_and_groups_split_it(seed):
    truth, dets = _random_case(seed)
    every = np.ones(len(truth), dtype=bool)
    whole = ap_by_group(truth, dets, {"all": every, "none": ~every}, 0.5)
    assert whole["all"] == pytest.approx(evaluate_detection(truth, dets, (0.5,)).average_map)
    assert np.isnan(whole["none"])
    # a group is its duration bucket when the masks are the bucket's
    length = (truth["t_end"] - truth["t_start"]).to_numpy()
    by = ap_by_duration(truth, dets, 0.5, buckets={"short": (0.0, 3.0), "rest": (3.0, np.inf)})
    grouped = ap_by_group(truth, dets, {"short": length < 3.0, "rest": length >= 3.0}, 0.5)
    pd.testing.assert_series_equal(by, grouped)
