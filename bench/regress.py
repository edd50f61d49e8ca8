"""The regression gate: rerun a release record's configuration and compare with the record."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

from bench.compare import DEFAULT_TOLERANCE, compare_runs, comparison_markdown

__all__ = ["default_record", "regress"]


def default_record(reports_dir: str | os.PathLike = "reports") -> Path:
    """``reports/<bench.__version__>/quick``: the record the CI gate reruns."""
    from bench import __version__

    return Path(reports_dir) / __version__ / "quick"


def regress(record: str | os.PathLike | None = None, *, out: str | os.PathLike | None = None,
            tolerance: float = DEFAULT_TOLERANCE, jobs: int | None = None, quiet: bool = True,
            markdown: str | os.PathLike | None = None) -> tuple[int, str]:
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
    """
    from bench.atomic import write_text
    from bench.runner import RunConfig, run_benchmark

    record = Path(record) if record is not None else default_record()
    run_json = record / "run.json"
    if not run_json.is_file():
        raise FileNotFoundError(f"no release record at {record} ({run_json} is missing)")
    saved = json.loads(run_json.read_text(encoding="utf-8"))
    config = RunConfig.from_dict(saved["config"])
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="actbench-regress-")) / "run"
    config = dataclasses.replace(config, out=str(out), jobs=jobs, quiet=quiet)
    candidate = run_benchmark(config)
    table, status = compare_runs(record, candidate, tolerance=tolerance)
    text = comparison_markdown(table, status, baseline=str(record), candidate=str(candidate),
                               tolerance=tolerance)
    if len(table) and (table["mark"] == "x").all():
        status = 2
        text += ("\n**Nothing was comparable**: every method differs in split fingerprint or "
                 "configuration from the record; the gate cannot judge this code.\n")
    if markdown is not None:
        write_text(markdown, text)
    return status, text
