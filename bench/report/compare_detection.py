"""The detection task's rows of :func:`bench.report.compare.compare_runs`.

A detection unit's predictions are its ``detections.json`` (ActivityNet results) judged
against its ``ground_truth.json``; the compared figure is mAP at tIoU 0.5, in points, in the
columns that hold top-1 for recognition (the table's ``attrs["comparison"]["metric"]`` names
it). The modes are recognition's:

* **same environment**, deterministic method, same seed: the two ``detections.json`` must hold
  the same segments, scores and labels, byte for byte after parsing (``=``), or the row is
  ``r`` with the first differing videos;
* otherwise the change is judged statistically — against the record's ``noise.csv`` when the
  record is calibrated, else by the paired randomisation test over videos
  (:func:`bench.tasks.detection.paired.paired_map_test`) — with Holm across the methods.

Either way the row carries the paired change with its 95 % bootstrap interval over videos.
THUMOS'14's ambiguous segments are not in the unit files, so this comparison counts a
detection that overlaps one as a false positive; the run's own ``results.csv`` does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.comparability import config_difference, method_config
from bench.run.rundir import RunData
from bench.tasks.detection import read_database_json, read_results_json
from bench.tasks.detection.paired import paired_map_test
from bench.tasks.detection.results import DETECTIONS_FILE, GROUND_TRUTH_FILE

__all__ = ["METRIC", "unit_folder", "detection_units", "read_unit", "detection_unit_row",
           "detection_row"]

#: The compared figure, as the comparison's Markdown names it.
METRIC = "mAP@0.5"
#: The columns whose parsed values must be equal for two detection lists to be the same.
_COLUMNS = ["video_id", "t_start", "t_end", "label", "score"]


def unit_folder(data: RunData, method: str, fold: int) -> Path:
    """The unit directory of ``(method, fold)`` in a run (``units/<method>__fold<k>``)."""
    return data.run_dir / "units" / f"{method}__fold{fold}"


def detection_units(data: RunData) -> list[tuple[str, int]]:
    """``(method, fold)`` of every unit that wrote both detection files."""
    out = []
    for record in data.units or []:
        folder = unit_folder(data, record.unit.method, int(record.unit.fold))
        if (folder / GROUND_TRUTH_FILE).is_file() and (folder / DETECTIONS_FILE).is_file():
            out.append((record.unit.method, int(record.unit.fold)))
    return out


def read_unit(data: RunData, method: str, fold: int):
    """``(ground truth segments, test videos, detections)`` of a unit, or ``None``."""
    folder = unit_folder(data, method, fold)
    if not (folder / GROUND_TRUTH_FILE).is_file() or not (folder / DETECTIONS_FILE).is_file():
        return None
    truth = read_database_json(folder / GROUND_TRUTH_FILE)
    segments = truth.segments.reindex(columns=_COLUMNS[:4])
    videos = sorted(truth.videos["video_id"].astype(str))
    return segments, videos, read_results_json(folder / DETECTIONS_FILE)


def _canonical(table: pd.DataFrame) -> pd.DataFrame:
    table = table.reindex(columns=_COLUMNS).astype({"video_id": str, "label": str})
    order = np.lexsort((table["label"].to_numpy(), table["t_end"].to_numpy(),
                        table["t_start"].to_numpy(), -table["score"].to_numpy(),
                        table["video_id"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _differing_videos(base: pd.DataFrame, cand: pd.DataFrame, videos: list[str]) -> list[str]:
    """Videos whose detections are not the same values in both runs."""
    base, cand = _canonical(base), _canonical(cand)
    by_b, by_c = dict(tuple(base.groupby("video_id"))), dict(tuple(cand.groupby("video_id")))
    differing = []
    for video in sorted(set(videos) | set(by_b) | set(by_c)):
        b = by_b.get(video, base.iloc[:0]).reset_index(drop=True)
        c = by_c.get(video, cand.iloc[:0]).reset_index(drop=True)
        if len(b) != len(c) or not b.equals(c):
            differing.append(video)
    return differing


def detection_unit_row(base: RunData, cand: RunData, method: str, fold: int, *,
                       bitwise: bool, n_boot: int, seed: int) -> tuple[dict[str, Any], str | None]:
    """The statistics of one unit present in both runs, and a reason it is not comparable.

    Returns ``(row, None)`` with ``n, top1_base, top1_cand, d_top1, d_top1_low, d_top1_high,
    p_value`` (mAP@0.5 in points; ``p_value`` the randomisation test's, two-sided) and, when
    ``bitwise``, ``test`` / ``mark`` / ``note`` of the byte-for-byte check; or ``({}, note)``
    when the unit's files are missing or the two runs' ground truth differ.
    """
    read_b, read_c = read_unit(base, method, fold), read_unit(cand, method, fold)
    if read_b is None or read_c is None:
        return {}, "no detection files in the " + ("baseline" if read_b is None else "candidate")
    (truth_b, videos_b, det_b), (truth_c, videos_c, det_c) = read_b, read_c
    if videos_b != videos_c or not _canonical(truth_b.assign(score=0.0)).equals(
            _canonical(truth_c.assign(score=0.0))):
        return {}, "the two runs' ground truth differ"
    paired = paired_map_test(truth_b, det_b, det_c, (0.5,), videos=videos_b, n_boot=n_boot,
                             n_perm=n_boot, seed=seed)
    low, high = paired.interval
    row: dict[str, Any] = dict(
        n=paired.n_videos, top1_base=100 * paired.map_base, top1_cand=100 * paired.map_cand,
        d_top1=100 * paired.difference, d_top1_low=100 * low, d_top1_high=100 * high,
        p_value=paired.p_value)
    if bitwise:
        differing = _differing_videos(det_b, det_c, videos_b)
        shown = ", ".join(differing[:5]) + (", ..." if len(differing) > 5 else "")
        row.update(test="bitwise", mark="r" if differing else "=",
                   note=(f"not reproduced: detections of {len(differing)} of {len(videos_b)} "
                         f"videos differ ({shown})") if differing else "")
    return row, None


def detection_row(base: RunData, cand: RunData, method: str, fold: int, *,
                  present: tuple[set, set], failed: set, seed_may_change: bool, bitwise: bool,
                  n_boot: int, seed: int) -> dict[str, Any]:
    """One detection unit's row of :func:`bench.report.compare.compare_runs`: why it is not
    comparable (``mark`` ``x`` or ``!`` with a ``note``), or its paired statistics
    (:func:`detection_unit_row`). ``present`` holds the two runs' units, ``failed`` the
    candidate's failed ones."""
    row: dict[str, Any] = dict(method=method, fold=fold)
    base_units, cand_units = present
    if (method, fold) not in base_units:
        return {**row, "mark": "x", "note": "not in the baseline"}
    if (method, fold) not in cand_units or (method, fold) in failed:
        return {**row, "mark": "!", "note": "missing from the candidate"
                if (method, fold) not in cand_units else "failed in the candidate"}
    if base.fingerprint(fold) != cand.fingerprint(fold):
        return {**row, "mark": "x", "note": "different split fingerprint"}
    if base.classes != cand.classes:
        return {**row, "mark": "x", "note": "different class list"}
    if diff := config_difference(method_config(base, method), method_config(cand, method),
                                 ignore_seed=seed_may_change):
        return {**row, "mark": "x", "note": f"different method configuration: {diff}"}
    stats, problem = detection_unit_row(base, cand, method, fold, bitwise=bitwise,
                                        n_boot=n_boot, seed=seed)
    if problem is not None:
        return {**row, "mark": "x", "note": problem}
    return {**row, **stats}
