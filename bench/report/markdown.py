"""``report.md`` and ``figures/*.png``, regenerated from a run directory alone.

The report is meant to be read on GitHub: a run summary, then the task's sections (for
recognition: a leaderboard, per-class F1, the history of the field and one confusion matrix
per method, :mod:`bench.report.recognition`; detection: :mod:`bench.report.detection`;
localization: :mod:`bench.report.localization`), training curves, run-to-run noise of a release
record and the videos that failed (:mod:`bench.report.run_sections`).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.atomic import write_text
from bench.report.detection import CONTENTS as DETECTION_CONTENTS
from bench.report.detection import detection_sections
from bench.report.generations import DEFAULT_SOLVE_THRESHOLD
from bench.report.localization import CONTENTS as LOCALIZATION_CONTENTS
from bench.report.localization import localization_sections
from bench.report.recognition import CONTENTS as RECOGNITION_CONTENTS
from bench.report.recognition import recognition_sections
from bench.report.run_sections import (
    failures_section,
    noise_section,
    summary_section,
    time_section,
    training_section,
)
from bench.report.text import guarded
from bench.run.rundir import load_run, method_order

__all__ = ["write_report", "TASK_REPORTS"]

#: Per task: its entries of the table of contents and the function writing its sections
#: ``(data, figures, solve_threshold) -> lines``.
TASK_REPORTS = {"recognition": (RECOGNITION_CONTENTS, recognition_sections),
                "detection": (DETECTION_CONTENTS, detection_sections),
                "localization": (LOCALIZATION_CONTENTS, localization_sections)}


def write_report(run_dir: str | os.PathLike, *,
                 solve_threshold: float = DEFAULT_SOLVE_THRESHOLD) -> Path:
    """Write ``report.md`` and ``figures/*.png`` into a run directory, from its files alone.

    Parameters
    ----------
    run_dir : path-like
        A run directory (``run.json``, ``results.csv``, ``predictions.csv``, optionally
        ``failures.csv``).
    solve_threshold : float, default 0.8
        Two-way accuracy at which a method counts as solving a class pair.

    Returns
    -------
    Path
        The path of ``report.md``.

    Notes
    -----
    The leaderboard shows ``results.csv`` as written by the runner; confusion matrices, class
    pair accuracies and camera-motion accuracies are computed from ``predictions.csv``. Running
    it twice gives the same Markdown.

    References
    ----------
    .. [1] Laptev, I., Marszalek, M., Schmid, C., Rozenfeld, B. "Learning realistic human
       actions from movies", CVPR 2008. doi:10.1109/CVPR.2008.4587756 (the classical line).
    .. [2] Carreira, J., Zisserman, A. "Quo Vadis, Action Recognition? A New Model and the
       Kinetics Dataset", CVPR 2017. arXiv:1705.07750 (the deep line).
    """
    if not 0.5 < solve_threshold <= 1.0:
        raise ValueError(f"solve_threshold must be in (0.5, 1]; got {solve_threshold}.")
    data = load_run(run_dir)
    figures = data.run_dir / "figures"
    figures.mkdir(exist_ok=True)
    if data.task not in TASK_REPORTS:
        raise ValueError(f"{data.run_dir}: no report for task {data.task!r}; known tasks: "
                         f"{', '.join(TASK_REPORTS)}")
    contents, task_sections = TASK_REPORTS[data.task]
    time_lines = guarded("Where the time went", time_section, data)
    order = method_order(data)
    name = data.run.get("dataset", {}).get("name", "?")
    lines = [f"# actbench report: `{name}`, {len(order)} methods", "",
             "Contents: [run summary](#run-summary) · " + contents + " · [training](#training) · "
             + ("[where the time went](#where-the-time-went) · " if time_lines else "")
             + ("[run-to-run noise](#run-to-run-noise) · " if data.noise is not None else "")
             + "[failures](#failures)", ""]
    if data.run.get("status") != "complete":
        lines += [f"> **This run is not complete** (status: {data.run.get('status')!r}); "
                  "numbers cover the finished units only.", ""]
    lines += summary_section(data)
    lines += task_sections(data, figures, solve_threshold)
    lines += guarded("Training", training_section, data, figures)
    lines += time_lines
    lines += guarded("Run-to-run noise", noise_section, data)
    lines += failures_section(data)
    path = data.run_dir / "report.md"
    write_text(path, "\n".join(lines).rstrip() + "\n")
    return path
