"""``python -m bench profile RUN_DIR``: where a run's time went, stage by stage."""

from __future__ import annotations

import argparse
import sys

HELP = "where a run's time went: seconds per stage (decode, flow, codebook, SVM, training, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    parser.add_argument("--by", choices=("track", "method"), default="track",
                        help="one column per track or per method")


def main(args: argparse.Namespace) -> int:
    from bench.report.costs import stage_markdown
    from bench.run.rundir import load_run

    try:
        data = load_run(args.run_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"profile: {exc}", file=sys.stderr)
        return 2
    text = stage_markdown(data, by=args.by)
    if not text:
        print(f"profile: {args.run_dir} has no stage timings (its units' timing.json have no "
              "'stages'; runs written before actbench recorded them). Run it again.",
              file=sys.stderr)
        return 2
    print(text)
    return 0
