"""How long a run will take: per-video rates, where they come from, the estimate and its line.

A finished unit's ``timing.json`` (``train_time_s``, ``infer_time_s``, ``n_train``,
``n_test``) gives its method's seconds per training video (``fit``) and per test video
(``predict``). Both grow about linearly with the number of videos (descriptors per video,
epochs over the training set), so a rate times the next run's counts is a usable estimate,
not a promise (codebooks, C selection and early stopping do not scale exactly). A method's
rate comes, in this order, from

1. ``rates.json`` in :func:`bench.paths.cache_home` (:func:`rates_path`): this machine's last
   finished unit of the method under the same *key* (dataset and preset, quick or full configuration, device kind,
   simulated instruction set: what changes the cost of one video, not how many there are),
   rewritten atomically after every unit that did not fail;
2. the release record of this version, ``reports/<version>/`` (``.../quick`` for a quick run),
   looked up from the working directory as the regression gate looks up its record, or the
   newest earlier release's when this version's is not made yet (:func:`record_dir`); an
   installed package without ``reports/`` has none;
3. nowhere: the method's time is *unknown* and left out of the total.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.atomic import write_json
from bench.paths import cache_home, release_record
from bench.run import rundir

__all__ = ["Rate", "Estimate", "RATES_FILE", "rates_path", "rate_key", "rate_from_timing",
           "warm_caches", "read_rates", "update_rates", "record_dir", "record_version",
           "record_rates",
           "lookup_rates", "estimate_run", "human_duration"]

RATES_FILE = "rates.json"
RATES_FORMAT = 1  # layout of rates.json; a file of another format is ignored as corrupt


@dataclass(frozen=True)
class Rate:
    """Seconds per training video (``fit_s``) and per test video (``predict_s``) of a method.

    ``source`` is ``"machine"`` or ``"record"``; ``label`` the date measured or the record's
    version; ``warm`` whether the descriptor caches were warm then (``None``: cannot tell).
    """

    fit_s: float
    predict_s: float
    source: str
    label: str
    warm: bool | None = None

    def describe(self) -> str:
        """Where the rate comes from, in words (``run.json["estimate"]``'s ``source``)."""
        return (f"measured on this machine {self.label}" if self.source == "machine"
                else f"from the {self.label} record")


def rates_path() -> Path:
    """Where this machine's rates live: ``$ACTBENCH_RATES``, else ``<cache home>/rates.json``.

    Delete the file to forget them; tests point the variable at a file of their own.
    """
    return Path(os.environ.get("ACTBENCH_RATES") or cache_home() / RATES_FILE)


def rate_key(dataset: str, preset: str | None, quick: bool, device: str,
             simulated_isa: str | None = None) -> str:
    """What decides the cost of one video, e.g. ``synthetic/default|full|cpu``."""
    parts = [dataset + (f"/{preset}" if preset else ""), "quick" if quick else "full",
             str(device).split(":")[0]]
    return "|".join(parts + ([f"isa={simulated_isa}"] if simulated_isa else []))


def rate_from_timing(timing: Mapping[str, Any]) -> tuple[float, float] | None:
    """``(fit s per training video, predict s per test video)`` of one unit, if it has both."""
    try:
        n_train, n_test = int(timing["n_train"]), int(timing["n_test"])
        fit, predict = float(timing["train_time_s"]), float(timing["infer_time_s"])
    except (KeyError, TypeError, ValueError):
        return None
    ok = n_train > 0 and n_test > 0 and math.isfinite(fit) and math.isfinite(predict)
    return (fit / n_train, predict / n_test) if ok else None


def warm_caches(timing: Mapping[str, Any]) -> bool | None:
    """Whether the unit found its descriptors cached: a ``cache write`` stage means it did not.

    ``None`` for methods without a descriptor cache and for units written before stages were.
    """
    names = {name for phase in (timing.get("stages") or {}).values() for name in phase or {}}
    if any(name.endswith("cache write") for name in names):
        return False
    return any(name.endswith("cache read") for name in names) or None


def read_rates(path: str | os.PathLike) -> dict[str, Any]:
    """The ``rates`` table of a rates file (``{method: {key: entry}}``); ``{}`` when absent.

    A file that cannot be read or parsed is ignored with a warning naming it: a broken cache
    must never stop a run (the next finished unit rewrites the file).
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != RATES_FORMAT or not isinstance(data.get("rates"), dict):
            raise ValueError(f"not a rates file of format {RATES_FORMAT}")
        return data["rates"]
    except (OSError, ValueError, AttributeError) as exc:
        warnings.warn(f"ignoring the rates file {path} ({exc}); delete it or let the next "
                      "finished unit rewrite it", RuntimeWarning, stacklevel=2)
        return {}


def update_rates(path: str | os.PathLike, method: str, key: str, timing: Mapping[str, Any], *,
                 measured: str, cpu_count: int | None = None, jobs: int | None = None) -> bool:
    """Record one finished unit's rate under ``[method][key]``, atomically; whether it did.

    Two runs finishing units at once may lose one update (read, then replace), never the file.
    """
    rate = rate_from_timing(timing)
    if rate is None:
        return False
    with warnings.catch_warnings():  # a corrupt file was reported when the run began
        warnings.simplefilter("ignore")
        table = read_rates(path)
    table.setdefault(method, {})[key] = {
        "fit_s_per_video": rate[0], "predict_s_per_video": rate[1], "measured": measured,
        "cpu_count": os.cpu_count() if cpu_count is None else cpu_count, "jobs": jobs,
        "warm_caches": warm_caches(timing)}
    write_json(path, {"format": RATES_FORMAT, "rates": table})
    return True


def _version_key(name: str) -> tuple[int, ...] | None:
    parts = name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def record_dir(quick: bool, reports_dir: str | os.PathLike = "reports") -> Path:
    """The release record whose configuration matches ``quick``: this version's
    (:func:`bench.paths.release_record`), else the newest earlier release's that exists
    (a version whose record is not made yet still estimates from the last one)."""
    own = release_record(quick=quick, reports_dir=reports_dir)
    if (own / "run.json").is_file() or not Path(reports_dir).is_dir():
        return own
    versions = [(key, entry.name) for entry in Path(reports_dir).iterdir()
                if (key := _version_key(entry.name)) is not None]
    for _, name in sorted(versions, reverse=True):
        candidate = Path(reports_dir) / name / ("quick" if quick else "")
        if (candidate / "run.json").is_file():
            return candidate
    return own


def record_version(record: str | os.PathLike) -> str:
    """The release version a record folder belongs to (``reports/<version>[/quick]``)."""
    path = Path(record)
    return path.parent.name if path.name == "quick" else path.name


def record_rates(record: str | os.PathLike, version: str) -> dict[str, Rate]:
    """Per-method rates of a run directory's units, all folds pooled; ``{}`` when absent."""
    totals: dict[str, list[float]] = {}
    try:
        timings = rundir.read_unit_timings(record)
    except (OSError, ValueError):
        return {}
    for unit, timing in timings.items():
        if rate_from_timing(timing) is not None:
            total = totals.setdefault(unit.method, [0.0, 0.0, 0.0, 0.0])
            for i, name in enumerate(("train_time_s", "n_train", "infer_time_s", "n_test")):
                total[i] += float(timing[name])
    return {method: Rate(t[0] / t[1], t[2] / t[3], "record", version)
            for method, t in totals.items()}


def lookup_rates(methods: Iterable[str], key: str, machine: Mapping[str, Any],
                 record: Mapping[str, Rate]) -> dict[str, Rate | None]:
    """Each method's rate: this machine's under ``key``, else the record's, else ``None``."""
    out: dict[str, Rate | None] = {}
    for method in methods:
        try:
            entry = (machine.get(method) or {}).get(key)
            out[method] = Rate(float(entry["fit_s_per_video"]),
                               float(entry["predict_s_per_video"]), "machine",
                               str(entry.get("measured", "?")), entry.get("warm_caches"))
        except (AttributeError, TypeError, KeyError, ValueError):
            out[method] = record.get(method)
    return out


@dataclass
class Estimate:
    """The estimated seconds of a run's remaining units, per method, with each rate's source.

    ``by_method`` maps a method to ``{"total_s", "fit_s", "predict_s", "units", "source"}``
    (seconds ``None`` when its rate is unknown); ``unit_s`` maps ``(method, fold)`` to the
    unit's seconds (``None``: unknown).
    """

    total_s: float
    by_method: dict[str, dict[str, Any]]
    unit_s: dict[tuple[str, int], float | None] = field(default_factory=dict)
    rates: dict[str, Rate | None] = field(default_factory=dict)
    n_train: int = 0
    n_test: int = 0
    n_folds: int = 0

    def to_dict(self) -> dict[str, Any]:
        """What ``run.json["estimate"]`` records."""
        return {"total_s": self.total_s, "by_method": self.by_method}

    def line(self) -> str:
        """The one paragraph printed when the run starts."""
        known = [r for r in self.rates.values() if r is not None]
        unknown = sorted(m for m, r in self.rates.items() if r is None)
        dates = sorted({r.label for r in known if r.source == "machine"})
        parts = []
        if dates:
            when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
            n = sum(r.source == "machine" for r in known)
            parts.append(f"measured on this machine {when} for {_n(n, 'method')}")
        for version in sorted({r.label for r in known if r.source == "record"}):
            n = sum(r.source == "record" and r.label == version for r in known)
            parts.append(f"from the {version} record for {n}")
        missing = f"unknown: {len(unknown)}" + (f" ({', '.join(unknown)}; not counted)"
                                                  if unknown else "")
        total = human_duration(self.total_s) if known else "unknown"
        text = (f"Estimated duration: {total} ({_n(len(self.unit_s), 'unit')} on "
                f"{_n(self.n_folds, 'fold')}: {self.n_train} training and {self.n_test} test "
                f"videos; " + (f"rates {', '.join(parts)}; " if parts else "") + f"{missing}).")
        if any(r.warm is False or r.source == "record" for r in known):
            text += " Cached descriptors make a second run faster."
        return text


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def estimate_run(methods: Sequence[str], n_train_per_fold: Mapping[int, int],
                 n_test_per_fold: Mapping[int, int], folds: Sequence[int],
                 rates: Mapping[str, Rate | None],
                 skip: Collection[tuple[str, int]] = ()) -> Estimate:
    """Seconds of the units ``methods x folds`` not in ``skip`` (finished), from ``rates``.

    A unit takes ``fit_s * n_train + predict_s * n_test`` of its fold; units of a method
    without a rate count as unknown (0 in the total, ``None`` in the breakdown).
    """
    unit_s: dict[tuple[str, int], float | None] = {}
    by_method: dict[str, dict[str, Any]] = {}
    for method in methods:
        rate, todo = rates.get(method), [f for f in folds if (method, f) not in skip]
        fit = predict = None
        if rate is not None:
            fit = sum(rate.fit_s * n_train_per_fold[f] for f in todo)
            predict = sum(rate.predict_s * n_test_per_fold[f] for f in todo)
        unit_s.update({(method, f): None if rate is None else
                       rate.fit_s * n_train_per_fold[f] + rate.predict_s * n_test_per_fold[f]
                       for f in todo})
        by_method[method] = {"total_s": None if rate is None else fit + predict, "fit_s": fit,
                             "predict_s": predict, "units": len(todo),
                             "source": "unknown" if rate is None else rate.describe()}
    todo_folds = sorted({fold for _, fold in unit_s})
    return Estimate(
        total_s=sum(s for s in unit_s.values() if s is not None), by_method=by_method,
        unit_s=unit_s, rates={m: rates.get(m) for m in methods if by_method[m]["units"]},
        n_train=sum(n_train_per_fold[f] for f in todo_folds),
        n_test=sum(n_test_per_fold[f] for f in todo_folds), n_folds=len(todo_folds))


def human_duration(seconds: float) -> str:
    """``~N s`` under a minute (5 s steps from 10 s), ``~N min`` under 90 min, else hours."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"~{max(1, round(seconds))} s"
    if seconds < 57.5:
        return f"~{5 * round(seconds / 5)} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"~{minutes} min"
    if minutes < 600:
        hours, rest = divmod(5 * round(minutes / 5), 60)
        return f"~{hours} h" + (f" {rest} min" if rest else "")
    return f"~{round(minutes / 60)} h"
