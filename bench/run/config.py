"""The run configuration: what defines a run, how it is read from TOML, checked and resolved.

``run.json`` stores the resolved configuration, so ``--resume`` and ``regress`` can redo a run
from the record alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.device import check_device

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["RunConfig", "RunConfigError", "FailureRateExceeded", "DEFAULT_DATASETS",
           "resolve_config", "utc_now"]

#: The embedded dataset of each task: generated, no download.
DEFAULT_DATASETS = {"recognition": "synthetic", "detection": "untrimmed",
                    "localization": "untrimmed"}


class RunConfigError(ValueError):
    """A run configuration that cannot be used (the message says which key and how to fix it)."""


class FailureRateExceeded(RuntimeError):
    """More videos failed than ``max_failure_rate`` allows; the run stopped."""


@dataclass
class RunConfig:
    """Everything that defines a run; ``run.json`` stores it so ``--resume`` can redo it.

    Attributes
    ----------
    task : str, default "recognition"
        The task of the run (:data:`bench.methods.TASKS`); the methods must serve it.
    dataset : str or None, default None
        Registered dataset adapter (``python -m bench list``); None: the task's embedded
        default (:data:`DEFAULT_DATASETS`: ``synthetic`` for recognition, ``untrimmed`` for
        detection and localization).
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
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (:mod:`bench.device`).
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

    task: str = "recognition"
    dataset: str | None = None
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
        from bench.methods import TASKS

        if self.task not in TASKS:
            raise RunConfigError(f"task must be one of {', '.join(TASKS)}. Got {self.task!r}.")
        if self.dataset is None:
            self.dataset = DEFAULT_DATASETS[self.task]
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


def utc_now() -> datetime:
    """The current time in UTC (the run's clock: ``created``, ``finished``, ``done`` markers)."""
    return datetime.now(timezone.utc)


def resolve_config(config: RunConfig) -> RunConfig:
    """Fill the defaults that depend on the machine, the registry or the clock.

    Methods default to every registered method of the run's task; jobs to the CPU count;
    dataset options to the adapter's declared defaults (its quick ones with ``quick``, e.g.
    the synthetic preset); the run directory to ``runs/<dataset>-<UTC timestamp>``.
    """
    from bench.data.datasets import dataset_info
    from bench.methods import list_methods

    resolved = dataclasses.replace(config)
    resolved.dataset_options = dict(config.dataset_options)
    if resolved.methods is None:
        resolved.methods = [card.name for card in list_methods(task=resolved.task)]
    if resolved.jobs is None:
        resolved.jobs = os.cpu_count() or 1
    info = dataset_info(resolved.dataset)
    if info is not None:
        defaults = info.quick_options if resolved.quick else info.default_options
        resolved.dataset_options = {**defaults, **resolved.dataset_options}
    if resolved.out is None:
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        resolved.out = str(Path("runs") / f"{resolved.dataset}-{stamp}")
    return resolved
