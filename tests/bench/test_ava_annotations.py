"""AVA readers and writers: exact counts on the real files, round trips, every bad-input error."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.annotations import (
    AVA_KEYFRAME_RANGE,
    BOX_COLUMNS,
    NO_PERSON,
    AnnotationError,
    MissingAnnotatedVideosError,
    read_ava,
    read_ava_excluded,
    read_ava_label_map,
    validate_boxes,
    write_ava_csv,
    write_ava_excluded,
    write_ava_label_map,
)

HEAD = "ava_val_v2.1_head27163.csv"
LABEL_MAP = "ava_action_list_v2.1_for_activitynet_2018.pbtxt"
VAL_EXCLUDED = "ava_val_excluded_timestamps_v2.1.csv"
TRAIN_EXCLUDED = "ava_train_excluded_timestamps_v2.1.csv"


@pytest.fixture(scope="module")
def ava_dir(shared_real: Path) -> Path:
    folder = shared_real / "annotations" / "ava"
    if not (folder / HEAD).is_file():
        pytest.skip(f"the AVA files are not at {folder}")
    return folder


def _oracle(path: Path) -> dict:
    """The counts of an AVA CSV computed with the csv module alone (not the reader)."""
    with open(path, newline="") as handle:
        rows = [r for r in csv.reader(handle) if r]
    return {
        "rows": len(rows),
        "keyframes": len({(r[0], int(r[1])) for r in rows}),
        "boxes": len({(r[0], int(r[1]), *map(float, r[2:6])) for r in rows}),
        "persons": len({(r[0], int(r[7])) for r in rows}),
        "labels": {int(r[6]) for r in rows},
        "videos": {r[0] for r in rows},
        "raw": rows,
    }


def _ids_in_map(path: Path) -> dict[int, str]:
    """``id -> name`` of a label map read with a regular expression (not the reader)."""
    text = path.read_text()
    return {int(i): n for n, i in re.findall(r'name:\s*"([^"]*)"\s*id:\s*(\d+)', text)}


# --- the real files ---------------------------------------------------------------------------

def test_the_head_file_counts(ava_dir):
    oracle = _oracle(ava_dir / HEAD)
    assert oracle["rows"] == 27163
    ann = read_ava(ava_dir / HEAD)
    assert list(ann.boxes.columns) == list(BOX_COLUMNS)
    assert len(ann.boxes) == oracle["rows"] == 27163
    assert len(ann.keyframes) == oracle["keyframes"] == 6470
    assert len(ann.actor_boxes()) == oracle["boxes"] == 11691
    persons = ann.boxes[["video_id", "person_id"]].drop_duplicates()
    assert len(persons) == oracle["persons"] == 3205
    assert set(ann.boxes["label"]) == oracle["labels"] and len(oracle["labels"]) == 64
    assert set(ann.boxes["video_id"]) == oracle["videos"] and len(oracle["videos"]) == 8
    assert ann.boxes["label_name"].isna().all() and ann.classes == {}
    # 1 Hz keyframes inside AVA's 15-minute window, whole seconds
    ts = ann.keyframes["timestamp"].to_numpy()
    assert ts.min() >= AVA_KEYFRAME_RANGE[0] and ts.max() <= AVA_KEYFRAME_RANGE[1]
    assert np.array_equal(ts, np.round(ts))
    # the first and last rows as the file has them
    first, last = oracle["raw"][0], oracle["raw"][-1]
    assert ann.boxes.iloc[0][["video_id", "timestamp", "x1", "y2", "label", "person_id"]].tolist() \
        == [first[0], 902.0, 0.002, 0.977, 12, 1]
    assert ann.boxes.iloc[-1][["video_id", "timestamp", "label", "person_id"]].tolist() == \
        [last[0], float(last[1]), int(last[6]), int(last[7])]
    assert ann.meta["columns"] == 8 and ann.meta["format"] == "ava"


def test_the_label_map(ava_dir):
    classes = read_ava_label_map(ava_dir / LABEL_MAP)
    assert len(classes) == 60
    assert classes == _ids_in_map(ava_dir / LABEL_MAP)
    assert classes[1] == "bend/bow (at the waist)"
    assert classes[80] == "watch (a person)"
    assert classes[12] == "stand"
    assert 2 not in classes  # "carry/hold (an object)" is not among the 60
    assert list(classes) == sorted(classes)  # the file's order, which is by id


def test_the_label_map_filters_like_the_evaluator(ava_dir):
    oracle = _oracle(ava_dir / HEAD)
    ids = set(_ids_in_map(ava_dir / LABEL_MAP))
    outside_map = sum(int(r[6]) not in ids for r in oracle["raw"])
    assert outside_map == 23
    with pytest.raises(AnnotationError, match="other_labels='drop'") as exc:
        read_ava(ava_dir / HEAD, label_map=ava_dir / LABEL_MAP)
    first_other = next(i for i, r in enumerate(oracle["raw"], 1) if int(r[6]) not in ids)
    assert exc.value.line == first_other and HEAD in str(exc.value)
    ann = read_ava(ava_dir / HEAD, label_map=ava_dir / LABEL_MAP, other_labels="drop")
    assert len(ann.boxes) == 27163 - outside_map
    assert ann.meta["other_label_rows"] == outside_map
    assert set(ann.boxes["label"]) <= ids
    names = read_ava_label_map(ava_dir / LABEL_MAP)
    assert (ann.boxes["label_name"] == ann.boxes["label"].map(names)).all()
    assert len(ann.classes) == 60


def test_the_excluded_files(ava_dir):
    val = read_ava_excluded(ava_dir / VAL_EXCLUDED)
    train = read_ava_excluded(ava_dir / TRAIN_EXCLUDED)
    with open(ava_dir / VAL_EXCLUDED, newline="") as handle:
        rows = [r for r in csv.reader(handle) if r]
    assert len(val) == len(rows) == 37 and len(train) == 161
    assert val.iloc[0].tolist() == ["5BDj0ow5hnA", 1038.0]
    assert set(val["video_id"]) == {r[0] for r in rows}


def test_excluded_keyframes_are_dropped(ava_dir):
    oracle = _oracle(ava_dir / HEAD)
    ann = read_ava(ava_dir / HEAD, excluded=ava_dir / VAL_EXCLUDED)
    # the official val exclusions name keyframes that were never annotated: none of them is in
    # the ground truth, before or after
    with open(ava_dir / VAL_EXCLUDED, newline="") as handle:
        excluded = {(r[0], float(r[1])) for r in csv.reader(handle) if r}
    present = {(r[0], float(r[1])) for r in oracle["raw"]}
    assert not excluded & present
    assert len(ann.boxes) == 27163 and ann.meta["excluded_rows"] == 0 and len(ann.excluded) == 37
    # keyframes that are annotated: their rows go, from the ground truth and from detections
    drop = [("1j20qq1JyX4", 902.0), ("9F2voT6QWvQ", 1795.0), ("5BDj0ow5hnA", 1000.0)]
    n_drop = sum((r[0], float(r[1])) in set(drop) for r in oracle["raw"])
    assert n_drop > 0
    gt = read_ava(ava_dir / HEAD, excluded=drop)
    assert len(gt.boxes) == 27163 - n_drop and gt.meta["excluded_rows"] == n_drop
    keys = set(zip(gt.keyframes["video_id"], gt.keyframes["timestamp"], strict=True))
    assert not keys & set(drop)
    assert len(gt.keyframes) == oracle["keyframes"] - len(set(drop) & present)


def test_the_real_file_round_trips_byte_for_byte(ava_dir, tmp_path):
    ann = read_ava(ava_dir / HEAD)
    out = tmp_path / "gt.csv"
    write_ava_csv(out, ann.boxes)
    assert out.read_bytes() == (ava_dir / HEAD).read_bytes()
    again = read_ava(out)
    pd.testing.assert_frame_equal(again.boxes, ann.boxes)


def test_videos_under_a_root(ava_dir, tmp_path):
    (tmp_path / "1j20qq1JyX4.mkv").write_bytes(b"")
    with pytest.raises(MissingAnnotatedVideosError, match="7 video"):
        read_ava(ava_dir / HEAD, video_root=tmp_path)
    ann = read_ava(ava_dir / HEAD, video_root=tmp_path, allow_missing=True)
    oracle = _oracle(ava_dir / HEAD)
    assert set(ann.boxes["video_id"]) == {"1j20qq1JyX4"}
    assert len(ann.boxes) == sum(r[0] == "1j20qq1JyX4" for r in oracle["raw"])
    assert ann.missing == tuple(sorted(oracle["videos"] - {"1j20qq1JyX4"}))
    assert ann.meta["paths"] == {"1j20qq1JyX4": "1j20qq1JyX4.mkv"}


# --- small files written here -----------------------------------------------------------------

GT = ("vidA,0902,0.100,0.200,0.500,0.900,12,0\n"
      "vidA,0902,0.100,0.200,0.500,0.900,79,0\n"
      "vidA,0903,0.000,0.000,1.000,1.000,12,1\n")


def _write(tmp_path: Path, text: str, name: str = "ava.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_detections_with_scores_round_trip(tmp_path):
    det = pd.DataFrame({"video_id": ["vidA", "vidA", "vidB"], "timestamp": [902.0, 902.5, 1000],
                        "x1": [0.1, 0.0, 0.25], "y1": [0.2, 0.0, 0.125],
                        "x2": [0.5, 1.0, 0.75], "y2": [0.9, 1.0, 0.875], "label": [12, 79, 1],
                        "score": [0.9, 0.123456789, 1e-5]})
    out = tmp_path / "det.csv"
    write_ava_csv(out, det)
    assert out.read_text().splitlines()[:2] == ["vidA,0902,0.100,0.200,0.500,0.900,12,0.9",
                                                "vidA,902.5,0.000,0.000,1.000,1.000,79,0.123456789"]
    back = read_ava(out, scores=True)
    assert back.boxes["score"].tolist() == det["score"].tolist()
    assert back.boxes["timestamp"].tolist() == [902.0, 902.5, 1000.0]
    assert (back.boxes["person_id"] == NO_PERSON).all()
    for column in ("x1", "y1", "x2", "y2", "label"):
        assert back.boxes[column].tolist() == det[column].tolist()
    # seven columns: no person id, and the evaluator's score of 1
    seven = _write(tmp_path, "vidA,0902,0.1,0.2,0.5,0.9,12\n", "seven.csv")
    assert read_ava(seven).boxes["person_id"].tolist() == [NO_PERSON]
    assert read_ava(seven, scores=True).boxes["score"].tolist() == [1.0]


def test_label_map_round_trip_and_parser_tolerance(tmp_path):
    classes = {1: 'bend/bow (at the waist)', 17: 'say "hi"', 80: "watch (a person)"}
    out = tmp_path / "map.pbtxt"
    write_ava_label_map(out, classes, label_types={1: "PERSON_MOVEMENT"})
    assert out.read_text().startswith('item {\n  name: "bend/bow (at the waist)"\n  id: 1\n'
                                      "  label_type: PERSON_MOVEMENT\n}\n")
    assert read_ava_label_map(out) == classes
    loose = _write(tmp_path, "# the AVA list\nitem { name: 'walk' id: 14 }  # trailing\n"
                   "item: <\n  name: \"stand\", label_id: 12; label_type: PERSON_MOVEMENT\n>\n",
                   "loose.pbtxt")
    assert read_ava_label_map(loose) == {14: "walk", 12: "stand"}
    gt = _write(tmp_path, "v,0902,0.1,0.2,0.5,0.9,12,0\n")
    ann = read_ava(gt, label_map=loose)
    assert ann.boxes["label_name"].tolist() == ["stand"]
    assert ann.meta["label_types"] == {12: "PERSON_MOVEMENT"}


def test_excluded_round_trip(tmp_path):
    table = pd.DataFrame({"video_id": ["a", "b"], "timestamp": [902.0, 1000.5]})
    out = tmp_path / "ex.csv"
    write_ava_excluded(out, table)
    assert out.read_text() == "a,0902\nb,1000.5\n"
    back = read_ava_excluded(out)
    assert back["video_id"].tolist() == ["a", "b"] and back["timestamp"].tolist() == [902.0, 1000.5]


@pytest.mark.parametrize(("text", "line", "fragment"), [
    (GT + "vidA,0904,0.100,0.200,1.500,0.900,12,2\n", 4, "leaves [0, 1]"),
    (GT + "vidA,0904,0.600,0.200,0.500,0.900,12,2\n", 4, "no area"),
    (GT + "vidA,0904,0.1,0.2,0.5\n", 4, "has 5 column(s)"),
    (GT + "vidA,0904,0.1,0.2,0.5,0.9,12\n", 4, "line 1 has 8"),
    ("vidA,noon,0.1,0.2,0.5,0.9,12,0\n", 1, "timestamp 'noon'"),
    ("vidA,-3,0.1,0.2,0.5,0.9,12,0\n", 1, "timestamp '-3'"),
    ("vidA,0902,0.1,abc,0.5,0.9,12,0\n", 1, "y1 coordinate 'abc'"),
    ("vidA,0902,0.1,0.2,0.5,0.9,walk,0\n", 1, "action id 'walk'"),
    ("vidA,0902,0.1,0.2,0.5,0.9,12,0.87\n", 1, "pass scores=True"),
    (",0902,0.1,0.2,0.5,0.9,12,0\n", 1, "video id is empty"),
    (GT + "vidA,0902,0.100,0.200,0.600,0.900,17,0\n", 4, "line 1"),  # person 0: two boxes
])
def test_bad_csv_lines_name_file_and_line(tmp_path, text, line, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(AnnotationError) as exc:
        read_ava(path)
    message = str(exc.value)
    assert message.startswith(f"{path}, line {line}: ")
    assert fragment in message and "Fix" in message
    assert exc.value.path == str(path) and exc.value.line == line


def test_unknown_action_names_file_and_line(tmp_path):
    path = _write(tmp_path, GT)
    with pytest.raises(AnnotationError, match=r"action id 79 is not in the label map") as exc:
        read_ava(path, label_map={12: "stand"})
    assert exc.value.line == 2 and str(path) in str(exc.value) and "Fix" in str(exc.value)
    assert len(read_ava(path, label_map={12: "stand"}, other_labels="drop").boxes) == 2
    with pytest.raises(ValueError, match="'other_labels' parameter of read_ava"):
        read_ava(path, other_labels="ignore")


def test_tolerance_of_the_box_range(tmp_path):
    path = _write(tmp_path, "v,0902,-0.0000005,0.2,1.0000005,0.9,12,0\n")
    assert read_ava(path).boxes["x1"].tolist() == [-5e-7]
    with pytest.raises(AnnotationError, match=r"leaves \[0, 1\]"):
        read_ava(path, tolerance=1e-9)


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ('item {\n  name: "walk"\n}\n', 1, "has no id"),
    ('item {\n  id: 3\n}\n', 1, "has no name"),
    ('item {\n  name: "walk"\n  id: 0\n}\n', 3, "not a positive integer"),
    ('item {\n  name: "walk"\n  id: 3\n}\nitem {\n  name: "run"\n  id: 3\n}\n', 5, "also that"),
    ('item {\n  name: "walk"\n  id: 3\n', 3, "the end of the file"),
    ('item {\n  name "walk"\n}\n', 2, "expected ':'"),
    ('items {\n}\n', 1, "expected 'item'"),
    ('item {\n  name: "walk\n}\n', 2, "unexpected"),
])
def test_bad_label_maps_name_file_and_line(tmp_path, text, line, fragment):
    path = _write(tmp_path, text, "map.pbtxt")
    with pytest.raises(AnnotationError) as exc:
        read_ava_label_map(path)
    assert str(exc.value).startswith(f"{path}, line {line}: ")
    assert fragment in str(exc.value) and "Fix" in str(exc.value)


def test_bad_excluded_line(tmp_path):
    path = _write(tmp_path, "a,0902\nb\n", "ex.csv")
    with pytest.raises(AnnotationError, match="is not 'video_id,timestamp'") as exc:
        read_ava_excluded(path)
    assert exc.value.line == 2 and str(path) in str(exc.value)


def test_missing_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="AVA annotation file"):
        read_ava(tmp_path / "absent.csv")
    with pytest.raises(FileNotFoundError, match="AVA label map"):
        read_ava_label_map(tmp_path / "absent.pbtxt")


def test_the_writer_refuses_what_the_evaluator_cannot_read(tmp_path):
    base = {"video_id": ["v"], "timestamp": [902], "x1": [0.1], "y1": [0.1], "x2": [0.5],
            "y2": [0.5], "label": [3]}
    out = tmp_path / "o.csv"
    with pytest.raises(AnnotationError, match=r"leaves \[0, 1\]"):
        write_ava_csv(out, pd.DataFrame({**base, "x2": [1.2]}))
    with pytest.raises(AnnotationError, match="not in the label map"):
        write_ava_csv(out, pd.DataFrame(base), classes={1: "a"})
    with pytest.raises(AnnotationError, match="holds a comma"):
        write_ava_csv(out, pd.DataFrame({**base, "video_id": ["a,b"]}))
    with pytest.raises(AnnotationError, match="no area once rounded"):
        write_ava_csv(out, pd.DataFrame({**base, "x2": [0.1004]}))
    with pytest.raises(AnnotationError, match="no 'score' column"):
        write_ava_csv(out, pd.DataFrame(base), scores=True)
    with pytest.raises(AnnotationError, match="lacks the column"):
        write_ava_csv(out, pd.DataFrame(base).drop(columns="label"))
    mixed = pd.DataFrame({**{k: v * 2 for k, v in base.items()}, "person_id": [1, NO_PERSON]})
    with pytest.raises(AnnotationError, match="no person id"):
        write_ava_csv(out, mixed)
    assert not out.exists()
    write_ava_csv(out, pd.DataFrame(base))  # no person id at all: seven columns
    assert out.read_text() == "v,0902,0.100,0.100,0.500,0.500,3\n"


def test_validate_boxes_normalises_dtypes():
    table = validate_boxes(pd.DataFrame({"video_id": [1], "timestamp": ["902"], "x1": [0],
                                         "y1": [0], "x2": [1], "y2": [1], "label": [3.0]}))
    assert table["video_id"].tolist() == ["1"] and table["timestamp"].dtype == np.float64
    assert table["label"].dtype == np.int64
    with pytest.raises(AnnotationError, match="row 0: the label 3.5 is not an integer"):
        validate_boxes(table.assign(label=3.5))
