"""One device vocabulary for the whole project: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.

The runner's config, the ``run`` and ``perf`` verbs, the environment record and the deep
track all resolve a device string here, so that a string accepted in one place is accepted
everywhere and means the same thing.
"""

from __future__ import annotations

import re

__all__ = ["DEVICE_HELP", "check_device", "resolve_device"]

#: How a device is written, for help texts and error messages.
DEVICE_HELP = "auto (CUDA when available, else the CPU), cpu, cuda or cuda:N"

_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(device: str) -> str:
    """``device`` when it is written in the vocabulary, else a ``ValueError`` that says how.

    This checks the spelling only; :func:`resolve_device` also checks that the device exists.
    """
    if not isinstance(device, str) or not _PATTERN.match(device):
        raise ValueError(f"The 'device' parameter must be {DEVICE_HELP}. Got {device!r} instead.")
    return device


def resolve_device(device: str) -> str:
    """The concrete device of ``device``: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    ``"auto"`` is CUDA when torch sees a GPU, else the CPU (also when torch is not installed).

    Raises
    ------
    ValueError
        For a string outside the vocabulary, CUDA asked for where torch sees none, or a GPU
        index this machine does not have.
    """
    check_device(device)
    if device == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        torch = None
    available = torch is not None and torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        version = getattr(torch, "__version__", "not installed")
        raise ValueError(
            f"device={device!r} but torch ({version}) sees no CUDA device "
            "(torch.cuda.is_available() is False). Use --device cpu (or auto), or run on a "
            "machine with an NVIDIA GPU and a CUDA build of torch.")
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r} but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 ...).")
    return device
