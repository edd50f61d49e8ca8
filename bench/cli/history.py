"""``python -m bench history``: each method's accuracy across the release records in reports/."""

from __future__ import annotations

import argparse

HELP = "table and plot of every method's top-1 across the release records in reports/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="folder of release records: DIR/<version>/ and DIR/<version>/quick/")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="where to write history.md/.csv/.png (default: the --reports folder)")


def main(args: argparse.Namespace) -> int:
    from bench.report.history import write_history

    history, path = write_history(args.reports, args.out)
    records = history[["version", "kind"]].drop_duplicates()
    print(path.read_text(encoding="utf-8"))
    print(f"wrote {path} ({len(records)} record(s), {history['method'].nunique()} method(s))")
    return 0
