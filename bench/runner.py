"""The runner: every method on the same manifest, fold by fold, into one run directory.

A run is a list of *units*, one per (method, fold). Each unit builds a fresh estimator through
:func:`bench.methods.build_method`, fits it on the fold's training videos, scores the test
videos and writes its outputs atomically under ``units/<method>__fold<k>/`` with a ``done``
marker written last. ``--resume`` skips the units that have their marker, so a run interrupted
by a crash or Ctrl-C ends with the same ``predictions.csv`` as an uninterrupted one.

Before any method runs, a *probe* opens every video of the chosen folds and decodes its first
frame (:func:`bench.video.probe_video`). Unreadable files are recorded in ``failures.csv``
(method ``*``, stage ``probe``, one row per fold using the video) and removed from the manifest,
so every method sees the same videos. Videos that fail inside a method (its ``failures_`` list,
or a NaN row from ``decision_function``) are recorded under that method and left out of its
metrics only. A method that raises marks its unit failed (video ``*``, stage ``method``; the
traceback in ``units/<unit>/error.txt``) and the run goes on; such a unit gets no ``done`` marker,
so ``--resume`` tries it again.

The ``params`` result is the estimator's ``n_params_`` attribute when it sets one after ``fit``
(classical methods, whose size depends on the data), else the card's ``params``.

Each unit's ``timing.json`` records ``peak_rss_main_mib`` and ``peak_rss_children_mib`` (see
:func:`bench.memory.peak_memory_mib`) taken when the unit finishes; ``run.json`` records the
same two numbers at the end of the run under ``peak_memory``. Both are high-water marks of the
whole process so far, not of the unit alone.
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import io
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import write_json, write_text
from bench.device import check_device, resolve_device
from bench.manifest import Manifest, fold_column
from bench.memory import PEAK_MEMORY_NOTE, peak_memory_mib
from bench.paths import cache_home

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "RunConfig",
    "Unit",
    "run_benchmark",
    "FailureRateExceeded",
    "RunConfigError",
    "PREDICTION_COLUMNS",
    "RESULT_COLUMNS",
    "FAILURE_COLUMNS",
    "BENCHMARK_VERSION",
]

#: Version of the benchmark protocol recorded in run.json; bump when results stop being
#: comparable with earlier runs for the same config and fingerprint.
BENCHMARK_VERSION = 1

PREDICTION_COLUMNS = ("method", "fold", "fingerprint", "video_id", "label", "prediction",
                      "top5", "scores")
RESULT_COLUMNS = ("method", "track", "fold", "fingerprint", "metric", "value", "ci_low",
                  "ci_high", "n")
FAILURE_COLUMNS = ("method", "fold", "video", "stage", "reason")



class RunConfigError(ValueError):
    """A run configuration that cannot be used (the message says which key and how to fix it)."""


class FailureRateExceeded(RuntimeError):
    """More videos failed than ``max_failure_rate`` allows; the run stopped."""


# ------------------------------------------------------------------------------- config
@dataclass
class RunConfig:
    """Everything that defines a run; ``run.json`` stores it so ``--resume`` can redo it.

    Attributes
    ----------
    dataset : str, default "synthetic"
        Registered dataset adapter (``python -m bench list``).
    root : str or None
        Dataset root on disk (datasets read from disk).
    annotations : str or None
        Folder of official split/annotation files, when the adapter needs one.
    protocol : str or None
        Split protocol passed to the adapter (e.g. ``holdout``/``kfold``/``logo`` for
        ``folder``); ``None`` keeps the adapter's default.
    dataset_options : dict
        Extra keyword arguments for the adapter (``preset``, ``group_pattern``, ...). For
        ``synthetic`` the preset defaults to ``"quick"`` with ``quick`` and ``"default"``
        otherwise.
    methods : list of str or None
        Registered method names; ``None`` = the default suite (every registered method).
    method_params : dict
        ``{method: {param: value}}`` overrides of the registered default parameters.
    folds : list of int or "all", default [1]
    seed : int, default 0
        Seed handed to every method and to the bootstrap.
    jobs : int or None
        Workers for the probe and for methods; ``None`` = ``os.cpu_count()``.
    device : {"auto", "cpu", "cuda"}
    quick : bool
        Small, fast method configurations (tests, CI).
    out : str or None
        Run directory; ``None`` = ``runs/<dataset>-<UTC timestamp>``.
    quiet : bool
        No progress bars.
    max_failure_rate : float, default 0.05
        Largest share of failed videos tolerated before the run stops.
    allow_missing : bool
        Exclude (and record) videos listed by the dataset but missing on disk instead of
        stopping.
    options : dict
        Extra options passed to every method (``MethodContext.options``); ``n_boot`` (default
        1000) sets the bootstrap resamples.
    """

    dataset: str = "synthetic"
    root: str | None = None
    annotations: str | None = None
    protocol: str | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)
    methods: list[str] | None = None
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    folds: list[int] | str = field(default_factory=lambda: [1])
    seed: int = 0
    jobs: int | None = None
    device: str = "auto"
    quick: bool = False
    out: str | None = None
    quiet: bool = False
    max_failure_rate: float = 0.05
    allow_missing: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.methods = _parse_names(self.methods)
        self.folds = _parse_folds(self.folds)
        for name in ("root", "annotations", "out"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, str(value))
        try:
            check_device(self.device)
        except ValueError as exc:
            raise RunConfigError(str(exc)) from None
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise RunConfigError(f"seed must be an int. Got {self.seed!r} instead.")
        if self.jobs is not None and (not isinstance(self.jobs, int) or self.jobs < 1):
            raise RunConfigError(f"jobs must be an int >= 1. Got {self.jobs!r} instead.")
        rate = self.max_failure_rate
        if not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 1.0:
            raise RunConfigError(
                f"max_failure_rate must be a number in [0, 1]. Got {rate!r} instead."
            )
        self.max_failure_rate = float(rate)
        for name in ("dataset_options", "method_params", "options"):
            if not isinstance(getattr(self, name), dict):
                raise RunConfigError(f"{name} must be a table/dict. Got {getattr(self, name)!r}.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a mapping whose keys are field names; unknown keys are refused."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise RunConfigError(
                f"unknown run config key(s) {unknown}; known keys: {', '.join(known)}"
            )
        return cls(**data)

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> RunConfig:
        """Read a TOML file whose top-level keys are field names (tables for dict fields)."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise RunConfigError(f"config file {str(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise RunConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
        try:
            return cls.from_dict(data)
        except RunConfigError as exc:
            raise RunConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the same keys as the fields."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def _parse_names(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    names = [str(v).strip() for v in value if str(v).strip()]
    if not names:
        raise RunConfigError("methods is empty; give at least one name or leave it unset")
    return names


def _parse_folds(value: Any) -> list[int] | str:
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        value = value.split(",")
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    try:
        folds = sorted({int(v) for v in value})
    except (TypeError, ValueError):
        raise RunConfigError(
            f"folds must be 'all' or fold numbers like 1,2,3. Got {value!r} instead."
        ) from None
    if not folds or folds[0] < 1:
        raise RunConfigError(f"folds must be numbers >= 1. Got {value!r} instead.")
    return folds


# ------------------------------------------------------------------------------- helpers
def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _cache_dir() -> Path:
    return cache_home() / "cache"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def _history_csv(history: Sequence[dict[str, Any]]) -> str:
    """A method's per-epoch ``history_`` (dicts) as CSV, columns in order of first appearance."""
    columns = list(dict.fromkeys(key for record in history for key in record))
    return _csv_text(columns, ([record.get(key, "") for key in columns] for record in history))


def _read_csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[1:]


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return repr(float(value))


def _resolve(config: RunConfig) -> RunConfig:
    """Fill the defaults that depend on the machine, the registry or the clock."""
    from bench.methods import list_methods

    resolved = dataclasses.replace(config)
    resolved.dataset_options = dict(config.dataset_options)
    if resolved.methods is None:
        resolved.methods = [card.name for card in list_methods()]
    if resolved.jobs is None:
        resolved.jobs = os.cpu_count() or 1
    if resolved.dataset == "synthetic" and "preset" not in resolved.dataset_options:
        resolved.dataset_options["preset"] = "quick" if resolved.quick else "default"
    if resolved.out is None:
        stamp = _utc_now().strftime("%Y%m%dT%H%M%SZ")
        resolved.out = str(Path("runs") / f"{resolved.dataset}-{stamp}")
    return resolved


# ------------------------------------------------------------------------------- dataset
def _load_manifest(config: RunConfig) -> tuple[Manifest, list[str]]:
    """The dataset's manifest, minus (with ``allow_missing``) the files missing on disk."""
    from bench.datasets import list_datasets, load_dataset

    options = dict(config.dataset_options)
    if config.protocol is not None:
        options["protocol"] = config.protocol
    info = {d.name: d for d in list_datasets()}.get(config.dataset)
    if info is not None and config.allow_missing:
        signature = inspect.signature(info.builder)
        if "allow_missing" in signature.parameters:
            options["allow_missing"] = True
    try:
        manifest = load_dataset(config.dataset, config.root, config.annotations, **options)
    except KeyError as exc:
        raise RunConfigError(str(exc.args[0]) if exc.args else str(exc)) from None
    except (ValueError, OSError) as exc:
        raise RunConfigError(f"dataset {config.dataset!r}: {exc}") from exc
    missing = manifest.missing_files()
    if missing and not config.allow_missing:
        shown = "\n  ".join(missing[:10])
        raise RunConfigError(
            f"{len(missing)} video(s) listed by dataset {config.dataset!r} are missing under "
            f"{manifest.root}; first ones:\n  {shown}\nFix the root, or pass --allow-missing "
            "to exclude them (they are recorded in run.json)."
        )
    if missing:
        missing_set = set(missing)
        ids = manifest.table.loc[manifest.table["path"].isin(missing_set), "video_id"].tolist()
        manifest = manifest.drop_videos(ids)
    return manifest, missing


def _used_rows(manifest: Manifest, folds: Sequence[int]):
    used = np.zeros(len(manifest.table), dtype=bool)
    for fold in folds:
        used |= manifest.table[fold_column(fold)].isin(("train", "test")).to_numpy()
    return manifest.table[used]


def _probe_one(path: str) -> str | None:
    from bench.video import VideoDecodeError, probe_video

    try:
        probe_video(path)
    except VideoDecodeError as exc:
        return exc.reason
    except Exception as exc:  # noqa: BLE001 - any failure to open is a probe failure
        return f"{type(exc).__name__}: {exc}"
    return None


def _probe(manifest: Manifest, folds: Sequence[int], jobs: int, progress: bool):
    """Probe every video used by ``folds``; returns ``[(video_id, path, reason), ...]``."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    rows = _used_rows(manifest, folds)
    paths = manifest.paths(rows)
    results = Parallel(n_jobs=jobs, prefer="threads", return_as="generator")(
        delayed(_probe_one)(p) for p in paths
    )
    reasons = list(tqdm(results, total=len(paths), desc="probe", unit="video",
                        disable=not progress, file=sys.stderr))
    failed = [
        (vid, rel, reason)
        for vid, rel, reason in zip(rows["video_id"], rows["path"], reasons, strict=True)
        if reason is not None
    ]
    return failed, len(paths)


def _probe_failure_rows(manifest: Manifest, folds: Sequence[int], failed) -> list[list[str]]:
    subsets = manifest.table.set_index("video_id")
    rows = []
    for vid, rel, reason in failed:
        for fold in folds:
            if subsets.at[vid, fold_column(fold)] in ("train", "test"):
                rows.append(["*", str(fold), rel, "probe", reason])
    return rows


def _failure_message(n_failed: int, n_total: int, limit: float, examples, where: str,
                     run_dir: Path) -> str:
    rate = n_failed / max(n_total, 1)
    shown = "\n  ".join(f"{video}: {reason}" for video, reason in examples[:5])
    return (
        f"{n_failed} of {n_total} videos ({rate:.1%}) failed {where}, above "
        f"--max-failure-rate {limit:g} ({limit:.1%}). First failures:\n  {shown}\n"
        "Fix or remove those files, or raise --max-failure-rate. The full list is in "
        f"{run_dir / 'failures.csv'}."
    )


# ------------------------------------------------------------------------------- units
@dataclass
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


def _unit_dir(run_dir: Path, unit: Unit) -> Path:
    return run_dir / "units" / unit.name


def _fit(estimator: Any, paths: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
    """``estimator.fit(paths, y)``, with ``groups=`` (the manifest's actors) when it takes them.

    Methods use the groups to keep a group out of their model selection as a whole: the
    classical SVM picks ``C`` by grouped cross-validation and the deep estimators hold out
    whole actors for early stopping, so no actor is on both sides of an internal split (as no
    actor is on both sides of the fold). A method whose ``fit`` has no ``groups`` parameter
    is called with ``(paths, y)`` only (the contract of DESIGN.md).
    """
    if "groups" in inspect.signature(estimator.fit).parameters:
        estimator.fit(paths, y, groups=groups)
    else:
        estimator.fit(paths, y)


def _method_context(unit: Unit, manifest: Manifest, config: RunConfig, out: Path):
    from bench.methods import MethodContext

    return MethodContext(
        seed=config.seed, quick=config.quick, device=config.device, jobs=int(config.jobs),
        cache_dir=_cache_dir(), progress=not config.quiet, classes=list(manifest.classes),
        allow_flip=bool(manifest.meta.get("allow_flip", True)), work_dir=out / "work",
        options=dict(config.options),
    )


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


def _prediction_rows(unit: Unit, fingerprint: str, video_ids: np.ndarray, y_true: np.ndarray,
                     scores: np.ndarray) -> list[list[str]]:
    """One row per scored video, sorted by video_id; scores as ``%.6g``."""
    from bench.metrics import top_k_labels

    if not len(scores):
        return []
    top = top_k_labels(scores, 5)
    rows = [
        [unit.method, str(unit.fold), fingerprint, str(vid), str(int(label)), str(int(best[0])),
         " ".join(str(int(c)) for c in best), " ".join(f"{s:.6g}" for s in row)]
        for vid, label, row, best in zip(video_ids, y_true, scores, top, strict=True)
    ]
    return sorted(rows, key=lambda r: r[3])


def _result_rows(unit: Unit, card: Any, fingerprint: str, classes: Sequence[str],
                 y_true: np.ndarray, scores: np.ndarray, cost: dict[str, Any],
                 config: RunConfig) -> list[list[str]]:
    """The tidy results.csv rows of one unit (metrics, then cost)."""
    from bench.metrics import classification_metrics

    rows: list[list[str]] = []

    def add(metric: str, value: Any, n: int, ci: tuple[float, float] | None = None) -> None:
        low, high = ci if ci is not None else (None, None)
        value = None if value is None else float(value)
        rows.append([unit.method, card.track, str(unit.fold), fingerprint, metric,
                     _fmt(value), _fmt(low), _fmt(high), str(n)])

    n = len(y_true)
    if n:
        m = classification_metrics(y_true, scores, seed=config.seed,
                                   n_boot=int(config.options.get("n_boot", 1000)))
        add("top1", m.top1, n, m.ci["top1"])
        add("top5", m.top5, n)
        add("mean_class_acc", m.mean_class_acc, n, m.ci["mean_class_acc"])
        add("macro_precision", m.macro_precision, n)
        add("macro_recall", m.macro_recall, n)
        add("macro_f1", m.macro_f1, n)
        for name, f1, support in zip(classes, m.f1, m.support, strict=True):
            if support > 0:  # a class absent from the test set has no F1 to report
                add(f"f1:{name}", f1, int(support))
    add("params", cost["params"], n)
    add("flops_per_clip", card.flops_per_clip, n)
    add("train_time_s", cost["train_time_s"], cost["n_train"])
    infer = cost["infer_time_s"]
    add("infer_clips_per_s", cost["n_test"] / infer if infer > 0 else None, cost["n_test"])
    return rows


def _run_unit(unit: Unit, manifest: Manifest, config: RunConfig, run_dir: Path,
              fingerprint: str) -> dict[str, Any]:
    """Fit and score one (method, fold); write its files, ``done`` last. Returns its timing.

    ``train_time_s`` covers building and fitting the estimator; ``infer_time_s`` the call to
    ``decision_function`` on every test video.
    """
    from bench.methods import build_method, get_method

    out = _unit_dir(run_dir, unit)
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("failed", "error.txt"):
        (out / stale).unlink(missing_ok=True)
    card = get_method(unit.method).card
    train = manifest.subset(unit.fold, "train")
    test = manifest.subset(unit.fold, "test")
    n_classes = len(manifest.classes)

    t0 = time.perf_counter()
    estimator = build_method(unit.method, _method_context(unit, manifest, config, out),
                             **config.method_params.get(unit.method, {}))
    _fit(estimator, manifest.paths(train), train["label"].to_numpy(), train["group"].to_numpy())
    train_time = time.perf_counter() - t0
    test_paths = manifest.paths(test)
    t1 = time.perf_counter()
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
    predictions = _prediction_rows(unit, fingerprint, test["video_id"].to_numpy()[finite],
                                   y_true, scores[finite])
    params = getattr(estimator, "n_params_", None)
    timing = {
        "train_time_s": train_time, "infer_time_s": infer_time, "n_train": len(train),
        "n_test": len(test), "n_scored": int(finite.sum()),
        "n_failed_videos": len({row[2] for row in failures}),
        "n_fold_videos": len(train) + len(test),
        "params": card.params if params is None else params,
    }
    results = _result_rows(unit, card, fingerprint, manifest.classes, y_true, scores[finite],
                           timing, config)
    write_text(out / "predictions.csv", _csv_text(PREDICTION_COLUMNS, predictions))
    write_text(out / "failures.csv", _csv_text(FAILURE_COLUMNS, failures))
    write_text(out / "results.csv", _csv_text(RESULT_COLUMNS, results))
    timing.update(peak_memory_mib() or {})
    history = getattr(estimator, "history_", None)
    if history:
        timing.update(epochs_run=len(history), best_epoch=getattr(estimator, "best_epoch_", None))
        write_text(out / "history.csv", _history_csv(history))
    write_json(out / "timing.json", timing)
    write_text(out / "done", _utc_now().isoformat(timespec="seconds") + "\n")
    # Checkpoints only serve to resume an unfinished unit; a finished one needs none.
    shutil.rmtree(out / "work", ignore_errors=True)
    return timing


def _record_unit_failure(unit: Unit, run_dir: Path, exc: BaseException) -> None:
    out = _unit_dir(run_dir, unit)
    out.mkdir(parents=True, exist_ok=True)
    reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    write_text(out / "error.txt", "".join(traceback.format_exception(exc)))
    write_text(out / "failures.csv", _csv_text(
        FAILURE_COLUMNS, [[unit.method, str(unit.fold), "*", "method", reason]]))
    for name in ("predictions.csv", "results.csv", "timing.json"):
        (out / name).unlink(missing_ok=True)
    write_text(out / "failed", reason + "\n")


# ------------------------------------------------------------------------------- merge
def _failure_key(row: Sequence[str]) -> tuple:
    """Sort failures by method, fold (numerically), video, stage, reason."""
    return (row[0], int(row[1]) if row[1].isdigit() else -1, *row[2:])


def _merge(run_dir: Path, units: Sequence[Unit], probe_rows: list[list[str]]) -> None:
    """Combine the unit outputs into results.csv, predictions.csv and failures.csv."""
    predictions: list[list[str]] = []
    results: list[list[str]] = []
    failures: list[list[str]] = list(probe_rows)
    for unit in units:
        out = _unit_dir(run_dir, unit)
        for name, bucket in (("predictions.csv", predictions), ("results.csv", results),
                             ("failures.csv", failures)):
            if (out / name).exists() and ((out / "done").exists() or name == "failures.csv"):
                bucket.extend(_read_csv_rows(out / name))
    order = {unit.method: i for i, unit in enumerate(units)}
    predictions.sort(key=lambda r: (r[0], int(r[1]), r[3]))
    results.sort(key=lambda r: (order.get(r[0], len(order)), r[0], int(r[2])))
    failures.sort(key=_failure_key)
    write_text(run_dir / "predictions.csv", _csv_text(PREDICTION_COLUMNS, predictions))
    write_text(run_dir / "results.csv", _csv_text(RESULT_COLUMNS, results))
    write_text(run_dir / "failures.csv", _csv_text(FAILURE_COLUMNS, failures))


# ------------------------------------------------------------------------------- main
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
    from bench.environment import environment_info
    from bench.methods import get_method
    from bench.runinfo import git_commit, machine_info, package_versions

    git = git_commit()
    packages = package_versions()
    methods = {}
    for name in config.methods or []:
        entry = get_method(name)
        params = {**entry.default_params, **config.method_params.get(name, {})}
        methods[name] = {**entry.card.to_dict(), "params": params}
    return {
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
        The run directory.

    Raises
    ------
    RunConfigError
        Bad config, unknown dataset/method, missing files, or a resume whose fingerprints do
        not match.
    FailureRateExceeded
        More than ``max_failure_rate`` of the videos failed (``failures.csv`` is written first).
    KeyboardInterrupt
        Ctrl-C; finished units stay on disk for ``--resume``.
    """
    from tqdm.auto import tqdm

    from bench.methods import get_method

    previous: dict[str, Any] | None = None
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        record_path = run_dir / "run.json"
        if not record_path.is_file():
            raise RunConfigError(f"--resume {run_dir}: no run.json there; is it a run directory?")
        previous = json.loads(record_path.read_text(encoding="utf-8"))
        config = dataclasses.replace(RunConfig.from_dict(previous["config"]), quiet=config.quiet,
                                     out=str(run_dir))
    config = _resolve(config)
    run_dir = Path(config.out)
    if previous is None and (run_dir / "run.json").exists():
        raise RunConfigError(
            f"{run_dir} already holds a run; pass --resume {run_dir} to finish it or choose "
            "another --out"
        )
    for name in config.methods or []:
        try:
            get_method(name)
        except KeyError as exc:
            raise RunConfigError(exc.args[0]) from None
    progress = not config.quiet

    manifest, missing = _load_manifest(config)
    folds = manifest.folds if config.folds == "all" else list(config.folds)
    for fold in folds:
        if fold not in manifest.folds:
            raise RunConfigError(
                f"fold {fold} does not exist in dataset {config.dataset!r}; it has folds "
                f"{manifest.folds}"
            )

    probe_failed, n_probed = _probe(manifest, folds, int(config.jobs), progress)
    probe_rows = _probe_failure_rows(manifest, folds, probe_failed)
    run_dir.mkdir(parents=True, exist_ok=True)
    if n_probed and len(probe_failed) / n_probed > config.max_failure_rate:
        write_text(run_dir / "failures.csv",
                   _csv_text(FAILURE_COLUMNS, sorted(probe_rows, key=_failure_key)))
        raise FailureRateExceeded(_failure_message(
            len(probe_failed), n_probed, config.max_failure_rate,
            [(rel, reason) for _, rel, reason in probe_failed], "the probe", run_dir))
    manifest = manifest.drop_videos([vid for vid, _, _ in probe_failed])

    created = _utc_now().isoformat(timespec="seconds")
    record = _run_record(config, manifest, folds, missing, probe_failed,
                         previous["created"] if previous else created)
    if previous is not None:
        for fold in folds:
            old = previous["dataset"]["folds"].get(str(fold), {}).get("fingerprint")
            new = record["dataset"]["folds"][str(fold)]["fingerprint"]
            if old != new:
                raise RunConfigError(
                    f"--resume {run_dir}: fold {fold} fingerprint changed ({old} -> {new}); the "
                    "dataset or its readable videos differ from the original run. Start a new run."
                )
        record["resumed"] = [*previous.get("resumed", []), created]
    write_json(run_dir / "run.json", record)

    units = [Unit(method, fold) for method in config.methods or [] for fold in folds]
    statuses: dict[str, str] = {}
    try:
        bar = tqdm(units, desc="units", unit="unit", disable=not progress, file=sys.stderr)
        for unit in bar:
            bar.set_postfix_str(unit.name)
            out = _unit_dir(run_dir, unit)
            if (out / "done").exists():
                statuses[unit.name] = "done"
                continue
            fingerprint = record["dataset"]["folds"][str(unit.fold)]["fingerprint"]
            try:
                timing = _run_unit(unit, manifest, config, run_dir, fingerprint)
            except Exception as exc:  # noqa: BLE001 - a broken method must not stop the run
                _record_unit_failure(unit, run_dir, exc)
                statuses[unit.name] = "failed"
                _log(f"[actbench] {unit.name} failed: {type(exc).__name__}: {exc} "
                     f"(traceback in {out / 'error.txt'})")
                continue
            statuses[unit.name] = "done"
            n_fold = timing["n_fold_videos"]
            n_bad = timing["n_failed_videos"]
            if n_fold and n_bad / n_fold > config.max_failure_rate:
                _merge(run_dir, units, probe_rows)
                unit_failures = _read_csv_rows(out / "failures.csv")
                raise FailureRateExceeded(_failure_message(
                    n_bad, n_fold, config.max_failure_rate,
                    [(r[2], r[4]) for r in unit_failures], f"inside method {unit.method!r} "
                    f"on fold {unit.fold}", run_dir))
    except KeyboardInterrupt:
        _log(f"[actbench] interrupted; finished units are kept. Resume with:\n"
             f"  python -m bench run --resume {run_dir}")
        raise

    _merge(run_dir, units, probe_rows)
    record["status"] = "complete"
    record["finished"] = _utc_now().isoformat(timespec="seconds")
    record["units"] = statuses
    peak = peak_memory_mib()
    if peak is not None:
        record["peak_memory"] = {**peak, "note": PEAK_MEMORY_NOTE}
    write_json(run_dir / "run.json", record)
    return run_dir
