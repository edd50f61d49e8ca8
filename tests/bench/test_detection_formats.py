"""ActivityNet JSON formats: results and database files round-trip, and bad files are named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.data.annotations import AnnotationError, read_activitynet
from bench.tasks.detection import (
    activitynet_map,
    read_database_json,
    read_results_json,
    write_database_json,
    write_results_json,
)

ANET12 = "annotations/activitynet/activity_net.v1-2.min-missing-removed.json"


def _detections(seed: int = 0, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 50, n)
    return pd.DataFrame({"video_id": rng.choice(["b", "a", "c/d"], n), "t_start": start,
                         "t_end": start + rng.uniform(0, 9, n),
                         "label": rng.choice(["Long jump", "Ballet"], n),
                         "score": np.round(rng.uniform(0, 1, n), 2)})


def _canonical(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(list(table.columns), kind="mergesort").reset_index(drop=True)


def test_results_round_trip(tmp_path):
    det = _detections()
    path = tmp_path / "run" / "detections.json"
    write_results_json(path, det, videos=["empty"], external_data={"used": True,
                                                                   "details": "Kinetics"})
    data = json.loads(path.read_text())
    assert data["version"] == "VERSION 1.3" and data["external_data"]["used"] is True
    assert data["results"]["empty"] == []
    assert set(data["results"]["a"][0]) == {"segment", "label", "score"}
    back = read_results_json(path)
    assert list(back.columns) == ["video_id", "t_start", "t_end", "label", "score"]
    pd.testing.assert_frame_equal(_canonical(back), _canonical(det))  # floats exactly
    assert [p.name for p in path.parent.iterdir()] == ["detections.json"]  # no temp files left
    gt = det.sample(10, random_state=0).drop(columns="score")
    np.testing.assert_array_equal(activitynet_map(gt, back).ap, activitynet_map(gt, det).ap)


def test_proposals_round_trip(tmp_path):
    det = _detections(1).drop(columns="label")
    path = tmp_path / "proposals.json"
    write_results_json(path, det, proposals=True)
    assert "label" not in json.loads(path.read_text())["results"]["a"][0]
    back = read_results_json(path, proposals=True)
    assert set(back["label"]) == {"proposal"}
    pd.testing.assert_frame_equal(_canonical(back.drop(columns="label")), _canonical(det))


def test_database_round_trip(tmp_path):
    gt = _detections(2).drop(columns="score")
    videos = pd.DataFrame({"video_id": ["a", "b", "c/d", "unannotated"],
                           "subset": ["validation", "validation", None, "testing"],
                           "duration": [60.0, 61.5, np.nan, 10.0]})
    path = tmp_path / "ground_truth.json"
    write_database_json(path, gt, videos)
    data = json.loads(path.read_text())
    assert data["taxonomy"] == [] and "duration" not in data["database"]["c/d"]
    assert data["database"]["c/d"]["subset"] == "validation"  # the default subset
    back = read_database_json(path)
    pd.testing.assert_frame_equal(_canonical(back.segments), _canonical(gt))
    assert back.videos["video_id"].tolist() == ["a", "b", "c/d", "unannotated"]
    assert back.videos["subset"].tolist() == ["validation", "validation", "validation",
                                              "testing"]
    np.testing.assert_array_equal(back.videos["duration"], [60.0, 61.5, np.nan, 10.0])
    assert back.classes == ("Ballet", "Long jump")
    again = tmp_path / "again.json"
    write_database_json(again, back)  # what a reader returned writes the same file
    assert again.read_text() == path.read_text()


def test_database_writer_refuses_unlisted_videos(tmp_path):
    gt = _detections(3).drop(columns="score")
    with pytest.raises(AnnotationError, match="not in the videos table"):
        write_database_json(tmp_path / "gt.json", gt, pd.DataFrame({"video_id": ["a"]}))
    assert not (tmp_path / "gt.json").exists()


def test_the_real_database_round_trips(shared_real, tmp_path):
    ann = read_activitynet(shared_real / ANET12, "validation")
    path = tmp_path / "gt.json"
    write_database_json(path, ann, version="VERSION 1.2", taxonomy=ann.meta["taxonomy"])
    back = read_database_json(path)
    assert back.classes == ann.classes and len(back.videos) == 2198
    pd.testing.assert_frame_equal(_canonical(back.segments), _canonical(ann.segments))


@pytest.mark.parametrize(("entry", "expected"), [
    ({"segment": [1, 2], "label": "x"}, "is not {\"segment\""),
    ({"segment": [1, "2"], "label": "x", "score": 0.5}, "is not {\"segment\""),
    ({"segment": [5, 2], "label": "x", "score": 0.5}, "ends before it starts"),
])
def test_bad_results_name_the_line(tmp_path, entry, expected):
    path = tmp_path / "results.json"
    results = {"v1": [{"segment": [0, 1], "label": "x", "score": 1.0}, entry]}
    path.write_text(json.dumps({"version": "x", "results": results}, indent=2))
    with pytest.raises(AnnotationError) as info:
        read_results_json(path)
    message = str(info.value)
    assert "results['v1'][1]" in message and expected in message and "Fix:" in message
    lines = path.read_text().splitlines()
    assert lines[info.value.line - 1].strip() == "{"  # the line opening the second entry
    assert lines[info.value.line - 1] is not lines[2]


def test_results_file_that_is_not_one(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"results": [}')
    with pytest.raises(AnnotationError, match="line 1: not valid JSON"):
        read_results_json(path)
    path.write_text('{"database": {}}')
    with pytest.raises(AnnotationError, match="no 'results' object"):
        read_results_json(path)
    with pytest.raises(FileNotFoundError):
        read_results_json(tmp_path / "absent.json")
