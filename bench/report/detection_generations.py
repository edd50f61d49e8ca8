"""What each generation of detection methods added, measured on one detection run.

The best method of each year (highest mean mAP@0.5 over folds; reference methods such as the
random floor are the generation before the first) is compared with the best of the year
before, unit by unit on the same test videos: the change in mAP@0.5 with its paired
bootstrap interval over videos and the randomisation test's p-value
(:func:`bench.tasks.detection.paired.paired_map_test`), and how the share of each error type
among the top detections moved (DETAD's false-positive types,
:func:`bench.tasks.detection.diagnosis.false_positive_profile`): sliding windows lose
instances to *localization* errors that boundary regression should remove; a snippet
classifier without temporal context adds *background* hits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.run.rundir import RunData, method_order
from bench.tasks.detection.diagnosis import ERROR_TYPES, false_positive_profile
from bench.tasks.detection.paired import paired_map_test

__all__ = ["detection_generation_steps", "floor_comparison"]


def _best_per_generation(data: RunData, tables) -> list[tuple[str, str]]:
    """``(generation, method)``: the reference floor first, then the best method of each year."""
    results = data.results
    at_half = results[results["metric"] == "map@0.50"].groupby("method")["value"].mean()
    cards, present = data.methods, {method for method, *_ in tables}
    best: dict[str, str] = {}
    for method in method_order(data):
        if method not in at_half.index or method not in present:
            continue
        card = cards.get(method, {})
        generation = "floor" if card.get("track") == "reference" else str(card.get("year", "?"))
        if generation not in best or at_half[method] > at_half[best[generation]]:
            best[generation] = method
    order = sorted(best, key=lambda g: (g != "floor", g))
    return [(g, best[g]) for g in order]


def _profile_shares(tables, method: str) -> pd.Series:
    counts = sum((false_positive_profile(truth, detections)
                  for m, _, truth, detections in tables if m == method),
                 pd.Series(0, index=list(ERROR_TYPES)))
    return counts / max(1, int(counts.sum()))


def detection_generation_steps(data: RunData, tables, *, n_boot: int = 1000,
                               seed: int = 0) -> pd.DataFrame:
    """One row per step between consecutive generations (see the module docstring).

    Parameters
    ----------
    data : RunData
    tables : list
        :func:`bench.report.detection.unit_tables` of the run.
    n_boot : int
        Bootstrap resamples and random swaps of each unit's paired test.
    seed : int

    Returns
    -------
    DataFrame
        ``from_generation, from_method, to_generation, to_method, d_map`` (points, mean over
        the folds both ran), ``d_low, d_high, p_value`` (the paired interval and randomisation
        p-value; only when they share exactly one fold, NaN otherwise), ``n_folds`` and one
        ``d_share:<type>`` column per error type (points of the top detections).
    """
    units = {(m, fold): (truth, det) for m, fold, truth, det in tables}
    steps = _best_per_generation(data, tables)
    rows = []
    for (g0, m0), (g1, m1) in zip(steps, steps[1:], strict=False):
        folds = sorted({f for m, f in units if m == m0} & {f for m, f in units if m == m1})
        tests = [paired_map_test(units[(m0, f)][0], units[(m0, f)][1], units[(m1, f)][1],
                                 n_boot=n_boot, n_perm=n_boot, seed=seed) for f in folds]
        if not tests:
            continue
        one = len(tests) == 1
        shares = _profile_shares(tables, m1) - _profile_shares(tables, m0)
        rows.append({
            "from_generation": g0, "from_method": m0, "to_generation": g1, "to_method": m1,
            "d_map": 100 * float(np.mean([t.difference for t in tests])),
            "d_low": 100 * tests[0].interval[0] if one else np.nan,
            "d_high": 100 * tests[0].interval[1] if one else np.nan,
            "p_value": tests[0].p_value if one else np.nan, "n_folds": len(tests),
            **{f"d_share:{t}": 100 * float(shares[t]) for t in ERROR_TYPES}})
    return pd.DataFrame(rows)


def floor_comparison(data: RunData, tables, *, n_boot: int = 1000, seed: int = 0
                     ) -> pd.DataFrame:
    """Every method against the reference floor, fold by fold, on the same test videos.

    The floor is the reference method (track ``reference``, the random segments) with the
    highest mean mAP@0.5; each other method's change in mAP@0.5 over it is tested with
    :func:`bench.tasks.detection.paired.paired_map_test` (paired bootstrap interval over videos
    and randomisation p-value). A method *beats the floor* on a fold when the whole interval is
    above zero.

    Returns
    -------
    DataFrame
        ``method, fold, floor, map_floor, map_method, d_map, d_low, d_high, p_value, beats``
        (mAP and changes in points), methods in history order; empty without a floor.
    """
    steps = _best_per_generation(data, tables)
    if not steps or steps[0][0] != "floor":
        return pd.DataFrame()
    floor = steps[0][1]
    units = {(m, fold): (truth, det) for m, fold, truth, det in tables}
    cards, rows = data.methods, []
    for method in method_order(data):
        if method == floor or cards.get(method, {}).get("track") == "reference":
            continue
        for fold in sorted(f for m, f in units if m == method):
            if (floor, fold) not in units:
                continue
            truth, base = units[(floor, fold)]
            test = paired_map_test(truth, base, units[(method, fold)][1], n_boot=n_boot,
                                   n_perm=n_boot, seed=seed)
            rows.append({"method": method, "fold": fold, "floor": floor,
                         "map_floor": 100 * test.map_base, "map_method": 100 * test.map_cand,
                         "d_map": 100 * test.difference, "d_low": 100 * test.interval[0],
                         "d_high": 100 * test.interval[1], "p_value": test.p_value,
                         "beats": bool(test.interval[0] > 0)})
    return pd.DataFrame(rows)
