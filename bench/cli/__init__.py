"""Command line: ``python -m bench <verb> [options]``.

Each verb lives in its own module under :mod:`bench.cli` and defines ``HELP`` (one line),
``add_arguments(parser)`` and ``main(args) -> int``. Modules import heavy libraries inside
``main`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys

from bench import __version__
from bench.run.environment import SIMULATED_ISA_MARKER

__all__ = ["main", "build_parser", "VERBS"]

#: Verb name -> module under bench.cli, in the order ``--help`` lists them.
VERBS = {
    "run": "run",
    "list": "list_",
    "manifest": "manifest",
    "preview": "preview",
    "report": "report",
    "compare": "compare",
    "history": "history",
    "regress": "regress",
    "calibrate": "calibrate",
    "perf": "perf",
    "profile": "profile",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="actbench: classical and deep action recognition on identical splits.",
    )
    parser.add_argument("--version", action="version", version=f"actbench {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb, module_name in VERBS.items():
        module = importlib.import_module(f"bench.cli.{module_name}")
        verb_parser = sub.add_parser(
            verb, help=module.HELP, description=module.HELP,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(verb_parser)
        verb_parser.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen verb; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    isa = getattr(args, "simulate_isa", None)
    if isa and os.environ.get(SIMULATED_ISA_MARKER) != isa:
        return _under_simulated_isa(isa, sys.argv[1:] if argv is None else list(argv))
    try:
        return int(args._main(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _under_simulated_isa(name: str, argv: list[str]) -> int:
    """Run this command line again in a child process whose libraries pick ``name``'s kernels.

    The variables (:data:`bench.run.environment.SIMULATED_ISAS`) are read when numpy, torch,
    OpenCV and numba load, so they cannot be set in a process that has imported them; the
    child has ``ACTBENCH_SIMULATED_ISA`` set and runs the verb itself.
    """
    from bench.run.environment import simulated_isa_environment

    try:
        variables = simulated_isa_environment(name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = " ".join(f"{k}={v!r}" for k, v in variables.items())
    print(f"simulating instruction set {name}: {shown}", file=sys.stderr)
    try:
        return subprocess.call([sys.executable, "-m", "bench", *argv],
                               env=simulated_isa_environment(name, os.environ))
    except KeyboardInterrupt:
        return 130
