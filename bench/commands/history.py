"""``python -m bench history``: not implemented yet."""

from __future__ import annotations

import argparse
import sys

HELP = "(history: not implemented yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    print("python -m bench history is not implemented yet", file=sys.stderr)
    return 2
