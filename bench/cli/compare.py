"""``python -m bench compare BASELINE_DIR CANDIDATE_DIR``: is the candidate significantly worse?"""

from __future__ import annotations

import argparse

#: Same value as bench.report.compare.DEFAULT_TOLERANCE (a test checks it); kept here so that building
#: the CLI parser does not import pandas.
DEFAULT_TOLERANCE = 2.0

HELP = ("compare two run directories per method and fold (bitwise in one environment, "
        "statistical across environments); exit 1 on a regression")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", metavar="BASELINE_DIR", help="the reference run directory")
    parser.add_argument("candidate", metavar="CANDIDATE_DIR", help="the run directory to judge")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="points of top-1 (detection: of mAP@0.5) a significant drop must exceed to fail")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="family-wise error rate of the statistical comparison (Holm "
                             "across all methods)")
    parser.add_argument("--statistical", action="store_true",
                        help="compare statistically even when the two runs share an "
                             "environment (default there: predictions must be identical)")
    parser.add_argument("--allow-seed-change", action="store_true",
                        help="compare a candidate run with another seed than the baseline's, "
                             "for the methods the baseline's noise.csv calibrates")
    parser.add_argument("--n-boot", type=int, default=2000, help="paired bootstrap resamples")
    parser.add_argument("--markdown", metavar="FILE", default=None,
                        help="write the Markdown table to FILE instead of stdout (for a PR comment)")


def main(args: argparse.Namespace) -> int:
    from bench.atomic import write_text
    from bench.report.compare import compare_runs, comparison_markdown

    table, status = compare_runs(args.baseline, args.candidate, tolerance=args.tolerance,
                                 alpha=args.alpha, n_boot=args.n_boot,
                                 statistical=args.statistical,
                                 allow_seed_change=args.allow_seed_change)
    text = comparison_markdown(table, status, baseline=args.baseline, candidate=args.candidate,
                               tolerance=args.tolerance)
    if args.markdown:
        write_text(args.markdown, text)
        marks = table["mark"].value_counts().to_dict()
        print(f"wrote {args.markdown}; marks: {marks}; exit status {status}")
    else:
        print(text)
    return status
