"""S-CNN (`deep.detection.segment_cnn`): windows, labels, the overlap loss, the detector."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from bench.methods import MethodContext, VideoFailure, get_method
from deep.detection import SegmentCNNDetector, SnippetClassifier, SnippetTAGDetector
from deep.detection.methods import S_CNN_CARD, build_segment_cnn_detector
from deep.detection.segment_cnn import (
    OverlapLoss,
    label_windows,
    segment_windows,
    window_frame_indices,
)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread (a shared 2-core machine; results fixed for a thread count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ windows and labels
@pytest.mark.parametrize("n_frames", [1, 7, 16, 40, 101, 333])
def test_windows_slide_by_a_quarter_and_reach_the_last_frame(n_frames):
    lengths, overlap = (16, 32, 64), 0.75
    windows = segment_windows(n_frames, lengths, overlap)
    assert windows.dtype == np.int64 and (windows[:, 0] >= 0).all()
    assert (windows[:, 1] <= n_frames).all() and (windows[:, 1] > windows[:, 0]).all()
    # slow reference: every scale that fits, from 0 by round(L/4), plus one ending at the end
    expected = []
    for length in lengths:
        if length > n_frames:
            continue
        start = 0
        while start + length <= n_frames:
            expected.append((start, start + length))
            start += round(length * (1 - overlap))
        if expected[-1][1] < n_frames:
            expected.append((n_frames - length, n_frames))
    if not expected:
        expected = [(0, n_frames)]
    assert [tuple(w) for w in windows.tolist()] == expected


def test_window_parameters_are_checked():
    with pytest.raises(ValueError, match="overlap"):
        segment_windows(50, [16], 1.0)
    with pytest.raises(ValueError, match=">= 1 frame"):
        segment_windows(50, [0], 0.5)
    with pytest.raises(ValueError, match="n_frames"):
        segment_windows(0, [16], 0.5)


def test_window_frames_are_spread_over_the_whole_window():
    test = window_frame_indices(10, 90, 8)
    np.testing.assert_array_equal(test, [15, 25, 35, 45, 55, 65, 75, 85])
    rng = np.random.default_rng(0)
    for _ in range(50):
        start, length = int(rng.integers(0, 100)), int(rng.integers(1, 300))
        idx = window_frame_indices(start, start + length, 8, rng)
        assert len(idx) == 8 and (np.diff(idx) >= 0).all()
        assert idx.min() >= start and idx.max() < start + length
        # one frame in each eighth of the window (a frame is the floor of its position)
        edges = start + length * np.arange(9) / 8
        assert (idx >= np.floor(edges[:-1])).all() and (idx < np.ceil(edges[1:])).all()


def test_labels_follow_the_instance_of_highest_tiou():
    rng = np.random.default_rng(1)
    for _ in range(30):
        truth = np.column_stack([rng.uniform(0, 20, 4), rng.uniform(0, 20, 4),
                                 rng.integers(0, 3, 4)])
        truth[:, :2].sort(axis=1)
        windows = np.sort(rng.uniform(0, 22, (40, 2)), axis=1)
        labels, overlap = label_windows(windows, truth, 3, 0.5, 0.3)
        for w, (s, e) in enumerate(windows):  # slow reference from the definition
            ious = [max(0.0, min(e, te) - max(s, ts)) / (max(e, te) - min(s, ts))
                    if min(e, te) > max(s, ts) else 0.0 for ts, te, _ in truth]
            best = int(np.argmax(ious))
            assert overlap[w] == pytest.approx(ious[best])
            want = int(truth[best, 2]) if ious[best] >= 0.5 else (3 if ious[best] < 0.3 else -1)
            assert labels[w] == want
    labels, overlap = label_windows(np.array([[0.0, 1.0]]), np.zeros((0, 3)), 3, 0.5, 0.3)
    assert labels.tolist() == [3] and overlap.tolist() == [0.0]


# ------------------------------------------------------------------ the overlap loss
def test_overlap_loss_is_the_papers_formula():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 1.2], [0.0, 1.0, 0.0]])
    targets = torch.tensor([[0, 0.8], [2, 0.0], [1, 0.55]])  # label 2 = background
    loss = OverlapLoss(n_classes=2, weight=1.0, alpha=0.25)(logits, targets)
    p = torch.softmax(logits, 1)
    ce = -(torch.log(p[0, 0]) + torch.log(p[1, 2]) + torch.log(p[2, 1])) / 3
    overlap = (0.5 * (p[0, 0] ** 2 / 0.8 ** 0.25 - 1) + 0.5 * (p[2, 1] ** 2 / 0.55 ** 0.25 - 1)) / 3
    assert float(loss) == pytest.approx(float(ce + overlap), rel=1e-6)
    assert float(OverlapLoss(2, weight=0.0)(logits, targets)) == pytest.approx(float(ce), rel=1e-6)


@pytest.mark.parametrize("v", [0.5, 0.7, 0.95])
def test_overlap_loss_optimum_grows_with_the_overlap(v):
    """Minimised alone on one window, the class probability settles at v ** (alpha / 2)
    (d/dP of -log P + (P^2 / v^alpha - 1) / 2 is zero there), so better-fitting windows
    score higher."""
    alpha = 0.25
    logits = torch.zeros(1, 2, requires_grad=True)
    opt = torch.optim.LBFGS([logits], max_iter=200, line_search_fn="strong_wolfe")
    criterion = OverlapLoss(n_classes=1, alpha=alpha)
    target = torch.tensor([[0.0, v]])

    def closure():
        opt.zero_grad()
        loss = criterion(logits, target)
        loss.backward()
        return loss

    opt.step(closure)
    p = float(torch.softmax(logits.detach(), 1)[0, 0])
    assert p == pytest.approx(v ** (alpha / 2), abs=1e-4)


# ------------------------------------------------------------------ the detector
def _tiny_network(**overrides):
    params = dict(short_side=24, clip_len=4, frame_interval=2, stride=8, epochs=1,
                  max_steps=6, batch_size=16, model_overrides={"widths": (8, 8, 16, 16)},
                  device="cpu", allow_flip=False)
    return SnippetClassifier(**{**params, **overrides})


def _durations(quick_set):
    ds = quick_set["ds"]
    return {quick_set["paths"][v]: d
            for v, d in zip(ds.videos.video_id, ds.videos.duration_s, strict=True)}


def test_fit_detect_is_valid_deterministic_and_resumes_its_own_checkpoint(quick_set, tmp_path):
    def run(**kw):
        det = SegmentCNNDetector(backbone=_tiny_network(**kw), n_classes=12)
        return det.fit(quick_set["train"], quick_set["segments"]), None

    det, _ = run()
    out = det.detect(quick_set["test"])
    durations = _durations(quick_set)
    assert list(out.columns) == ["video", "t_start", "t_end", "label", "score"]
    assert len(out) and set(out.video) <= set(quick_set["test"])
    assert out.label.between(0, 11).all() and (out.t_end > out.t_start).all()
    assert (out.t_start >= 0).all() and (out.t_end <= out.video.map(durations) + 1e-9).all()
    assert out.groupby("video").size().max() <= det.max_detections
    counts = det.n_training_windows_
    assert counts["positive"] > 0 and counts["background"] > 0
    assert det.budget_["windows"]["steps"] == 6 and not det.budget_["windows"]["resumed"]
    # the same seed, the same detections; another seed, others
    again = run()[0].detect(quick_set["test"])
    pd.testing.assert_frame_equal(out, again)
    other = run(random_state=1)[0].detect(quick_set["test"])
    assert not other.equals(out)
    # a shared cache: the second fit loads the window network, and the snippet detector with
    # the same backbone parameters does not pick it up (another checkpoint folder)
    cache = tmp_path / "cache"
    first = run(cache_dir=cache)[0]
    second = run(cache_dir=cache)[0]
    assert not first.budget_["windows"]["resumed"] and second.budget_["windows"]["resumed"]
    pd.testing.assert_frame_equal(second.detect(quick_set["test"]), out)
    tag = SnippetTAGDetector(backbone=_tiny_network(cache_dir=cache), n_classes=12)
    assert not tag.fit(quick_set["train"], quick_set["segments"]).budget_["snippets"]["resumed"]
    assert (cache / "detection-segment-networks").is_dir()


def test_windows_out_score_their_background_after_training(quick_set):
    """On its own training videos the trained network gives the positive windows more class
    probability than the background ones (a property, not a figure: it must learn)."""
    det = SegmentCNNDetector(backbone=_tiny_network(epochs=20, max_steps=None, min_steps=80),
                             n_classes=12)
    det.fit(quick_set["train"], quick_set["segments"])
    decoded = det.backbone_.decode(quick_set["train"], [], "train")
    pos, neg = [], []
    seg = quick_set["segments"]
    for video in decoded:
        windows, probs = det.window_scores(video)
        truth = seg[seg.video == video.path][["t_start", "t_end", "label"]].to_numpy()
        labels, _ = label_windows(windows / video.grid.fps, truth, 12, 0.5, 0.3)
        pos.append(1 - probs[(labels >= 0) & (labels < 12), 12])
        neg.append(1 - probs[labels == 12, 12])
    assert np.mean(np.concatenate(pos)) > np.mean(np.concatenate(neg)) + 0.1


def test_an_undecodable_video_is_a_failure_and_bad_parameters_say_how(quick_set, tmp_path):
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video" * 20)
    det = SegmentCNNDetector(backbone=_tiny_network(), n_classes=12)
    det.fit(np.append(quick_set["train"], str(broken)), quick_set["segments"])
    assert [(f.video, f.stage) for f in det.failures_] == [(str(broken), "decode")]
    out = det.detect(np.array([str(broken), quick_set["test"][0]], dtype=object))
    assert str(broken) not in set(out.video) and isinstance(det.failures_[1], VideoFailure)
    with pytest.raises(ValueError, match="window_frames"):
        SegmentCNNDetector(window_frames=()).fit(quick_set["train"], quick_set["segments"])
    with pytest.raises(ValueError, match="positive_iou"):
        SegmentCNNDetector(positive_iou=0.2).fit(quick_set["train"], quick_set["segments"])
    with pytest.raises(ValueError, match="no training window reaches"):
        SegmentCNNDetector(backbone=_tiny_network(), window_frames=(2,)).fit(
            quick_set["train"], quick_set["segments"])
    with pytest.raises(RuntimeError, match="not fitted"):
        SegmentCNNDetector().detect(quick_set["test"])


def test_factory_card_and_registry():
    ctx = MethodContext(seed=2, quick=True, classes=[str(i) for i in range(5)])
    det = build_segment_cnn_detector(ctx, nms_iou=0.3, backbone__lr=1e-3)
    params = det.get_params()
    assert params["nms_iou"] == 0.3 and params["backbone__lr"] == 1e-3
    assert params["backbone__max_steps"] == 300 and params["backbone__random_state"] == 2
    assert repr(clone(det)) == repr(det)
    with pytest.raises(ValueError, match="unknown parameter"):
        build_segment_cnn_detector(ctx, windows=3)
    assert (S_CNN_CARD.task, S_CNN_CARD.year, S_CNN_CARD.track) == ("detection", 2016, "deep")
    assert "arXiv:1601.02129" in S_CNN_CARD.paper and "overlap loss" in S_CNN_CARD.protocol
    assert get_method("s_cnn").card is S_CNN_CARD
