"""Linking per-frame person detections into tubes (Gkioxari & Malik, CVPR 2015).

Two detections ``R_t`` and ``R_{t+1}`` of consecutive sampled frames are linked with the
energy ``s(R_t) + s(R_{t+1}) + λ · IoU(R_t, R_{t+1})`` [1]_; a tube is the path of highest
total energy, found with a Viterbi pass; its detections are removed and the pass repeated
until no detection is left (or ``max_tubes``).

Notes
-----
Differences from [1]_, where a path runs through every frame of the video: here a path may
start and end at any frame (an actor enters or leaves, or the detector misses it), and two
detections are linked only when their IoU is at least ``min_iou``, so that a path does not jump
from one actor to another. With non-negative scores a path never gains by stopping early, so
on a video where every frame holds the actor and every link passes ``min_iou`` (e.g.
``min_iou=0``) the result is the path of [1]_. A lone detection is a tube of length one.

References
----------
.. [1] G. Gkioxari, J. Malik, "Finding action tubes", CVPR 2015.
   :doi:`10.1109/CVPR.2015.7298676`
"""

from __future__ import annotations

import numpy as np

from baselines.boxes import box_iou

__all__ = ["link_tubes", "path_energy"]


def path_energy(boxes, scores, path, lam: float) -> float:
    """Energy of a path ``[(t, j), ...]`` (consecutive ``t``): the sum of its links'
    ``s_t + s_{t+1} + λ IoU``."""
    total = 0.0
    for (t, i), (u, j) in zip(path[:-1], path[1:], strict=True):
        if u != t + 1:
            raise ValueError(f"path_energy: a path runs over consecutive frames; got {t} "
                             f"then {u}")
        iou = box_iou(boxes[t][i], boxes[u][j])[0, 0]
        total += float(scores[t][i] + scores[u][j] + lam * iou)
    return total


def _best_path(boxes, scores, alive, lam: float, min_iou: float):
    """The Viterbi pass: the best path among the detections still ``alive``."""
    n_frames = len(boxes)
    value = [np.full(len(s), -np.inf) for s in scores]
    back = [np.full(len(s), -1, dtype=np.int64) for s in scores]
    best, best_at = (-np.inf, -np.inf), None
    for t in range(n_frames):
        live = np.flatnonzero(alive[t])
        value[t][live] = 0.0  # a path may start here
        if t > 0 and len(live):
            prev = np.flatnonzero(alive[t - 1])
            if len(prev):
                iou = box_iou(boxes[t - 1][prev], boxes[t][live])
                energy = (value[t - 1][prev][:, None] + scores[t - 1][prev][:, None]
                          + scores[t][live][None, :] + lam * iou)
                energy[iou < min_iou] = -np.inf
                arg = np.argmax(energy, axis=0)  # ties: the first previous detection
                top = energy[arg, np.arange(len(live))]
                better = top > 0.0
                value[t][live[better]] = top[better]
                back[t][live[better]] = prev[arg[better]]
        for j in live:  # by energy, then the end's score; ties: the earliest, the first
            key = (value[t][j], scores[t][j])
            if key > best:
                best, best_at = key, (t, int(j))
    if best_at is None:
        return None
    path = [best_at]
    while back[path[-1][0]][path[-1][1]] >= 0:
        t, j = path[-1]
        path.append((t - 1, int(back[t][j])))
    return path[::-1]


def link_tubes(boxes, scores, lam: float = 1.0, min_iou: float = 0.1,
               max_tubes: int | None = None) -> list[list[tuple[int, int]]]:
    """Tubes through per-frame detections, best first.

    Parameters
    ----------
    boxes : sequence of (n_t, 4) arrays
        The detections of each sampled frame, in frame order.
    scores : sequence of (n_t,) arrays
        Their scores, non-negative (e.g. a sigmoid of the SVM margin).
    lam : float, default 1.0
        Weight λ of the IoU term.
    min_iou : float, default 0.1
        Smallest IoU of a link.
    max_tubes : int or None
        Stop after this many tubes.

    Returns
    -------
    list of list of (int, int)
        Each tube as ``(frame position, detection index)`` pairs over consecutive positions;
        every detection in exactly one tube (unless ``max_tubes`` stops first).

    Raises
    ------
    ValueError
        Mismatched lengths, a negative score, or ``lam < 0``.
    """
    boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
    scores = [np.asarray(s, dtype=np.float64).reshape(-1) for s in scores]
    if len(boxes) != len(scores) or any(len(b) != len(s) for b, s in
                                        zip(boxes, scores, strict=True)):
        raise ValueError("link_tubes: boxes and scores must have one entry per frame and one "
                         "score per box")
    if any((s < 0).any() or not np.isfinite(s).all() for s in scores):
        raise ValueError("link_tubes needs finite non-negative scores (pass a sigmoid of SVM "
                         "margins, not the margins)")
    if not lam >= 0:
        raise ValueError(f"The 'lam' parameter of link_tubes must be >= 0. Got {lam!r} instead.")
    alive = [np.ones(len(s), dtype=bool) for s in scores]
    tubes: list[list[tuple[int, int]]] = []
    while max_tubes is None or len(tubes) < max_tubes:
        path = _best_path(boxes, scores, alive, float(lam), float(min_iou))
        if path is None:
            break
        for t, j in path:
            alive[t][j] = False
        tubes.append(path)
    return tubes
