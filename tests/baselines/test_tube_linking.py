"""Tube linking (Gkioxari & Malik 2015): two moving actors among false positives give their
two tubes, and the Viterbi pass finds the path of highest energy that brute force finds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from baselines.tubes import link_tubes, path_energy


def test_two_moving_actors_among_false_positives_give_their_tubes():
    rng = np.random.default_rng(0)
    boxes, scores, truth = [], [], {0: [], 1: []}
    for t in range(12):
        a = [10 + 2 * t, 10, 20 + 2 * t, 30]  # walks right
        b = [60, 20 + t, 70, 40 + t]  # walks down
        fp = [rng.uniform(0, 90), rng.uniform(0, 60)]
        fp = [fp[0], fp[1], fp[0] + 10, fp[1] + 20]
        order = rng.permutation(3)
        frame = np.array([a, b, fp], dtype=float)[order]
        boxes.append(frame)
        # a false positive outscores the actors in its frame; a's tube (11 links of
        # 0.7 + 0.7 + IoU 0.67) outweighs b's (0.5 + 0.5 + IoU 0.9)
        scores.append(np.array([0.7, 0.5, 0.9])[order])
        truth[0].append((t, int(np.flatnonzero(order == 0)[0])))
        truth[1].append((t, int(np.flatnonzero(order == 1)[0])))
    tubes = link_tubes(boxes, scores, lam=1.0, min_iou=0.3)
    assert tubes[0] == truth[0] and tubes[1] == truth[1]
    assert all(len(t) < 12 for t in tubes[2:])  # the false positives stay apart
    assert sorted(d for t in tubes for d in t) == sorted(
        (t, j) for t in range(12) for j in range(3))  # every detection in one tube


def _brute_force(boxes, scores, lam, min_iou):
    best = 0.0
    n = len(boxes)
    for a in range(n):
        for b in range(a + 1, n):
            for choice in itertools.product(*[range(len(boxes[t])) for t in range(a, b + 1)]):
                path = list(zip(range(a, b + 1), choice, strict=True))
                ious = [np.nan_to_num(_iou(boxes[t][i], boxes[u][j]))
                        for (t, i), (u, j) in zip(path[:-1], path[1:], strict=True)]
                if min(ious) < min_iou:
                    continue
                best = max(best, path_energy(boxes, scores, path, lam))
    return best


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("min_iou", [0.0, 0.2])
def test_the_viterbi_path_has_the_brute_force_energy(seed, min_iou):
    rng = np.random.default_rng(seed)
    boxes, scores = [], []
    for _ in range(5):
        n = int(rng.integers(1, 4))
        xy = rng.uniform(0, 20, size=(n, 2))
        boxes.append(np.column_stack([xy, xy + rng.uniform(5, 15, size=(n, 2))]))
        scores.append(rng.uniform(0, 1, size=n))
    first = link_tubes(boxes, scores, lam=2.0, min_iou=min_iou)[0]
    assert path_energy(boxes, scores, first, 2.0) == pytest.approx(
        _brute_force(boxes, scores, 2.0, min_iou))


def test_a_video_with_every_actor_in_every_frame_gives_whole_video_paths():
    boxes = [np.array([[0, 0, 10, 20], [50, 0, 60, 20]], float) + [t, 0, t, 0]
             for t in range(6)]
    scores = [np.array([0.2, 0.9])] * 6
    tubes = link_tubes(boxes, scores, min_iou=0.0)
    assert [len(t) for t in tubes] == [6, 6]
    assert tubes[0] == [(t, 1) for t in range(6)]
    assert link_tubes(boxes, scores, max_tubes=1) == tubes[:1]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        link_tubes([np.zeros((1, 4))], [np.array([-1.0])])
    with pytest.raises(ValueError, match="one entry per frame"):
        link_tubes([np.zeros((1, 4))], [np.array([0.1, 0.2])])
    with pytest.raises(ValueError, match="'lam' parameter"):
        link_tubes([np.zeros((1, 4))], [np.array([0.1])], lam=-1)
