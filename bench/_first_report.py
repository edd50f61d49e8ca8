"""A minimal first ``report.md`` (run summary, leaderboard, per-class F1).

Used by the runner only while :mod:`bench.report` (the full report) is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.atomic import write_text

__all__ = ["write_first_report"]

_LEADERBOARD_METRICS = ("top1", "top5", "mean_class_acc", "macro_f1", "train_time_s")


def write_first_report(run_dir: str | Path) -> Path:
    """Write ``report.md`` for the run in ``run_dir`` from its run.json and CSV files.

    Returns
    -------
    pathlib.Path
        The report's path.
    """
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    results = pd.read_csv(run_dir / "results.csv")
    failures = pd.read_csv(run_dir / "failures.csv", dtype=str, keep_default_na=False)
    dataset = record["dataset"]
    lines = [
        f"# actbench run: {dataset['name']}",
        "",
        f"- created: {record['created']}; status: {record['status']}",
        f"- seed: {record['seed']}; git commit: {record.get('git_commit')}",
        f"- classes: {len(dataset['classes'])}; folds: "
        + ", ".join(f"{k} ({v['counts']['train']} train / {v['counts']['test']} test, "
                    f"fingerprint {v['fingerprint'][:12]})" for k, v in dataset["folds"].items()),
        f"- failures: {len(failures)} row(s) in failures.csv",
        "",
        "## Leaderboard (mean over folds)",
        "",
    ]
    if results.empty:
        lines.append("No method produced results.")
    else:
        wide = results[results["metric"].isin(_LEADERBOARD_METRICS)].pivot_table(
            index=["method", "track"], columns="metric", values="value", aggfunc="mean")
        wide = wide.reindex(columns=[m for m in _LEADERBOARD_METRICS if m in wide.columns])
        wide = wide.sort_values("top1", ascending=False) if "top1" in wide else wide
        lines.append(wide.reset_index().to_markdown(index=False, floatfmt=".3f"))
        f1 = results[results["metric"].str.startswith("f1:")].copy()
        if not f1.empty:
            f1["class"] = f1["metric"].str.slice(3)
            table = f1.pivot_table(index="class", columns="method", values="value",
                                   aggfunc="mean")
            lines += ["", "## Per-class F1 (mean over folds)", "",
                      table.reset_index().to_markdown(index=False, floatfmt=".3f")]
    failed_units = failures[failures["stage"] == "method"]
    if not failed_units.empty:
        lines += ["", "## Failed units", "",
                  failed_units.to_markdown(index=False)]
    path = run_dir / "report.md"
    write_text(path, "\n".join(lines) + "\n")
    return path
