"""Formatting of numbers and tables for the Markdown of the report (one style for every section),
and the guard that keeps a broken section from losing the rest of the report."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["format_count", "pct", "year_text", "with_ci", "mean_std", "markdown_table",
           "commit_text", "p_value", "guarded"]


def format_count(value: Any, unit: str = "") -> str:
    """``1234567 -> '1.23 M'``; missing values become an en dash."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(value):
        return "–"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def pct(value: float, digits: int = 1) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.{digits}f}"


def year_text(year: Any, track: Any) -> str:
    """The paper's year; reference methods (chance) have none worth printing."""
    if track == "reference":
        return "reference"
    return "–" if year is None or pd.isna(year) else str(int(year))


def with_ci(value: float, low: float, high: float) -> str:
    if value is None or not np.isfinite(value):
        return "– (no result)"
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return pct(value)
    return f"{pct(value)} [{pct(low)}, {pct(high)}]"


def mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if len(values) == 0:
        return "–"
    if len(values) == 1:
        return pct(values.iloc[0])
    return f"{pct(values.mean())} ± {pct(values.std(ddof=1))}"


def markdown_table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, disable_numparse=True)


def commit_text(commit: Any, dirty: Any = None) -> str:
    if isinstance(commit, dict):
        commit, dirty = commit.get("commit"), commit.get("dirty")
    if not commit:
        return "unknown"
    return f"`{commit}`" + (" (with uncommitted changes)" if dirty else "")


def p_value(p: float) -> str:
    """A p-value for a table: two significant digits, ``<0.0001`` below that, "–" if NaN."""
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


def guarded(title: str, section: Any, *args: Any) -> list[str]:
    """Run a figure-drawing section; if it breaks, say so in the report instead of failing.

    The `run` verb writes the report at the end of a possibly long run: a plotting problem must
    not lose it. The error is reported in the Markdown and as a ``RuntimeWarning``.
    """
    try:
        return section(*args)
    except Exception as exc:  # noqa: BLE001 - reported below, the rest of the report goes on
        message = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"report section {title!r} failed: {message}", RuntimeWarning,
                      stacklevel=2)
        return [f"## {title}", "", f"> This section could not be generated: `{message}`. "
                "Rerun `python -m bench report RUN_DIR` after fixing it.", ""]
