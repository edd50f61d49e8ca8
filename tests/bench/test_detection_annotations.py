"""Annotation readers of temporal detection: real counts, and every bad-annotation error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.annotations import (
    AnnotationError,
    MissingAnnotatedVideosError,
    read_activitynet,
    read_segments_csv,
    read_thumos14,
    validate_segments,
)
from bench.data.datasets._common import MissingVideosError

ANET12 = "annotations/activitynet/activity_net.v1-2.min-missing-removed.json"


# --- the real files: the counts of the README ---------------------------------------------

def test_thumos14_validation_counts(shared_real):
    ann = read_thumos14(shared_real / "annotations" / "thumos14" / "val")
    assert ann.segments["video_id"].nunique() == 200
    assert len(ann.segments) == 3007
    assert len(ann.ambiguous) == 89
    assert len(ann.classes) == 20 and ann.classes[0] == "BaseballPitch"
    assert ann.classes[-1] == "VolleyballSpiking"
    assert set(ann.videos["subset"]) == {"validation"}
    assert set(ann.segments["label"]) == set(ann.classes)


def test_thumos14_test_counts(shared_real):
    ann = read_thumos14(shared_real / "annotations" / "thumos14" / "test", "test")
    assert ann.segments["video_id"].nunique() == 212
    assert len(ann.segments) == 3358
    assert len(ann.ambiguous) == 99
    assert len(ann.videos) == 213  # video_test_0001292 is listed, without ground truth
    only_ambiguous = set(ann.videos["video_id"]) - set(ann.segments["video_id"])
    assert only_ambiguous == {"video_test_0001292"}
    assert (ann.ambiguous["video_id"] == "video_test_0001292").any()


def test_activitynet_v12_counts(shared_real):
    ann = read_activitynet(shared_real / ANET12)
    assert len(ann.videos) == 8907
    assert ann.videos["subset"].value_counts().to_dict() == {
        "training": 4441, "testing": 2268, "validation": 2198}
    assert len(ann.meta["taxonomy"]) == 151
    assert ann.meta["version"] == "VERSION 1.2"
    assert len(ann.classes) == 100  # the taxonomy's leaves
    assert set(ann.segments["label"]) <= set(ann.classes)
    assert ann.videos["duration"].gt(0).all()
    testing = set(ann.videos.loc[ann.videos["subset"] == "testing", "video_id"])
    assert not testing & set(ann.segments["video_id"])
    val = read_activitynet(shared_real / ANET12, "validation")
    assert len(val.videos) == 2198 and set(val.segments["video_id"]) <= set(val.videos["video_id"])


# --- small files written here --------------------------------------------------------------

def _thumos(tmp_path: Path, files: dict[str, str], classes: str = "7 BaseballPitch\r\n9 Dunk\r\n"
            ) -> Path:
    folder = tmp_path / "val"
    folder.mkdir()
    (folder / "detclasslist.txt").write_bytes(classes.encode())
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _anet(tmp_path: Path, database: dict, taxonomy: list | None = None) -> Path:
    path = tmp_path / "anet.json"
    path.write_text(json.dumps({"version": "VERSION 1.3", "taxonomy": taxonomy or [],
                                "database": database}, indent=2))
    return path


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "segments.csv"
    path.write_text(text)
    return path


def _videos(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")  # listed, never opened
    return root


def test_thumos14_small_folder(tmp_path):
    folder = _thumos(tmp_path, {
        "BaseballPitch_val.txt": "v1  1.0 2.0\nv1  3.0 4.5\n\nv2 0 1\n",
        "Dunk_val.txt": "v2  5 6\r\n",
        "Ambiguous_val.txt": "v3 1 2\n",
    })
    ann = read_thumos14(folder)
    assert ann.classes == ("BaseballPitch", "Dunk")
    assert ann.segments[["video_id", "t_start", "t_end", "label"]].values.tolist() == [
        ["v1", 1.0, 2.0, "BaseballPitch"], ["v1", 3.0, 4.5, "BaseballPitch"],
        ["v2", 0.0, 1.0, "BaseballPitch"], ["v2", 5.0, 6.0, "Dunk"]]
    assert ann.ambiguous.values.tolist() == [["v3", 1.0, 2.0, "Ambiguous"]]
    assert ann.videos["video_id"].tolist() == ["v1", "v2", "v3"]
    assert ann.videos["duration"].isna().all()


def _raises(match_all: list[str], call, error=AnnotationError):
    with pytest.raises(error) as info:
        call()
    for part in match_all:
        assert part in str(info.value), str(info.value)
    assert "Fix:" in str(info.value)
    return info.value


def test_thumos14_end_before_start(tmp_path):
    folder = _thumos(tmp_path, {"BaseballPitch_val.txt": "v1 1 2\nv1 9 3\n", "Dunk_val.txt": ""})
    err = _raises(["BaseballPitch_val.txt, line 2", "'v1'", "ends before it starts"],
                  lambda: read_thumos14(folder))
    assert isinstance(err, ValueError) and err.line == 2


def test_thumos14_malformed_line(tmp_path):
    folder = _thumos(tmp_path, {"BaseballPitch_val.txt": "v1 1 2\n\nv1 3\n",
                                "Dunk_val.txt": "v2 a b\n"})
    _raises(["BaseballPitch_val.txt, line 3", "'v1 3'", "<video> <start> <end>"],
            lambda: read_thumos14(folder))


def test_thumos14_malformed_class_list(tmp_path):
    folder = _thumos(tmp_path, {"BaseballPitch_val.txt": ""}, classes="7 BaseballPitch\r\nDunk\r\n")
    _raises(["detclasslist.txt, line 2", "'Dunk'"], lambda: read_thumos14(folder))


def test_thumos14_unknown_label_file(tmp_path):
    folder = _thumos(tmp_path, {"BaseballPitch_val.txt": "", "Dunk_val.txt": "",
                                "Skating_val.txt": "v1 1 2\n"})
    _raises(["Skating_val.txt", "'Skating'", "not in detclasslist.txt"],
            lambda: read_thumos14(folder))


def test_thumos14_listed_class_without_file(tmp_path):
    folder = _thumos(tmp_path, {"BaseballPitch_val.txt": "v1 1 2\n"})
    _raises(["detclasslist.txt, line 2", "'Dunk'", "Dunk_val.txt"], lambda: read_thumos14(folder))


def test_thumos14_durations_checked_when_known(tmp_path):
    folder = _thumos(tmp_path, {"BaseballPitch_val.txt": "v1 1 2\n", "Dunk_val.txt": "v1 5 9\n"})
    _raises(["Dunk_val.txt, line 1", "past the video's duration of 8 s"],
            lambda: read_thumos14(folder, durations={"v1": 8.0}))
    assert len(read_thumos14(folder, durations={"v1": 8.6}).segments) == 2  # within tolerance


def test_thumos14_missing_videos(tmp_path):
    folder = _thumos(tmp_path, {"BaseballPitch_val.txt": "v1 1 2\nv2 1 2\n",
                                "Dunk_val.txt": "v3 1 2\n", "Ambiguous_val.txt": "v2 5 6\n"})
    root = _videos(tmp_path / "videos", ["validation/v1.mp4", "v3.MP4"])
    err = _raises(["1 video(s)", "BaseballPitch_val.txt, line 2: video 'v2'",
                   "allow_missing=True"], lambda: read_thumos14(folder, video_root=root),
                  MissingAnnotatedVideosError)
    assert isinstance(err, ValueError) and isinstance(err, MissingVideosError)
    ann = read_thumos14(folder, video_root=root, allow_missing=True)
    assert ann.missing == ("v2",)
    assert "v2" not in set(ann.segments["video_id"]) | set(ann.ambiguous["video_id"])
    assert dict(zip(ann.videos["video_id"], ann.videos["path"], strict=True)) == {
        "v1": "validation/v1.mp4", "v3": "v3.MP4"}


def test_activitynet_small_file(tmp_path):
    taxonomy = [{"nodeId": 0, "nodeName": "Root", "parentId": None, "parentName": None},
                {"nodeId": 1, "nodeName": "Sports", "parentId": 0, "parentName": "Root"},
                {"nodeId": 2, "nodeName": "Dunk", "parentId": 1, "parentName": "Sports"},
                {"nodeId": 3, "nodeName": "Pitch", "parentId": 1, "parentName": "Sports"}]
    path = _anet(tmp_path, {
        "a": {"subset": "training", "duration": 10.0,
              "annotations": [{"segment": [1, 2], "label": "Dunk"},
                              {"segment": [0, 10.2], "label": "Pitch"}]},
        "b": {"subset": "testing", "duration": 5.0, "annotations": []},
    }, taxonomy)
    ann = read_activitynet(path)
    assert ann.classes == ("Dunk", "Pitch")
    assert len(ann.segments) == 2 and ann.segments["t_end"].tolist() == [2.0, 10.2]
    assert ann.videos[["video_id", "subset", "duration"]].values.tolist() == [
        ["a", "training", 10.0], ["b", "testing", 5.0]]
    assert ann.durations().to_dict() == {"a": 10.0, "b": 5.0}
    with pytest.raises(ValueError, match="'subset'"):
        read_activitynet(path, "validation")


def test_activitynet_end_past_duration_names_the_annotation_line(tmp_path):
    path = _anet(tmp_path, {
        "a": {"subset": "training", "duration": 10.0,
              "annotations": [{"segment": [1, 2], "label": "Dunk"},
                              {"segment": [3, 12], "label": "Dunk"}]}})
    err = _raises(["database['a']['annotations'][1]", "past the video's duration of 10 s"],
                  lambda: read_activitynet(path))
    lines = path.read_text().splitlines()
    assert '"segment"' in lines[err.line] or "{" in lines[err.line - 1]
    assert "12" in "".join(lines[err.line - 1: err.line + 6])


@pytest.mark.parametrize(("annotation", "expected"), [
    ({"segment": [-1, 2], "label": "Dunk"}, "starts before 0 s"),
    ({"segment": [5, 2], "label": "Dunk"}, "ends before it starts"),
    ({"segment": [1, 2], "label": "Skate"}, "'Skate' is not in the class list"),
    ({"segment": [1], "label": "Dunk"}, "is not {\"segment\""),
    ({"label": "Dunk"}, "is not {\"segment\""),
])
def test_activitynet_bad_annotations(tmp_path, annotation, expected):
    path = _anet(tmp_path, {"a": {"subset": "training", "duration": 10.0,
                                  "annotations": [annotation]}},
                 [{"nodeId": 1, "nodeName": "Dunk", "parentId": 0, "parentName": "Root"}])
    err = _raises(["anet.json, line", expected], lambda: read_activitynet(path))
    assert err.line is not None and err.line > 1


def test_activitynet_invalid_json_and_wrong_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"database": {\n  "a": {,}\n}}')
    _raises(["broken.json, line 2", "not valid JSON"], lambda: read_activitynet(path))
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"results": {}}))
    _raises(["a 'results' object"], lambda: read_activitynet(results))
    bad_duration = _anet(tmp_path, {"a": {"subset": "training", "duration": -3,
                                          "annotations": []}})
    _raises(["database['a']", "not a positive number"], lambda: read_activitynet(bad_duration))


def test_activitynet_missing_videos_with_v_prefix(tmp_path):
    path = _anet(tmp_path, {
        "abc": {"subset": "validation", "duration": 9.0,
                "annotations": [{"segment": [1, 2], "label": "Dunk"}]},
        "xyz": {"subset": "validation", "duration": 9.0,
                "annotations": [{"segment": [1, 2], "label": "Dunk"}]}})
    root = _videos(tmp_path / "videos", ["v_abc.mkv"])
    line = 1 + next(i for i, text in enumerate(path.read_text().splitlines()) if '"xyz"' in text)
    _raises([f"anet.json, line {line}: video 'xyz'"],
            lambda: read_activitynet(path, video_root=root), MissingAnnotatedVideosError)
    ann = read_activitynet(path, video_root=root, allow_missing=True)
    assert ann.missing == ("xyz",) and ann.videos["path"].tolist() == ["v_abc.mkv"]
    assert ann.segments["video_id"].tolist() == ["abc"]


def test_segments_csv_reads_optional_columns(tmp_path):
    path = _csv(tmp_path, "video,start,end,label,duration,subset,actor\n"
                          "kitchen/a.mp4,1,2,pour,30,train,p1\n"
                          "\n"
                          "kitchen/a.mp4,3,4.5,stir,30,train,p2\n"
                          "\"b\",0,1,pour,,test,p1\n")
    ann = read_segments_csv(path)
    assert ann.classes == ("pour", "stir")
    assert ann.segments["actor"].tolist() == ["p1", "p2", "p1"]
    assert ann.videos[["video_id", "subset"]].values.tolist() == [
        ["b", "test"], ["kitchen/a.mp4", "train"]]
    assert ann.videos["duration"].tolist()[1] == 30.0 and np.isnan(ann.videos["duration"][0])


@pytest.mark.parametrize(("text", "expected", "line"), [
    ("v1,1,2,pour\n", "is a segment, not a header", 1),
    ("video,begin,end,label\nv1,1,2,pour\n", "unknown column(s) ['begin']", 1),
    ("video,start,end\nv1,1,2\n", "missing column(s) ['label']", 1),
    ("video,start,end,label\nv1,1,2,pour\nv1,x,2,pour\n", "not a number", 3),
    ("video,start,end,label\nv1,1,2\n", "has 3 field(s), the header 4", 2),
    ("video,start,end,label\nv1,-0.5,2,pour\n", "starts before 0 s", 2),
    ("video,start,end,label\nv1,1,2,pour\nv1,4,3,pour\n", "ends before it starts", 3),
    ("video,start,end,label,duration\nv1,1,2,pour,5\nv1,1,9,pour,5\n", "past the video's", 3),
    ("video,start,end,label,duration\nv1,1,2,pour,5\nv1,1,3,pour,6\n", "duration 6.0 here", 3),
    ("video,start,end,label\nv1,1,2,pour\n\nv1,3,4,jump\n", "'jump' is not in the class", 4),
    ("video,start,end,label\nv1,1,2,\n", "the video or the label is empty", 2),
    ("", "the file is empty", 1),
])
def test_segments_csv_errors(tmp_path, text, expected, line):
    path = _csv(tmp_path, text)
    err = _raises([f"segments.csv, line {line}", expected],
                  lambda: read_segments_csv(path, classes=["pour", "stir"]))
    assert err.line == line and err.path == str(path)


def test_segments_csv_missing_videos(tmp_path):
    path = _csv(tmp_path, "video,start,end,label\nclips/a,1,2,pour\nb.mp4,1,2,pour\n"
                          "c,1,2,pour\nc,3,4,pour\n")
    root = _videos(tmp_path / "videos", ["clips/a.avi", "deep/b.mp4"])
    err = _raises(["segments.csv, line 4: video 'c'", "--allow-missing"],
                  lambda: read_segments_csv(path, video_root=root), MissingAnnotatedVideosError)
    assert isinstance(err, ValueError)
    ann = read_segments_csv(path, video_root=root, allow_missing=True)
    assert ann.missing == ("c",) and len(ann.segments) == 2
    assert ann.videos["path"].tolist() == ["deep/b.mp4", "clips/a.avi"]


def test_video_matching_several_files_by_name_is_an_error(tmp_path):
    path = _csv(tmp_path, "video,start,end,label\nclip,1,2,pour\n")
    root = _videos(tmp_path / "videos", ["x/clip.mp4", "y/clip.mp4"])
    _raises(["'clip' matches several files"], lambda: read_segments_csv(path, video_root=root))


def test_validate_segments_names_the_row():
    table = pd.DataFrame({"video_id": ["a", "b"], "t_start": [0, 5], "t_end": [1, 4],
                          "label": ["x", "x"]})
    _raises(["ground truth row 1 (video 'b')", "ends before it starts"],
            lambda: validate_segments(table, what="ground truth"))
    _raises(["lacks the column(s) ['label']"],
            lambda: validate_segments(table.drop(columns="label")))
    ok = validate_segments(table.iloc[:1], durations={"a": 1.2}, classes=["x"])
    assert ok["t_start"].dtype == np.float64 and ok["video_id"].tolist() == ["a"]
