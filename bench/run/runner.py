"""The runner: every method of the run's task on the same manifest, fold by fold, into one
run directory. It orchestrates only: the configuration is :mod:`bench.run.config`, the videos
and the probe :mod:`bench.run.dataset`, one unit :mod:`bench.run.unit`, every file
:mod:`bench.run.rundir`.

A run is a list of *units*, one per (method, fold), each written under
``units/<method>__fold<k>/`` with a ``done`` marker last. ``--resume`` skips the units that
have their marker, so a run interrupted by a crash or Ctrl-C ends with the same
``predictions.csv`` as an uninterrupted one. A method that raises marks its unit failed
(video ``*``, stage ``method``; the traceback in ``units/<unit>/error.txt``) and the run goes
on; such a unit gets no ``done`` marker, so ``--resume`` tries it again.

``run.json`` records, at the end of the run, the peak memory of the process under
``peak_memory`` (:func:`bench.run.memory.peak_memory_mib`).

Before the first unit the runner estimates the duration of the units left to run from
per-video rates (:mod:`bench.run.estimate`), prints it (unless ``quiet``) and records it in
``run.json`` under ``estimate``; every unit that did not fail updates this machine's rates.
The ``units`` bar advances by each unit's estimated seconds and shows the time left.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.data.manifest import Manifest
from bench.device import resolve_device
from bench.run import estimate as est
from bench.run import rundir
from bench.run.config import (
    FailureRateExceeded,
    RunConfig,
    RunConfigError,
    resolve_config,
    utc_now,
)
from bench.run.dataset import failure_message, load_manifest, probe, probe_failure_rows
from bench.run.memory import PEAK_MEMORY_NOTE, peak_memory_mib
from bench.run.rundir import Unit
from bench.run.unit import run_unit

__all__ = ["run_benchmark", "BENCHMARK_VERSION"]

#: Version of the benchmark protocol recorded in run.json; bump when results stop being
#: comparable with earlier runs for the same config and fingerprint.
BENCHMARK_VERSION = 1


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _recorded_device(device: str) -> str:
    """The device the deep methods will use, for the environment record.

    A device that does not exist here is recorded as asked: the deep methods raise their own
    error when they reach it, and the classical ones never use it.
    """
    try:
        return resolve_device(device)
    except ValueError:
        return device


def _run_record(config: RunConfig, manifest: Manifest, folds: Sequence[int], missing: list[str],
                probe_failed, created: str) -> dict[str, Any]:
    from bench import __version__
    from bench.methods import get_method
    from bench.run.environment import environment_info
    from bench.run.runinfo import git_commit, machine_info, package_versions

    git = git_commit()
    packages = package_versions()
    methods = {}
    for name in config.methods or []:
        entry = get_method(name)
        params = {**entry.default_params, **config.method_params.get(name, {})}
        methods[name] = {**entry.card.to_dict(), "params": params}
    return {
        "task": config.task,
        "actbench_version": __version__,
        "benchmark_version": BENCHMARK_VERSION,
        "created": created,
        "config": config.to_dict(),
        "seed": config.seed,
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "machine": machine_info(),
        "packages": packages,
        "environment": environment_info(_recorded_device(config.device), packages),
        "dataset": {
            "name": manifest.dataset,
            "root": str(manifest.root),
            "classes": list(manifest.classes),
            "meta": manifest.meta,
            "missing_excluded": missing,
            "probe_excluded": [rel for _, rel, _ in probe_failed],
            "folds": {
                str(k): {"fingerprint": manifest.fingerprint(k), "counts": manifest.counts(k)}
                for k in folds
            },
        },
        "methods": methods,
        "status": "running",
    }


def _check_methods(config: RunConfig) -> None:
    """Every method exists and serves the run's task."""
    from bench.methods import get_method

    for name in config.methods or []:
        try:
            card = get_method(name).card
        except KeyError as exc:
            raise RunConfigError(exc.args[0]) from None
        if card.task != config.task:
            raise RunConfigError(
                f"method {name!r} serves the {card.task} task, not {config.task}; choose "
                f"methods of one task (`python -m bench list`) or set task = {card.task!r}"
            )


def _check_task_data(config: RunConfig, manifest: Manifest) -> None:
    """The dataset carries the ground truth of the run's task."""
    has_segments = manifest.annotations is not None
    has_boxes = manifest.boxes is not None
    name = config.dataset
    if config.task == "detection" and not has_segments:
        if has_boxes:
            raise RunConfigError(
                f"dataset {name!r} has actor boxes per keyframe, not temporal segments: run it "
                "with --task localization")
        raise RunConfigError(
            f"dataset {name!r} has one label per video, no temporal annotations: temporal "
            "detection needs a dataset of untrimmed videos with segments (untrimmed, or a "
            "folder with a segments CSV); see `python -m bench list`")
    if config.task == "localization" and not has_boxes:
        what = "temporal segments only" if has_segments else "one label per video"
        raise RunConfigError(
            f"dataset {name!r} has no box annotations ({what}): spatio-temporal localization "
            "needs actor boxes with action labels per keyframe (the untrimmed dataset builds "
            "them for --task localization); see `python -m bench list`")
    if config.task == "recognition" and (has_segments or has_boxes):
        what, task = (("temporal annotations", "detection") if has_segments else
                      ("actor boxes per keyframe", "localization"))
        raise RunConfigError(
            f"dataset {name!r} holds untrimmed videos with {what}, not one label per video: "
            f"run it with --task {task}")


def _check_resume(previous: dict[str, Any], record: dict[str, Any], folds: Sequence[int],
                  run_dir: Path) -> None:
    for fold in folds:
        old = previous["dataset"]["folds"].get(str(fold), {}).get("fingerprint")
        new = record["dataset"]["folds"][str(fold)]["fingerprint"]
        if old != new:
            raise RunConfigError(
                f"--resume {run_dir}: fold {fold} fingerprint changed ({old} -> {new}); the "
                "dataset or its readable videos differ from the original run. Start a new run."
            )


def _rate_key(config: RunConfig, record: dict[str, Any]) -> str:
    environment = record.get("environment") or {}
    return est.rate_key(config.dataset, config.dataset_options.get("preset"), config.quick,
                        environment.get("device", config.device),
                        environment.get("simulated_isa"))


def _estimate(config: RunConfig, record: dict[str, Any], units: Sequence[Unit],
              run_dir: Path) -> est.Estimate:
    """The duration of the units not done yet, from this machine's rates, else the record's."""
    folds = sorted({unit.fold for unit in units})
    counts = {f: record["dataset"]["folds"][str(f)]["counts"] for f in folds}
    methods = list(dict.fromkeys(unit.method for unit in units))
    record_path = est.record_dir(config.quick)
    rates = est.lookup_rates(methods, _rate_key(config, record), est.read_rates(est.rates_path()),
                             est.record_rates(record_path, est.record_version(record_path)))
    done = {(u.method, u.fold) for u in units if rundir.unit_is_done(run_dir, u)}
    return est.estimate_run(methods, {f: c["train"] for f, c in counts.items()},
                            {f: c["test"] for f, c in counts.items()}, folds, rates, skip=done)


class _UnitsBar:
    """The ``units`` bar: advanced by each unit's estimated seconds, with the time left.

    The time left is the estimate of the units not finished, scaled by how long the finished
    ones really took against their estimate once they make up a tenth of it (before that, one
    small unit's overhead would swing it). Without any known rate it counts units.
    """

    def __init__(self, units: Sequence[Unit], duration: est.Estimate, quiet: bool):
        from tqdm.auto import tqdm

        self.weights = {u: duration.unit_s.get((u.method, u.fold)) or 0.0 for u in units}
        self.total = sum(self.weights.values())
        self.left, self.done, self.count = self.total, 0, len(units)
        self.estimated, self.real = 0.0, 0.0
        self.bar = tqdm(total=self.total or self.count, desc="units", disable=quiet,
                        file=sys.stderr,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}{postfix}]")
        self._show()

    def _show(self) -> None:
        text = f"{self.done}/{self.count} units"
        if self.total and self.left > 0:
            ratio = self.real / self.estimated if self.estimated >= 0.1 * self.total else 1.0
            text += f", {est.human_duration(self.left * ratio)} left"
        self.bar.set_postfix_str(text)

    def start(self, unit: Unit) -> None:
        self.bar.set_description_str(f"units: {unit.method} fold {unit.fold}", refresh=False)
        self._show()

    def finish(self, unit: Unit, seconds: float | None) -> None:
        """``seconds``: how long the unit took, ``None`` when it failed (not used to scale)."""
        weight = self.weights.get(unit, 0.0)
        if seconds is not None and weight:
            self.estimated, self.real = self.estimated + weight, self.real + seconds
        self.left, self.done = max(0.0, self.left - weight), self.done + 1
        self.bar.update(weight if self.total else 1)
        self._show()

    def close(self) -> None:
        self.bar.close()


def _update_rates(config: RunConfig, record: dict[str, Any], unit: Unit,
                  timing: dict[str, Any]) -> None:
    """This machine's rates learn from a finished unit; a failure to write only warns."""
    try:
        est.update_rates(est.rates_path(), unit.method, _rate_key(config, record), timing,
                         measured=utc_now().date().isoformat(), jobs=int(config.jobs))
    except OSError as exc:
        _log(f"[actbench] could not update the rates file {est.rates_path()}: {exc}")


def _run_units(units: Sequence[Unit], manifest: Manifest, config: RunConfig, run_dir: Path,
               record: dict[str, Any], probe_rows: list[list[str]],
               duration: est.Estimate) -> dict[str, str]:
    """Run the units not done yet; returns ``{unit name: "done" | "failed"}``."""
    statuses = {unit.name: "done" for unit in units if rundir.unit_is_done(run_dir, unit)}
    bar = _UnitsBar([unit for unit in units if unit.name not in statuses], duration,
                    config.quiet)
    try:
        for unit in units:
            if unit.name in statuses:
                continue
            bar.start(unit)
            fingerprint = record["dataset"]["folds"][str(unit.fold)]["fingerprint"]
            started = time.perf_counter()
            try:
                timing = run_unit(unit, manifest, config, run_dir, fingerprint)
            except Exception as exc:  # noqa: BLE001 - a broken method must not stop the run
                reason = rundir.write_unit_failure(run_dir, unit, exc)
                statuses[unit.name] = "failed"
                bar.finish(unit, None)
                _log(f"[actbench] {unit.name} failed: {reason} "
                     f"(traceback in {unit.directory(run_dir) / 'error.txt'})")
                continue
            statuses[unit.name] = "done"
            bar.finish(unit, time.perf_counter() - started)
            n_fold, n_bad = timing["n_fold_videos"], timing["n_failed_videos"]
            if n_fold and n_bad / n_fold > config.max_failure_rate:
                rundir.merge_units(run_dir, units, probe_rows)
                unit_failures = rundir.read_unit_failures(run_dir, unit)
                raise FailureRateExceeded(failure_message(
                    n_bad, n_fold, config.max_failure_rate,
                    [(r[2], r[4]) for r in unit_failures],
                    f"inside method {unit.method!r} on fold {unit.fold}", run_dir))
            _update_rates(config, record, unit, timing)
    finally:
        bar.close()
    return {unit.name: statuses[unit.name] for unit in units}


def run_benchmark(config: RunConfig, resume_dir: str | os.PathLike | None = None) -> Path:
    """Run every (method, fold) unit of ``config`` and write the run directory.

    Parameters
    ----------
    config : RunConfig
    resume_dir : path-like, optional
        A run directory to finish: its ``run.json`` config is used (``config`` only contributes
        ``quiet``), the fold fingerprints must match, and units with a ``done`` marker are kept.

    Returns
    -------
    pathlib.Path
        The run directory. The report is not written here: the ``run`` verb does that
        (:func:`bench.report.write_report`).

    Raises
    ------
    RunConfigError
        Bad config, unknown dataset/method, a method of another task, missing files, or a
        resume whose fingerprints do not match.
    FailureRateExceeded
        More than ``max_failure_rate`` of the videos failed (``failures.csv`` is written first).
    KeyboardInterrupt
        Ctrl-C; finished units stay on disk for ``--resume``.
    """
    previous: dict[str, Any] | None = None
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        if not (run_dir / rundir.RUN_FILE).is_file():
            raise RunConfigError(f"--resume {run_dir}: no run.json there; is it a run directory?")
        previous = rundir.read_run_record(run_dir)
        config = dataclasses.replace(RunConfig.from_dict(previous["config"]), quiet=config.quiet,
                                     out=str(run_dir))
    config = resolve_config(config)
    run_dir = Path(config.out)
    if previous is None and (run_dir / rundir.RUN_FILE).exists():
        raise RunConfigError(
            f"{run_dir} already holds a run; pass --resume {run_dir} to finish it or choose "
            "another --out"
        )
    _check_methods(config)

    manifest, missing = load_manifest(config)
    _check_task_data(config, manifest)
    folds = manifest.folds if config.folds == "all" else list(config.folds)
    for fold in folds:
        if fold not in manifest.folds:
            raise RunConfigError(
                f"fold {fold} does not exist in dataset {config.dataset!r}; it has folds "
                f"{manifest.folds}"
            )

    probe_failed, n_probed = probe(manifest, folds, int(config.jobs), not config.quiet)
    probe_rows = probe_failure_rows(manifest, folds, probe_failed)
    run_dir.mkdir(parents=True, exist_ok=True)
    if n_probed and len(probe_failed) / n_probed > config.max_failure_rate:
        rundir.write_probe_failures(run_dir, probe_rows)
        raise FailureRateExceeded(failure_message(
            len(probe_failed), n_probed, config.max_failure_rate,
            [(rel, reason) for _, rel, reason in probe_failed], "the probe", run_dir))
    manifest = manifest.drop_videos([vid for vid, _, _ in probe_failed])

    created = utc_now().isoformat(timespec="seconds")
    record = _run_record(config, manifest, folds, missing, probe_failed,
                         previous["created"] if previous else created)
    if previous is not None:
        _check_resume(previous, record, folds, run_dir)
        record["resumed"] = [*previous.get("resumed", []), created]
    units = [Unit(method, fold) for method in config.methods or [] for fold in folds]
    duration = _estimate(config, record, units, run_dir)
    record["estimate"] = duration.to_dict()
    rundir.write_run_record(run_dir, record)
    rundir.write_clips(run_dir, manifest.clip_metadata())
    if not config.quiet and duration.unit_s:
        _log(f"[actbench] {duration.line()}")

    try:
        statuses = _run_units(units, manifest, config, run_dir, record, probe_rows, duration)
    except KeyboardInterrupt:
        _log(f"[actbench] interrupted; finished units are kept. Resume with:\n"
             f"  python -m bench run --resume {run_dir}")
        raise

    rundir.merge_units(run_dir, units, probe_rows)
    record["status"] = "complete"
    record["finished"] = utc_now().isoformat(timespec="seconds")
    record["units"] = statuses
    peak = peak_memory_mib()
    if peak is not None:
        record["peak_memory"] = {**peak, "note": PEAK_MEMORY_NOTE}
    rundir.write_run_record(run_dir, record)
    return run_dir
