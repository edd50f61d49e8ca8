"""The run directory: its one writer and its one reader.

A run directory holds everything a run produced and everything its report needs, so that a
copy of it on another machine regenerates ``report.md`` with nothing else present::

    run.json          config, seed, versions, commit, environment, dataset + fold fingerprints,
                      method cards, task, run-directory format (:data:`FORMAT_VERSION`), and
                      optionally the runner's ``estimate`` of the run's duration
    results.csv       tidy: method x fold x metric, with intervals (:data:`RESULT_COLUMNS`)
    predictions.csv   the task's predictions (recognition: :mod:`bench.tasks.recognition`)
    failures.csv      every video or unit that failed (:data:`FAILURE_COLUMNS`)
    clips.csv         per-video attributes of the dataset for the videos of the run, when the
                      dataset has them (the synthetic generator's nuisances)
    noise.csv         a calibrated release record's replicate accuracies (``bench calibrate``)
    report.md, figures/
    units/<method>__fold<k>/   one (method, fold) unit: the same three CSVs, timing.json,
                      history.csv for methods that train by epochs, ``done`` written last
                      (``failed`` + ``error.txt`` when the method raised), work/ while running

The runner, the report, the comparison and the gate all go through this module, so they agree
on names, columns and parsing. Readers take what they need from ``run.json`` and ignore keys
they do not know, so an optional key (``estimate``, ``noise``, ``peak_memory``) is added
without a new :data:`FORMAT_VERSION`. Every write is atomic (:mod:`bench.atomic`). It is
longer than the project's usual ~400 lines on purpose: the format has one owner, and splitting
its writer from its reader would put the names and columns back in two places.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.atomic import write_csv, write_json, write_text
from bench.tasks.recognition.predictions import (
    PREDICTION_COLUMNS,
    PREDICTIONS_FILE,
    REQUIRED_PREDICTION_COLUMNS,
)

__all__ = [
    "FORMAT_VERSION",
    "RUN_FILE",
    "RESULTS_FILE",
    "PREDICTIONS_FILE",
    "FAILURES_FILE",
    "CLIPS_FILE",
    "NOISE_FILE",
    "REPORT_FILE",
    "RESULT_COLUMNS",
    "FAILURE_COLUMNS",
    "NOISE_COLUMNS",
    "WHOLE_UNIT",
    "Unit",
    "UnitRecord",
    "RunData",
    "load_run",
    "read_run_record",
    "read_unit_timings",
    "write_run_record",
    "csv_text",
    "format_number",
    "prepare_unit",
    "write_unit",
    "write_unit_failure",
    "read_unit_failures",
    "unit_is_done",
    "merge_units",
    "write_probe_failures",
    "write_clips",
    "write_noise",
    "method_order",
    "metric_table",
]

#: Version of this format, recorded in run.json as ``run_dir_format``. 1: before ``task`` and
#: ``clips.csv`` (readers fill ``task = "recognition"``); 2: current.
FORMAT_VERSION = 2

RUN_FILE = "run.json"
RESULTS_FILE = "results.csv"
FAILURES_FILE = "failures.csv"
CLIPS_FILE = "clips.csv"
NOISE_FILE = "noise.csv"
REPORT_FILE = "report.md"
UNITS_DIR = "units"
TIMING_FILE = "timing.json"
HISTORY_FILE = "history.csv"
DONE_FILE = "done"
FAILED_FILE = "failed"
ERROR_FILE = "error.txt"
WORK_DIR = "work"

RESULT_COLUMNS = ("method", "track", "task", "fold", "fingerprint", "metric", "value",
                  "ci_low", "ci_high", "n")
_REQUIRED_RESULT_COLUMNS = ("method", "track", "fold", "fingerprint", "metric", "value")
FAILURE_COLUMNS = ("method", "fold", "video", "stage", "reason")
#: ``noise.csv``: one row per (replicate run, method, fold); accuracies in [0, 1].
NOISE_COLUMNS = ("replicate", "seed", "environment", "method", "fold", "n", "n_correct",
                 "top1", "mean_class_acc")
#: The ``video`` of a failures.csv row that stands for a whole (method, fold) unit, and the
#: ``method`` of a row that stands for every method (a video that failed the probe).
WHOLE_UNIT = "*"


# ------------------------------------------------------------------------------ units
@dataclass(frozen=True)
class Unit:
    """One method on one fold: the runner's unit of work, stored in ``units/<name>/``."""

    method: str
    fold: int

    @property
    def name(self) -> str:
        return f"{self.method}__fold{self.fold}"

    @classmethod
    def from_name(cls, name: str) -> Unit:
        """The unit whose :attr:`name` (a ``units/`` directory name) is ``name``."""
        method, _, fold = name.rpartition("__fold")
        return cls(method, int(fold))

    def directory(self, run_dir: str | os.PathLike) -> Path:
        """``run_dir/units/<name>``."""
        return Path(run_dir) / UNITS_DIR / self.name

    def work_dir(self, run_dir: str | os.PathLike) -> Path:
        """Where the unit's method may keep checkpoints while it runs (removed when done)."""
        return self.directory(run_dir) / WORK_DIR


# ------------------------------------------------------------------------------ writer
def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with a header, ``\\n`` line ends (the format of every CSV of a run)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def format_number(value: float | None) -> str:
    """A results.csv cell: ``repr`` of the float, empty for None / NaN / inf."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return repr(float(value))


def _history_csv(history: Sequence[dict[str, Any]]) -> str:
    """A method's per-epoch ``history_`` (dicts) as CSV, columns in order of first appearance."""
    columns = list(dict.fromkeys(key for record in history for key in record))
    return csv_text(columns, ([record.get(key, "") for key in columns] for record in history))


def _read_csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[1:]


def write_run_record(run_dir: str | os.PathLike, record: dict[str, Any]) -> None:
    """Write ``run.json``; a record without ``run_dir_format`` gets :data:`FORMAT_VERSION`.

    A record read back and rewritten (``bench calibrate`` adds its ``noise`` entry) keeps the
    format it was written in.
    """
    write_json(Path(run_dir) / RUN_FILE, {"run_dir_format": FORMAT_VERSION, **record})


def read_run_record(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Parse ``run.json``; a clear error when it is missing or not JSON."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: is {Path(run_dir)} a run directory?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc


def unit_is_done(run_dir: str | os.PathLike, unit: Unit) -> bool:
    """Whether the unit finished (its ``done`` marker exists)."""
    return (unit.directory(run_dir) / DONE_FILE).exists()


def prepare_unit(run_dir: str | os.PathLike, unit: Unit) -> Path:
    """Create the unit's directory and clear the marks of an earlier failed attempt."""
    out = unit.directory(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (FAILED_FILE, ERROR_FILE):
        (out / stale).unlink(missing_ok=True)
    return out


def write_unit(run_dir: str | os.PathLike, unit: Unit, *, predictions: list[list[str]],
               failures: list[list[str]], results: list[list[str]], timing: dict[str, Any],
               history: Sequence[dict[str, Any]] | None, finished: str) -> None:
    """Write a finished unit's files, ``done`` last, and drop its checkpoints.

    ``finished`` (ISO time) is the content of the ``done`` marker.
    """
    out = unit.directory(run_dir)
    write_text(out / PREDICTIONS_FILE, csv_text(PREDICTION_COLUMNS, predictions))
    write_text(out / FAILURES_FILE, csv_text(FAILURE_COLUMNS, failures))
    write_text(out / RESULTS_FILE, csv_text(RESULT_COLUMNS, results))
    if history:
        write_text(out / HISTORY_FILE, _history_csv(history))
    write_json(out / TIMING_FILE, timing)
    write_text(out / DONE_FILE, finished + "\n")
    # Checkpoints only serve to resume an unfinished unit; a finished one needs none.
    shutil.rmtree(unit.work_dir(run_dir), ignore_errors=True)


def write_unit_failure(run_dir: str | os.PathLike, unit: Unit, exc: BaseException) -> str:
    """Record a unit whose method raised: ``failed``, ``error.txt``, one failures row.

    Returns the one-line reason. The unit gets no ``done`` marker, so ``--resume`` retries it.
    """
    out = unit.directory(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    write_text(out / ERROR_FILE, "".join(traceback.format_exception(exc)))
    write_text(out / FAILURES_FILE, csv_text(
        FAILURE_COLUMNS, [[unit.method, str(unit.fold), WHOLE_UNIT, "method", reason]]))
    for name in (PREDICTIONS_FILE, RESULTS_FILE, TIMING_FILE):
        (out / name).unlink(missing_ok=True)
    write_text(out / FAILED_FILE, reason + "\n")
    return reason


def read_unit_failures(run_dir: str | os.PathLike, unit: Unit) -> list[list[str]]:
    """The rows of a unit's ``failures.csv`` (without the header)."""
    return _read_csv_rows(unit.directory(run_dir) / FAILURES_FILE)


def _failure_key(row: Sequence[str]) -> tuple:
    """Sort failures by method, fold (numerically), video, stage, reason."""
    return (row[0], int(row[1]) if row[1].isdigit() else -1, *row[2:])


def write_probe_failures(run_dir: str | os.PathLike, rows: list[list[str]]) -> None:
    """``failures.csv`` with the probe's rows only (the run stopped before any unit)."""
    write_text(Path(run_dir) / FAILURES_FILE,
               csv_text(FAILURE_COLUMNS, sorted(rows, key=_failure_key)))


def merge_units(run_dir: str | os.PathLike, units: Sequence[Unit],
                probe_rows: list[list[str]]) -> None:
    """Combine the unit outputs into the run's results, predictions and failures CSVs.

    A unit's predictions and results count once it is done; its failures count always.
    """
    run_dir = Path(run_dir)
    predictions: list[list[str]] = []
    results: list[list[str]] = []
    failures: list[list[str]] = list(probe_rows)
    for unit in units:
        out = unit.directory(run_dir)
        done = (out / DONE_FILE).exists()
        for name, bucket in ((PREDICTIONS_FILE, predictions), (RESULTS_FILE, results),
                             (FAILURES_FILE, failures)):
            if (out / name).exists() and (done or name == FAILURES_FILE):
                bucket.extend(_read_csv_rows(out / name))
    order = {unit.method: i for i, unit in enumerate(units)}
    fold_at = RESULT_COLUMNS.index("fold")
    predictions.sort(key=lambda r: (r[0], int(r[1]), r[3]))
    results.sort(key=lambda r: (order.get(r[0], len(order)), r[0], int(r[fold_at])))
    failures.sort(key=_failure_key)
    write_text(run_dir / PREDICTIONS_FILE, csv_text(PREDICTION_COLUMNS, predictions))
    write_text(run_dir / RESULTS_FILE, csv_text(RESULT_COLUMNS, results))
    write_text(run_dir / FAILURES_FILE, csv_text(FAILURE_COLUMNS, failures))


def write_clips(run_dir: str | os.PathLike, clips: pd.DataFrame | None) -> None:
    """``clips.csv``: the dataset's per-video attributes for the run's videos (if it has any)."""
    if clips is not None and len(clips):
        write_csv(Path(run_dir) / CLIPS_FILE, clips)


def write_noise(record_dir: str | os.PathLike, rows: Sequence[dict[str, Any]]) -> Path:
    """``noise.csv`` of a release record from :data:`NOISE_COLUMNS` dicts; returns its path."""
    path = Path(record_dir) / NOISE_FILE
    write_csv(path, pd.DataFrame(list(rows)).reindex(columns=list(NOISE_COLUMNS)))
    return path


# ------------------------------------------------------------------------------ reader
@dataclass
class UnitRecord:
    """What a unit directory tells the report: its timing and, for epoch training, history."""

    unit: Unit
    timing: dict[str, Any]
    history: pd.DataFrame | None


@dataclass
class RunData:
    """Everything a run directory holds, parsed.

    Attributes
    ----------
    run_dir : Path
    run : dict
        The parsed ``run.json``.
    results : DataFrame
        ``results.csv`` (:data:`RESULT_COLUMNS`; ``task`` filled for format 1).
    predictions : DataFrame
        ``predictions.csv``; ``label`` and ``prediction`` are floats so that a failed video
        (no prediction) is NaN.
    failures : DataFrame
        ``failures.csv`` (empty frame with the right columns when the file is absent).
    noise : DataFrame or None
        ``noise.csv`` of a calibrated release record, else ``None``.
    clips : DataFrame or None
        ``clips.csv`` (per-video attributes), else ``None``.
    units : list of UnitRecord
        The finished unit directories that have a ``timing.json``, by name.
    """

    run_dir: Path
    run: dict[str, Any]
    results: pd.DataFrame
    predictions: pd.DataFrame
    failures: pd.DataFrame
    noise: pd.DataFrame | None = None
    clips: pd.DataFrame | None = None
    units: list[UnitRecord] | None = None

    @property
    def task(self) -> str:
        """The run's task (``recognition`` for runs written before tasks were recorded)."""
        return str(self.run.get("task", "recognition"))

    @property
    def classes(self) -> list[str]:
        """Class names in label order."""
        return list(self.run.get("dataset", {}).get("classes", []))

    @property
    def environment(self) -> dict[str, Any] | None:
        """``run.json["environment"]`` (:func:`bench.run.environment.environment_info`)."""
        return self.run.get("environment") or None

    @property
    def methods(self) -> dict[str, dict[str, Any]]:
        """``run.json["methods"]``: card dict (+ parameters) per method name.

        Cards of format-1 runs, written before cards had a ``task``, get the run's task, so
        that a card compares equal across the format change.
        """
        return {name: {"task": self.task, **card}
                for name, card in self.run.get("methods", {}).items()}

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


def _legacy_clips(run_dir: Path, run: dict[str, Any]) -> pd.DataFrame | None:
    """Format 1 runs kept a path to the dataset's clip metadata instead of ``clips.csv``."""
    path = (run.get("dataset", {}).get("meta", {}) or {}).get("clip_metadata")
    if not path:
        return None
    path = Path(path) if Path(path).is_absolute() else run_dir / path
    return pd.read_csv(path, dtype={"video_id": str}) if path.is_file() else None


def read_unit_timings(run_dir: str | os.PathLike) -> dict[Unit, dict[str, Any]]:
    """``{unit: parsed timing.json}`` of the units that have one (finished units), by name.

    Cheaper than :func:`load_run` when only the timings are needed (the runner's duration
    estimate reads a release record's); ``{}`` when there is no ``units/`` folder.
    """
    return {Unit.from_name(path.parent.name): json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((Path(run_dir) / UNITS_DIR).glob(f"*/{TIMING_FILE}"))}


def _read_units(run_dir: Path) -> list[UnitRecord]:
    records = []
    for timing_path in sorted((run_dir / UNITS_DIR).glob(f"*/{TIMING_FILE}")):
        unit_dir = timing_path.parent
        history = None
        if (unit_dir / HISTORY_FILE).is_file():
            history = pd.read_csv(unit_dir / HISTORY_FILE)
        timing = json.loads(timing_path.read_text(encoding="utf-8"))
        records.append(UnitRecord(Unit.from_name(unit_dir.name), timing, history))
    return records


def load_run(run_dir: str | os.PathLike) -> RunData:
    """Parse a run directory.

    Parameters
    ----------
    run_dir : path-like
        A folder written by :func:`bench.run.runner.run_benchmark` (or by hand in the same
        format).

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
    run = read_run_record(run_dir)
    results = _read_csv(run_dir / RESULTS_FILE, _REQUIRED_RESULT_COLUMNS)
    predictions = _read_csv(run_dir / PREDICTIONS_FILE, REQUIRED_PREDICTION_COLUMNS)
    failures = _read_csv(run_dir / FAILURES_FILE, FAILURE_COLUMNS, optional=True)
    predictions["label"] = pd.to_numeric(predictions["label"], errors="coerce")
    predictions["prediction"] = pd.to_numeric(predictions["prediction"], errors="coerce")
    predictions["fold"] = predictions["fold"].astype(int)
    results["fold"] = results["fold"].astype(int)
    results["value"] = pd.to_numeric(results["value"], errors="coerce")
    if "task" not in results.columns:
        results.insert(2, "task", str(run.get("task", "recognition")))
    for col in ("ci_low", "ci_high"):
        if col in results.columns:
            results[col] = pd.to_numeric(results[col], errors="coerce")
    noise = None
    if (run_dir / NOISE_FILE).is_file():
        noise = _read_csv(run_dir / NOISE_FILE, NOISE_COLUMNS)
        noise["fold"] = noise["fold"].astype(int)
    if (run_dir / CLIPS_FILE).is_file():
        clips = pd.read_csv(run_dir / CLIPS_FILE, dtype={"video_id": str})
    else:
        clips = _legacy_clips(run_dir, run)
    return RunData(run_dir, run, results, predictions, failures, noise, clips,
                   _read_units(run_dir))


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
