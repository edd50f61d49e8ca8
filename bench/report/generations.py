"""The history of the field in numbers: what each generation of methods adds, measured on a run.

Three analyses, all computed from one run directory:

* **class pairs** -- for each pair of classes the dataset marks as a test of one ability
  (``run.json`` ``dataset.meta.class_pairs``, e.g. a time-reversed pair sit_down / stand_up),
  the two-way accuracy of every method on the videos of those two classes, and which method
  (by year) is the first to separate them;
* **per-class deltas** -- the per-class F1 change from the best method of one generation (year)
  to the best of the next;
* **camera motion** -- accuracy on clips with and without camera motion, when the clip metadata
  CSV has a ``camera_motion`` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from bench.run.rundir import RunData, method_order
from bench.tasks.recognition.predictions import correct_mask, parse_scores

__all__ = [
    "PairOutcome",
    "pair_accuracy",
    "pair_outcome",
    "describe_pair",
    "generation_deltas",
    "camera_motion_accuracy",
    "DEFAULT_SOLVE_THRESHOLD",
]

#: Two-way accuracy at or above which a method "solves" a class pair (chance is 0.5).
DEFAULT_SOLVE_THRESHOLD = 0.8

#: What a pair probes, by the pair names the synthetic dataset uses. Unknown names get none.
PAIR_PROBES = {
    "time_reversal": "the same poses in reverse order: a method must know the order of frames",
    "order": "the same two sub-actions in swapped order: a method must model temporal order",
    "speed": "the same motion at different speeds: a method must measure how fast things move",
}


def _ranked_methods(data: RunData) -> list[str]:
    """Methods in history order, without reference methods (chance)."""
    cards = data.methods
    return [m for m in method_order(data) if cards.get(m, {}).get("track") != "reference"]


def pair_accuracy(data: RunData, class_a: str, class_b: str) -> pd.DataFrame:
    """Accuracy of every method restricted to the test videos of two classes.

    Parameters
    ----------
    data : RunData
    class_a, class_b : str
        Class names from ``run.json`` ``dataset.classes``.

    Returns
    -------
    DataFrame
        One row per method (history order, reference methods included): ``method, track,
        year, n`` (videos of the two classes, pooled over folds), ``pair_acc`` (share of them
        whose full multi-class prediction is right), ``two_way_acc`` (share whose score for
        the true class beats the score for the other class of the pair -- the binary
        confusion between the two; chance is 0.5) and ``two_way_p``: the one-sided exact
        binomial test of the two-way successes against chance, P(X >= k) for X ~ B(n, 1/2).
        It treats the videos as independent trials, which videos of the same actor are not
        quite. A failed video counts as wrong.

    Raises
    ------
    ValueError
        When a class name is not one of the run's classes.
    """
    classes = data.classes
    for name in (class_a, class_b):
        if name not in classes:
            raise ValueError(f"class pair names {name!r}, which is not a class of this run: {classes}")
    ia, ib = classes.index(class_a), classes.index(class_b)
    cards = data.methods
    rows = []
    for method in method_order(data):
        preds = data.predictions[data.predictions["method"] == method]
        preds = preds[preds["label"].isin([ia, ib])]
        card = cards.get(method, {})
        n = len(preds)
        two_way_p = np.nan
        if n == 0:
            pair_acc = two_way = np.nan
        else:
            pair_acc = float(correct_mask(preds).mean())
            scores = parse_scores(preds["scores"], len(classes)) if "scores" in preds else None
            if scores is None:
                two_way = np.nan
            else:
                label = preds["label"].to_numpy(dtype=int)
                own = np.where(label == ia, scores[:, ia], scores[:, ib])
                other = np.where(label == ia, scores[:, ib], scores[:, ia])
                wins = own > other  # NaN scores compare False: wrong
                two_way = float(np.mean(wins))
                two_way_p = float(binomtest(int(wins.sum()), n, 0.5, alternative="greater").pvalue)
        rows.append(dict(method=method, track=card.get("track", ""), year=card.get("year"),
                         n=n, pair_acc=pair_acc, two_way_acc=two_way, two_way_p=two_way_p))
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PairOutcome:
    """Who first solves a class pair.

    Attributes
    ----------
    first_solver : str or None
        The earliest method (by year, then name) whose two-way accuracy reaches the threshold.
    solvers : list of str
        Every method that reaches it.
    best_before : str or None
        The best method among those older than ``first_solver`` (or the best overall when no
        method solves the pair).
    """

    first_solver: str | None
    solvers: list[str]
    best_before: str | None


def pair_outcome(table: pd.DataFrame, threshold: float = DEFAULT_SOLVE_THRESHOLD) -> PairOutcome:
    """Find the first method (in year order) that solves a pair, from :func:`pair_accuracy`."""
    ranked = table[(table["track"] != "reference") & table["two_way_acc"].notna()]
    solved = ranked[ranked["two_way_acc"] >= threshold]
    solvers = solved["method"].tolist()
    if not solvers:
        best = ranked.loc[ranked["two_way_acc"].idxmax(), "method"] if len(ranked) else None
        return PairOutcome(None, [], best)
    first = solvers[0]
    first_year = ranked.loc[ranked["method"] == first, "year"].iloc[0]
    older = ranked[ranked["year"] < first_year]
    best = older.loc[older["two_way_acc"].idxmax(), "method"] if len(older) else None
    return PairOutcome(first, solvers, best)


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.0f} %"


def describe_pair(name: str, class_a: str, class_b: str, table: pd.DataFrame,
                  threshold: float = DEFAULT_SOLVE_THRESHOLD) -> str:
    """One Markdown paragraph, written from the numbers, on who first solves a class pair."""
    acc = table.set_index("method")["two_way_acc"]
    year = table.set_index("method")["year"]

    def who(m: str) -> str:
        return f"`{m}` ({year[m]}, {_pct(acc[m])})"

    ranked_n = table.loc[table["track"] != "reference", "n"]
    n_text = f", {int(ranked_n.max())} test videos" if len(ranked_n) else ""
    head = f"**{name}** (`{class_a}` vs `{class_b}`{n_text}"
    probe = PAIR_PROBES.get(name)
    head += f"; {probe})" if probe else ")"
    outcome = pair_outcome(table, threshold)
    if outcome.first_solver is None:
        if outcome.best_before is None:
            return f"{head}: no method has test videos of these classes."
        return (f"{head}: no method in this run solves it (two-way accuracy >= "
                f"{_pct(threshold)}); the best is {who(outcome.best_before)}; chance is 50 %.")
    first = outcome.first_solver
    if outcome.best_before is None:
        text = f"{head}: solved from the first generation on, by {who(first)}."
    else:
        text = (f"{head}: {who(first)} is the first to solve it; before "
                f"{year[first]} the best was {who(outcome.best_before)}.")
    same_year = [m for m in outcome.solvers if m != first and year[m] == year[first]]
    if same_year:
        text += " Also solved in the same year by " + ", ".join(who(m) for m in same_year) + "."
    ranked = table[(table["track"] != "reference") & table["two_way_acc"].notna()]
    later_fail = [m for m in ranked["method"] if year[m] > year[first] and acc[m] < threshold]
    if later_fail:
        text += " Later methods that do not solve it: " + ", ".join(who(m) for m in later_fail) + "."
    return text


def generation_deltas(data: RunData) -> pd.DataFrame:
    """Per-class F1 change between the best methods of successive generations (years).

    Returns
    -------
    DataFrame
        One row per step between consecutive years with: ``from_year, from_method, to_year,
        to_method, d_top1`` (points) and one ``d_f1:<class>`` column (points) per class. The
        best method of a year is the one with the highest mean top-1 over folds. Reference
        methods are left out. Empty when the run has fewer than two generations.
    """
    results = data.results
    top1 = results[results["metric"] == "top1"].groupby("method")["value"].mean()
    f1 = results[results["metric"].str.startswith("f1:")]
    f1 = f1.groupby(["method", "metric"])["value"].mean().unstack()
    cards = data.methods
    best: list[tuple[int, str]] = []
    for method in _ranked_methods(data):
        if method not in top1.index:
            continue
        year = int(cards[method]["year"]) if method in cards else None
        if year is None:
            continue
        if best and best[-1][0] == year:
            if top1[method] > top1[best[-1][1]]:
                best[-1] = (year, method)
        else:
            best.append((year, method))
    rows = []
    for (y0, m0), (y1, m1) in zip(best, best[1:], strict=False):
        row = dict(from_year=y0, from_method=m0, to_year=y1, to_method=m1,
                   d_top1=100 * (top1[m1] - top1[m0]))
        for cls in data.classes:
            col = f"f1:{cls}"
            if col in f1.columns and m0 in f1.index and m1 in f1.index:
                row[f"d_f1:{cls}"] = 100 * (f1.loc[m1, col] - f1.loc[m0, col])
        rows.append(row)
    return pd.DataFrame(rows)


def _as_bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    text = series.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "yes", "1.0"])


def camera_motion_accuracy(data: RunData) -> tuple[pd.DataFrame | None, str]:
    """Accuracy on camera-motion clips and on static-camera clips, per method.

    Returns
    -------
    table : DataFrame or None
        ``method, track, year, n_moving, acc_moving, n_static, acc_static, gap`` (gap = static
        minus moving, points), or None when the analysis cannot be made.
    note : str
        Why the table is None (no metadata path, file missing, no ``camera_motion`` column),
        empty otherwise.
    """
    clips = data.clips
    if clips is None:
        path = (data.run.get("dataset", {}).get("meta", {}) or {}).get("clip_metadata")
        if not path:
            return None, "the dataset records no clip metadata"
        return None, f"the clip metadata file {path} is not on this machine"
    if "camera_motion" not in clips.columns or "video_id" not in clips.columns:
        return None, "the clip metadata has no camera_motion column"
    moving = dict(zip(clips["video_id"], _as_bool(clips["camera_motion"]), strict=True))
    cards = data.methods
    rows = []
    for method in method_order(data):
        preds = data.predictions[data.predictions["method"] == method]
        flag = preds["video_id"].map(moving)
        known = flag.notna().to_numpy()
        flag = flag[known].astype(bool).to_numpy()
        correct = correct_mask(preds)[known]
        n_mov, n_sta = int(flag.sum()), int((~flag).sum())
        acc_mov = float(correct[flag].mean()) if n_mov else np.nan
        acc_sta = float(correct[~flag].mean()) if n_sta else np.nan
        card = cards.get(method, {})
        rows.append(dict(method=method, track=card.get("track", ""), year=card.get("year"),
                         n_moving=n_mov, acc_moving=acc_mov, n_static=n_sta,
                         acc_static=acc_sta, gap=100 * (acc_sta - acc_mov)))
    table = pd.DataFrame(rows)
    if table[["n_moving", "n_static"]].min().min() == 0:
        return None, "the test videos are not split between moving and static cameras"
    return table, ""
