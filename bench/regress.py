"""The regression gate: rerun a release record's configuration and compare with the record."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.compare import DEFAULT_TOLERANCE, compare_runs, comparison_markdown

__all__ = ["default_record", "regress"]


def default_record(reports_dir: str | os.PathLike = "reports") -> Path:
    """``reports/<bench.__version__>/quick``: the record the CI gate reruns."""
    from bench import __version__

    return Path(reports_dir) / __version__ / "quick"


def regress(record: str | os.PathLike | None = None, *, out: str | os.PathLike | None = None,
            tolerance: float = DEFAULT_TOLERANCE, jobs: int | None = None, quiet: bool = True,
            markdown: str | os.PathLike | None = None,
            methods: Sequence[str] | None = None) -> tuple[int, str]:
    """Rerun ``record``'s configuration and compare the new run with it.

    Parameters
    ----------
    record : path-like, optional
        A release record (run directory). Default :func:`default_record`.
    out : path-like, optional
        Run directory of the rerun; default a new folder under the system temporary folder.
    tolerance : float
        Points of top-1 a significant drop must exceed to fail (:func:`bench.compare.compare_runs`).
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

    Returns
    -------
    exit_status : int
        :func:`bench.compare.compare_runs`'s status (1 = significant regression), or 2 when
        no (method, fold) of the record could be compared at all.
    text : str
        The comparison as Markdown.

    Raises
    ------
    FileNotFoundError
        When the record (its ``run.json``) does not exist.
    bench.runner.RunConfigError
        When ``methods`` is empty or names a method the record does not have.
    """
    from bench.atomic import write_text
    from bench.runner import RunConfig, run_benchmark

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
    config = dataclasses.replace(config, out=str(out), jobs=jobs, quiet=quiet)
    candidate = run_benchmark(config)
    table, status = compare_runs(record, candidate, tolerance=tolerance, methods=chosen)
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
    from bench.runner import RunConfigError

    chosen = list(dict.fromkeys(name.strip() for name in methods if name.strip()))
    unknown = [name for name in chosen if name not in recorded]
    if not chosen or unknown:
        problem = (f"{', '.join(unknown)} not in the record" if unknown
                   else "no method name given")
        raise RunConfigError(f"--methods: {problem} ({record}); the record's methods are: "
                             f"{', '.join(recorded)}. Pick some of those.")
    return chosen
