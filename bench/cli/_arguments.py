"""Command-line arguments shared by several verbs (one definition each)."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_simulate_isa_argument", "device_type", "key_value"]


def add_simulate_isa_argument(parser: argparse.ArgumentParser) -> None:
    """``--simulate-isa NAME`` (:data:`bench.run.environment.SIMULATED_ISAS`), for run and regress."""
    from bench.run.environment import SIMULATED_ISAS

    parser.add_argument("--simulate-isa", choices=tuple(SIMULATED_ISAS), default=None,
                        help="run in a child process whose numpy / torch / OpenCV / numba pick "
                             "the kernels of this older instruction set (the cross-machine "
                             "case on one machine)")


def key_value(text: str) -> tuple[str, object]:
    """argparse type of ``--option KEY=VALUE``: VALUE read as JSON when it parses, else text.

    ``0.3`` and ``true`` become a float and a bool, ``[1, 2]`` a list, ``tcp://host`` stays a
    string. The key is stripped, and ``-`` in it becomes ``_`` (``n-boot`` = ``n_boot``).
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--option expects KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip().replace("-", "_"), parsed


def device_type(text: str) -> str:
    """argparse type of ``--device``: the vocabulary of :mod:`bench.device`."""
    from bench.device import check_device

    try:
        return check_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
