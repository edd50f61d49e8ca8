"""The six registered classical methods: cards, fit/predict on a tiny separable video set,
NaN rows and VideoFailures for a corrupt video, determinism."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.methods import MethodContext, VideoFailure, build_method, list_methods

CLASSICAL = ("hog_bow_svm", "hof_bow_svm", "hoghof_bow_svm", "stip_hoghof_bow_svm",
             "dense_mbh_fv_svm", "dt_hoghofmbh_fv_svm")
CLASSES = ["right", "left", "up"]
W, H, T = 80, 64, 24


def _clip(path: Path, label: int, seed: int) -> str:
    """A 24 px block moving in stop-and-go steps (4 frames at 3 px/frame, then 4 frames of
    rest: Harris3D fires at the starts and stops) on a seeded blurred-noise background:
    a checkered block moving right (0) or left (1) — they look the same and differ only in
    the direction of motion — or a block with a random texture moving up (2)."""
    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.integers(40, 120, (H, W), np.uint8), (9, 9), 3)
    checker = (np.indices((3, 3)).sum(axis=0) % 2).astype(np.uint8) * 200 + 30
    random = rng.integers(0, 2, (3, 3)).astype(np.uint8) * 200 + 30
    block = cv2.resize(random if label == 2 else checker, (24, 24),
                       interpolation=cv2.INTER_NEAREST)
    step = {0: (3, 0), 1: (-3, 0), 2: (0, -2)}[label]
    x = {0: int(rng.integers(4, 16)), 1: int(rng.integers(40, 52)),
         2: int(rng.integers(8, W - 32))}[label]
    y = int(rng.integers(30, H - 26)) if label == 2 else int(rng.integers(6, H - 30))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
    for t in range(T):
        frame = bg.copy()
        if t % 8 < 4:
            x, y = x + step[0], y + step[1]
        frame[y:y + 24, x:x + 24] = block
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return str(path)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_videos")
    paths, labels = [], []
    for label in range(3):
        for i in range(6):
            paths.append(_clip(root / f"{CLASSES[label]}_{i}.avi", label, 100 * label + i))
            labels.append(label)
    paths, labels = np.array(paths, dtype=object), np.array(labels)
    train = np.array([i % 6 < 4 for i in range(len(paths))])
    corrupt = root / "corrupt.avi"
    corrupt.write_bytes(b"\x00not a video" * 64)
    return paths[train], labels[train], paths[~train], labels[~train], str(corrupt), root


def _ctx(tmp: Path) -> MethodContext:
    return MethodContext(seed=0, quick=True, jobs=1, cache_dir=tmp / "cache", progress=False,
                         classes=CLASSES)


def test_all_six_methods_are_registered_with_cards():
    cards = {c.name: c for c in list_methods(track="classical")}
    assert set(CLASSICAL) <= set(cards)
    years = {"hog_bow_svm": 2005, "hof_bow_svm": 2008, "hoghof_bow_svm": 2008,
             "stip_hoghof_bow_svm": 2008, "dense_mbh_fv_svm": 2013, "dt_hoghofmbh_fv_svm": 2013}
    for name in CLASSICAL:
        card = cards[name]
        assert card.track == "classical" and card.year == years[name]
        assert "doi:10." in card.paper
        motion = name != "hog_bow_svm"
        assert ("Farneback" in card.protocol) == motion


@pytest.mark.parametrize("name", CLASSICAL)
def test_method_beats_chance_and_reports_failures(name, tiny_set, tmp_path):
    x_tr, y_tr, x_te, y_te, corrupt, _ = tiny_set
    est = build_method(name, _ctx(tmp_path))
    est.fit(np.append(x_tr, corrupt).astype(object), np.append(y_tr, 0))
    assert [f.stage for f in est.failures_] == ["decode"]
    assert est.n_params_ > 0
    assert isinstance(est.failures_[0], VideoFailure) and est.failures_[0].video == corrupt
    scores = est.decision_function(np.append(x_te, corrupt).astype(object))
    assert scores.shape == (len(x_te) + 1, len(CLASSES))
    assert np.isnan(scores[-1]).all() and np.isfinite(scores[:-1]).all()
    assert len(est.failures_) == 2
    accuracy = float(np.mean(scores[:-1].argmax(axis=1) == y_te))
    # chance is 1/3; appearance-only HOG cannot tell right from left (expected 2/3)
    assert accuracy >= (0.5 if name == "hog_bow_svm" else 0.8), accuracy
    # same seed, cached features -> the same scores
    again = build_method(name, _ctx(tmp_path)).fit(x_tr, y_tr).decision_function(x_te)
    np.testing.assert_allclose(again, scores[:-1], rtol=1e-9, atol=1e-12)


def test_scores_cover_classes_absent_from_training(tiny_set, tmp_path):
    x_tr, y_tr, x_te, _, _, _ = tiny_set
    keep = y_tr != 1
    est = build_method("hof_bow_svm", _ctx(tmp_path)).fit(x_tr[keep], y_tr[keep])
    assert est.selection_ == {"C": est.C_, "C_grid": [float(c) for c in est.C_grid]}
    assert est.C_ in est.selection_["C_grid"]  # what the report's edge-of-grid check reads
    scores = est.decision_function(x_te)
    assert scores.shape == (len(x_te), 3)
    assert np.all(scores.argmax(axis=1) != 1)


def test_dis_flow_is_a_working_option(tiny_set, tmp_path):
    x_tr, y_tr, x_te, y_te, _, _ = tiny_set
    est = build_method("hof_bow_svm", _ctx(tmp_path), flow="dis")
    assert est.extractor.flow.algorithm == "dis"
    scores = est.fit(x_tr, y_tr).decision_function(x_te)
    assert float(np.mean(scores.argmax(axis=1) == y_te)) >= 0.8


def test_fit_holds_one_video_of_descriptors_at_a_time(tiny_set, tmp_path, monkeypatch):
    """Memory is bounded: extraction returns handles, not arrays, and the estimator never
    holds the raw descriptors of two videos at once (tracked with weak references to every
    array the cache hands out, with a small encoder sample so the subsampling path runs)."""
    import weakref

    from baselines import extraction, methods

    monkeypatch.setattr(methods, "_ENCODER_SAMPLE", 300)
    x_tr, y_tr, x_te, _, _, _ = tiny_set
    alive: list = []
    most_held: list[int] = []
    loads: list[str] = []
    real_load = extraction.DescriptorFile.load

    def tracking_load(self, channels=None):
        most_held.append(sum(ref() is not None for ref in alive))
        loads.append(self.video)
        arrays = real_load(self, channels)
        alive.extend(weakref.ref(a) for a in arrays.values())
        return arrays

    monkeypatch.setattr(extraction.DescriptorFile, "load", tracking_load)
    real_extract = methods.extract_to_cache
    handed_back: list = []

    def recording_extract(*args, **kwargs):
        results = real_extract(*args, **kwargs)
        handed_back.extend(results)
        return results

    monkeypatch.setattr(methods, "extract_to_cache", recording_extract)
    est = build_method("hoghof_bow_svm", _ctx(tmp_path)).fit(x_tr, y_tr)
    assert est.n_descriptors_ > methods._ENCODER_SAMPLE  # the sample really is a subset
    est.decision_function(x_te)
    assert all(isinstance(r, extraction.DescriptorFile) for r in handed_back)
    # every training video is read to encode it, every test video once
    assert sorted(set(loads)) == sorted(set(x_tr) | set(x_te))
    assert loads.count(x_te[0]) == 1
    assert max(most_held) == 0, most_held


def test_streamed_encoders_equal_encoders_fitted_on_the_pooled_descriptors(tiny_set, tmp_path,
                                                                          monkeypatch):
    """The seeded sample read video by video is the sample the encoder draws from the pooled
    arrays of all videos (oracle: BagOfWords.fit / FisherVector.fit on the pooled sets), and
    the per-video codes equal the encoder's batch transform."""
    from baselines import methods
    from baselines.encoders import BagOfWords, FisherVector
    from baselines.extraction import extract_many

    monkeypatch.setattr(methods, "_ENCODER_SAMPLE", 250)
    x_tr, y_tr, _, _, _, _ = tiny_set
    for name, make in (("hoghof_bow_svm", BagOfWords), ("dense_mbh_fv_svm", FisherVector)):
        est = build_method(name, _ctx(tmp_path)).fit(x_tr, y_tr)
        feats = extract_many(x_tr, est.extractor, cache_dir=tmp_path / "cache")
        codes = []
        for c in est.extractor.channels:
            oracle = make(**est.encoder_sizes_[c], max_descriptors=250, random_state=0)
            oracle.fit([f[c] for f in feats])
            ours = est.encoders_[c]
            if make is BagOfWords:
                np.testing.assert_array_equal(ours.codebook_, oracle.codebook_)
            else:
                np.testing.assert_array_equal(ours.gmm_.means_, oracle.gmm_.means_)
                np.testing.assert_array_equal(ours.pca_.components_, oracle.pca_.components_)
            codes.append(oracle.transform([f[c] for f in feats]))
        np.testing.assert_allclose(est._encode(est._extract(x_tr, tmp_path / "cache")),
                                   np.hstack(codes), rtol=1e-12, atol=1e-12)


def test_without_a_cache_dir_the_descriptors_go_to_a_removed_temporary_folder(
        tiny_set, tmp_path, monkeypatch):
    import tempfile

    x_tr, y_tr, x_te, _, _, _ = tiny_set
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ctx = MethodContext(seed=0, quick=True, jobs=1, cache_dir=None, progress=False,
                        classes=CLASSES)
    scores = build_method("hof_bow_svm", ctx).fit(x_tr, y_tr).decision_function(x_te)
    assert np.isfinite(scores).all()
    assert list(tmp_path.iterdir()) == []


def test_the_run_s_other_classical_methods_are_extracted_in_the_same_pass():
    from baselines.methods import _build, _extractor
    from bench.methods import MethodContext

    ctx = MethodContext(quick=True, cache_dir=None, progress=False,
                        run_methods={"hog_bow_svm": {}, "hof_bow_svm": {"size": 48},
                                     "c3d": {"preset": "small"}, "chance": {}})
    est = _build("hog_bow_svm", ctx)
    # the other classical method, with its own extractor parameters; deep methods are not ours
    assert est.co_extract == (_extractor("hof_bow_svm", ctx, size=48),)
    alone = _build("hog_bow_svm", MethodContext(quick=True, cache_dir=None, progress=False))
    assert alone.co_extract == ()
    assert alone.extractor == est.extractor


def test_the_codebook_follows_the_number_of_training_videos():
    from baselines.methods import WORDS_PER_VIDEO, ClassicalVideoClassifier

    est = ClassicalVideoClassifier(encoding="bow", n_words=4000)
    est.encoder_sizes_ = {}
    sample = np.random.default_rng(0).random((5000, 4))
    est._fitted_encoder("hog", 5000, sample, n_videos=3)
    assert est.encoder_sizes_["hog"]["n_words"] == 3 * WORDS_PER_VIDEO
    est._fitted_encoder("hog", 5000, sample, n_videos=1000)
    assert est.encoder_sizes_["hog"]["n_words"] == 4000  # the paper's size when data allows
