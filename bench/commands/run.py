"""``python -m bench run``: not implemented yet."""

from __future__ import annotations

import argparse
import sys

HELP = "(run: not implemented yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    print("python -m bench run is not implemented yet", file=sys.stderr)
    return 2
