"""Reading a run directory back: ``run.json``, ``results.csv``, ``predictions.csv``, ``failures.csv``
(and a release record's ``noise.csv``).

The report, the comparison and the history all start here, so that each of them works from
the run directory alone (DESIGN contract 4) and agrees on how a file is parsed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.noise import NOISE_COLUMNS, NOISE_FILE

__all__ = [
    "RunData",
    "load_run",
    "parse_scores",
    "correct_mask",
    "class_mean_of_correct",
    "method_order",
    "metric_table",
]

PREDICTION_COLUMNS = ("method", "fold", "fingerprint", "video_id", "label", "prediction")
RESULT_COLUMNS = ("method", "track", "fold", "fingerprint", "metric", "value")
FAILURE_COLUMNS = ("method", "fold", "video", "stage", "reason")


@dataclass
class RunData:
    """Everything a run directory holds, parsed.

    Attributes
    ----------
    run_dir : Path
    run : dict
        The parsed ``run.json``.
    results : DataFrame
        ``results.csv`` (tidy: method, track, fold, fingerprint, metric, value, ci_low, ci_high, n).
    predictions : DataFrame
        ``predictions.csv``; ``label`` and ``prediction`` are floats so that a failed video
        (no prediction) is NaN.
    failures : DataFrame
        ``failures.csv`` (empty frame with the right columns when the file is absent).
    noise : DataFrame or None
        ``noise.csv`` of a calibrated release record (:mod:`bench.noise`), else ``None``.
    """

    run_dir: Path
    run: dict[str, Any]
    results: pd.DataFrame
    predictions: pd.DataFrame
    failures: pd.DataFrame
    noise: pd.DataFrame | None = None

    @property
    def classes(self) -> list[str]:
        """Class names in label order."""
        return list(self.run.get("dataset", {}).get("classes", []))

    @property
    def environment(self) -> dict[str, Any] | None:
        """``run.json["environment"]`` (:func:`bench.environment.environment_info`), if any."""
        return self.run.get("environment") or None

    @property
    def methods(self) -> dict[str, dict[str, Any]]:
        """``run.json["methods"]``: card dict (+ parameters) per method name."""
        return dict(self.run.get("methods", {}))

    def fingerprint(self, fold: int) -> str | None:
        """The split fingerprint of ``fold`` recorded in ``run.json``."""
        folds = self.run.get("dataset", {}).get("folds", {})
        entry = folds.get(str(fold)) or folds.get(fold)
        return None if entry is None else entry.get("fingerprint")


def _read_csv(path: Path, required: tuple[str, ...], *, optional: bool = False) -> pd.DataFrame:
    if not path.is_file():
        if optional:
            return pd.DataFrame(columns=list(required))
        raise FileNotFoundError(
            f"{path} is missing: a run directory needs run.json, results.csv and "
            "predictions.csv (run `python -m bench run` to produce one)."
        )
    try:
        frame = pd.read_csv(path, keep_default_na=True, dtype={"video_id": str, "video": str})
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=list(required))
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the column(s) {missing}; found {list(frame.columns)}.")
    return frame


def load_run(run_dir: str | os.PathLike) -> RunData:
    """Parse a run directory.

    Parameters
    ----------
    run_dir : path-like
        A folder written by :func:`bench.runner.run_benchmark` (or by hand in the same format).

    Returns
    -------
    RunData

    Raises
    ------
    FileNotFoundError
        When ``run_dir`` or one of ``run.json``, ``results.csv``, ``predictions.csv`` is missing.
    ValueError
        When a file lacks a required column or ``run.json`` is not valid JSON.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise FileNotFoundError(f"{run_json} is missing: is {run_dir} a run directory?")
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run_json} is not valid JSON: {exc}") from exc
    results = _read_csv(run_dir / "results.csv", RESULT_COLUMNS)
    predictions = _read_csv(run_dir / "predictions.csv", PREDICTION_COLUMNS)
    failures = _read_csv(run_dir / "failures.csv", FAILURE_COLUMNS, optional=True)
    predictions["label"] = pd.to_numeric(predictions["label"], errors="coerce")
    predictions["prediction"] = pd.to_numeric(predictions["prediction"], errors="coerce")
    predictions["fold"] = predictions["fold"].astype(int)
    results["fold"] = results["fold"].astype(int)
    results["value"] = pd.to_numeric(results["value"], errors="coerce")
    for col in ("ci_low", "ci_high"):
        if col in results.columns:
            results[col] = pd.to_numeric(results[col], errors="coerce")
    noise = None
    if (run_dir / NOISE_FILE).is_file():
        noise = _read_csv(run_dir / NOISE_FILE, NOISE_COLUMNS)
        noise["fold"] = noise["fold"].astype(int)
    return RunData(run_dir, run, results, predictions, failures, noise)


def parse_scores(scores: pd.Series, n_classes: int) -> np.ndarray:
    """Turn the ``scores`` column (space-separated floats) into an ``(n, n_classes)`` array.

    Empty or missing cells (a video that failed) become rows of NaN.
    """
    out = np.full((len(scores), n_classes), np.nan)
    for i, cell in enumerate(scores.tolist()):
        if isinstance(cell, str) and cell.strip():
            values = np.array(cell.split(), dtype=float)
            if len(values) != n_classes:
                raise ValueError(
                    f"a scores cell has {len(values)} values but the run has {n_classes} classes"
                )
            out[i] = values
    return out


def correct_mask(predictions: pd.DataFrame) -> np.ndarray:
    """Per-row correctness; a missing prediction (failed video) counts as wrong."""
    pred = predictions["prediction"].to_numpy(dtype=float)
    label = predictions["label"].to_numpy(dtype=float)
    return np.isfinite(pred) & (pred == label)


def class_mean_of_correct(labels: np.ndarray, right: np.ndarray) -> float:
    """Mean over the classes present in ``labels`` of the share of ``right`` videos in each.

    The mean class accuracy of a per-video correctness mask (:func:`correct_mask`); NaN when
    ``labels`` is empty.
    """
    classes = np.unique(labels)
    if not len(classes):
        return float("nan")
    return float(np.mean([right[labels == c].mean() for c in classes]))


def method_order(data: RunData) -> list[str]:
    """Method names ordered by (year, name), the order of the history of the field.

    Methods listed in results or predictions but absent from ``run.json`` come last.
    """
    cards = data.methods
    names = set(cards) | set(data.results["method"].unique()) | set(
        data.predictions["method"].unique()
    )

    def key(name: str) -> tuple[int, str]:
        year = cards.get(name, {}).get("year")
        return (int(year) if year is not None else 10**6, name)

    return sorted(names, key=key)


def metric_table(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of ``results`` for one metric, indexed by (method, fold)."""
    rows = results[results["metric"] == metric]
    return rows.set_index(["method", "fold"]).sort_index()
