"""``python -m bench calibrate``: record a release record's run-to-run noise (``noise.csv``)."""

from __future__ import annotations

import argparse
import sys

HELP = ("rerun a release record with other seeds and write its noise.csv, the run-to-run "
        "noise the regression gate is calibrated to")


def _seed_list(text: str) -> list[int]:
    """``1-8`` or ``1,2,5`` (or both, ``1-4,9``) as a list of ints."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, sep, high = part.strip().partition("-")
            seeds += list(range(int(low), int(high) + 1)) if sep else [int(low)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seeds like 1-8 or 1,2,5; got {text!r}") from None
    return seeds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=("recognition", "detection"), default="recognition",
                        help="without --record: the task whose quick record to use "
                             "(detection: reports/<version>/detection/quick)")
    parser.add_argument("--record", default=None, metavar="DIR",
                        help="the release record (default: reports/<version>/quick, or --task's)")
    parser.add_argument("--seeds", type=_seed_list, default=_seed_list("1-8"), metavar="1-8",
                        help="seeds of the replicates, none the record's own")
    parser.add_argument("--jobs", type=int, default=None,
                        help="workers for each rerun (default: this machine's CPU count)")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="keep the replicate run directories under DIR/seed-<S>")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    from bench.report.noise import noise_summary, task_sd_floor
    from bench.report.regress import calibrate, default_record
    from bench.run.config import RunConfigError
    from bench.run.rundir import load_run
    from bench.run.runner import run_benchmark

    try:
        record = args.record if args.record is not None else default_record(task=args.task)
        path = calibrate(record, rerun=run_benchmark, seeds=args.seeds, jobs=args.jobs, quiet=args.quiet,
                         keep=args.keep)
    except (FileNotFoundError, RunConfigError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    data = load_run(path.parent)
    summary = noise_summary(data.noise, floor_points=task_sd_floor(data.task))
    print(f"wrote {path}")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0
