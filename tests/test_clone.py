"""``sklearn.base.clone`` works on every registered method.

The method protocol (:mod:`bench.methods`) asks for sklearn estimators: ``clone`` rebuilds one
from ``get_params()``, which only works when ``__init__`` stores each parameter unchanged under
its own name. Model selection, cross-validation and the runner's fresh estimator per fold all
rely on it, so each registered method is built as the runner builds it and cloned.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from bench.methods import MethodContext, build_method, list_methods

METHODS = [card.name for card in list_methods()]


def _same(a: Any, b: Any) -> bool:
    """Whether two parameter values are equal: arrays by dtype and content, paths by their
    string, containers, dataclasses and estimators item by item, the rest with ``==``."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and np.array_equal(a, b))
    if isinstance(a, os.PathLike) or isinstance(b, os.PathLike):
        return type(a) is type(b) and os.fspath(a) == os.fspath(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b, strict=True)))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if hasattr(a, "get_params") and not isinstance(a, type):
        return type(a) is type(b) and _same(a.get_params(deep=False), b.get_params(deep=False))
    return bool(a == b)


def _mutable(value: Any) -> bool:
    return isinstance(value, dict | list | np.ndarray) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
        and not type(value).__dataclass_params__.frozen)


@pytest.fixture
def ctx(tmp_path) -> MethodContext:
    return MethodContext(seed=0, quick=True, device="cpu", jobs=1, cache_dir=tmp_path / "cache",
                         progress=False, classes=["left", "right", "down"], allow_flip=True,
                         work_dir=tmp_path / "work", options={})


def test_the_registry_is_not_empty():
    assert "chance" in METHODS and len(METHODS) > 1


@pytest.mark.parametrize("name", METHODS)
def test_clone_gives_an_equal_unfitted_estimator(name, ctx):
    est = build_method(name, ctx)
    twin = clone(est)
    assert twin is not est and type(twin) is type(est)
    params, twin_params = est.get_params(deep=False), twin.get_params(deep=False)
    assert params.keys() == twin_params.keys()
    for key, value in params.items():
        assert _same(twin_params[key], value), key
        if _mutable(value):  # a clone shares no mutable state with its original
            assert twin_params[key] is not value, key
    assert _same(twin.get_params(), est.get_params())
    assert [k for k in vars(twin) if k.endswith("_") and not k.startswith("__")] == []
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)
