"""``python -m bench run``: run methods on a dataset's folds into a run directory."""

from __future__ import annotations

import argparse
import sys

from bench.cli._arguments import add_simulate_isa_argument, device_type, key_value
from bench.device import DEVICE_HELP
from bench.methods import TASKS

HELP = "run methods on a dataset's folds and write a run directory (results, predictions, report)"

_SUPPRESS = argparse.SUPPRESS

#: CLI destinations that map to a dataset option rather than a RunConfig field.
_DATASET_OPTIONS = {"preset": "preset", "group_pattern": "group_pattern"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--config", metavar="FILE.toml", default=_SUPPRESS,
      help="TOML file whose top-level keys are RunConfig fields (task, dataset, root, annotations, "
           "protocol, methods, folds, seed, jobs, device, quick, out, quiet, max_failure_rate, "
           "allow_missing, and the tables dataset_options, method_params, options); the "
           "options given on the command line override it")
    a("--task", choices=TASKS, default=_SUPPRESS,
      help="the task of the run: recognition (one label per clip), detection (temporal "
           "segments) or localization (actor boxes with actions per keyframe, AVA style); "
           "the default suite is every method of that task; default: recognition")
    a("--dataset", metavar="D", default=_SUPPRESS,
      help="dataset adapter (see `python -m bench list`); default: the task's generated "
           "set, no download (recognition: synthetic; detection and localization: untrimmed)")
    a("--root", metavar="R", default=_SUPPRESS,
      help="dataset root folder (datasets read from disk)")
    a("--annotations", metavar="DIR", default=_SUPPRESS,
      help="folder of the official split/annotation files, when the dataset needs one")
    a("--protocol", metavar="P", default=_SUPPRESS,
      help="split protocol of the adapter, e.g. holdout, kfold or logo for `folder`; "
           "default: the adapter's own")
    a("--preset", metavar="P", default=_SUPPRESS,
      help="dataset preset (synthetic, untrimmed: quick or default); default: quick with "
           "--quick, else default")
    a("--group-pattern", metavar="REGEX", default=_SUPPRESS,
      help="`folder` dataset: regular expression whose first group (or whole match) in the "
           "file name is the group key; default: the part before the first `_`")
    a("--methods", metavar="a,b,...", default=_SUPPRESS,
      help="comma-separated method names; default: the whole suite (every registered method)")
    a("--folds", metavar="1,2,3|all", default=_SUPPRESS,
      help="folds to run, comma-separated, or `all`; default: 1")
    a("--seed", type=int, metavar="S", default=_SUPPRESS,
      help="seed for every method and for the bootstrap intervals; default: 0")
    a("--jobs", type=int, metavar="N", default=_SUPPRESS,
      help="worker processes/threads for the probe and the methods; default: all CPUs")
    a("--device", type=device_type, metavar="DEVICE", default=_SUPPRESS,
      help=f"device for deep methods: {DEVICE_HELP}; default: auto")
    a("--out", metavar="DIR", default=_SUPPRESS,
      help="run directory to create; default: runs/<dataset>-<UTC timestamp>")
    a("--quick", action="store_true", default=_SUPPRESS,
      help="small, fast method configurations and the quick preset of the generated "
           "datasets (synthetic, untrimmed) (tests, CI)")
    a("--resume", metavar="DIR", default=None,
      help="finish an interrupted run: reuse DIR/run.json's config, check the split "
           "fingerprints, keep the finished (method, fold) units and redo the rest "
           "(only --quiet is taken from the command line)")
    a("--quiet", action="store_true", default=_SUPPRESS, help="no progress bars")
    add_simulate_isa_argument(parser)
    a("--max-failure-rate", type=float, metavar="F", default=_SUPPRESS,
      help="stop the run (exit status 2) when more than this share of the videos fail "
           "(probe or inside a method); default: 0.05")
    a("--allow-missing", action="store_true", default=_SUPPRESS,
      help="exclude videos listed by the dataset but missing on disk (recorded in run.json) "
           "instead of stopping with the list")
    a("--option", type=key_value, action="append", metavar="KEY=VALUE", default=_SUPPRESS,
      help="extra option for every method (MethodContext.options), repeatable; VALUE is "
           "parsed as JSON when it can be; n_boot=N sets the bootstrap resamples (default 1000)")


def _config_from_args(args: argparse.Namespace):
    from bench.run.config import DEFAULT_DATASETS, RunConfig

    given = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    config = RunConfig.from_toml(given.pop("config")) if "config" in given else RunConfig()
    given.pop("verb", None)
    given.pop("resume", None)
    given.pop("simulate_isa", None)
    overrides: dict = {}
    dataset_options = dict(config.dataset_options)
    for dest, option in _DATASET_OPTIONS.items():
        if dest in given:
            dataset_options[option] = given.pop(dest)
    if "option" in given:
        overrides["options"] = {**config.options, **dict(given.pop("option"))}
    overrides.update(given)
    overrides["dataset_options"] = dataset_options
    base = config.to_dict()
    if "dataset" not in overrides and base["dataset"] == DEFAULT_DATASETS[config.task]:
        base.pop("dataset")  # the default dataset of the task the command line asks for
    return RunConfig.from_dict({**base, **overrides})


def _print_summary(run_dir) -> None:
    import pandas as pd

    results = pd.read_csv(run_dir / "results.csv")
    headlines = (("top1", "top-1"), ("map@0.50", "mAP@0.5"), ("frame_map@0.50", "frame-mAP@0.5"))
    metric, title = next(((m, t) for m, t in headlines if (results["metric"] == m).any()),
                         headlines[0])
    headline = results[results["metric"] == metric].groupby("method")["value"].mean()
    failures = pd.read_csv(run_dir / "failures.csv")
    print(f"run directory: {run_dir}")
    for method, value in headline.sort_values(ascending=False).items():
        print(f"  {method:<24s} {title} {value:.3f}")
    if len(failures):
        print(f"  {len(failures)} failure row(s): see {run_dir / 'failures.csv'}")


def run_and_report(config, resume_dir=None):
    """Run ``config`` (:func:`bench.run.runner.run_benchmark`), then write its report.

    The verb's whole job, also the rerun of ``regress``; returns the run directory.
    """
    from bench.report import write_report
    from bench.run.runner import run_benchmark

    run_dir = run_benchmark(config, resume_dir=resume_dir)
    write_report(run_dir)
    return run_dir


def main(args: argparse.Namespace) -> int:
    from bench.run.config import FailureRateExceeded, RunConfigError

    if args.resume is not None:
        ignored = sorted(k for k in vars(args) if not k.startswith("_")
                         and k not in ("verb", "resume", "quiet", "simulate_isa"))
        if ignored:
            print(f"warning: --resume reuses the run's own config; ignoring {ignored}",
                  file=sys.stderr)
    try:
        config = _config_from_args(args)
        run_dir = run_and_report(config, resume_dir=args.resume)
    except (RunConfigError, FailureRateExceeded) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    _print_summary(run_dir)
    return 0
