"""The classical localizer (``hog_tubes_dt``) and OpenCV's pretrained people detector
(``opencv_hog_people``) on the quick untrimmed set: valid AVA-style tables on the keyframes,
seeded determinism, an undecodable video recorded as a failure, clear parameter errors, and
a ``--task localization --quick`` run in which the classical method's person AP beats the
``random_boxes`` floor's on every fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines.localization import (
    HOG_TUBES_CARD,
    LOCALIZE_COLUMNS,
    TubeActionLocalizer,
    build_hog_tubes,
)
from baselines.opencv_people import build_opencv_people
from bench.data.datasets import load_dataset
from bench.methods import MethodContext, get_method
from bench.run.config import RunConfig
from bench.run.runner import run_benchmark


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    home = tmp_path_factory.mktemp("untrimmed_home")
    m = load_dataset("untrimmed", root=str(home), preset="quick", task="localization")
    path_of = dict(zip(m.table["video_id"], m.paths(), strict=True))
    train, test = m.subset(1, "train"), m.subset(1, "test")
    boxes = m.keyframe_boxes(train)
    return dict(home=home, manifest=m, cache=tmp_path_factory.mktemp("cache"),
                boxes=boxes.assign(video=boxes["video_id"].map(path_of)),
                train=np.array([path_of[v] for v in train["video_id"]], dtype=object),
                test=np.array([path_of[v] for v in test["video_id"]], dtype=object),
                path_of=path_of)


def _ctx(quick):
    return MethodContext(seed=0, quick=True, classes=quick["manifest"].classes,
                         cache_dir=quick["cache"], progress=False)


@pytest.fixture(scope="module")
def localized(quick):
    est = build_hog_tubes(_ctx(quick)).fit(quick["train"], quick["boxes"])
    return est, est.localize(quick["test"])


def _check_table(table, quick, n_classes):
    assert list(table.columns) == list(LOCALIZE_COLUMNS)
    xyxy = table[["x1", "y1", "x2", "y2"]].to_numpy()
    assert ((xyxy >= 0) & (xyxy <= 1)).all()
    assert (table["x1"] <= table["x2"]).all() and (table["y1"] <= table["y2"]).all()
    assert table["label"].between(0, n_classes - 1).all()
    assert np.isfinite(table["score"]).all() and table["score"].between(0, 1).all()
    assert set(table["video"]) <= set(quick["test"])
    # every timestamp is a keyframe by the ground truth's rule (25 fps, 1 Hz: whole seconds
    # from 1 s; the quick videos last under 10 s)
    assert set(table["timestamp"]) <= set(np.arange(1.0, 10.0))


def test_the_localizer_gives_a_valid_table_on_the_keyframes(localized, quick):
    est, table = localized
    n = len(quick["manifest"].classes)
    _check_table(table, quick, n)
    assert len(table) and est.failures_ == []
    # one row per (box, class): each box carries every class once, scored below its person
    per_box = table.groupby(["video", "timestamp", "person_id"])["label"].agg(sorted)
    assert all(labels == list(range(est.n_classes_)) for labels in per_box)
    assert table.groupby(["video", "timestamp"])["person_id"].nunique().max() <= est.max_boxes
    truth = quick["manifest"].keyframe_boxes(quick["manifest"].subset(1, "test"))
    assert set(zip(truth["video_id"].map(quick["path_of"]), truth["timestamp"], strict=True)) \
        & set(zip(table["video"], table["timestamp"], strict=True))


def test_the_localizer_is_seeded(localized, quick):
    _, table = localized
    again = build_hog_tubes(_ctx(quick)).fit(quick["train"], quick["boxes"]).localize(
        quick["test"])
    pd.testing.assert_frame_equal(table, again)


def test_an_undecodable_video_is_a_failure(localized, quick, tmp_path):
    est, _ = localized
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"not a video")
    table = est.localize(np.array([str(bad), quick["test"][0]], dtype=object))
    assert [f.video for f in est.failures_] == [str(bad)]
    assert est.failures_[0].stage == "decode"
    assert set(table["video"]) == {quick["test"][0]}


@pytest.mark.parametrize("params,message", [
    ({"extractor": None}, "'extractor' parameter of TubeActionLocalizer must be an "
                          "ExtractorConfig"),
    ({"frame_stride": 0}, "'frame_stride' parameter of TubeActionLocalizer must be an int"),
    ({"half_window_s": -1.0}, "'half_window_s' parameter of TubeActionLocalizer must be a "
                              "float > 0"),
])
def test_bad_parameters_are_named(quick, params, message):
    est = build_hog_tubes(_ctx(quick)).set_params(**params)
    with pytest.raises(ValueError, match=message):
        est.fit(quick["train"], quick["boxes"])
    with pytest.raises(ValueError, match="lack the column"):
        build_hog_tubes(_ctx(quick)).fit(quick["train"], quick["boxes"].drop(columns="frame"))
    assert isinstance(TubeActionLocalizer(), TubeActionLocalizer)


def test_opencvs_people_detector_gives_a_valid_table(quick):
    est = build_opencv_people(_ctx(quick)).fit(quick["train"], quick["boxes"])
    table = est.localize(quick["test"])
    _check_table(table, quick, len(quick["manifest"].classes))
    assert len(table) and 2 < est.upscale_ < 10  # ~20 px actors to ~96 px
    with pytest.raises(ValueError, match="'max_boxes' parameter of OpenCVPeopleLocalizer"):
        build_opencv_people(_ctx(quick), max_boxes=0).fit(quick["train"], quick["boxes"])


def test_both_are_registered_for_localization():
    assert get_method("hog_tubes_dt").card.task == "localization"
    assert get_method("hog_tubes_dt").card == HOG_TUBES_CARD
    card = get_method("opencv_hog_people").card
    assert card.task == "localization" and "person AP" in card.protocol


def test_a_quick_run_person_ap_beats_the_floor(quick, tmp_path):
    out = tmp_path / "run"
    config = RunConfig(task="localization", root=str(quick["home"]), quick=True,
                       methods=["random_boxes", "hog_tubes_dt"], folds="all", out=str(out),
                       quiet=True, options={"n_boot": 50})
    run_dir = run_benchmark(config)
    results = pd.read_csv(run_dir / "results.csv")
    ap = results[results["metric"] == "person_ap@0.50"].pivot(index="fold", columns="method",
                                                                 values="value")
    assert len(ap) == 2
    assert (ap["hog_tubes_dt"] > ap["random_boxes"] + 0.1).all()
    fmap = results[results["metric"] == "frame_map@0.50"].set_index(["method", "fold"])
    assert (fmap.loc["hog_tubes_dt", "value"] > 0).all()
