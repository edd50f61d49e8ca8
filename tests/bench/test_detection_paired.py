"""The paired detection comparison against evaluate_detection on explicitly swapped tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.tasks.detection import evaluate_detection
from bench.tasks.detection.metrics import resample_counts
from bench.tasks.detection.paired import paired_map_test


def random_run(rng, n_videos=8, classes=("jump", "walk", "wave"), noise=1.0, n_det=6):
    """Ground truth and detections near it with ``noise`` seconds of jitter, plus clutter."""
    gt = []
    for v in range(n_videos):
        for _ in range(rng.integers(1, 4)):
            start = rng.uniform(0, 50)
            label = str(rng.choice(classes))
            gt.append((f"v{v}", start, start + rng.uniform(2, 10), label))
    truth = pd.DataFrame(gt, columns=["video_id", "t_start", "t_end", "label"])

    def detections(noise):
        rows = []
        for video, start, end, label in gt:
            shift = rng.normal(0, noise, 2)
            begin = max(0.0, start + shift[0])
            rows.append((video, begin, max(begin, end) + abs(shift[1]) + 0.1, label,
                         float(rng.uniform(0.3, 1))))
        for v in range(n_videos):
            for _ in range(n_det):
                start = rng.uniform(0, 50)
                rows.append((f"v{v}", start, start + rng.uniform(1, 8), str(rng.choice(classes)),
                             float(rng.uniform(0, 0.8))))
        return pd.DataFrame(rows, columns=["video_id", "t_start", "t_end", "label", "score"])

    return truth, detections(noise), detections


def swapped(base, cand, flip, videos):
    """The two arms of one swap: videos with ``flip`` take the other run's detections."""
    chosen = {v for v, f in zip(videos, flip, strict=True) if f}
    mine_b, mine_c = base["video_id"].isin(chosen), cand["video_id"].isin(chosen)
    arm1 = pd.concat([base[~mine_b], cand[mine_c]], ignore_index=True)
    arm2 = pd.concat([cand[~mine_c], base[mine_b]], ignore_index=True)
    return arm1, arm2


def test_observed_maps_equal_evaluate_detection():
    rng = np.random.default_rng()
    truth, base, make = random_run(rng)
    cand = make(3.0)
    for thresholds in ((0.5,), (0.3, 0.5, 0.7)):
        result = paired_map_test(truth, base, cand, thresholds, n_boot=10, n_perm=10)
        assert result.map_base == pytest.approx(
            evaluate_detection(truth, base, thresholds).average_map, abs=1e-12)
        assert result.map_cand == pytest.approx(
            evaluate_detection(truth, cand, thresholds).average_map, abs=1e-12)
        assert result.n_videos == truth["video_id"].nunique()


def test_swaps_equal_the_maps_of_explicitly_swapped_tables():
    """The p-value's swaps are the randomisation test's: recompute a few by hand."""
    rng = np.random.default_rng()
    truth, base, make = random_run(rng, n_videos=6)
    cand = make(2.5)
    videos = sorted(truth["video_id"].unique())
    n_perm, seed = 40, 7
    result = paired_map_test(truth, base, cand, n_boot=5, n_perm=n_perm, seed=seed)
    flips = np.random.default_rng(seed + 1).integers(0, 2, size=(n_perm, len(videos)))
    observed = abs(result.difference)
    extreme = 0
    for flip in flips:
        arm1, arm2 = swapped(base, cand, flip, videos)
        d = (evaluate_detection(truth, arm2, (0.5,)).average_map
             - evaluate_detection(truth, arm1, (0.5,)).average_map)
        extreme += abs(d) >= observed - 1e-12
    assert result.p_value == pytest.approx((1 + extreme) / (1 + n_perm))


def test_bootstrap_interval_equals_resampled_tables():
    rng = np.random.default_rng()
    truth, base, make = random_run(rng, n_videos=5)
    cand = make(2.0)
    videos = sorted(truth["video_id"].unique())
    n_boot, seed = 30, 3
    result = paired_map_test(truth, base, cand, n_boot=n_boot, n_perm=5, seed=seed)
    diffs = []

    def resample(table, counts):
        """A video drawn k times: k renamed copies of its rows."""
        parts = [table[table["video_id"] == v].assign(video_id=f"{v}#{i}")
                 for v, k in zip(videos, counts, strict=True) for i in range(k)]
        return pd.concat(parts, ignore_index=True)

    for counts in resample_counts(len(videos), n_boot, seed):
        gt = resample(truth, counts)
        diffs.append(evaluate_detection(gt, resample(cand, counts), (0.5,)).average_map
                     - evaluate_detection(gt, resample(base, counts), (0.5,)).average_map)
    low, high = np.nanpercentile(diffs, [2.5, 97.5])
    assert result.interval == pytest.approx((low, high), abs=1e-12)


def test_identical_runs_are_not_significant_and_a_ruined_run_is():
    rng = np.random.default_rng()
    truth, base, make = random_run(rng, n_videos=30)
    same = paired_map_test(truth, base, base.copy(), n_boot=200, n_perm=200)
    assert same.difference == 0 and same.p_value == 1.0 and same.interval == (0.0, 0.0)
    ruined = base.assign(t_start=base["t_start"] + 30, t_end=base["t_end"] + 30)
    drop = paired_map_test(truth, base, ruined, n_boot=200, n_perm=200)
    assert drop.difference < -0.3 and drop.p_value < 0.01 and drop.interval[1] < 0


def test_bad_counts_are_refused():
    rng = np.random.default_rng()
    truth, base, _ = random_run(rng)
    with pytest.raises(ValueError, match="n_perm must be an int >= 1"):
        paired_map_test(truth, base, base, n_perm=0)
