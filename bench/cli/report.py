"""``python -m bench report RUN_DIR``: regenerate report.md and figures/ from a run directory."""

from __future__ import annotations

import argparse

HELP = "write report.md and figures/*.png of a run directory from its files alone"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (holds run.json)")
    parser.add_argument("--solve-threshold", type=float, default=0.8,
                        help="two-way accuracy at which a method 'solves' a class pair")


def main(args: argparse.Namespace) -> int:
    from bench.report import write_report

    path = write_report(args.run_dir, solve_threshold=args.solve_threshold)
    print(f"wrote {path}")
    return 0
