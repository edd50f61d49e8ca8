"""Temporal actionness grouping (TAG) and the scoring of its proposals.

TAG (Xiong et al. 2017, the proposal method of the structured segment network, Zhao et al.
2017) turns a per-snippet *actionness* sequence into class-agnostic proposals:

1. threshold the actionness at a level ``tau``: the runs of consecutive cells at or above it
   are the *basins* (the paper's watershed of the complemented actionness, one flooding level);
2. start from each basin as a seed and absorb the basins that follow while the share of
   basin cells in the grouped span (from the seed's first cell to the last absorbed basin's
   end, gaps included) stays at least ``gamma``, the tolerance; the span is a proposal;
3. repeat over a ladder of ``tau`` and a ladder of ``gamma`` (the paper: 0.05 to 0.95 in
   steps of 0.05 for both) and keep the distinct spans.

A low ``tau`` finds long, loose proposals, a high one tight cores; a low ``gamma`` bridges long
gaps, a high one none. :func:`tag_proposals` returns the distinct spans, in cells.

:func:`score_proposals` then scores each proposal for each class. The structured segment
network learns a completeness classifier on a three-stage pyramid (starting, course, ending
stages) and multiplies its ``exp`` with the activity classifier's probability; here, without a
second network, completeness is the *contrast* of the class inside the proposal with its two
flanks of half the proposal's length (SSN's augmented starting and ending stages), so a
proposal that covers only part of an instance, or much more than it, ranks below one that fits
it::

    score_c = mean_inside(p_c) * max(mean_inside(p_c) - mean_flanks(p_c), 0)   ("completeness")
    score_c = mean_inside(p_c)                                                    ("mean")

``p_c`` is the snippet classifier's probability of class ``c``; a flank cut by the video's
edge is the part inside the video (none: 0, the outside is background).

References
----------
Xiong, Y., Zhao, Y., Wang, L., Lin, D., Tang, X. (2017). A pursuit of temporal accuracy in
general activity detection. arXiv:1703.02716.
Zhao, Y., Xiong, Y., Wang, L., Wu, Z., Tang, X., Lin, D. (2017). Temporal action detection
with structured segment networks. ICCV. arXiv:1704.06228.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TAG_LADDER", "basins", "tag_proposals", "score_proposals", "SCORINGS"]

#: The paper's ladder for both the actionness threshold and the tolerance: 0.05, 0.10, ..., 0.95.
TAG_LADDER: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
#: The proposal scorings of :func:`score_proposals`.
SCORINGS = ("completeness", "mean")


def basins(actionness: np.ndarray, threshold: float) -> np.ndarray:
    """Runs of consecutive cells with ``actionness >= threshold``: ``(r, 2)`` ``[start, end)``."""
    mask = np.asarray(actionness, dtype=np.float64) >= threshold
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.column_stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)])


def tag_proposals(actionness: np.ndarray, thresholds: Sequence[float] = TAG_LADDER,
                  tolerances: Sequence[float] = TAG_LADDER, min_cells: int = 1) -> np.ndarray:
    """Class-agnostic proposals of one video by temporal actionness grouping.

    Parameters
    ----------
    actionness : numpy.ndarray, shape (n_cells,)
        Per-cell actionness in [0, 1].
    thresholds : sequence of float
        The ladder of actionness levels ``tau``.
    tolerances : sequence of float
        The ladder of least basin shares ``gamma`` of a grouped span.
    min_cells : int, default 1
        Shortest proposal kept, in cells.

    Returns
    -------
    numpy.ndarray of int64, shape (n, 2)
        Distinct ``[start, end)`` spans in cells, sorted by start then end.

    Examples
    --------
    Two basins two cells apart: at gamma 0.5 they are grouped (4 of 6 cells), at 0.9 not.

    >>> a = np.array([0, 1, 1, 0, 0, 1, 1, 0.])
    >>> tag_proposals(a, thresholds=[0.5], tolerances=[0.5]).tolist()
    [[1, 7], [5, 7]]
    >>> tag_proposals(a, thresholds=[0.5], tolerances=[0.9]).tolist()
    [[1, 3], [5, 7]]
    """
    actionness = np.asarray(actionness, dtype=np.float64).ravel()
    gammas = np.asarray(sorted(tolerances), dtype=np.float64)
    spans = set()
    for tau in thresholds:
        runs = basins(actionness, float(tau))
        lengths = runs[:, 1] - runs[:, 0]
        for i in range(len(runs)):
            # share of basin cells when the seed i absorbs basins i+1..j, for every j >= i
            covered = np.cumsum(lengths[i:])
            share = covered / (runs[i:, 1] - runs[i, 0])
            # gamma keeps absorbing up to the last j before the share first drops below it
            floor = np.minimum.accumulate(share)
            last = np.searchsorted(-floor, -gammas, side="right") - 1  # floor is non-increasing
            for j in np.unique(np.maximum(last, 0)):
                spans.add((int(runs[i, 0]), int(runs[i + j, 1])))
    out = np.array(sorted(s for s in spans if s[1] - s[0] >= min_cells), dtype=np.int64)
    return out.reshape(-1, 2)


def score_proposals(probs: np.ndarray, spans: np.ndarray, n_classes: int,
                    scoring: str = "completeness") -> np.ndarray:
    """Score of every proposal for every class.

    Parameters
    ----------
    probs : numpy.ndarray, shape (n_cells, n_classes + 1)
        Per-cell class probabilities, background last.
    spans : numpy.ndarray of int, shape (n, 2)
        ``[start, end)`` in cells, ``end > start``.
    n_classes : int
    scoring : {"completeness", "mean"}
        See the module docstring.

    Returns
    -------
    numpy.ndarray, shape (n, n_classes)
    """
    if scoring not in SCORINGS:
        raise ValueError(f"The 'scoring' parameter must be one of {SCORINGS}. "
                         f"Got {scoring!r} instead.")
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    classes = np.asarray(probs, dtype=np.float64)[:, :n_classes]
    n_cells = len(classes)
    cum = np.vstack([np.zeros((1, n_classes)), np.cumsum(classes, axis=0)])

    def mean_over(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.clip(lo, 0, n_cells), np.clip(hi, 0, n_cells)
        count = (hi - lo).astype(np.float64)
        return cum[hi] - cum[lo], count

    start, end = spans[:, 0], spans[:, 1]
    inside_sum, inside_n = mean_over(start, end)
    inside = inside_sum / np.maximum(inside_n, 1)[:, None]
    if scoring == "mean":
        return inside
    half = np.maximum((end - start + 1) // 2, 1)
    left_sum, left_n = mean_over(start - half, start)
    right_sum, right_n = mean_over(end, end + half)
    flank_n = left_n + right_n
    flanks = np.where(flank_n[:, None] > 0,
                      (left_sum + right_sum) / np.maximum(flank_n, 1)[:, None], 0.0)
    return inside * np.clip(inside - flanks, 0.0, None)
