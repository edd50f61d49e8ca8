"""The classical sliding-window detector: prefix-sum Fisher vectors against direct encoding,
NMS against a slow reference, window labels, the SVM stage, an end-to-end run on hand-built
descriptors with known instances, and fit / detect on the quick untrimmed set (valid table,
determinism, a corrupt video, clone)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_limits

import baselines.detection as detection
from baselines._detection_windows import (
    duration_prior,
    fit_duration_prior,
    fit_window_svms,
    hard_negatives,
)
from baselines.detection import (
    SLIDING_WINDOW_DETECTOR_CARD,
    SlidingWindowDetector,
    build_sliding_window_detector,
    temporal_nms,
    window_targets,
)
from baselines.encoders import FisherVector
from baselines.extraction import DescriptorFile, ExtractorConfig
from baselines.temporal_fv import (
    WindowGrid,
    detection_window_encoding_rows,
    temporal_statistics,
    window_fisher_vectors,
    window_ladder,
)
from bench.data.datasets.untrimmed import generate_untrimmed, untrimmed_params
from bench.data.video import VideoInfo
from bench.methods import MethodContext, VideoFailure
from bench.tasks.detection import evaluate_detection, validate_detections


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small matrices: threaded BLAS only oversubscribes the cores (results do not change
    within a test)."""
    with threadpool_limits(1):
        yield


# ------------------------------------------------------------------ prefix-sum Fisher vectors
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_fisher_vectors_from_prefix_sums_equal_direct_encoding(seed):
    rng = np.random.default_rng(seed)
    n_frames = int(rng.integers(80, 200))
    X = rng.normal(size=(600, 12)) * rng.uniform(0.5, 2, 12)
    frames = rng.integers(0, n_frames, 600)
    frames[(frames > 30) & (frames < 50)] = 0  # a stretch without descriptors
    fv = FisherVector(n_components=5, pca_dim=6, random_state=seed).fit(X)
    grid = WindowGrid.from_seconds(25.0, window_ladder(0.4, 3.0, 5), stride_fraction=0.3)
    n_bins = grid.n_bins(n_frames)
    stats = temporal_statistics(fv, X, frames, n_bins, grid.grid_frames)
    assert stats.gradients.shape == (n_bins + 1, 2 * 5 * 6)  # one row per grid step
    start, stop = grid.windows(n_frames)
    got = window_fisher_vectors(stats, start, stop, block=7)
    g = grid.grid_frames
    for i in range(len(start)):
        inside = (frames >= start[i] * g) & (frames < stop[i] * g)
        want = fv.transform([X[inside]])[0]
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-10)
    assert np.any(np.all(got == 0, axis=1))  # the empty stretch encodes to zeros


def test_window_grid_layout():
    grid = WindowGrid.from_seconds(25.0, window_ladder(), stride_fraction=0.25)
    assert grid.grid_frames == 4  # a quarter of 0.6 s at 25 fps, rounded
    assert list(grid.lengths) == sorted(grid.lengths)
    n_frames = 203
    start, stop = grid.windows(n_frames)
    n_bins = grid.n_bins(n_frames)
    assert n_bins == 51 and start.min() == 0 and stop.max() == n_bins
    assert np.all(stop > start) and len(set(zip(start, stop, strict=True))) == len(start)
    for length in grid.lengths:  # every scale reaches the end of the video
        assert ((stop - start == min(length, n_bins)) & (stop == n_bins)).any()
    t0, t1 = grid.seconds(start, stop, n_frames, 25.0)
    assert t0.min() == 0 and t1.max() == pytest.approx(n_frames / 25.0)
    short = WindowGrid.from_seconds(25.0, [20.0]).windows(30)  # a scale longer than the video
    assert (short[0].tolist(), short[1].tolist()) == ([0], [1])


def test_perf_rows_have_the_bench_perf_format():
    rows = detection_window_encoding_rows(quick=True)
    keys = {"case", "ours_s", "reference", "reference_s", "speedup", "max_abs_diff", "target",
            "met", "notes"}
    assert len(rows) == 1 and set(rows[0]) == keys
    assert rows[0]["max_abs_diff"] < 1e-10 and rows[0]["ours_s"] > 0
    assert isinstance(rows[0]["met"], bool)


# ------------------------------------------------------------------ NMS and labels
def _slow_nms(t0, t1, scores, threshold, top_k):
    def iou(i, j):
        inter = max(0.0, min(t1[i], t1[j]) - max(t0[i], t0[j]))
        union = (t1[i] - t0[i]) + (t1[j] - t0[j]) - inter
        return inter / union if union > 0 else 0.0

    keep = []
    for i in sorted(range(len(scores)), key=lambda i: (-scores[i], i)):
        if top_k is not None and len(keep) == top_k:
            break
        if all(iou(i, j) <= threshold for j in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize(("seed", "threshold", "top_k"),
                         list(itertools.product(range(4), (0.2, 0.5, 0.8), (None, 5))))
def test_temporal_nms_matches_a_slow_reference(seed, threshold, top_k):
    rng = np.random.default_rng(seed)
    t0 = rng.uniform(0, 20, 60)
    t1 = t0 + rng.uniform(0.2, 6, 60)
    scores = np.round(rng.random(60), 1)  # ties
    got = temporal_nms(t0, t1, scores, threshold, top_k)
    assert got.tolist() == _slow_nms(t0, t1, scores, threshold, top_k)


def test_window_targets_follow_the_tiou_thresholds():
    segments = pd.DataFrame({"t_start": [2.0, 10.0], "t_end": [4.0, 12.0], "label": [1, 2]})
    w0 = np.array([2.0, 2.0, 2.0, 6.0, 9.0])
    w1 = np.array([4.0, 5.0, 7.0, 8.0, 12.0])  # tIoU with [2, 4]: 1, 2/3, 0.4, 0; [10, 12]: 2/3
    pos, neg = window_targets(w0, w1, segments, n_classes=3)
    assert pos[:, 1].tolist() == [True, True, False, False, False]
    assert neg[:, 1].tolist() == [False, False, False, True, True]  # 0.4: ignored
    assert pos[:, 2].tolist() == [False, False, False, False, True]
    assert neg[:, 0].all() and not pos[:, 0].any()  # no instance of class 0
    empty = window_targets(w0, w1, segments.iloc[:0], n_classes=3)
    assert not empty[0].any() and empty[1].all()


def test_window_svms_choose_c_by_group_and_calibrate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6))
    labels = rng.integers(0, 3, 240)  # 0: background, 1 and 2: classes
    X[labels == 1, 0] += 3
    X[labels == 2, 1] += 3
    pos = np.stack([labels == 1, labels == 2], axis=1)
    neg = ~pos
    groups = np.arange(240) % 4
    svms = fit_window_svms(X, pos, neg, groups, C="auto", C_grid=(0.01, 1.0), cv=2)
    assert svms.C in (0.01, 1.0) and set(svms.cv_scores) == {0.01, 1.0}
    assert svms.has_model.all() and np.all(svms.platt[:, 0] > 0)
    p = svms.probabilities(svms.margins(X))
    assert p[pos[:, 0], 0].mean() > 0.5 > p[neg[:, 0], 0].mean()
    single = fit_window_svms(X, pos, neg, np.zeros(240), C=2.0)  # no held-out group
    assert single.C == 2.0 and single.cv_scores == {} and (single.platt == [1.0, 0.0]).all()


def test_duration_prior_peaks_at_the_class_durations():
    segments = pd.DataFrame({"t_start": [0.0, 5.0, 0.0], "t_end": [1.0, 9.0, 2.0],
                             "label": [0, 0, 2]})
    prior = fit_duration_prior(segments, n_classes=3)
    assert prior[0, 0] == pytest.approx(np.log(2.0)) and np.isnan(prior[1]).all()
    assert prior[2, 1] == 0.35  # one instance: the floor
    weights = duration_prior(prior, [0.5, 2.0, 8.0])
    assert weights[1, 0] == pytest.approx(1.0) and weights[1, 2] == pytest.approx(1.0)
    assert (weights[:, 1] == 1.0).all()  # no instance of class 1: no prior
    assert weights[0, 2] == pytest.approx(weights[2, 2])  # symmetric in log duration
    assert weights[0, 2] < weights[0, 0] < 1  # class 2's prior is the narrower


def test_hard_negatives_take_the_top_margins_inside_the_margin():
    margins = np.array([[0.5, -2.0], [-0.5, 0.9], [-1.5, 0.1], [0.2, 0.3]])
    candidates = np.array([[True, True], [True, True], [True, True], [False, True]])
    assert hard_negatives(margins, candidates, [0, 1], 1).tolist() == [0, 1]
    assert hard_negatives(margins, candidates, [0], 5).tolist() == [0, 1]  # not -1.5
    assert hard_negatives(margins, candidates, [], 5).tolist() == []


# ------------------------------------------------------------------ hand-built descriptors
def _hand_built(tmp_path, seed: int, n_videos: int = 9):
    """Videos of 300 frames (25 fps) whose descriptors are background noise plus, inside
    each of two instances, descriptors drawn around the class's own mean."""
    rng = np.random.default_rng(seed)
    means = np.zeros((3, 8))
    means[0, 0], means[1, 1], means[2, 2] = 3.0, 3.0, 3.0
    handles, rows = {}, []
    for v in range(n_videos):
        path = str(tmp_path / f"v{v}.avi")
        frames = [rng.integers(0, 300, 1200)]
        feats = [rng.normal(size=(1200, 8))]
        for k, (label, length) in enumerate(zip(rng.integers(0, 3, 2),
                                                rng.uniform(1.0, 4.0, 2), strict=True)):
            t0 = rng.uniform(0.2, 1.8) + 6.0 * k  # instances inside [0, 12) s, apart
            f0, f1 = int(t0 * 25), int((t0 + length) * 25)
            frames.append(rng.integers(f0, f1, 8 * (f1 - f0)))
            feats.append(means[label] + 0.5 * rng.normal(size=(8 * (f1 - f0), 8)))
            rows.append({"video": path, "t_start": f0 / 25, "t_end": f1 / 25, "label": label})
        t = np.concatenate(frames) - 5  # xyt holds the track's first frame (length 10)
        hog = np.concatenate(feats).astype(np.float32)
        xyt = np.column_stack([np.zeros((len(t), 2)), t]).astype(np.float32)
        file = tmp_path / f"v{v}.npz"
        np.savez(file, hog=hog, xyt=xyt)
        handles[path] = DescriptorFile(path, str(file), len(t), {"hog": 8, "xyt": 3})
    return handles, pd.DataFrame(rows)


def _map50(ground_truth: pd.DataFrame, detections: pd.DataFrame) -> float:
    """mAP at tIoU 0.5 of tables with a ``video`` column and integer labels."""
    def table(t):
        return t.rename(columns={"video": "video_id"}).astype({"label": str})
    return evaluate_detection(table(ground_truth), table(detections), (0.5,)).map_at(0.5)


def _random_segments(detections: pd.DataFrame, durations: dict, n_classes: int,
                     seed: int) -> pd.DataFrame:
    """As many segments per video as ``detections``: uniform start, log-uniform length in
    [0.6, 8] s (inside the video), uniform label and score."""
    rng = np.random.default_rng(seed)
    parts = []
    for video, rows in detections.groupby("video"):
        n, duration = len(rows), durations[video]
        length = np.minimum(np.exp(rng.uniform(np.log(0.6), np.log(8.0), n)), duration)
        t0 = rng.uniform(0, duration - length)
        parts.append(pd.DataFrame({"video": video, "t_start": t0, "t_end": t0 + length,
                                   "label": rng.integers(0, n_classes, n),
                                   "score": rng.random(n)}))
    return pd.concat(parts, ignore_index=True)


def test_detector_finds_known_instances_in_hand_built_descriptors(tmp_path, monkeypatch):
    handles, segments = _hand_built(tmp_path, seed=0, n_videos=12)
    broken = str(tmp_path / "broken.avi")

    def fake_extract(paths, config, **kwargs):
        return [VideoFailure(p, "decode", "broken") if p == broken else handles[p]
                for p in paths]

    monkeypatch.setattr(detection, "extract_to_cache", fake_extract)
    monkeypatch.setattr(detection, "probe_video",
                        lambda p: VideoInfo(str(p), 80, 60, 25.0, 300))
    videos = np.array(list(handles), dtype=object)
    train, test = videos[:6], np.r_[videos[6:], [broken]]
    extractor = ExtractorConfig(sampler="trajectories", channels=("hog",), grid="densetrack",
                                sampler_params={"track_length": 10})
    est = SlidingWindowDetector(extractor=extractor, n_components=4, C_grid=(0.1, 1.0),
                                cache_dir=str(tmp_path), n_classes=3)
    est.fit(train, segments[segments.video.isin(train)], groups=np.arange(6) % 3)
    det = est.detect(test)
    assert [f.video for f in est.failures_] == [broken]
    gt = segments[segments.video.isin(test)]
    ours = _map50(gt, det)
    floor = np.mean([_map50(gt, _random_segments(det, dict.fromkeys(videos, 12.0), 3, seed))
                     for seed in range(5)])
    assert ours > 0.45 and ours > floor + 0.2


# ------------------------------------------------------------------ the quick untrimmed set
@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrimmed")
    ds = generate_untrimmed(root=root, params=untrimmed_params("quick"), seed=0)
    paths = np.array([str(ds.root / p) for p in ds.videos["path"]], dtype=object)
    path_of = dict(zip(ds.videos["video_id"], paths, strict=True))
    segments = pd.DataFrame({"video": ds.segments["video_id"].map(path_of),
                             "t_start": ds.segments["t_start"], "t_end": ds.segments["t_end"],
                             "label": ds.segments["label_id"]})
    corrupt = root / "corrupt.avi"
    corrupt.write_bytes(b"\x00not a video" * 64)
    train = (ds.videos["fold1"] == "train").to_numpy()
    ctx = MethodContext(seed=0, quick=True, classes=list(ds.classes), progress=False,
                        cache_dir=root / "cache", jobs=2)
    fit_videos = np.r_[paths[train], [str(corrupt)]]
    groups = np.r_[ds.videos["group"].to_numpy()[train], [0]]
    est = build_sliding_window_detector(ctx).fit(
        fit_videos, segments[segments.video.isin(paths[train])], groups=groups)
    test_videos = np.r_[paths[~train], [str(corrupt)]]
    return {"ds": ds, "ctx": ctx, "est": est, "fit_videos": fit_videos, "groups": groups,
            "segments": segments[segments.video.isin(paths[train])], "corrupt": str(corrupt),
            "all_segments": segments,
            "test": test_videos, "detections": est.detect(test_videos)}


def test_quick_set_gives_a_valid_detections_table(quick):
    det, ds, est = quick["detections"], quick["ds"], quick["est"]
    assert list(det.columns) == ["video", "t_start", "t_end", "label", "score"]
    assert det["label"].dtype.kind == "i" and det["score"].dtype.kind == "f"
    validate_detections(det.rename(columns={"video": "video_id"}).assign(
        label=[ds.classes[i] for i in det["label"]]), classes=ds.classes)
    duration = {str(ds.root / p): d for p, d in zip(ds.videos["path"], ds.videos["duration_s"],
                                                    strict=True)}
    assert (det["t_start"] >= 0).all() and (det["t_end"] > det["t_start"]).all()
    assert (det["t_end"] <= det["video"].map(duration) + 1e-9).all()
    assert det["score"].between(0, 1).all()
    assert set(det["label"]) <= set(np.flatnonzero(est.svms_.has_model))
    good = [v for v in quick["test"] if v != quick["corrupt"]]
    assert set(det["video"]) == set(good)  # every decodable video has detections
    for _, rows in det.groupby("video"):
        assert len(rows) <= est.top_k and rows["score"].is_monotonic_decreasing
    assert est.C_ in est.C_grid and est.selection_["C"] == est.C_


def test_quick_set_detections_beat_random_segments(quick):
    ds, det = quick["ds"], quick["detections"]
    gt = quick["all_segments"][quick["all_segments"].video.isin(set(quick["test"]))]
    durations = {str(ds.root / p): d for p, d in zip(ds.videos["path"], ds.videos["duration_s"],
                                                     strict=True)}
    floor = np.mean([_map50(gt, _random_segments(det, durations, len(ds.classes), seed))
                     for seed in range(5)])
    assert _map50(gt, det) > floor


def test_corrupt_video_is_recorded_and_skipped(quick):
    failures = quick["est"].failures_
    assert [f.video for f in failures] == [quick["corrupt"]] * 2  # in fit, then in detect
    assert all(isinstance(f, VideoFailure) and f.stage == "decode" for f in failures)
    assert quick["corrupt"] not in set(quick["detections"]["video"])


def test_same_seed_gives_the_same_detections(quick):
    again = build_sliding_window_detector(quick["ctx"]).fit(
        quick["fit_videos"], quick["segments"], groups=quick["groups"])
    pd.testing.assert_frame_equal(again.detect(quick["test"]), quick["detections"])


def test_dask_workers_give_the_local_detections(quick, tmp_path):
    """Extraction on a dask.distributed cluster (one task per video, its own cache) gives the
    detections of the local joblib run, and the options reach the detector."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        ctx = MethodContext(seed=0, quick=True, classes=quick["ctx"].classes, progress=False,
                            cache_dir=tmp_path / "dask_cache", jobs=2,
                            options={"backend": "dask", "scheduler": cluster.scheduler_address})
        est = build_sliding_window_detector(ctx)
        assert (est.backend, est.scheduler) == ("dask", cluster.scheduler_address)
        est.fit(quick["fit_videos"], quick["segments"], groups=quick["groups"])
        detections = est.detect(quick["test"])
    pd.testing.assert_frame_equal(detections, quick["detections"])
    decodable = (set(quick["fit_videos"]) | set(quick["test"])) - {quick["corrupt"]}
    assert len(list((tmp_path / "dask_cache").rglob("*.npz"))) == len(decodable)


def test_clone_and_get_params(quick):
    est = build_sliding_window_detector(quick["ctx"], nms_iou=0.5, top_k=7)
    params = est.get_params()
    assert params["nms_iou"] == 0.5 and params["top_k"] == 7 and params["n_classes"] == 12
    twin = clone(est)
    assert twin.get_params() == params and not hasattr(twin, "svms_")
    assert clone(quick["est"]).get_params() == quick["est"].get_params()
    with pytest.raises(Exception, match="not fitted"):
        twin.detect(quick["test"])


@pytest.mark.parametrize(("param", "value"), [
    ("stride_fraction", 0.0), ("negative_iou", 0.7), ("nms_iou", 1.5), ("top_k", 0),
    ("C", -1.0), ("n_classes", 0),
])
def test_bad_parameters_say_how_to_fix_them(quick, param, value):
    est = build_sliding_window_detector(quick["ctx"], **{param: value})
    with pytest.raises(ValueError, match=f"The '{param}' parameter of SlidingWindowDetector "
                                         "must be"):
        est.fit(quick["fit_videos"], quick["segments"])


def test_card():
    card = SLIDING_WINDOW_DETECTOR_CARD
    assert card.task == "detection" and card.track == "classical" and card.year == 2014
    assert "Oneata" in card.paper and card.protocol and card.family
