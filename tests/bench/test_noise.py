"""bench.report.noise: the noise-calibrated gate -- Holm, the prediction p-value, family-wise control."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.report.noise import (
    drop_pvalue,
    holm_adjust,
    minimal_detectable_drop,
    noise_gate,
    noise_summary,
)

ALPHA = 0.05
N_VIDEOS = 108  # the quick record's test set
N_METHODS = 16  # the quick record's suite


def _holm_reject_reference(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm (1979) from the definition: walk the sorted p-values, stop at the first keep."""
    reject = np.zeros(len(p), dtype=bool)
    for i, idx in enumerate(np.argsort(p, kind="stable")):
        if p[idx] >= alpha / (len(p) - i):
            break
        reject[idx] = True
    return reject


def test_holm_adjusted_values_on_a_hand_worked_case():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> max 0.06
    adjusted = holm_adjust([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(holm_adjust([np.nan, 0.2])[0]) and holm_adjust([np.nan, 0.2])[1] == 0.2


def test_holm_matches_the_sequential_definition_on_random_p_values():
    rng = np.random.default_rng(0)
    for _ in range(500):
        k = int(rng.integers(1, 20))
        p = rng.uniform(0, 0.02, k) ** rng.uniform(0.5, 2)
        alpha = float(rng.choice([0.01, 0.05, 0.1]))
        np.testing.assert_array_equal(holm_adjust(p) < alpha, _holm_reject_reference(p, alpha))


def test_prediction_p_value_is_uniform_for_a_new_draw_from_the_same_normal():
    rng = np.random.default_rng(1)
    n_runs, sims = 9, 4000
    draws = rng.normal(40.0, 4.0, size=(sims, n_runs + 1))
    p = np.array([drop_pvalue(d[-1], d[:-1].mean(), d[:-1].std(ddof=1), n_runs) for d in draws])
    for level in (0.01, 0.05, 0.2, 0.5):
        # binomial standard error of the share at 4000 draws is <= 0.008
        assert abs(np.mean(p < level) - level) < 3 * math.sqrt(level * (1 - level) / sims) + 1e-3


def test_drop_p_value_needs_a_noise_model():
    with pytest.raises(ValueError, match="at least 2 runs"):
        drop_pvalue(30.0, 40.0, 0.0, 9)
    with pytest.raises(ValueError, match="calibrate"):
        drop_pvalue(30.0, 40.0, 1.0, 1)


def _noise_frame(top1_runs: np.ndarray, n: int = N_VIDEOS) -> pd.DataFrame:
    """noise.csv rows: ``top1_runs[m, r]`` is method m's accuracy (share) in replicate r."""
    rows = []
    for m, runs in enumerate(top1_runs):
        for r, acc in enumerate(runs):
            rows.append(dict(replicate=r, seed=r, environment="e", method=f"m{m:02d}", fold=1,
                             n=n, n_correct=int(round(acc * n)), top1=acc, mean_class_acc=acc))
    return pd.DataFrame(rows)


def _simulated_accuracies(rng: np.random.Generator, means: np.ndarray, sds: np.ndarray,
                          n_runs: int) -> np.ndarray:
    """Accuracies (shares) on N_VIDEOS videos: a normal run effect, rounded to whole videos."""
    raw = rng.normal(means[:, None], sds[:, None], size=(len(means), n_runs))
    return np.clip(np.round(raw * N_VIDEOS), 0, N_VIDEOS) / N_VIDEOS


def _gate(record_runs: np.ndarray, candidate: np.ndarray, tolerance: float = 2.0):
    summary = noise_summary(_noise_frame(record_runs))
    index = pd.MultiIndex.from_tuples([(f"m{m:02d}", 1) for m in range(len(candidate))])
    return noise_gate(pd.Series(100 * candidate, index=index), summary, alpha=ALPHA,
                      tolerance=tolerance)


def test_family_wise_false_alarm_rate_is_at_most_alpha_with_16_noisy_methods():
    """16 methods, nothing but run-to-run noise, 1000 simulated gate runs: few false alarms.

    Each simulated release record has 9 runs per method (the record and 8 seeds); the
    candidate is a 10th run from the same distribution. Means and noise levels span the quick
    record's: 10-90 % top-1, run-to-run sd 0.3-7 points (some below the one-video floor).
    """
    rng = np.random.default_rng(2026)
    means = rng.uniform(0.1, 0.9, N_METHODS)
    sds = np.concatenate([[0.003, 0.005, 0.008], rng.uniform(0.01, 0.07, N_METHODS - 3)])
    alarms = alarms_per_method = 0
    sims = 1000
    for _ in range(sims):
        runs = _simulated_accuracies(rng, means, sds, 10)
        verdict = _gate(runs[:, :9], runs[:, 9], tolerance=0.0)
        alarms += bool((verdict["verdict"] == "worse").any())
        # the same runs judged at alpha per method, without Holm: the multiplicity problem
        alarms_per_method += bool((verdict["p_drop"] < ALPHA).any())
    assert alarms / sims <= ALPHA
    assert alarms_per_method / sims > 0.3  # the uncorrected gate alarms most of the time


def test_a_planted_drop_of_60_percent_of_the_correct_videos_is_caught():
    rng = np.random.default_rng(3)
    means = np.full(N_METHODS, 0.45)
    sds = np.full(N_METHODS, 0.045)  # 4.5 points: the deep methods' seed-to-seed spread
    caught = 0
    for _ in range(200):
        runs = _simulated_accuracies(rng, means, sds, 10)
        candidate = runs[:, 9].copy()
        candidate[0] *= 0.4  # 60 % of its correct predictions turned wrong
        verdict = _gate(runs[:, :9], candidate)
        caught += verdict["verdict"].iloc[0] == "worse"
        assert (verdict["verdict"].iloc[1:] != "worse").sum() >= N_METHODS - 2
    assert caught / 200 >= 0.95


def test_the_minimal_detectable_drop_is_where_a_lone_drop_starts_to_fail():
    rng = np.random.default_rng(4)
    runs = _simulated_accuracies(rng, np.full(N_METHODS, 0.5), np.full(N_METHODS, 0.04), 9)
    summary = noise_summary(_noise_frame(runs))
    sd, n_runs = summary["sd"].iloc[0], int(summary["n_runs"].iloc[0])
    mde = minimal_detectable_drop(sd, n_runs, N_METHODS, alpha=ALPHA, tolerance=2.0)
    from scipy.stats import t as student_t

    expected = student_t.isf(ALPHA / N_METHODS, n_runs - 1) * sd * math.sqrt(1 + 1 / n_runs)
    assert mde == pytest.approx(max(2.0, expected))
    means = summary["mean"].to_numpy() / 100
    for factor, verdict in ((1.01, "worse"), (0.99, "same")):
        candidate = means.copy()  # every other method exactly at its mean: p = 0.5
        candidate[0] = means[0] - factor * mde / 100
        assert _gate(runs, candidate)["verdict"].iloc[0] == verdict
    # the tolerance still bounds it from below: a noiseless method cannot fail by 1 video
    assert minimal_detectable_drop(1e-9, 9, 16, alpha=ALPHA, tolerance=2.0) == 2.0


def test_noise_summary_floors_the_spread_at_one_video():
    frame = _noise_frame(np.array([[0.5] * 9, [0.5, 0.51, 0.49, 0.5, 0.5, 0.52, 0.48, 0.5, 0.5]]))
    summary = noise_summary(frame).set_index("method")
    assert summary.at["m00", "sd_raw"] == 0 and summary.at["m00", "sd"] == pytest.approx(
        100 / N_VIDEOS)
    raw = np.std(100 * frame[frame["method"] == "m01"]["top1"], ddof=1)
    assert summary.at["m01", "sd"] == pytest.approx(max(raw, 100 / N_VIDEOS))
    assert (summary["n_runs"] == 9).all()
