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
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.data.manifest import Manifest
from bench.device import resolve_device
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


def _run_units(units: Sequence[Unit], manifest: Manifest, config: RunConfig, run_dir: Path,
               record: dict[str, Any], probe_rows: list[list[str]]) -> dict[str, str]:
    """Run the units not done yet; returns ``{unit name: "done" | "failed"}``."""
    from tqdm.auto import tqdm

    statuses: dict[str, str] = {}
    bar = tqdm(units, desc="units", unit="unit", disable=config.quiet, file=sys.stderr)
    for unit in bar:
        bar.set_postfix_str(unit.name)
        if rundir.unit_is_done(run_dir, unit):
            statuses[unit.name] = "done"
            continue
        fingerprint = record["dataset"]["folds"][str(unit.fold)]["fingerprint"]
        try:
            timing = run_unit(unit, manifest, config, run_dir, fingerprint)
        except Exception as exc:  # noqa: BLE001 - a broken method must not stop the run
            reason = rundir.write_unit_failure(run_dir, unit, exc)
            statuses[unit.name] = "failed"
            _log(f"[actbench] {unit.name} failed: {reason} "
                 f"(traceback in {unit.directory(run_dir) / 'error.txt'})")
            continue
        statuses[unit.name] = "done"
        n_fold, n_bad = timing["n_fold_videos"], timing["n_failed_videos"]
        if n_fold and n_bad / n_fold > config.max_failure_rate:
            rundir.merge_units(run_dir, units, probe_rows)
            unit_failures = rundir.read_unit_failures(run_dir, unit)
            raise FailureRateExceeded(failure_message(
                n_bad, n_fold, config.max_failure_rate, [(r[2], r[4]) for r in unit_failures],
                f"inside method {unit.method!r} on fold {unit.fold}", run_dir))
    return statuses


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
    rundir.write_run_record(run_dir, record)
    rundir.write_clips(run_dir, manifest.clip_metadata())

    units = [Unit(method, fold) for method in config.methods or [] for fold in folds]
    try:
        statuses = _run_units(units, manifest, config, run_dir, record, probe_rows)
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
