"""``python -m bench regress``: rerun a release record's config and compare with the record."""

from __future__ import annotations

import argparse
import sys

from bench.cli._arguments import add_simulate_isa_argument
from bench.cli.compare import DEFAULT_TOLERANCE

HELP = ("rerun a release record's config (default reports/<version>/quick) and compare; "
        "exit 1 on a significant regression")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=("recognition", "detection"), default="recognition",
                        help="without --record: the task whose quick record to use "
                             "(detection: reports/<version>/detection/quick)")
    parser.add_argument("--record", default=None, metavar="DIR",
                        help="the release record to rerun (default: reports/<version>/quick, or --task's)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="run directory of the rerun (default: a new temporary folder)")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="points of top-1 (detection: of mAP@0.5) a significant drop must exceed to fail")
    parser.add_argument("--jobs", type=int, default=None,
                        help="workers for the rerun (default: this machine's CPU count)")
    parser.add_argument("--markdown", metavar="FILE", default=None,
                        help="also write the comparison as Markdown to FILE")
    parser.add_argument("--methods", default=None, metavar="A,B,...",
                        help="rerun and compare only these methods of the record "
                             "(default: all of them)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="rerun with this seed instead of the record's (a calibrated "
                             "record's replicates span seeds, so the gate must take it for noise)")
    parser.add_argument("--statistical", action="store_true",
                        help="compare statistically even in the record's own environment")
    add_simulate_isa_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    from bench.cli.run import run_and_report
    from bench.report.regress import default_record, regress
    from bench.run.config import RunConfigError

    methods = None if args.methods is None else args.methods.split(",")
    try:
        record = args.record if args.record is not None else default_record(task=args.task)
        status, text = regress(record, rerun=run_and_report, out=args.out, tolerance=args.tolerance,
                               jobs=args.jobs, quiet=args.quiet, markdown=args.markdown,
                               methods=methods, seed=args.seed, statistical=args.statistical)
    except (FileNotFoundError, RunConfigError) as exc:
        print(f"regress: {exc}", file=sys.stderr)
        return 2
    print(text)
    return status
