"""Two detection runs on the same test videos: the paired change in mAP and its significance.

The regression gate (:mod:`bench.report.compare`) compares a candidate run with a release
record unit by unit. For recognition, each test video is right or wrong in either run and
McNemar's test pairs them. A detection run's unit is its ranked list of segments, and the mAP
is not a sum over videos, but the video is still the unit of the sample: a video's detections
are matched to its own ground truth only, so the true positives of one run do not depend on
which other videos are in the set. That gives two paired procedures over videos:

* the **paired bootstrap** (Efron & Tibshirani 1993, ch. 13): resample the videos with
  replacement and recompute both runs' mAP on the same resample; the percentiles of the
  difference are its confidence interval;
* the **randomisation test** (Fisher's permutation test as used for comparing retrieval and
  detection systems; Smucker, Allan & Carterette 2007): under the null hypothesis that the
  two runs are exchangeable, swapping the two runs' detections of any set of videos gives an
  equally likely pair; the two-sided p-value is the share of random swaps whose mAP difference
  is at least as large as the observed one.

Both run on one encoding: every video appears twice, once with the baseline's detections and
once with the candidate's, each copy with the video's ground truth, and a row of video
weights (:func:`bench.tasks.detection.metrics.weighted_map`) picks which copy counts — the
matching runs once, each swap or resample is one row of weights.

References
----------
.. [1] Efron, B. and Tibshirani, R. J. *An Introduction to the Bootstrap*, Chapman & Hall,
   1993. :doi:`10.1201/9780429246593`
.. [2] Smucker, M. D., Allan, J. and Carterette, B. "A comparison of statistical significance
   tests for information retrieval evaluation", CIKM 2007. :doi:`10.1145/1321440.1321528`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tasks._ranking import percentile_interval, resample_counts
from bench.tasks.detection._kernels import codes_of
from bench.tasks.detection.metrics import _prepare, weighted_map

__all__ = ["PairedDetection", "paired_map_test"]

#: Suffixes of the two copies of each video id (``\x00`` sorts first, so the copies keep the
#: videos' order and the detections' tie-breaking of :func:`evaluate_detection`).
_BASE, _CAND = "\x00base", "\x00candidate"


@dataclass(frozen=True)
class PairedDetection:
    """The result of :func:`paired_map_test`; mAPs in [0, 1].

    Attributes
    ----------
    map_base, map_cand : float
        Each run's mAP (averaged over the thresholds), as :func:`evaluate_detection` gives.
    interval : tuple of float
        Percentile interval of ``map_cand - map_base`` over the paired bootstrap.
    p_value : float
        Two-sided randomisation p-value of the difference, ``(1 + k) / (1 + n_perm)``.
    n_videos : int
        The paired sample: test videos.
    """

    map_base: float
    map_cand: float
    interval: tuple[float, float]
    p_value: float
    n_videos: int

    @property
    def difference(self) -> float:
        return self.map_cand - self.map_base


def _tagged(table: pd.DataFrame | None, tag: str) -> pd.DataFrame | None:
    if table is None:
        return None
    return table.assign(video_id=table["video_id"].astype(str) + tag)


def paired_map_test(ground_truth: pd.DataFrame, base: pd.DataFrame, candidate: pd.DataFrame,
                    thresholds: Sequence[float] = (0.5,), *,
                    videos: Sequence[str] | None = None,
                    ambiguous: pd.DataFrame | None = None, n_boot: int = 1000,
                    n_perm: int = 1000, confidence: float = 0.95,
                    seed: int = 0) -> PairedDetection:
    """Compare two runs' detections of the same test videos (see the module docstring).

    Parameters
    ----------
    ground_truth : DataFrame
        ``video_id, t_start, t_end, label``.
    base, candidate : DataFrame
        The two runs' detections (``... , score``).
    thresholds : sequence of float, default (0.5,)
        tIoU thresholds; the mAP is averaged over them.
    videos : sequence of str, optional
        The test videos (the sample). Default: those with ground truth or with a detection of
        a class that has ground truth in either run.
    ambiguous : DataFrame, optional
        As in :func:`evaluate_detection`.
    n_boot, n_perm : int, default 1000
        Bootstrap resamples and random swaps.
    confidence : float, default 0.95
    seed : int, default 0
        Seeds the resamples and the swaps (``numpy.random.default_rng``).

    Returns
    -------
    PairedDetection
    """
    for name, value in (("n_boot", n_boot), ("n_perm", n_perm)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1. Got {value!r} instead.")
    classes = set(ground_truth["label"].astype(str))
    sample = set(ground_truth["video_id"].astype(str)) if videos is None else set(map(str, videos))
    if videos is None:
        for table in (base, candidate):
            sample |= set(table.loc[table["label"].astype(str).isin(classes), "video_id"].astype(str))
    sample_ids = np.asarray(sorted(sample), dtype=object)
    both = pd.concat([_tagged(ground_truth, _BASE), _tagged(ground_truth, _CAND)],
                     ignore_index=True)
    detections = pd.concat([_tagged(base, _BASE), _tagged(candidate, _CAND)], ignore_index=True)
    if ambiguous is not None:
        ambiguous = pd.concat([_tagged(ambiguous, _BASE), _tagged(ambiguous, _CAND)],
                              ignore_index=True)
    copies = [v + tag for tag in (_BASE, _CAND) for v in sample_ids]
    enc, _, tp, counted = _prepare(both, detections, thresholds, ambiguous, copies)
    code_base = codes_of(enc.videos, np.asarray([v + _BASE for v in sample_ids], dtype=object))
    code_cand = codes_of(enc.videos, np.asarray([v + _CAND for v in sample_ids], dtype=object))
    n = len(sample_ids)

    def rows(on_base: np.ndarray, on_cand: np.ndarray) -> np.ndarray:
        weights = np.zeros((len(on_base), enc.n_videos), dtype=np.int64)
        weights[:, code_base] = on_base
        weights[:, code_cand] = on_cand
        return weights

    ones, zeros = np.ones((1, n), dtype=np.int64), np.zeros((1, n), dtype=np.int64)
    observed = weighted_map(enc, tp, counted, np.vstack([rows(ones, zeros), rows(zeros, ones)]))
    map_base, map_cand = float(observed[0]), float(observed[1])
    counts = resample_counts(n, n_boot, seed)
    zero = np.zeros_like(counts)
    boot = weighted_map(enc, tp, counted, np.vstack([rows(counts, zero), rows(zero, counts)]))
    interval = percentile_interval(boot[n_boot:] - boot[:n_boot], confidence)
    swap = np.random.default_rng(seed + 1).integers(0, 2, size=(n_perm, n))
    swapped = weighted_map(enc, tp, counted,
                           np.vstack([rows(1 - swap, swap), rows(swap, 1 - swap)]))
    diffs = swapped[n_perm:] - swapped[:n_perm]
    observed_diff = abs(map_cand - map_base)
    if not np.isfinite(observed_diff):
        p_value = float("nan")
    else:
        # a tiny slack: a swap that gives the observed difference up to rounding counts as it
        extreme = int(np.sum(np.abs(diffs) >= observed_diff - 1e-12))
        p_value = (1 + extreme) / (1 + n_perm)
    return PairedDetection(map_base, map_cand, interval, float(p_value), n)
