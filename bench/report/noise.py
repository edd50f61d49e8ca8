"""Run-to-run noise of a release record, and the gate that is calibrated to it.

A release record (``reports/<version>/quick``) is one run. On another machine the same code,
config and seed gives other predictions: kernels chosen by instruction set round differently
and training amplifies the difference (see :mod:`bench.run.environment`). To tell a regression from
that noise, the record carries *replicates*: the same config rerun with other seeds
(``python -m bench calibrate RECORD``), which move every source of numerical and
initialisation randomness at once -- weight initialisation, data order, k-means and GMM
starts, descriptor sampling. Their accuracies, with the record's own, are written to
``noise.csv`` beside the record.

The gate (:func:`noise_gate`) treats a candidate run's top-1 as one more draw from the
replicates' distribution. Under the null hypothesis "nothing but the numerics changed", with
``R`` runs of mean ``m`` and standard deviation ``s``, the statistic

    t = (m - a) / (s * sqrt(1 + 1 / R))

of a candidate's accuracy ``a`` follows Student's t with ``R - 1`` degrees of freedom (the
prediction interval of a new observation from a normal sample [1]_). Its one-sided p-value
is the evidence of a *drop*. The p-values of all methods are adjusted together by Holm's
step-down procedure [2]_, which keeps the probability of one or more false alarms across all
methods at or below ``alpha`` whatever their dependence. A method fails when its adjusted
p-value is below ``alpha`` *and* its top-1 is more than ``tolerance`` points below the
replicates' mean (statistics first, threshold second).

``s`` is floored at one video (``100 / n`` points): a method whose replicates agree to the
video is still assumed to move by one video, so that a single flipped clip on another machine
is not an alarm. The *minimal detectable drop* of a method (:func:`minimal_detectable_drop`)
is the drop that fails the gate even at the strictest Holm step (Bonferroni's ``alpha / k``):
what the gate is sure to see.

References
----------
.. [1] Hahn, G. J., Meeker, W. Q. (1991). Statistical Intervals: A Guide for Practitioners.
   Wiley, section 4.4 (prediction interval for one future observation).
   doi:10.1002/9780470316771
.. [2] Holm, S. (1979). "A simple sequentially rejective multiple test procedure".
   Scandinavian Journal of Statistics 6(2), 65-70.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "NOISE_FILE",
    "NOISE_COLUMNS",
    "DETECTION_SD_FLOOR",
    "task_sd_floor",
    "replicate_rows",
    "detection_replicate_rows",
    "noise_summary",
    "drop_pvalue",
    "holm_adjust",
    "minimal_detectable_drop",
    "detectable_drop_text",
    "rise_pvalue",
    "judge_family",
    "noise_tests",
    "noise_gate",
]

#: The file in a release record that holds its replicates' accuracies.
NOISE_FILE = "noise.csv"
#: Its columns: one row per (replicate run, method, fold); accuracies in [0, 1].
NOISE_COLUMNS = ("replicate", "seed", "environment", "method", "fold", "n", "n_correct",
                 "top1", "mean_class_acc")


def replicate_rows(predictions: pd.DataFrame, *, replicate: int, seed: int,
                   environment: str) -> list[dict]:
    """Rows of :data:`NOISE_COLUMNS` for one run's ``predictions.csv`` (parsed).

    A failed video (no prediction) counts as wrong, as in :mod:`bench.report.compare`.
    """
    from bench.tasks.recognition.predictions import class_mean_of_correct, correct_mask

    rows = []
    for (method, fold), group in predictions.groupby(["method", "fold"], sort=True):
        right = correct_mask(group)
        rows.append(dict(replicate=replicate, seed=seed, environment=environment,
                         method=str(method), fold=int(fold), n=len(group),
                         n_correct=int(right.sum()), top1=float(right.mean()),
                         mean_class_acc=class_mean_of_correct(group["label"].to_numpy(), right)))
    return rows


def detection_replicate_rows(run_dir, *, replicate: int, seed: int,
                             environment: str) -> list[dict]:
    """Rows of :data:`NOISE_COLUMNS` for one detection run: ``top1`` holds the unit's mAP at
    tIoU 0.5 (in [0, 1]) recomputed from its ``ground_truth.json`` and ``detections.json``,
    ``n`` its test videos; ``n_correct`` and ``mean_class_acc`` are empty."""
    from bench.report.compare_detection import detection_units, read_unit
    from bench.run.rundir import load_run
    from bench.tasks.detection import evaluate_detection

    data = load_run(run_dir)
    rows = []
    for method, fold in sorted(detection_units(data)):
        truth, videos, detections = read_unit(data, method, fold)
        value = evaluate_detection(truth, detections, (0.5,), videos=videos).average_map
        rows.append(dict(replicate=replicate, seed=seed, environment=environment,
                         method=method, fold=fold, n=len(videos), n_correct=np.nan,
                         top1=float(value), mean_class_acc=np.nan))
    return rows


#: Floor of a detection unit's noise standard deviation, in points of mAP. A detection unit's
#: mAP has no per-video granularity to floor at (recognition's one video), so a method whose
#: replicates agree exactly is assumed to move by one point.
DETECTION_SD_FLOOR = 1.0


def task_sd_floor(task: str) -> float | None:
    """The ``floor_points`` of :func:`noise_summary` for a task: :data:`DETECTION_SD_FLOOR`
    for detection, ``None`` (one video) for recognition."""
    return DETECTION_SD_FLOOR if task == "detection" else None


def noise_summary(noise: pd.DataFrame, *, floor_points: float | None = None) -> pd.DataFrame:
    """Per (method, fold): ``n_runs``, ``mean`` and ``sd`` of top-1 over the replicates, in points.

    ``sd`` is the sample standard deviation (``ddof=1``), floored at one video
    (``100 / n``), or at ``floor_points`` when given (detection: :data:`DETECTION_SD_FLOOR`);
    ``sd_raw`` is the value before the floor.
    """
    rows = []
    for (method, fold), group in noise.groupby(["method", "fold"], sort=True):
        top1 = 100 * group["top1"].to_numpy(dtype=float)
        n_videos = int(group["n"].max())
        raw = float(np.std(top1, ddof=1)) if len(top1) > 1 else np.nan
        floor = (floor_points if floor_points is not None
                 else 100.0 / n_videos if n_videos else np.nan)
        rows.append(dict(method=str(method), fold=int(fold), n_runs=len(top1),
                         mean=float(top1.mean()), sd_raw=raw,
                         sd=max(raw, floor) if np.isfinite(raw) else np.nan,
                         min=float(top1.min()), max=float(top1.max())))
    return pd.DataFrame(rows, columns=["method", "fold", "n_runs", "mean", "sd_raw", "sd", "min",
                                       "max"])


def drop_pvalue(value: float, mean: float, sd: float, n_runs: int) -> float:
    """One-sided p-value that ``value`` is this far below ``mean`` by noise alone.

    Student's t prediction statistic with ``n_runs - 1`` degrees of freedom (module notes).
    """
    from scipy.stats import t as student_t

    if n_runs < 2 or not sd > 0:
        raise ValueError(f"a noise model needs at least 2 runs and sd > 0; got n_runs={n_runs}, "
                         f"sd={sd}. Record more replicates (python -m bench calibrate).")
    stat = (mean - value) / (sd * math.sqrt(1 + 1 / n_runs))
    return float(student_t.sf(stat, n_runs - 1))


def holm_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (reject where the adjusted value < alpha).

    Equivalent to rejecting the ``i``-th smallest p-value while ``p_(i) < alpha / (k - i)``
    for ``i = 0, 1, ...``; the adjusted values are monotone and capped at 1. NaN entries
    (not tested) stay NaN and do not count in ``k``.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    k = len(tested)
    if not k:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (k - i) * p[idx]))
        out[idx] = running
    return out


def minimal_detectable_drop(sd: float, n_runs: int, n_tests: int, *, alpha: float,
                            tolerance: float) -> float:
    """The drop below the replicates' mean (points) that fails the gate at Bonferroni's level.

    ``max(tolerance, t_{1 - alpha / n_tests, n_runs - 1} * sd * sqrt(1 + 1 / n_runs))``: a drop
    at least this large is flagged whatever the other methods do (Holm never asks more).
    """
    from scipy.stats import t as student_t

    quantile = float(student_t.isf(alpha / max(n_tests, 1), n_runs - 1))
    return max(float(tolerance), quantile * sd * math.sqrt(1 + 1 / n_runs))


def rise_pvalue(value: float, mean: float, sd: float, n_runs: int) -> float:
    """One-sided p-value that ``value`` is this far *above* ``mean`` by noise alone."""
    return drop_pvalue(2 * mean - value, mean, sd, n_runs)  # the mirror image of a drop


def judge_family(p_drop: Sequence[float], p_rise: Sequence[float], change: Sequence[float], *,
                 alpha: float, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Verdicts of a family of tests with Holm's adjustment across all of them.

    Parameters
    ----------
    p_drop, p_rise : sequence of float
        One-sided p-values of a drop and of a rise per member (a two-sided test gives the
        same value in both); NaN = not a member.
    change : sequence of float
        The change in points the tolerance applies to (candidate minus reference).
    alpha, tolerance : float
        Family-wise error rate; points a significant change must exceed.

    Returns
    -------
    verdict : ndarray of str
        ``"worse"``, ``"better"``, ``"same"`` (``""`` for non-members).
    p_adjusted : ndarray
        The Holm-adjusted p-value that decided the verdict (for ``"same"`` the smaller one).
    """
    adj_drop, adj_rise = holm_adjust(p_drop), holm_adjust(p_rise)
    change = np.asarray(change, dtype=float)
    worse = (adj_drop < alpha) & (change < -tolerance)
    better = (adj_rise < alpha) & (change > tolerance) & ~worse
    verdict = np.where(worse, "worse", np.where(better, "better", "same")).astype(object)
    verdict[~np.isfinite(adj_drop)] = ""
    p_adjusted = np.where(worse, adj_drop, np.where(better, adj_rise,
                                                    np.fmin(adj_drop, adj_rise)))
    return verdict, p_adjusted


def detectable_drop_text(drop: float, mean: float) -> str:
    """A detectable drop in points for a table; says so when it exceeds the mean itself.

    A method whose noise is wide compared with its accuracy cannot be caught even when it
    falls to zero: the gate is blind to it, and the table must not hide that.
    """
    if not np.isfinite(drop):
        return ""
    if np.isfinite(mean) and drop >= mean:
        return f"{drop:.1f} (more than its mean: blind)"
    return f"{drop:.1f}"


def noise_tests(candidate_top1: pd.Series, summary: pd.DataFrame, *, n_tests: int,
                alpha: float, tolerance: float) -> pd.DataFrame:
    """Each candidate accuracy against its noise model: the one-sided p-values, unadjusted.

    Parameters
    ----------
    candidate_top1 : Series
        Candidate top-1 in points, indexed by ``(method, fold)``.
    summary : DataFrame
        :func:`noise_summary` of the record.
    n_tests : int
        Size of the family the p-values will be adjusted in (for the detectable drop).
    alpha, tolerance : float
        As in :func:`minimal_detectable_drop`.

    Returns
    -------
    DataFrame
        Indexed like ``candidate_top1``: ``noise_mean, noise_sd, n_runs, d_noise`` (candidate
        minus mean), ``p_drop, p_rise, detectable_drop``.
    """
    summary = summary.set_index(["method", "fold"])
    frame = pd.DataFrame(index=candidate_top1.index)
    frame["noise_mean"] = [float(summary.at[k, "mean"]) for k in frame.index]
    frame["noise_sd"] = [float(summary.at[k, "sd"]) for k in frame.index]
    frame["n_runs"] = [int(summary.at[k, "n_runs"]) for k in frame.index]
    frame["d_noise"] = candidate_top1.to_numpy(dtype=float) - frame["noise_mean"]
    models = list(zip(candidate_top1, frame["noise_mean"], frame["noise_sd"], frame["n_runs"],
                      strict=True))
    frame["p_drop"] = [drop_pvalue(*model) for model in models]
    frame["p_rise"] = [rise_pvalue(*model) for model in models]
    frame["detectable_drop"] = [
        minimal_detectable_drop(s, r, n_tests, alpha=alpha, tolerance=tolerance)
        for s, r in zip(frame["noise_sd"], frame["n_runs"], strict=True)]
    return frame


def noise_gate(candidate_top1: pd.Series, summary: pd.DataFrame, *, alpha: float,
               tolerance: float) -> pd.DataFrame:
    """Judge candidate accuracies against a noise summary, with Holm across all of them.

    Parameters
    ----------
    candidate_top1 : Series
        Candidate top-1 in points, indexed by ``(method, fold)``; only these are judged and
        they form the family.
    summary : DataFrame
        :func:`noise_summary` of the record.
    alpha : float
        Family-wise error rate.
    tolerance : float
        Points below the replicates' mean a significant drop must exceed to fail.

    Returns
    -------
    DataFrame
        :func:`noise_tests`'s columns plus ``p_adjusted`` and ``verdict`` in
        ``{"worse", "better", "same"}``.
    """
    frame = noise_tests(candidate_top1, summary, n_tests=len(candidate_top1), alpha=alpha,
                        tolerance=tolerance)
    frame["verdict"], frame["p_adjusted"] = judge_family(
        frame["p_drop"], frame["p_rise"], frame["d_noise"], alpha=alpha, tolerance=tolerance)
    return frame
