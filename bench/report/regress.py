"""The regression gate: rerun a release record's configuration and compare with the record.

The report stage never imports the runner: the rerun is handed in by the caller (the
``regress`` and ``calibrate`` verbs pass :func:`bench.cli.run.run_and_report` and
:func:`bench.run.runner.run_benchmark`), a function from a
:class:`bench.run.config.RunConfig` to the run directory it wrote.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.paths import release_record
from bench.report.compare import DEFAULT_TOLERANCE, compare_runs, comparison_markdown

__all__ = ["default_record", "regress", "calibrate"]


def default_record(reports_dir: str | os.PathLike = "reports", task: str = "recognition") -> Path:
    """``reports/<bench.__version__>/quick`` (detection: ``.../detection/quick``): the record
    the CI gate reruns (:func:`bench.paths.release_record`)."""
    return release_record(quick=True, reports_dir=reports_dir, task=task)


def regress(record: str | os.PathLike | None = None, *, rerun: Callable[..., Path], out: str | os.PathLike | None = None,
            tolerance: float = DEFAULT_TOLERANCE, jobs: int | None = None, quiet: bool = True,
            markdown: str | os.PathLike | None = None,
            methods: Sequence[str] | None = None, seed: int | None = None,
            statistical: bool = False) -> tuple[int, str]:
    """Rerun ``record``'s configuration and compare the new run with it.

    Parameters
    ----------
    record : path-like, optional
        A release record (run directory). Default :func:`default_record`.
    rerun : callable
        ``rerun(config) -> run directory``: runs the record's configuration (and writes its
        report, if the caller wants one).
    out : path-like, optional
        Run directory of the rerun; default a new folder under the system temporary folder.
    tolerance : float
        Points of top-1 a significant drop must exceed to fail (:func:`bench.report.compare.compare_runs`).
    jobs : int, optional
        Workers of the rerun (the record's own value was its machine's); ``None`` = CPU count.
        Results must not depend on it.
    quiet : bool
        No progress bars.
    markdown : path-like, optional
        Also write the comparison's Markdown there.
    methods : sequence of str, optional
        Rerun and compare only these methods of the record (same dataset, folds, seed and
        parameters); the record's other methods are left out of the comparison, and one line
        of the Markdown names them. ``None`` (default) = every method of the record.
    seed : int, optional
        Rerun with this seed instead of the record's: a check that the gate takes a seed change
        (part of the noise a calibrated record's replicates span) for noise. Only the methods
        of the record's ``noise.csv`` are compared then; the others are marked ``x``.
    statistical : bool
        Compare statistically even in the record's own environment
        (:func:`bench.report.compare.compare_runs`).

    Returns
    -------
    exit_status : int
        :func:`bench.report.compare.compare_runs`'s status (1 = significant regression), or 2 when
        no (method, fold) of the record could be compared at all.
    text : str
        The comparison as Markdown.

    Raises
    ------
    FileNotFoundError
        When the record (its ``run.json``) does not exist.
    bench.run.config.RunConfigError
        When ``methods`` is empty or names a method the record does not have.
    """
    from bench.atomic import write_text
    from bench.run.config import RunConfig

    record = Path(record) if record is not None else default_record()
    run_json = record / "run.json"
    if not run_json.is_file():
        raise FileNotFoundError(f"no release record at {record} ({run_json} is missing)")
    saved = json.loads(run_json.read_text(encoding="utf-8"))
    config = RunConfig.from_dict(saved["config"])
    recorded = list(config.methods or saved.get("methods") or [])
    chosen = None if methods is None else _chosen_methods(methods, recorded, record)
    if chosen is not None:
        config = dataclasses.replace(config, methods=chosen)
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="actbench-regress-")) / "run"
    config = dataclasses.replace(config, out=str(out), jobs=jobs, quiet=quiet,
                                 seed=config.seed if seed is None else int(seed))
    candidate = Path(rerun(config))
    table, status = compare_runs(record, candidate, tolerance=tolerance, methods=chosen,
                                 statistical=statistical, allow_seed_change=seed is not None)
    text = comparison_markdown(table, status, baseline=str(record), candidate=str(candidate),
                               tolerance=tolerance)
    if chosen is not None and (left_out := [name for name in recorded if name not in chosen]):
        text += ("\nNot rerun (left out by `--methods`): "
                 + ", ".join(f"`{name}`" for name in left_out) + ".\n")
    if len(table) and (table["mark"] == "x").all():
        status = 2
        text += ("\n**Nothing was comparable**: every method differs in split fingerprint or "
                 "configuration from the record; the gate cannot judge this code.\n")
    if markdown is not None:
        write_text(markdown, text)
    return status, text


def _chosen_methods(methods: Sequence[str], recorded: list[str], record: Path) -> list[str]:
    """``methods`` without repeats, checked against the record's methods."""
    from bench.run.config import RunConfigError

    chosen = list(dict.fromkeys(name.strip() for name in methods if name.strip()))
    unknown = [name for name in chosen if name not in recorded]
    if not chosen or unknown:
        problem = (f"{', '.join(unknown)} not in the record" if unknown
                   else "no method name given")
        raise RunConfigError(f"--methods: {problem} ({record}); the record's methods are: "
                             f"{', '.join(recorded)}. Pick some of those.")
    return chosen


def calibrate(record: str | os.PathLike | None = None, *, rerun: Callable[..., Path],
              seeds: Sequence[int],
              jobs: int | None = None, quiet: bool = True,
              keep: str | os.PathLike | None = None) -> Path:
    """Rerun ``record``'s configuration with other seeds and write its ``noise.csv``.

    Each seed is one replicate: the same dataset, folds, methods and parameters, with every
    seeded choice (initialisation, data order, k-means and GMM starts, sampling) drawn again.
    The replicates' accuracies, with the record's own as replicate 0, are what the gate of
    :func:`bench.report.compare.compare_runs` calibrates to (:mod:`bench.report.noise`).

    Parameters
    ----------
    record : path-like, optional
        The release record; default :func:`default_record`.
    rerun : callable
        ``rerun(config) -> run directory`` (:func:`bench.run.runner.run_benchmark`).
    seeds : sequence of int
        Seeds of the replicates; none may be the record's own seed. At least two.
    jobs : int, optional
        Workers of each rerun; ``None`` = CPU count.
    quiet : bool
        No progress bars of the reruns.
    keep : path-like, optional
        Keep the replicate run directories under this folder (``seed-<S>``); default a
        temporary folder that is removed.

    Returns
    -------
    pathlib.Path
        The written ``noise.csv``. ``run.json`` gains a ``noise`` entry (file, replicates with
        their seed and environment key, how they were made).

    Raises
    ------
    FileNotFoundError
        When the record does not exist.
    bench.run.config.RunConfigError
        When fewer than two seeds are given, a seed repeats, or one is the record's seed.
    """
    import shutil

    from bench.report.noise import detection_replicate_rows, replicate_rows
    from bench.run.config import RunConfig, RunConfigError
    from bench.run.rundir import NOISE_FILE, RunData, load_run, write_noise, write_run_record

    record = Path(record) if record is not None else default_record()
    data = load_run(record)
    config = RunConfig.from_dict(data.run["config"])
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or config.seed in seeds:
        raise RunConfigError(
            f"calibrate needs at least two distinct seeds other than the record's own "
            f"({config.seed}); got {seeds}. Example: --seeds 1-8.")
    own_key = (data.environment or {}).get("key")

    def replicate(run_dir: Path, run: RunData, index: int, seed: int, key) -> list[dict]:
        if run.task == "detection":
            return detection_replicate_rows(run_dir, replicate=index, seed=seed,
                                            environment=str(key))
        return replicate_rows(run.predictions, replicate=index, seed=seed, environment=str(key))

    rows = replicate(record, data, 0, config.seed, own_key)
    replicates = [{"replicate": 0, "seed": config.seed, "environment": own_key}]
    workspace = Path(keep) if keep is not None else Path(tempfile.mkdtemp(
        prefix="actbench-calibrate-"))
    try:
        for index, seed in enumerate(seeds, start=1):
            print(f"calibrate: replicate {index}/{len(seeds)} (seed {seed})", flush=True)
            out = workspace / f"seed-{seed}"
            run_dir = rerun(dataclasses.replace(config, seed=seed, out=str(out),
                                                        jobs=jobs, quiet=quiet))
            replicate_run = load_run(run_dir)
            key = (replicate_run.environment or {}).get("key")
            rows += replicate(Path(run_dir), replicate_run, index, seed, key)
            replicates.append({"replicate": index, "seed": seed, "environment": key})
    finally:
        if keep is None:
            shutil.rmtree(workspace, ignore_errors=True)
    noise_path = write_noise(record, rows)
    run = dict(data.run)
    run["noise"] = {
        "file": NOISE_FILE,
        "replicates": replicates,
        "how": ("the record's configuration rerun with each seed (python -m bench calibrate); "
                "replicate 0 is the record itself"),
    }
    write_run_record(record, run)
    return noise_path
