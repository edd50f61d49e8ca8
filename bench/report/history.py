"""Accuracy across releases: every method's top-1 in every release record under ``reports/``.

A release record is a run directory committed at release time: ``reports/<version>/`` (the
default benchmark) and ``reports/<version>/quick`` (the small record the CI regression gate
reruns). Records of the two kinds are different benchmarks and are kept apart.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bench.atomic import write_csv, write_text
from bench.run.rundir import load_run

__all__ = ["find_records", "collect_history", "write_history", "version_key"]

RECORD_KINDS = ("default", "quick")


def version_key(version: str) -> tuple:
    """Sort key for release versions (PEP 440 when ``packaging`` is there, else natural order)."""
    try:
        from packaging.version import InvalidVersion, Version

        try:
            return (0, Version(version))
        except InvalidVersion:
            pass
    except ImportError:  # pragma: no cover - packaging ships with pip/setuptools
        pass
    parts = re.split(r"(\d+)", version)
    return (1, tuple(int(p) if p.isdigit() else p for p in parts if p))


def find_records(reports_dir: str | os.PathLike) -> list[tuple[str, str, Path]]:
    """``(version, kind, path)`` of every release record under ``reports_dir``, by version.

    ``kind`` is ``"default"`` for ``reports/<version>/`` and ``"quick"`` for
    ``reports/<version>/quick``; a folder counts when it holds a ``run.json``.
    """
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        raise FileNotFoundError(f"reports folder {reports_dir} does not exist (use --reports)")
    records = []
    for folder in reports_dir.iterdir():
        if not folder.is_dir():
            continue
        for kind, path in (("default", folder), ("quick", folder / "quick")):
            if (path / "run.json").is_file():
                records.append((folder.name, kind, path))
    return sorted(records, key=lambda r: (version_key(r[0]), RECORD_KINDS.index(r[1])))


def collect_history(reports_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per (record, method): version, kind, method, track, year, top1 (mean over folds,
    percent), top1_std (over folds), folds, fingerprints (joined), record path."""
    rows = []
    for version, kind, path in find_records(reports_dir):
        data = load_run(path)
        top1 = data.results[data.results["metric"] == "top1"]
        for method, group in top1.groupby("method", sort=True):
            card = data.methods.get(method, {})
            rows.append(dict(version=version, kind=kind, method=method,
                             track=card.get("track", group["track"].iloc[0]),
                             year=card.get("year"), top1=100 * group["value"].mean(),
                             top1_std=100 * group["value"].std(ddof=1) if len(group) > 1 else np.nan,
                             folds=len(group),
                             fingerprints=" ".join(sorted(set(map(str, group["fingerprint"])))),
                             record=str(path)))
    columns = ["version", "kind", "method", "track", "year", "top1", "top1_std", "folds",
               "fingerprints", "record"]
    return pd.DataFrame(rows, columns=columns)


def _history_figure(history: pd.DataFrame, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from bench.report.figures import TRACK_COLORS, WIDTH_IN, save_figure

    kinds = [k for k in RECORD_KINDS if k in set(history["kind"])]
    fig, axes = plt.subplots(len(kinds), 1, figsize=(WIDTH_IN, 4.2 * len(kinds)),
                             layout="constrained", squeeze=False)
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        part = history[history["kind"] == kind]
        versions = sorted(part["version"].unique(), key=version_key)
        x_of = {v: i for i, v in enumerate(versions)}
        order = part.drop_duplicates("method").sort_values(["year", "method"])
        markers = "osD^v<>ph*"
        for i, row in enumerate(order.itertuples()):
            mine = part[part["method"] == row.method].sort_values(
                "version", key=lambda s: s.map(version_key))
            ax.plot(mine["version"].map(x_of), mine["top1"], marker=markers[i % len(markers)],
                    color=TRACK_COLORS.get(row.track, "k"), alpha=0.85,
                    label=f"{row.method} ({row.year})")
        ax.set_xticks(range(len(versions)), versions)
        ax.set_xlim(-0.5, len(versions) - 0.5)
        ax.set_ylim(0, 105)
        ax.set_xlabel("release")
        ax.set_ylabel("top-1 accuracy (%)")
        title = "default benchmark" if kind == "default" else "quick record (CI regression gate)"
        ax.set_title(f"Top-1 accuracy per release: {title}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncols=2, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save_figure(fig, path)


def write_history(reports_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None
                  ) -> tuple[pd.DataFrame, Path]:
    """Write ``history.md``, ``history.csv`` and ``history.png`` of the release records.

    Parameters
    ----------
    reports_dir : path-like
        The folder of release records (``reports/``).
    out_dir : path-like, optional
        Where to write; defaults to ``reports_dir``.

    Returns
    -------
    history : DataFrame
        :func:`collect_history`'s table.
    markdown : Path
        The path of ``history.md``.

    Raises
    ------
    FileNotFoundError
        When ``reports_dir`` does not exist or holds no release record.
    """
    history = collect_history(reports_dir)
    if history.empty:
        raise FileNotFoundError(
            f"no release record (a run directory with run.json) in {reports_dir}/<version>/ or "
            f"{reports_dir}/<version>/quick/")
    out = Path(out_dir) if out_dir is not None else Path(reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "history.csv", history)
    _history_figure(history, out / "history.png")
    lines = ["# Accuracy across releases", "",
             "Top-1 accuracy (%, mean over folds) of each method in each release record. Records "
             "of one kind are comparable only when their split fingerprints agree.", ""]
    for kind in RECORD_KINDS:
        part = history[history["kind"] == kind]
        if part.empty:
            continue
        versions = sorted(part["version"].unique(), key=version_key)
        wide = part.pivot_table(index="method", columns="version", values="top1", aggfunc="first")
        years = part.drop_duplicates("method").set_index("method")["year"]
        wide = wide.reindex(columns=versions)
        wide = wide.loc[sorted(wide.index, key=lambda m: (years.get(m) or 0, m))]
        table = wide.map(lambda v: "–" if not np.isfinite(v) else f"{v:.1f}")
        table.insert(0, "year", [str(years.get(m, "–")) for m in table.index])
        table.index = [f"`{m}`" for m in table.index]
        title = "Default benchmark" if kind == "default" else "Quick record (CI regression gate)"
        lines += [f"## {title}", "", table.reset_index(names="method").to_markdown(
            index=False, disable_numparse=True), ""]
    lines += ["![top-1 accuracy per release](history.png)", ""]
    path = out / "history.md"
    write_text(path, "\n".join(lines))
    return history, path
