"""``python -m bench list``: the registered datasets and methods."""

from __future__ import annotations

import argparse

from bench.methods import TASKS

HELP = "list the datasets and the methods (track, task, year, paper)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--track", choices=("reference", "classical", "deep"), default=None,
                        help="only the methods of this track")
    parser.add_argument("--task", choices=TASKS, default=None,
                        help="only the methods of this task")
    parser.add_argument("--pattern", default="*",
                        help="only the methods whose name matches this shell-style wildcard")


def main(args: argparse.Namespace) -> int:
    from bench.data.datasets import list_datasets
    from bench.methods import _TRACK_ERRORS, list_methods

    print("Datasets")
    for info in list_datasets():
        where = "needs --root" if info.needs_root else "generated, no download"
        print(f"  {info.name:<12s} {info.description} ({where})")
    print()
    print("Methods")
    for card in list_methods(args.pattern, args.track, args.task):
        print(f"  {card.name:<22s} {card.track:<9s} {card.task:<12s} {card.year}  {card.paper}")
    for module, error in sorted(_TRACK_ERRORS.items()):
        print(f"  (track module {module} not loaded: {error})")
    return 0
