"""The deep track's localizer (deep.localization): boxes, NMS and decoding against slow
references, the detector and the RoI head on the quick untrimmed set, a whole run."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from bench.methods import MethodContext, build_method
from deep.localization.boxes import OUTPUT_COLUMNS, box_iou, keyframes, nms
from deep.localization.centernet import centernet_targets, decode_peaks, focal_loss
from deep.localization.localizer import RoIActionLocalizer
from deep.localization.methods import build_roi_action_localizer
from deep.localization.person_detector import PersonDetector


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _gt(table):
    return table.rename(columns={"video": "video_id"})[
        ["video_id", "timestamp", "x1", "y1", "x2", "y2", "label"]]


# ------------------------------------------------------------------ slow references
def slow_nms(boxes, scores, iou):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            a, b = boxes[i], boxes[j]
            iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = iw * ih
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union > 0 and inter / union > iou:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(8))
def test_nms_matches_the_slow_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 30))
    xy = rng.integers(0, 20, size=(n, 2)).astype(float)
    boxes = np.column_stack([xy, xy + rng.integers(1, 10, size=(n, 2))])
    scores = rng.integers(0, 5, size=n) / 4.0  # many ties
    iou = float(rng.choice([0.0, 0.3, 0.5, 0.7]))
    assert nms(boxes, scores, iou).tolist() == slow_nms(boxes, scores, iou)
    if n:
        assert box_iou(boxes, boxes).diagonal() == pytest.approx(1.0)


def slow_decode(heat, size, offset, k, min_score):
    h, w = heat.shape
    peaks = []
    for i in range(h):
        for j in range(w):
            around = [heat[y, x] for y in range(max(0, i - 1), min(h, i + 2))
                      for x in range(max(0, j - 1), min(w, j + 2))]
            if heat[i, j] >= max(around) and heat[i, j] >= min_score:
                peaks.append((-heat[i, j], i * w + j, i, j))
    out = []
    for neg, _, i, j in sorted(peaks)[:k]:
        cx, cy = j + offset[0, i, j], i + offset[1, i, j]
        bw, bh = math.exp(size[0, i, j]), math.exp(size[1, i, j])
        out.append(([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -neg))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_decoding_matches_the_slow_reference(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    heat = rng.integers(0, 6, size=(h, w)) / 5.0  # plateaus: equal neighbours are both peaks
    size, offset = rng.normal(size=(2, h, w)), rng.uniform(size=(2, h, w))
    k, min_score = int(rng.integers(1, 10)), float(rng.choice([0.0, 0.3]))
    boxes, scores = decode_peaks(torch.from_numpy(heat), torch.from_numpy(size),
                                 torch.from_numpy(offset), k, min_score)
    want = slow_decode(heat, size, offset, k, min_score)
    assert scores.tolist() == pytest.approx([s for _, s in want])
    np.testing.assert_allclose(boxes.reshape(-1, 4), np.array([b for b, _ in want]).reshape(-1, 4))


def test_targets_peak_at_each_centre_and_decode_back_to_the_boxes():
    boxes = np.array([[2.0, 1.0, 5.0, 9.0], [10.3, 4.2, 12.1, 8.6]])
    heat, size, offset, mask = centernet_targets(boxes, 12, 16)
    assert mask.sum() == 2 and heat.max() == 1.0 and (heat[mask > 0] == 1.0).all()
    logits = torch.from_numpy(np.where(heat >= 1.0, 10.0, -10.0)).float()
    decoded, _ = decode_peaks(logits.sigmoid(), torch.from_numpy(size), torch.from_numpy(offset),
                              5, 0.5)
    np.testing.assert_allclose(np.sort(decoded, axis=0), np.sort(boxes, axis=0), atol=1e-5)
    # the focal loss is small for a near-perfect heatmap and large for its opposite
    target = torch.from_numpy(heat)
    assert focal_loss(logits, target) < 0.01 < focal_loss(-logits, target)


def test_keyframes_follow_the_ground_truths_rule():
    from bench.data.datasets.localization_truth import keyframe_table

    for n_frames, fps in [(228, 25.0), (25, 25.0), (24, 25.0), (301, 29.97), (90, 12.5)]:
        frames, times = keyframes(n_frames, fps)
        want = keyframe_table(pd.DataFrame({"video_id": ["v"], "n_frames": [n_frames],
                                            "fps": [fps]}))
        assert frames.tolist() == want["frame"].tolist()
        assert times.tolist() == want["timestamp"].tolist()
    with pytest.raises(ValueError, match="rate_hz"):
        keyframes(100, 25.0, rate_hz=30.0)


# ------------------------------------------------------------------ on the quick set
@pytest.fixture(scope="module")
def fitted(quick_set, quick_boxes, tmp_path_factory):
    """The quick recipe fitted on fold 1 (what a quick run trains)."""
    ctx = MethodContext(seed=0, quick=True, device="cpu", jobs=1, progress=False,
                        cache_dir=tmp_path_factory.mktemp("cache"),
                        classes=list(quick_set["ds"].classes))
    loc = build_method("roi_action_head", ctx)
    return loc.fit(quick_set["train"], quick_boxes["train"])


def _check_table(out, videos, n_classes):
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert set(out.video) <= set(videos)
    xyxy = out[["x1", "y1", "x2", "y2"]].to_numpy()
    assert ((0 <= xyxy) & (xyxy <= 1)).all()
    assert (xyxy[:, 2] >= xyxy[:, 0]).all() and (xyxy[:, 3] >= xyxy[:, 1]).all()
    assert out.label.between(0, n_classes - 1).all()
    assert out.score.between(0, 1).all()


def test_the_quick_localizer_gives_valid_tables_on_the_keyframes(fitted, quick_set,
                                                                 quick_boxes):
    from bench.tasks.localization import frame_map

    out = fitted.localize(quick_set["test"])
    _check_table(out, quick_set["test"], fitted.n_classes_)
    assert set(out.video) == set(quick_set["test"])
    truth = quick_boxes["test"]
    # every ground-truth keyframe is one of the localizer's keyframes
    have = set(zip(out.video, out.timestamp, strict=True))
    assert set(zip(truth.video, truth.timestamp, strict=True)) <= have
    assert fitted.history_[-1]["train_loss"] < fitted.history_[0]["train_loss"]
    assert fitted.budget_["steps"] >= 60 and fitted.failures_ == []
    detected = frame_map(_gt(truth), out.rename(columns={"video": "video_id"}),
                         max_detections_per_keyframe=50).map
    # ground-truth boxes: the head alone (AVA papers report both)
    fitted.set_params(test_boxes="ground_truth")
    try:
        with_gt = fitted.localize(quick_set["test"], boxes=truth)
        with pytest.raises(ValueError, match="boxes="):
            fitted.localize(quick_set["test"])
    finally:
        fitted.set_params(test_boxes="detected")
    _check_table(with_gt, quick_set["test"], fitted.n_classes_)
    gt_map = frame_map(_gt(truth), with_gt.rename(columns={"video": "video_id"}),
                       max_detections_per_keyframe=50).map
    assert gt_map > detected > 0


def test_the_person_detector_beats_random_boxes(fitted, quick_set, quick_boxes):
    from bench.tasks.localization import person_detection
    from bench.tasks.localization.floor import RandomBoxLocalizer

    truth = _gt(quick_boxes["test"])
    detected = fitted.detector_.detect(quick_set["test"])
    assert list(detected.columns) == ["video", "timestamp", "x1", "y1", "x2", "y2", "score"]
    ours = person_detection(truth, detected.assign(label=0).rename(columns={"video": "video_id"}))
    floor_aps = []
    for seed in range(3):
        floor = RandomBoxLocalizer(random_state=seed).fit(quick_set["train"],
                                                         quick_boxes["train"])
        boxes = floor.localize(quick_set["test"]).rename(columns={"video": "video_id"})
        floor_aps.append(person_detection(truth, boxes).ap)
    assert ours.ap > max(floor_aps)


def test_an_undecodable_video_is_a_failure_not_an_error(fitted, quick_set, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    videos = np.array([str(bad), quick_set["test"][0]], dtype=object)
    out = fitted.localize(videos)
    assert set(out.video) == {quick_set["test"][0]}
    assert [(f.video, f.stage) for f in fitted.failures_] == [(str(bad), "decode")]
    fitted.failures_.clear()


def _tiny(quick_set, quick_boxes, tmp_path, **extra):
    detector = PersonDetector(min_steps=3, max_steps=3, epochs=1, device="cpu",
                              cache_dir=tmp_path)
    loc = RoIActionLocalizer(detector=detector, min_steps=3, max_steps=3, epochs=1,
                             device="cpu", cache_dir=tmp_path, random_state=7, **extra)
    return loc.fit(quick_set["train"], quick_boxes["train"]).localize(quick_set["test"][:1])


def test_a_seeded_fit_on_the_cpu_is_deterministic(quick_set, quick_boxes, tmp_path):
    first = _tiny(quick_set, quick_boxes, tmp_path)
    again = _tiny(quick_set, quick_boxes, tmp_path)
    pd.testing.assert_frame_equal(first, again)
    other = _tiny(quick_set, quick_boxes, tmp_path, jitter=0)
    assert not first.score.equals(other.score)


@pytest.mark.parametrize(("params", "match"), [
    (dict(test_boxes="gt"), "test_boxes"),
    (dict(modality="flow"), "modality"),
    (dict(epochs=0), "epochs"),
    (dict(box_jitter=0.7), "box_jitter"),
    (dict(detector="centernet"), "detector"),
])
def test_bad_parameters_say_how_to_fix_them(params, match, quick_set, quick_boxes):
    with pytest.raises(ValueError, match=f"The '{match}' parameter of RoIActionLocalizer"):
        RoIActionLocalizer(**params).fit(quick_set["train"], quick_boxes["train"])
    with pytest.raises(ValueError, match="The 'nms_iou' parameter of PersonDetector"):
        PersonDetector(nms_iou=2.0).fit(quick_set["train"], quick_boxes["train"])
    with pytest.raises(ValueError, match="lack the column"):
        RoIActionLocalizer().fit(quick_set["train"], quick_boxes["train"].drop(columns="x1"))
    with pytest.raises(ValueError, match="detector__<name>"):
        build_roi_action_localizer(MethodContext(quick=True), no_such=1)


def test_a_bad_training_box_names_its_row(quick_set, quick_boxes):
    broken = quick_boxes["train"].copy()
    broken.loc[3, "x2"] = -0.5
    with pytest.raises(ValueError, match="box row 3 is not a box in fractions"):
        RoIActionLocalizer().fit(quick_set["train"], broken)
    with pytest.raises(ValueError, match="not in videos"):
        RoIActionLocalizer().fit(quick_set["train"][:1], quick_boxes["train"])


def test_the_factory_applies_the_recipe_and_routes_detector_parameters(tmp_path):
    ctx = MethodContext(seed=3, quick=True, device="cpu", cache_dir=tmp_path,
                        classes=[str(i) for i in range(12)], allow_flip=False)
    loc = build_roi_action_localizer(ctx, lr=5e-4, detector__width=16)
    assert (loc.lr, loc.random_state, loc.n_classes, loc.allow_flip) == (5e-4, 3, 12, False)
    assert (loc.detector.width, loc.detector.random_state, loc.detector.min_steps) == (16, 3,
                                                                                        200)


# ------------------------------------------------------------------ a whole quick run
def test_a_quick_run_puts_roi_action_head_above_the_floor(tmp_path):
    from bench.run.config import RunConfig
    from bench.run.runner import run_benchmark

    run_dir = run_benchmark(RunConfig(
        task="localization", root=str(tmp_path / "home"), quick=True,
        methods=["random_boxes", "roi_action_head"], out=str(tmp_path / "run"), quiet=True,
        device="cpu", options={"n_boot": 50}))
    results = pd.read_csv(run_dir / "results.csv").set_index(["method", "metric"])["value"]
    assert results["roi_action_head", "person_ap@0.50"] > results["random_boxes",
                                                                 "person_ap@0.50"]
    assert results["roi_action_head", "frame_map@0.50"] > results["random_boxes",
                                                                 "frame_map@0.50"]
    assert (run_dir / "units" / "roi_action_head__fold1" / "detections.csv").is_file()
