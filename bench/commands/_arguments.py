"""Command-line arguments shared by several verbs (one definition each)."""

from __future__ import annotations

import argparse

__all__ = ["add_simulate_isa_argument", "device_type"]


def add_simulate_isa_argument(parser: argparse.ArgumentParser) -> None:
    """``--simulate-isa NAME`` (:data:`bench.environment.SIMULATED_ISAS`), for run and regress."""
    from bench.environment import SIMULATED_ISAS

    parser.add_argument("--simulate-isa", choices=tuple(SIMULATED_ISAS), default=None,
                        help="run in a child process whose numpy / torch / OpenCV / numba pick "
                             "the kernels of this older instruction set (the cross-machine "
                             "case on one machine)")


def device_type(text: str) -> str:
    """argparse type of ``--device``: the vocabulary of :mod:`bench.device`."""
    from bench.device import check_device

    try:
        return check_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
