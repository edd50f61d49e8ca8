"""Average recall of temporal proposals at an average number of proposals (AR@AN).

The metric of the ActivityNet proposal task (Caba Heilbron et al. 2015; Escorcia et al. 2016,
the references of :func:`average_recall`): class-agnostic proposals are ranked per
video by score; a ground-truth segment is *recalled* at tIoU ``t`` by the top ``k`` proposals
of its video if one of them overlaps it with tIoU at least ``t`` (no one-to-one matching: one
proposal may recall several segments). Recall at ``k`` is the share of all ground-truth
segments recalled; *average recall* averages it over tIoU 0.5:0.05:0.95; the curve runs over
``k = 1 .. max_proposals`` proposals per video, and its area, divided by ``max_proposals``,
is the task's AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.tasks._ranking import candidate_pairs, check_thresholds, group_ranks
from bench.tasks.detection._kernels import codes_of, pair_iou
from bench.tasks.detection.segments import validate_detections, validate_segments

__all__ = ["ProposalRecall", "average_recall"]

_THRESHOLDS = tuple(float(t) for t in np.round(np.linspace(0.5, 0.95, 10), 2))


@dataclass(frozen=True)
class ProposalRecall:
    """Recall of proposals against the number of proposals per video.

    Attributes
    ----------
    thresholds : tuple of float
    proposals_per_video : ndarray of int, shape (n_an,)
        ``1 .. max_proposals``.
    recall : ndarray, shape (n_thresholds, n_an)
    average_recall : ndarray, shape (n_an,)
        ``recall`` averaged over the thresholds.
    auc : float
        Trapezoidal area under ``average_recall`` over ``proposals_per_video``, divided by
        ``max_proposals`` (the ActivityNet proposal task reports it as a percentage).
    """

    thresholds: tuple[float, ...]
    proposals_per_video: np.ndarray
    recall: np.ndarray
    average_recall: np.ndarray
    auc: float

    def at(self, n_proposals: int) -> float:
        """AR@AN for one number of proposals per video (``AR@100`` is ``at(100)``)."""
        if not 1 <= n_proposals <= len(self.proposals_per_video):
            raise ValueError(f"n_proposals must be an int in [1, {len(self.proposals_per_video)}]"
                             f". Got {n_proposals} instead.")
        return float(self.average_recall[n_proposals - 1])


def average_recall(ground_truth: pd.DataFrame, proposals: pd.DataFrame, *,
                   max_proposals: int = 100,
                   thresholds: Sequence[float] = _THRESHOLDS) -> ProposalRecall:
    """AR@AN of class-agnostic proposals, for AN = 1 .. ``max_proposals``.

    Parameters
    ----------
    ground_truth : DataFrame
        ``video_id, t_start, t_end`` (labels are ignored; a segment annotated under two
        labels counts twice, as the official evaluator counts it).
    proposals : DataFrame
        ``video_id, t_start, t_end, score`` (a ``label`` column is ignored). Proposals of
        videos without ground truth are ignored.
    max_proposals : int, default 100
    thresholds : sequence of float, default 0.5:0.05:0.95

    Returns
    -------
    ProposalRecall

    Notes
    -----
    At AN = ``k`` each video contributes its ``k`` best-scored proposals (all of them if it
    has fewer; ties in score broken by start, then end). The official code instead keeps, at
    each point, the same fraction of every video's proposals, so that the *average* number
    per video is ``k``; the two coincide when every video has the same number of proposals,
    at least ``max_proposals``, as proposal methods are run to produce.

    References
    ----------
    .. [1] Caba Heilbron, Escorcia, Ghanem & Niebles, "ActivityNet: A Large-Scale Video
       Benchmark for Human Activity Understanding", CVPR 2015.
       https://doi.org/10.1109/CVPR.2015.7298698
    .. [2] Escorcia, Caba Heilbron, Niebles & Ghanem, "DAPs: Deep Action Proposals for Action
       Understanding", ECCV 2016. https://doi.org/10.1007/978-3-319-46487-9_47
    """
    if not isinstance(max_proposals, (int, np.integer)) or max_proposals < 1:
        raise ValueError(f"max_proposals must be an int >= 1. Got {max_proposals!r} instead.")
    thr = check_thresholds(thresholds, "tIoU thresholds")
    gt = validate_segments(ground_truth.assign(label=ground_truth.get("label", "segment")),
                           what="ground truth")
    prop = validate_detections(proposals, require_label=False)
    videos = np.unique(gt["video_id"].to_numpy(dtype=str))
    gt_video = codes_of(videos, gt["video_id"].to_numpy())
    g_order = np.argsort(gt_video, kind="stable")
    gt_video = gt_video[g_order]
    gt_start = gt["t_start"].to_numpy()[g_order]
    gt_end = gt["t_end"].to_numpy()[g_order]
    p_video = codes_of(videos, prop["video_id"].to_numpy())
    p_start, p_end = prop["t_start"].to_numpy(), prop["t_end"].to_numpy()
    p_score = prop["score"].to_numpy()
    keep = np.flatnonzero(p_video >= 0)
    order = keep[np.lexsort((keep, p_end[keep], p_start[keep], -p_score[keep], p_video[keep]))]
    rank = group_ranks(p_video[order])
    top = rank < max_proposals
    order, rank = order[top], rank[top]
    query, target = candidate_pairs(p_video[order], gt_video)
    iou = pair_iou(p_start[order][query], p_end[order][query], gt_start[target], gt_end[target])
    an = np.arange(1, max_proposals + 1)
    recall = np.zeros((len(thr), max_proposals))
    n_gt = len(gt_video)
    for k, t in enumerate(thr):
        hit = iou >= t
        first = np.full(n_gt, max_proposals, dtype=np.int64)
        np.minimum.at(first, target[hit], rank[query[hit]])
        if n_gt:
            counts = np.bincount(first, minlength=max_proposals + 1)[:max_proposals]
            recall[k] = np.cumsum(counts) / n_gt
    if not n_gt:
        recall[:] = np.nan
    mean = recall.mean(axis=0)
    area = float(np.sum((mean[1:] + mean[:-1]) / 2 * np.diff(an))) if max_proposals > 1 \
        else float(mean[0])
    return ProposalRecall(tuple(float(t) for t in thr), an, recall, mean,
                          area / max_proposals)
