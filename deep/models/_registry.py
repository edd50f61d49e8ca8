"""The model registry: named builders, created by name with keyword overrides (timm style)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from torch import nn

ModelBuilder = Callable[..., nn.Module]

_MODEL_BUILDERS: dict[str, ModelBuilder] = {}


def register_model(builder: ModelBuilder) -> ModelBuilder:
    """Register a model builder under its function name.

    Parameters
    ----------
    builder : callable
        A function ``builder(num_classes=400, **overrides) -> nn.Module``. Its ``__name__`` is the
        model name; its docstring should cite the paper and state the width and depth.

    Returns
    -------
    callable
        The builder, unchanged, so the decorator can be stacked.

    Raises
    ------
    ValueError
        If a different builder is already registered under the same name.
    """
    name = builder.__name__
    existing = _MODEL_BUILDERS.get(name)
    if existing is not None and existing is not builder:
        if existing.__module__ != builder.__module__ or existing.__qualname__ != builder.__qualname__:
            raise ValueError(
                f"A model named {name!r} is already registered by {existing.__module__}; "
                "choose another function name."
            )
    _MODEL_BUILDERS[name] = builder
    return builder


def list_models(pattern: str = "*") -> list[str]:
    """Return the sorted names of registered models matching a shell-style ``pattern``.

    Parameters
    ----------
    pattern : str, default "*"
        An ``fnmatch`` pattern, e.g. ``"*_small"`` or ``"r*d_18"``.

    Returns
    -------
    list of str
    """
    return sorted(name for name in _MODEL_BUILDERS if fnmatch.fnmatchcase(name, pattern))


def create_model(name: str, num_classes: int = 400, **overrides) -> nn.Module:
    """Build a registered model.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    num_classes : int, default 400
        Size of the classifier output (400 = Kinetics-400, the size at which paper parameter
        counts are quoted).
    **overrides
        Keyword arguments passed to the builder; they replace the builder's ``model_args``
        (e.g. ``dropout=0.0``, ``width=32``).

    Returns
    -------
    torch.nn.Module
        A model with a ``default_input`` attribute, the clip shape ``(C, T, H, W)`` (or
        ``(C, H, W)`` for 2D models) its paper uses.

    Raises
    ------
    KeyError
        If ``name`` is not registered (the message lists the registered names).
    ValueError
        If ``num_classes`` is not a positive int.
    """
    if name not in _MODEL_BUILDERS:
        raise KeyError(f"Unknown model {name!r}. Registered models: {', '.join(list_models())}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"The 'num_classes' parameter of create_model must be an int in [1, inf). "
            f"Got {num_classes!r} instead."
        )
    return _MODEL_BUILDERS[name](num_classes=num_classes, **overrides)
