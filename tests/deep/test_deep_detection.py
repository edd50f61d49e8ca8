"""Deep temporal detectors: TAG grouping, proposal scores, NMS, ActionFormer targets and
decoding, the focal and 1-D IoU losses against slow formulas, snippets, and the two detectors
under the detection protocol on the quick untrimmed set (valid tables, determinism, failures,
clone)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from bench.methods import MethodContext, VideoFailure
from bench.tasks.detection import evaluate_detection
from deep.detection import (
    ACTIONFORMER_CARD,
    SSN_TAG_CARD,
    ActionFormerDetector,
    ActionFormerHead,
    SnippetClassifier,
    SnippetGrid,
    SnippetTAGDetector,
    assign_targets,
    basins,
    build_actionformer_detector,
    build_snippet_tag_detector,
    decode_points,
    iou_loss_1d,
    multiclass_nms,
    point_positions,
    points_to_segments,
    regression_ranges,
    score_proposals,
    sigmoid_focal_loss,
    snippet_clip,
    snippet_targets,
    tag_proposals,
    temporal_nms,
)


# ------------------------------------------------------------------------------ TAG
def _slow_tag(actionness, thresholds, tolerances, min_cells=1):
    """TAG written from the paper's words: every basin seeds a group that absorbs the next
    basins while the basin share of the grouped span stays >= gamma."""
    spans = set()
    for tau in thresholds:
        runs, start = [], None
        for i, a in enumerate(list(actionness) + [-1.0]):
            if a >= tau and start is None:
                start = i
            elif a < tau and start is not None:
                runs.append((start, i))
                start = None
        for gamma in tolerances:
            for i in range(len(runs)):
                j, covered = i, runs[i][1] - runs[i][0]
                while j + 1 < len(runs):
                    grown = covered + runs[j + 1][1] - runs[j + 1][0]
                    if grown / (runs[j + 1][1] - runs[i][0]) < gamma:
                        break
                    covered, j = grown, j + 1
                spans.add((runs[i][0], runs[j][1]))
    return sorted(s for s in spans if s[1] - s[0] >= min_cells)


def test_basins_are_the_runs_above_the_threshold():
    a = np.array([0.9, 0.1, 0.5, 0.6, 0.2, 0.7])
    assert basins(a, 0.5).tolist() == [[0, 1], [2, 4], [5, 6]]
    assert basins(a, 0.95).tolist() == []


def test_tag_groups_basins_by_the_tolerance():
    a = np.array([0.1, 0.9, 0.9, 0.1, 0.6, 0.6, 0.1, 0.1, 0.1, 0.9])
    # seed (1,3) absorbs (4,6) (4 of 5 cells) but not (9,10) (5 of 9 < 0.6)
    assert tag_proposals(a, [0.5], [0.6]).tolist() == [[1, 6], [4, 6], [9, 10]]
    # gamma 0.5 bridges every gap (5 of 9, 3 of 6 cells); 1.0 bridges none
    assert tag_proposals(a, [0.5], [0.5]).tolist() == [[1, 10], [4, 10], [9, 10]]
    assert tag_proposals(a, [0.5], [0.5, 0.6]).tolist() == [[1, 6], [1, 10], [4, 6], [4, 10],
                                                            [9, 10]]
    assert tag_proposals(a, [0.5], [1.0]).tolist() == [[1, 3], [4, 6], [9, 10]]


def test_tag_threshold_ladder_gives_nested_proposals_and_min_cells():
    a = np.array([0.2, 0.6, 0.9, 0.6, 0.2])
    assert tag_proposals(a, [0.5, 0.8], [1.0]).tolist() == [[1, 4], [2, 3]]
    assert tag_proposals(a, [0.5, 0.8], [1.0], min_cells=2).tolist() == [[1, 4]]
    assert tag_proposals(np.zeros(5), [0.5], [0.5]).shape == (0, 2)


def test_tag_matches_the_slow_reference_on_random_actionness():
    rng = np.random.default_rng(0)
    ladder = [0.05 * k for k in range(1, 20)]
    for _ in range(20):
        a = np.clip(np.convolve(rng.random(60), np.ones(3) / 3, mode="same"), 0, 1)
        got = [tuple(s) for s in tag_proposals(a, ladder, ladder, min_cells=2).tolist()]
        assert got == _slow_tag(a, ladder, ladder, min_cells=2)


def test_completeness_prefers_the_proposal_that_fits_the_instance():
    p = np.array([0, 0, 1, 1, 0, 0], dtype=float)
    probs = np.column_stack([p, 1 - p])  # one class + background
    spans = np.array([[2, 4], [2, 3], [1, 5]])
    # inside means 1, 1, 0.5; flanks of ceil(len/2): 0, 0.5 (cells 1 and 3), 0 (cells 0, 5)
    np.testing.assert_allclose(score_proposals(probs, spans, 1)[:, 0], [1.0, 0.5, 0.25])
    np.testing.assert_allclose(score_proposals(probs, spans, 1, "mean")[:, 0], [1, 1, 0.5])
    with pytest.raises(ValueError, match="scoring"):
        score_proposals(probs, spans, 1, "best")


# ------------------------------------------------------------------------------ NMS
def test_hard_nms_drops_overlaps_above_the_threshold():
    starts, ends = np.array([0.0, 1.0, 5.0, 0.0]), np.array([4.0, 4.0, 8.0, 4.0])
    scores = np.array([0.9, 0.8, 0.7, 0.9])
    keep, kept = temporal_nms(starts, ends, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2] and kept.tolist() == [0.9, 0.7]  # tie: the first wins
    keep, _ = temporal_nms(starts, ends, scores, iou_threshold=0.8)  # iou(0, 1) = 0.75 stays
    assert keep.tolist() == [0, 1, 2]


def test_soft_nms_decays_by_the_gaussian_of_the_iou():
    starts, ends, scores = np.array([0.0, 1.0]), np.array([4.0, 4.0]), np.array([0.9, 0.8])
    keep, kept = temporal_nms(starts, ends, scores, method="soft", sigma=0.5)
    assert keep.tolist() == [0, 1]
    np.testing.assert_allclose(kept, [0.9, 0.8 * math.exp(-0.75 ** 2 / 0.5)])


def test_multiclass_nms_is_per_label():
    starts, ends = np.array([0.0, 0.0, 0.5]), np.array([4.0, 4.0, 4.0])
    keep, _ = multiclass_nms(starts, ends, np.array([0.9, 0.5, 0.8]), np.array([0, 1, 0]))
    assert keep.tolist() == [0, 1]


# ------------------------------------------------------------------ ActionFormer parts
def test_regression_ranges_double_per_level():
    np.testing.assert_array_equal(regression_ranges(3, 4.0),
                                  [[0, 4], [4, 8], [8, np.inf]])


def test_points_decode_to_hand_computed_segments():
    xs, strides = point_positions(4, 2)
    assert xs.tolist() == [0.5, 1.5, 2.5, 3.5, 1.0, 3.0]
    assert strides.tolist() == [1, 1, 1, 1, 2, 2]
    dist = np.array([[0.5, 1.0], [0, 0], [1, 1], [0, 0], [0.5, 2.0], [0, 0]])
    seg = points_to_segments(xs, strides, dist)
    np.testing.assert_allclose(seg[[0, 2, 4]], [[0.0, 1.5], [1.5, 3.5], [0.0, 5.0]])
    scores = np.zeros((6, 2))
    scores[2, 1], scores[4, 0], scores[0, 0] = 0.9, 0.7, 1e-4
    segments, kept, labels = decode_points(xs, strides, scores, dist, min_score=1e-3)
    np.testing.assert_allclose(segments, [[1.5, 3.5], [0.0, 5.0]])
    assert kept.tolist() == [0.9, 0.7] and labels.tolist() == [1, 0]
    assert len(decode_points(xs, strides, scores, dist, top_k=1)[0]) == 1


def test_targets_of_a_hand_built_instance():
    xs, strides = point_positions(8, 2)
    cls, reg = assign_targets(xs, strides, np.array([[2.0, 6.0]]), np.array([1]), 3,
                              regression_ranges(2, 4.0), centre_radius=None)
    pos = np.flatnonzero(cls.sum(axis=1))
    # level 0 points 2.5 .. 5.5 reach at most 3.5 <= 4; level 1 points 3 and 5 reach 3 <= 4,
    # outside level 1's range (4, inf)
    assert xs[pos].tolist() == [2.5, 3.5, 4.5, 5.5]
    assert (cls[pos] == [0, 1, 0]).all()
    np.testing.assert_allclose(reg[pos], [[0.5, 3.5], [1.5, 2.5], [2.5, 1.5], [3.5, 0.5]])
    np.testing.assert_allclose(points_to_segments(xs[pos], strides[pos], reg[pos]),
                               np.tile([2.0, 6.0], (4, 1)))
    # centre sampling: within one stride of the centre 4
    cls, _ = assign_targets(xs, strides, np.array([[2.0, 6.0]]), np.array([1]), 3,
                            regression_ranges(2, 4.0), centre_radius=1.0)
    assert xs[np.flatnonzero(cls.sum(axis=1))].tolist() == [3.5, 4.5]


def test_the_shortest_instance_wins_a_point():
    xs, strides = point_positions(8, 1)
    cls, reg = assign_targets(xs, strides, np.array([[0.0, 8.0], [3.0, 5.0]]),
                              np.array([0, 2]), 3, regression_ranges(1, 4.0), None)
    assert (cls[3] == [0, 0, 1]).all() and reg[3].tolist() == [0.5, 1.5]
    assert (cls[1] == [1, 0, 0]).all()


def test_head_shapes_and_padding_do_not_leak():
    torch.manual_seed(0)
    head = ActionFormerHead(6, 3, width=16, n_heads=2, n_levels=3, window=3).eval()
    x = torch.randn(1, 8, 6)
    valid = torch.ones(1, 8, dtype=torch.bool)
    padded = torch.cat([x, 100 * torch.randn(1, 8, 6)], dim=1)
    mask = torch.cat([valid, torch.zeros(1, 8, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        out = head(padded, mask)
    assert [o[0].shape[1] for o in out] == [16, 8, 4]
    assert all(torch.isfinite(o[0]).all() and (o[1] >= 0).all() for o in out)
    with torch.no_grad():
        alone = head(torch.cat([x, torch.zeros(1, 8, 6)], dim=1), mask)
    torch.testing.assert_close(out[0][0][:, :8], alone[0][0][:, :8])


# ------------------------------------------------------------------------------ losses
def _slow_focal(x: float, y: float, alpha: float, gamma: float) -> float:
    p = 1 / (1 + math.exp(-x))
    ce = -(y * math.log(p) + (1 - y) * math.log(1 - p))
    p_t = p * y + (1 - p) * (1 - y)
    a_t = alpha * y + (1 - alpha) * (1 - y) if alpha >= 0 else 1.0
    return a_t * (1 - p_t) ** gamma * ce


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.5, 0.0), (-1.0, 1.5)])
def test_focal_loss_matches_the_slow_formula(alpha, gamma):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3, size=40)
    y = (rng.random(40) < 0.3).astype(float)
    got = sigmoid_focal_loss(torch.tensor(x), torch.tensor(y), alpha, gamma).numpy()
    want = [_slow_focal(a, b, alpha, gamma) for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    total = sigmoid_focal_loss(torch.tensor(x), torch.tensor(y), alpha, gamma, reduction="sum")
    assert float(total) == pytest.approx(sum(want))


def _slow_iou_losses(pred, target):
    """From the segments' end points: [x - l, x + r] with x = 0."""
    (a0, a1), (b0, b1) = (-pred[0], pred[1]), (-target[0], target[1])
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = (a1 - a0) + (b1 - b0) - inter
    iou = inter / union
    hull = max(a1, b1) - min(a0, b0)
    gap = (a0 + a1) / 2 - (b0 + b1) / 2
    return 1 - iou, 1 - iou + (hull - union) / hull, 1 - iou + (gap / hull) ** 2


def test_iou_losses_match_the_slow_formulas():
    rng = np.random.default_rng(2)
    pred, target = rng.uniform(0, 5, size=(50, 2)), rng.uniform(0.1, 5, size=(50, 2))
    want = np.array([_slow_iou_losses(p, t) for p, t in zip(pred, target, strict=True)])
    for k, kind in enumerate(("iou", "giou", "diou")):
        got = iou_loss_1d(torch.tensor(pred), torch.tensor(target), kind=kind).numpy()
        np.testing.assert_allclose(got, want[:, k], rtol=1e-10)
    same = iou_loss_1d(torch.tensor(target), torch.tensor(target), kind="diou")
    np.testing.assert_allclose(same.numpy(), 0.0, atol=1e-12)


# ------------------------------------------------------------------------------ snippets
def test_snippet_grid_geometry():
    grid = SnippetGrid(n_frames=10, fps=5.0, stride=4, clip_len=4, interval=2)
    assert grid.n_cells == 3 and grid.duration == 2.0
    assert grid.centre_frame(np.arange(3)).tolist() == [1, 5, 9]
    assert grid.clip_indices(1).tolist() == [0, 0, 2, 4]  # clamped at the start
    assert grid.clip_indices(9).tolist() == [6, 8, 9, 9]  # and at the end
    np.testing.assert_allclose(grid.to_seconds(grid.to_cells([0.4, 1.6])), [0.4, 1.6])
    assert grid.to_seconds(5.0).item() == 2.0  # clipped to the video
    with pytest.raises(ValueError, match="stride"):
        SnippetGrid(10, 5.0, 0, 4, 2)


def test_snippet_clip_standardises_and_diff_keeps_only_motion():
    rng = np.random.default_rng(3)
    still = np.repeat(rng.integers(0, 256, size=(1, 12, 16, 3), dtype=np.uint8), 6, axis=0)
    moving = still.copy()
    for t in range(6):
        moving[t, 4:8, 2 * t:2 * t + 4] = 255
    idx = np.array([0, 2, 4])
    rgb = snippet_clip(moving, idx)
    assert rgb.shape == (3, 3, 12, 16) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb.reshape(3, -1).mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(rgb.reshape(3, -1).std(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(snippet_clip(still, idx, modality="diff"), 0)
    diff = snippet_clip(moving, idx, modality="diff")
    # the still pixels all hold the standardised zero of their channel (pixel 0, 0 is still)
    changed = (np.abs(diff - diff[:, :, :1, :1]) > 1e-6).any(axis=(0, 1))
    assert changed[4:8].any() and not changed[:4].any() and not changed[8:].any()
    flipped = snippet_clip(moving, idx, flip=True, modality="diff")
    np.testing.assert_allclose(flipped, diff[..., ::-1], atol=1e-6)
    with pytest.raises(ValueError, match="modality"):
        snippet_clip(moving, idx, modality="flow")


def test_snippet_targets_background_single_and_shared():
    segments = np.array([[1.0, 2.0, 0], [1.5, 3.0, 2], [1.5, 3.0, 2]])
    # frames at 10 fps: centres 0.55 s, 1.25 s, 1.75 s
    t = snippet_targets(np.array([5, 12, 17]), 10.0, segments, 3)
    np.testing.assert_allclose(t, [[0, 0, 0, 1], [1, 0, 0, 0], [0.5, 0, 0.5, 0]])


# ------------------------------------------------------------------ the detectors
@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two threads that wait on each other
    made the quick fits ten times slower; results are the same for a fixed thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _check_table(out: pd.DataFrame, videos, durations: dict, n_classes: int) -> None:
    assert list(out.columns) == ["video", "t_start", "t_end", "label", "score"]
    assert set(out.video) <= set(videos)
    assert np.issubdtype(out.label.dtype, np.integer)
    assert out.label.between(0, n_classes - 1).all()
    assert np.isfinite(out[["t_start", "t_end", "score"]].to_numpy()).all()
    assert (out.t_end > out.t_start).all() and (out.t_start >= 0).all()
    assert (out.t_end <= out.video.map(durations) + 1e-9).all()


def _tiny_backbone(**overrides):
    params = dict(short_side=24, clip_len=4, frame_interval=2, stride=8, epochs=1,
                  max_steps=6, batch_size=16, model_overrides={"widths": (8, 8, 16, 16)},
                  device="cpu", allow_flip=False)
    return SnippetClassifier(**{**params, **overrides})


def test_quick_fit_and_detect_give_valid_tables(quick_set, tmp_path):
    ds = quick_set["ds"]
    ctx = MethodContext(seed=0, quick=True, device="cpu", classes=list(ds.classes),
                        cache_dir=tmp_path / "cache", progress=False, allow_flip=False)
    durations = {quick_set["paths"][v]: d
                 for v, d in zip(ds.videos.video_id, ds.videos.duration_s, strict=True)}
    tables = {}
    for name, factory in (("ssn_tag", build_snippet_tag_detector),
                          ("actionformer", build_actionformer_detector)):
        det = factory(ctx).fit(quick_set["train"], quick_set["segments"])
        tables[name] = out = det.detect(quick_set["test"])
        _check_table(out, quick_set["test"], durations, len(ds.classes))
        assert len(out) and det.failures_ == []
        # the harness's mapping to the task's tables evaluates
        ids = {p: v for v, p in quick_set["paths"].items()}
        scored = evaluate_detection(
            ds.segments[["video_id", "t_start", "t_end", "label"]],
            out.assign(video_id=out.video.map(ids),
                       label=[ds.classes[i] for i in out.label]).drop(columns="video"),
            thresholds=[0.5])
        assert 0.0 <= scored.map_at(0.5) <= 1.0
    # the second detector reused the first one's snippet classifier from the cache
    assert det.budget_["snippets"]["resumed"]


def test_fit_is_deterministic_on_cpu(quick_set, tmp_path):
    def run(cls, backbone=None, **kw):
        det = cls(backbone=backbone or _tiny_backbone(), n_classes=12, **kw)
        det.fit(quick_set["train"], quick_set["segments"])
        return det, det.detect(quick_set["test"])

    head = dict(width=16, n_heads=2, n_levels=2, epochs=3)
    for cls, kw in ((SnippetTAGDetector, {}), (ActionFormerDetector, head)):
        (_, first), (_, second) = run(cls, **kw), run(cls, **kw)
        assert len(first)
        pd.testing.assert_frame_equal(first, second)
    # another seed, other detections
    _, other = run(ActionFormerDetector, _tiny_backbone(random_state=1), random_state=1, **head)
    assert not other.equals(second)
    # a snippet classifier loaded from the shared cache detects as the one trained
    cached = _tiny_backbone(cache_dir=tmp_path / "cache")
    (trained, a), (loaded, b) = run(ActionFormerDetector, cached, **head), run(
        ActionFormerDetector, cached, **head)
    assert not trained.budget_["snippets"]["resumed"] and loaded.budget_["snippets"]["resumed"]
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, second)


def test_an_undecodable_video_is_a_failure_not_an_error(quick_set, tmp_path):
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video at all" * 10)
    videos = np.append(quick_set["train"], str(broken))
    det = ActionFormerDetector(backbone=_tiny_backbone(), n_classes=12, width=16, n_heads=2,
                               n_levels=2, epochs=1)
    det.fit(videos, quick_set["segments"])
    assert [(f.video, f.stage) for f in det.failures_] == [(str(broken), "decode")]
    out = det.detect(np.array([str(broken), quick_set["test"][0]], dtype=object))
    assert str(broken) not in set(out.video)
    assert len(det.failures_) == 2 and isinstance(det.failures_[1], VideoFailure)


def test_bad_inputs_get_messages_that_say_how(quick_set):
    det = SnippetTAGDetector(backbone=_tiny_backbone())
    bad = quick_set["segments"].assign(video="/elsewhere.avi")
    with pytest.raises(ValueError, match="not in videos"):
        det.fit(quick_set["train"], bad)
    with pytest.raises(ValueError, match="lacks column"):
        det.fit(quick_set["train"], quick_set["segments"].drop(columns="label"))
    with pytest.raises(ValueError, match="grouping"):
        SnippetTAGDetector(grouping="watershed").fit(quick_set["train"], quick_set["segments"])
    with pytest.raises(RuntimeError, match="not fitted"):
        det.detect(quick_set["test"])


def test_clone_get_params_and_factory_routing():
    ctx = MethodContext(seed=3, quick=True, classes=[str(i) for i in range(5)])
    det = build_actionformer_detector(ctx, lr=5e-4, short_side=40, backbone__lr=1e-3)
    params = det.get_params()
    assert params["lr"] == 5e-4 and params["backbone__lr"] == 1e-3
    assert params["backbone__short_side"] == 40 and params["n_classes"] == 5
    assert params["random_state"] == 3 and params["backbone__random_state"] == 3
    twin = clone(det)
    assert twin is not det and twin.backbone is not det.backbone
    assert twin.get_params(deep=True).keys() == params.keys()
    assert repr(twin) == repr(det)
    tag = build_snippet_tag_detector(ctx, epochs=2, nms="soft")
    assert tag.get_params()["backbone__epochs"] == 2 and tag.nms == "soft"
    with pytest.raises(ValueError, match="unknown parameter"):
        build_snippet_tag_detector(ctx, widht=3)


def test_cards_state_the_task_years_and_budget():
    assert (SSN_TAG_CARD.task, SSN_TAG_CARD.year, SSN_TAG_CARD.track) == ("detection", 2017,
                                                                          "deep")
    assert (ACTIONFORMER_CARD.task, ACTIONFORMER_CARD.year) == ("detection", 2022)
    for card in (SSN_TAG_CARD, ACTIONFORMER_CARD):
        assert "arXiv" in card.paper and "steps" in card.protocol and card.params > 0
