"""Dataset adapters: each turns files on disk into a :class:`bench.data.manifest.Manifest`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.data.manifest import Manifest

__all__ = ["DatasetInfo", "register_dataset", "list_datasets", "dataset_info", "load_dataset"]


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset adapter.

    Attributes
    ----------
    name : str
    description : str
        One line for ``python -m bench list``.
    builder : callable
        ``builder(root=None, annotations=None, **options) -> Manifest``.
    needs_root : bool
        Whether ``--root`` is required (False for generated datasets).
    handles_missing : bool
        Whether the builder takes ``allow_missing`` (excludes and records the listed videos
        that are missing on disk instead of stopping); the runner passes ``--allow-missing``
        only to such builders.
    takes_task : bool
        Whether the builder takes ``task`` (a dataset that serves several tasks and builds
        each one's ground truth: the untrimmed scenes give segments for ``detection`` and
        keyframe boxes for ``localization``); the runner passes the run's task only to such
        builders.
    default_options, quick_options : dict
        Options the runner passes unless the user gives them: the former for a normal run,
        the latter with ``--quick`` (e.g. the synthetic preset).
    """

    name: str
    description: str
    builder: Callable[..., Manifest]
    needs_root: bool = True
    handles_missing: bool = False
    takes_task: bool = False
    default_options: dict[str, Any] = field(default_factory=dict)
    quick_options: dict[str, Any] = field(default_factory=dict)


_DATASETS: dict[str, DatasetInfo] = {}

#: Adapter modules imported to fill the registry.
_ADAPTER_MODULES = ("folder", "ucf101", "hmdb51", "kth", "weizmann", "kinetics", "synthetic",
                    "synthetic_untrimmed", "detection_sets")


def register_dataset(name: str, description: str, needs_root: bool = True, *,
                     handles_missing: bool = False, takes_task: bool = False,
                     default_options: dict | None = None, quick_options: dict | None = None):
    """Decorator registering ``builder`` as dataset ``name`` (see :class:`DatasetInfo`)."""

    def decorate(builder: Callable[..., Manifest]) -> Callable[..., Manifest]:
        _DATASETS[name] = DatasetInfo(name, description, builder, needs_root, handles_missing,
                                      takes_task, dict(default_options or {}),
                                      dict(quick_options or {}))
        return builder

    return decorate


def _load_adapters() -> None:
    for module in _ADAPTER_MODULES:
        try:
            importlib.import_module(f"bench.data.datasets.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.data.datasets.{module}":
                raise


def list_datasets() -> list[DatasetInfo]:
    """All registered dataset adapters, by name."""
    _load_adapters()
    return [_DATASETS[k] for k in sorted(_DATASETS)]


def dataset_info(name: str) -> DatasetInfo | None:
    """The registered adapter called ``name``, or None."""
    _load_adapters()
    return _DATASETS.get(name)


def load_dataset(name: str, root: str | None = None, annotations: str | None = None,
                 **options: Any) -> Manifest:
    """Build the manifest of dataset ``name``.

    Raises
    ------
    KeyError
        Unknown dataset (the message lists the known ones).
    ValueError
        ``root`` missing for a dataset read from disk.
    """
    info = dataset_info(name)
    if info is None:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(_DATASETS))}")
    if info.needs_root and root is None:
        raise ValueError(f"dataset {name!r} is read from disk: pass --root DIR")
    return info.builder(root=root, annotations=annotations, **options)
