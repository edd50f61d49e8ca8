"""``python -m bench manifest``: build a dataset's manifest, write it, print counts and fingerprint."""

from __future__ import annotations

import argparse
import sys

from bench.cli._arguments import key_value

HELP = "build a dataset's manifest (one fold's subsets) and print its counts and fingerprint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True,
                        help="dataset adapter (see `python -m bench list`), e.g. ucf101, folder")
    parser.add_argument("--root", default=None, help="dataset root folder (not for synthetic)")
    parser.add_argument("--annotations", default=None,
                        help="official split/annotation files (folder or CSV); default: the "
                             "dataset's usual place under ROOT (see docs/datasets.md)")
    parser.add_argument("--fold", type=int, default=1, help="fold written as the subset column")
    parser.add_argument("--protocol", default=None,
                        help="split protocol (folder: holdout, kfold, logo)")
    parser.add_argument("--group-pattern", default=None, metavar="REGEX",
                        help="folder: regex whose (only or named 'group') capture group is the "
                             "group key; default: the file-name part before the first '_'")
    parser.add_argument("--allow-missing", action="store_true",
                        help="exclude videos named by the split files but absent from disk "
                             "(recorded in meta['missing']) instead of failing")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of seeded splits / generated datasets (adapter default if unset)")
    parser.add_argument("--option", action="append", default=[], type=key_value,
                        metavar="KEY=VALUE",
                        help="extra adapter option, repeatable (e.g. test_size=0.3, n_splits=3, "
                             "use_validation=false)")
    parser.add_argument("--out", required=True, help="CSV file to write")


def _adapter_options(args: argparse.Namespace) -> dict:
    """The options handed to the adapter: only those the user set."""
    options: dict = dict(args.option)
    if args.protocol is not None:
        options["protocol"] = args.protocol
    if args.group_pattern is not None:
        options["group_pattern"] = args.group_pattern
    if args.allow_missing:
        options["allow_missing"] = True
    if args.seed is not None:
        options["seed"] = args.seed
    return options


def main(args: argparse.Namespace) -> int:
    from bench.data.datasets import load_dataset

    try:
        manifest = load_dataset(args.dataset, args.root, args.annotations,
                                **_adapter_options(args))
        counts = manifest.counts(args.fold)
        fingerprint = manifest.fingerprint(args.fold)
        manifest.to_csv(args.out, args.fold)
    except (KeyError, ValueError, TypeError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    missing = manifest.meta.get("missing") or []
    print(f"dataset {manifest.dataset}: {len(manifest.table)} videos, "
          f"{len(manifest.classes)} classes, folds {manifest.folds}")
    print(f"fold {args.fold}: " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"fingerprint fold {args.fold}: {fingerprint}")
    if missing:
        print(f"missing videos excluded: {len(missing)}, e.g. " + ", ".join(missing[:10]))
    print(f"wrote {args.out}")
    return 0
