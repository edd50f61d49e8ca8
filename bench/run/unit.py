"""One (method, fold) unit of a run: build the estimator, fit, score, write the unit's files.

Videos that fail inside a method (its ``failures_`` list, or a NaN row from
``decision_function``) are recorded under that method and left out of its metrics only.

What a fitted estimator may tell the run, through optional attributes of the method protocol
(:mod:`bench.methods`): ``n_params_``, ``failures_``, ``history_`` + ``best_epoch_`` (epoch
training; ``history.csv``), ``budget_`` (the resolved training budget) and ``selection_`` (the
hyper-parameters its internal model selection chose, with the grid); the last two go into
``timing.json`` for the report's convergence check.

The ``params`` result is the estimator's ``n_params_`` attribute when it sets one after ``fit``
(classical methods, whose size depends on the data), else the card's ``params``.

``timing.json["stages"]`` holds the seconds of each named stage of ``fit`` and of
``decision_function`` (:mod:`bench.profile`; the time outside every stage is the phase's
total minus their sum, except ``worker:`` stages, which are summed over parallel workers).

Each unit's ``timing.json`` records ``peak_rss_main_mib`` and ``peak_rss_children_mib`` (see
:func:`bench.run.memory.peak_memory_mib`) taken when the unit finishes: high-water marks of the
whole process so far, not of the unit alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import profile
from bench.data.manifest import Manifest
from bench.paths import cache_home
from bench.run import rundir
from bench.run.config import RunConfig, utc_now
from bench.run.memory import peak_memory_mib
from bench.run.rundir import Unit
from bench.tasks.recognition.predictions import metric_values, prediction_rows

__all__ = ["run_unit"]


def _method_context(manifest: Manifest, config: RunConfig, work_dir: Path):
    from bench.methods import MethodContext, get_method

    run_methods = {name: {**get_method(name).default_params, **config.method_params.get(name, {})}
                   for name in config.methods or []}
    return MethodContext(
        seed=config.seed, quick=config.quick, device=config.device, jobs=int(config.jobs),
        cache_dir=cache_home() / "cache", progress=not config.quiet,
        classes=list(manifest.classes), allow_flip=bool(manifest.meta.get("allow_flip", True)),
        work_dir=work_dir, options=dict(config.options), run_methods=run_methods,
    )


def _build_estimator(unit: Unit, manifest: Manifest, config: RunConfig, run_dir: Path) -> Any:
    """A fresh estimator of ``unit.method`` with the run's parameters for it."""
    from bench.methods import build_method

    return build_method(unit.method, _method_context(manifest, config, unit.work_dir(run_dir)),
                        **config.method_params.get(unit.method, {}))


def _failure_rows(unit: Unit, manifest: Manifest, estimator: Any, test_paths: np.ndarray,
                  finite: np.ndarray) -> list[list[str]]:
    """The method's own ``failures_`` plus a ``scores`` row for each unexplained NaN row."""
    rel_of = {str(p): r for p, r in zip(manifest.paths(), manifest.table["path"], strict=True)}
    rows = [
        [unit.method, str(unit.fold), rel_of.get(str(f.video), str(f.video)), f.stage, f.reason]
        for f in getattr(estimator, "failures_", None) or []
    ]
    explained = {row[2] for row in rows}
    for path in test_paths[~finite]:
        rel = rel_of[str(path)]
        if rel not in explained:
            rows.append([unit.method, str(unit.fold), rel, "scores",
                         "the method returned NaN/inf scores for this video"])
    return sorted(rows)


def _result_rows(unit: Unit, card: Any, fingerprint: str, metrics: list, cost: dict[str, Any],
                 ) -> list[list[str]]:
    """The tidy results.csv rows of one unit: the task's metrics, then the cost."""
    fmt = rundir.format_number

    def row(metric: str, value: Any, ci: tuple[float, float] | None, n: int) -> list[str]:
        low, high = ci if ci is not None else (None, None)
        value = None if value is None else float(value)
        return [unit.method, card.track, card.task, str(unit.fold), fingerprint, metric,
                fmt(value), fmt(low), fmt(high), str(n)]

    n = cost["n_scored"]
    infer = cost["infer_time_s"]
    return [row(*values) for values in metrics] + [
        row("params", cost["params"], None, n),
        row("flops_per_clip", card.flops_per_clip, None, n),
        row("train_time_s", cost["train_time_s"], None, cost["n_train"]),
        row("infer_clips_per_s", cost["n_test"] / infer if infer > 0 else None, None,
            cost["n_test"]),
    ]


def _record_fitted_facts(estimator: Any, timing: dict[str, Any]) -> list[dict] | None:
    """Add the peak memory and the estimator's optional facts to ``timing``; its history."""
    timing.update(peak_memory_mib() or {})
    history = getattr(estimator, "history_", None)
    if history:
        timing.update(epochs_run=len(history), best_epoch=getattr(estimator, "best_epoch_", None))
    for attribute, key in (("budget_", "budget"), ("selection_", "selection")):
        if getattr(estimator, attribute, None) is not None:
            timing[key] = getattr(estimator, attribute)
    return history


def run_unit(unit: Unit, manifest: Manifest, config: RunConfig, run_dir: Path,
             fingerprint: str) -> dict[str, Any]:
    """Fit and score one (method, fold); write its files, ``done`` last. Returns its timing.

    ``train_time_s`` covers building and fitting the estimator; ``infer_time_s`` the call to
    ``decision_function`` on every test video. The estimator gets ``groups=`` (the manifest's
    actors) so that its internal model selection holds out whole groups, as the fold does.
    """
    from bench.methods import get_method

    rundir.prepare_unit(run_dir, unit)
    card = get_method(unit.method).card
    if card.task == "detection":
        return _run_detection_unit(unit, card, manifest, config, run_dir, fingerprint)
    if card.task == "localization":
        return _run_localization_unit(unit, card, manifest, config, run_dir, fingerprint)
    train = manifest.subset(unit.fold, "train")
    test = manifest.subset(unit.fold, "test")
    n_classes = len(manifest.classes)

    t0 = time.perf_counter()
    with profile.scope() as fit_stages:
        estimator = _build_estimator(unit, manifest, config, run_dir)
        estimator.fit(manifest.paths(train), train["label"].to_numpy(),
                      groups=train["group"].to_numpy())
    train_time = time.perf_counter() - t0
    test_paths = manifest.paths(test)
    t1 = time.perf_counter()
    with profile.scope() as predict_stages:
        scores = np.asarray(estimator.decision_function(test_paths), dtype=np.float64)
    infer_time = time.perf_counter() - t1
    if scores.shape != (len(test), n_classes):
        raise ValueError(
            f"{unit.method}.decision_function returned shape {scores.shape}; expected "
            f"({len(test)}, {n_classes}) = (test videos, classes of the dataset)"
        )

    finite = np.all(np.isfinite(scores), axis=1)
    failures = _failure_rows(unit, manifest, estimator, test_paths, finite)
    y_true = test["label"].to_numpy()[finite]
    predictions = prediction_rows(unit.method, unit.fold, fingerprint,
                                  test["video_id"].to_numpy()[finite], y_true, scores[finite])
    params = getattr(estimator, "n_params_", None)
    timing = {
        "train_time_s": train_time, "infer_time_s": infer_time, "n_train": len(train),
        "n_test": len(test), "n_scored": int(finite.sum()),
        "n_failed_videos": len({row[2] for row in failures}),
        "n_fold_videos": len(train) + len(test),
        "params": card.params if params is None else params,
        "stages": {"fit": fit_stages, "predict": predict_stages},
    }
    metrics = metric_values(y_true, scores[finite], manifest.classes, seed=config.seed,
                            n_boot=int(config.options.get("n_boot", 1000)))
    results = _result_rows(unit, card, fingerprint, metrics, timing)
    history = _record_fitted_facts(estimator, timing)
    rundir.write_unit(run_dir, unit, predictions=predictions, failures=failures,
                      results=results, timing=timing, history=history,
                      finished=utc_now().isoformat(timespec="seconds"))
    return timing


def _run_detection_unit(unit: Unit, card: Any, manifest: Manifest, config: RunConfig,
                        run_dir: Path, fingerprint: str) -> dict[str, Any]:
    """:func:`run_unit` for a temporal detection method (:mod:`bench.tasks.detection`).

    Writes the fold's test ground truth (ActivityNet ``database``) and the method's detections
    (ActivityNet results) into the unit's folder, and the task's mAP rows into its results.
    """
    from bench.tasks.detection import formats
    from bench.tasks.detection import results as detection

    train = manifest.subset(unit.fold, "train")
    test = manifest.subset(unit.fold, "test")
    classes = list(manifest.classes)
    path_of = dict(zip(manifest.table["video_id"], manifest.paths(), strict=True))
    id_of = {path: vid for vid, path in path_of.items()}
    t0 = time.perf_counter()
    with profile.scope() as fit_stages:
        estimator = _build_estimator(unit, manifest, config, run_dir)
        estimator.fit(manifest.paths(train),
                      detection.training_segments(manifest.segments(train), path_of),
                      groups=train["group"].to_numpy())
    train_time = time.perf_counter() - t0
    test_paths = manifest.paths(test)
    t1 = time.perf_counter()
    with profile.scope() as predict_stages:
        raw = estimator.detect(test_paths)
    infer_time = time.perf_counter() - t1

    detections = detection.detections_table(raw, id_of, classes, unit.method)
    failures = _failure_rows(unit, manifest, estimator, test_paths,
                             np.ones(len(test_paths), dtype=bool))
    failed = {row[2] for row in failures}
    scored = [vid for vid, rel in zip(test["video_id"], test["path"], strict=True)
              if rel not in failed]
    ground_truth = detection.ground_truth_table(manifest.segments(test), classes)
    durations = manifest.meta.get("durations") or {}
    out = unit.directory(run_dir)
    formats.write_database_json(
        out / detection.GROUND_TRUTH_FILE, ground_truth,
        pd.DataFrame({"video_id": test["video_id"].astype(str), "subset": "validation",
                      "duration": [durations.get(v, np.nan) for v in test["video_id"]]}))
    formats.write_results_json(out / detection.DETECTIONS_FILE,
                               detection.evaluated_classes(detections, ground_truth),
                               videos=scored)
    formats.write_results_json(out / detection.PROPOSALS_FILE, detections, videos=scored,
                               proposals=True)
    params = getattr(estimator, "n_params_", None)
    timing = {
        "train_time_s": train_time, "infer_time_s": infer_time, "n_train": len(train),
        "n_test": len(test), "n_scored": len(scored), "n_failed_videos": len(failed),
        "n_fold_videos": len(train) + len(test), "n_detections": len(detections),
        "params": card.params if params is None else params,
        "stages": {"fit": fit_stages, "predict": predict_stages},
    }
    kept = ground_truth[ground_truth["video_id"].isin(set(scored))]
    ambiguous = detection.ambiguous_table(manifest.meta.get("ambiguous"), scored)
    metrics = detection.metric_values(kept, detections, scored, ambiguous=ambiguous,
                                      seed=config.seed,
                                      n_boot=int(config.options.get("n_boot", 1000)))
    results = _result_rows(unit, card, fingerprint, metrics, timing)
    history = _record_fitted_facts(estimator, timing)
    rundir.write_unit(run_dir, unit, predictions=[], failures=failures, results=results,
                      timing=timing, history=history,
                      finished=utc_now().isoformat(timespec="seconds"))
    return timing


def _run_localization_unit(unit: Unit, card: Any, manifest: Manifest, config: RunConfig,
                           run_dir: Path, fingerprint: str) -> dict[str, Any]:
    """:func:`run_unit` for a spatio-temporal localization method
    (:mod:`bench.tasks.localization`).

    Writes the fold's test ground truth, the method's boxes, the label map and the excluded
    keyframes as AVA files into the unit's folder, and the task's rows, computed from those
    files as written, into its results (:mod:`bench.tasks.localization.results`).
    """
    from bench.tasks.localization import results as localization

    train = manifest.subset(unit.fold, "train")
    test = manifest.subset(unit.fold, "test")
    path_of = dict(zip(manifest.table["video_id"], manifest.paths(), strict=True))
    id_of = {path: vid for vid, path in path_of.items()}
    t0 = time.perf_counter()
    with profile.scope() as fit_stages:
        estimator = _build_estimator(unit, manifest, config, run_dir)
        estimator.fit(manifest.paths(train),
                      localization.training_boxes(manifest.keyframe_boxes(train), path_of),
                      groups=train["group"].to_numpy())
    train_time = time.perf_counter() - t0
    test_paths = manifest.paths(test)
    t1 = time.perf_counter()
    with profile.scope() as predict_stages:
        raw = estimator.localize(test_paths)
    infer_time = time.perf_counter() - t1

    detections, dropped = localization.detections_table(raw, id_of, len(manifest.classes),
                                                        unit.method)
    failures = _failure_rows(unit, manifest, estimator, test_paths,
                             np.ones(len(test_paths), dtype=bool))
    failed = {row[2] for row in failures}
    failed_ids = [vid for vid, rel in zip(test["video_id"], test["path"], strict=True)
                  if rel in failed]
    scored = [vid for vid in test["video_id"] if vid not in failed_ids]
    ground_truth = localization.ground_truth_table(manifest.keyframe_boxes(test))
    excluded = localization.excluded_table(manifest.excluded_keyframes(test), ground_truth,
                                           failed_ids)
    out = unit.directory(run_dir)
    localization.write_unit_files(out, ground_truth,
                                  detections[detections["video_id"].isin(set(scored))],
                                  excluded, manifest.classes)
    params = getattr(estimator, "n_params_", None)
    timing = {
        "train_time_s": train_time, "infer_time_s": infer_time, "n_train": len(train),
        "n_test": len(test), "n_scored": len(scored), "n_failed_videos": len(failed),
        "n_fold_videos": len(train) + len(test), "n_detections": len(detections),
        "n_dropped_detections": dropped, "n_excluded_keyframes": len(excluded),
        "params": card.params if params is None else params,
        "stages": {"fit": fit_stages, "predict": predict_stages},
    }
    metrics = localization.metric_values(localization.read_unit_files(out), scored,
                                         seed=config.seed,
                                         n_boot=int(config.options.get("n_boot", 1000)))
    results = _result_rows(unit, card, fingerprint, metrics, timing)
    history = _record_fitted_facts(estimator, timing)
    rundir.write_unit(run_dir, unit, predictions=[], failures=failures, results=results,
                      timing=timing, history=history,
                      finished=utc_now().isoformat(timespec="seconds"))
    return timing
