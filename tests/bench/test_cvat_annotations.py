"""CVAT for video 1.1: interpolation as CVAT does it, the pre-annotation writer, every error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.annotations import (
    CVAT_BOX_COLUMNS,
    AnnotationError,
    MissingAnnotatedVideosError,
    read_cvat_video,
    write_cvat_video_xml,
)

HEAD = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>12</id>
      <name>kitchen take 1</name>
      <size>{size}</size>
      <mode>interpolation</mode>
      <overlap>0</overlap>
      <start_frame>{start}</start_frame>
      <stop_frame>{stop}</stop_frame>
      <frame_filter>{filter}</frame_filter>
      <labels>
        <label>
          <name>person</name>
          <attributes>
            <attribute>
              <name>action</name>
              <mutable>True</mutable>
              <input_type>select</input_type>
              <default_value>stand</default_value>
              <values>stand
walk
sit</values>
            </attribute>
          </attributes>
        </label>
        <label>
          <name>wave</name>
          <attributes>
          </attributes>
        </label>
      </labels>
      <original_size>
        <width>100</width>
        <height>50</height>
      </original_size>
    </task>
    <dumped>2024-01-01 00:00:00.000000+00:00</dumped>
    <source>take_01.mp4</source>
  </meta>
"""


def _box(frame, xtl, ytl, xbr, ybr, *, outside=0, keyframe=1, occluded=0, action=None):
    attrs = (f'    <box frame="{frame}" keyframe="{keyframe}" outside="{outside}" '
             f'occluded="{occluded}" xtl="{xtl}" ytl="{ytl}" xbr="{xbr}" ybr="{ybr}" '
             'z_order="0"')
    if action is None:
        return attrs + "/>\n"
    return attrs + f'>\n      <attribute name="action">{action}</attribute>\n    </box>\n'


def _xml(tmp_path: Path, tracks: str, *, size=20, start=0, filter="", name="task.xml") -> Path:
    stop = start + size - 1
    path = tmp_path / name
    path.write_text(HEAD.format(size=size, start=start, stop=stop, filter=filter) + tracks
                    + "</annotations>\n")
    return path


def _track(tid, label, boxes: str) -> str:
    return f'  <track id="{tid}" label="{label}" source="manual">\n{boxes}  </track>\n'


def _by_frame(ann, tid=None) -> dict[int, tuple]:
    rows = ann.boxes if tid is None else ann.boxes[ann.boxes["person_id"] == tid]
    return {int(f): tuple(b) for f, b in zip(
        rows["frame"], rows[["x1_px", "y1_px", "x2_px", "y2_px"]].to_numpy(), strict=True)}


# --- interpolation ---------------------------------------------------------------------------

def test_linear_interpolation_between_keyframes(tmp_path):
    path = _xml(tmp_path, _track(0, "wave", _box(0, 0, 0, 10, 10) + _box(10, 10, 0, 30, 20)
                                 + _box(11, 10, 0, 30, 20, outside=1)))
    ann = read_cvat_video(path, fps=25)
    boxes = _by_frame(ann)
    assert sorted(boxes) == list(range(11))
    # by hand: halfway from (0, 0, 10, 10) to (10, 0, 30, 20)
    assert boxes[5] == (5.0, 0.0, 20.0, 15.0)
    assert boxes[2] == (2.0, 0.0, 14.0, 12.0)
    assert boxes[10] == (10.0, 0.0, 30.0, 20.0)
    row = ann.boxes[ann.boxes["frame"] == 5].iloc[0]
    assert list(ann.boxes.columns) == list(CVAT_BOX_COLUMNS)
    assert (row["x1"], row["y1"], row["x2"], row["y2"]) == (0.05, 0.0, 0.2, 0.3)  # /100, /50
    assert row["timestamp"] == 5 / 25 and row["video_id"] == "take_01"
    assert row["label_name"] == "wave" and row["track_label"] == "wave"
    assert row["label"] == 2  # the second label of <meta>
    assert ann.classes == {1: "person", 2: "wave"}
    assert ann.boxes["interpolated"].tolist() == [False] + [True] * 9 + [False]
    assert ann.meta["size"] == 20 and (ann.meta["width"], ann.meta["height"]) == (100, 50)
    assert ann.keyframes["frame"].tolist() == list(range(11))


def test_outside_hides_the_object_until_the_next_keyframe(tmp_path):
    boxes = (_box(0, 0, 0, 10, 10) + _box(4, 40, 0, 50, 10, outside=1)
             + _box(8, 60, 20, 70, 40) + _box(12, 60, 20, 70, 40, outside=1))
    ann = read_cvat_video(_xml(tmp_path, _track(3, "wave", boxes)), fps=10)
    got = _by_frame(ann)
    assert sorted(got) == [0, 1, 2, 3, 8, 9, 10, 11]
    # CVAT moves the box towards an outside keyframe too: frame 2 is halfway to (40, 0, 50, 10)
    assert got[2] == (20.0, 0.0, 30.0, 10.0)
    assert got[9] == (60.0, 20.0, 70.0, 40.0)
    assert set(ann.boxes["person_id"]) == {3}


def test_the_last_box_holds_to_the_end_of_the_video(tmp_path):
    boxes = _box(5, 1, 2, 11, 12) + _box(15, 21, 2, 31, 12, occluded=1)
    ann = read_cvat_video(_xml(tmp_path, _track(0, "wave", boxes), size=20), fps=10)
    got = _by_frame(ann)
    assert sorted(got) == list(range(5, 20))  # frame size - 1 = 19 is the last
    assert got[19] == got[15] == (21.0, 2.0, 31.0, 12.0)
    assert got[10] == (11.0, 2.0, 21.0, 12.0)
    occluded = ann.boxes.set_index("frame")["occluded"]
    assert not occluded[14] and occluded[15] and occluded[19]  # the earlier keyframe's flag


def test_interpolated_boxes_of_an_export_are_ignored(tmp_path):
    # CVAT's export writes every frame; its importer keeps only the keyframes
    boxes = (_box(0, 0, 0, 10, 10) + _box(1, 99, 0, 100, 10, keyframe=0)
             + _box(2, 20, 0, 30, 10) + _box(3, 20, 0, 30, 10, outside=1))
    got = _by_frame(read_cvat_video(_xml(tmp_path, _track(0, "wave", boxes)), fps=10))
    assert got == {0: (0, 0, 10, 10), 1: (10, 0, 20, 10), 2: (20, 0, 30, 10)}


def test_a_frame_step(tmp_path):
    boxes = _box(10, 0, 0, 10, 10) + _box(16, 30, 0, 40, 10)
    path = _xml(tmp_path, _track(0, "wave", boxes), size=5, start=10, filter="step=3")
    ann = read_cvat_video(path, fps=30)
    got = _by_frame(ann)
    assert sorted(got) == [10, 13, 16, 19, 22]  # start + k * step, k < size
    assert got[13] == (15.0, 0.0, 25.0, 10.0)
    assert ann.boxes["timestamp"].tolist() == [f / 30 for f in (10, 13, 16, 19, 22)]
    with pytest.raises(AnnotationError, match="not one of the task's frames"):
        read_cvat_video(_xml(tmp_path, _track(0, "wave", _box(11, 0, 0, 5, 5)), size=5,
                             start=10, filter="step=3"), fps=30)


def test_the_action_from_an_attribute(tmp_path):
    person = (_box(0, 0, 0, 10, 10, action="walk") + _box(2, 0, 0, 10, 10)  # walk holds
              + _box(4, 0, 0, 10, 10, action="sit") + _box(6, 0, 0, 10, 10, outside=1))
    wave = _box(0, 50, 0, 60, 10) + _box(2, 50, 0, 60, 10, outside=1)
    path = _xml(tmp_path, _track(0, "person", person) + _track(1, "wave", wave))
    ann = read_cvat_video(path, fps=10, action_attribute="action", track_labels=["person"])
    assert ann.boxes["label_name"].tolist() == ["walk"] * 4 + ["sit"] * 2
    assert ann.classes == {1: "stand", 2: "walk", 3: "sit"}  # the attribute's declared values
    assert ann.boxes["label"].tolist() == [2] * 4 + [3] * 2
    assert set(ann.boxes["track_label"]) == {"person"} and ann.meta["tracks"] == 1
    # the track's label is the action by default
    both = read_cvat_video(path, fps=10)
    assert set(both.boxes["label_name"]) == {"person", "wave"}
    # ids from an AVA label map
    mapped = read_cvat_video(path, fps=10, action_attribute="action", track_labels=["person"],
                             label_map={14: "walk", 11: "sit", 12: "stand"})
    assert mapped.boxes["label"].tolist() == [14] * 4 + [11] * 2
    with pytest.raises(AnnotationError, match="has no 'action' attribute") as exc:
        read_cvat_video(path, fps=10, action_attribute="action")
    assert exc.value.line is not None and str(path) in str(exc.value)


def test_video_lookup_and_the_video_id(tmp_path):
    path = _xml(tmp_path, _track(0, "wave", _box(0, 0, 0, 10, 10)))
    assert read_cvat_video(path, fps=10, video_id="clip7").boxes["video_id"].iloc[0] == "clip7"
    root = tmp_path / "videos"
    root.mkdir()
    with pytest.raises(MissingAnnotatedVideosError, match="take_01"):
        read_cvat_video(path, fps=10, video_root=root)
    gone = read_cvat_video(path, fps=10, video_root=root, allow_missing=True)
    assert gone.missing == ("take_01",) and gone.boxes.empty
    (root / "take_01.mp4").write_bytes(b"")
    assert read_cvat_video(path, fps=10, video_root=root).meta["paths"] == {
        "take_01": "take_01.mp4"}


def test_normalised_boxes_are_clipped_to_the_frame(tmp_path):
    ann = read_cvat_video(_xml(tmp_path, _track(0, "wave", _box(19, -5, 10, 120, 60))), fps=10)
    row = ann.boxes.iloc[0]
    assert (row["x1"], row["y1"], row["x2"], row["y2"]) == (0.0, 0.2, 1.0, 1.0)
    assert (row["x1_px"], row["x2_px"]) == (-5.0, 120.0)
    with pytest.raises(AnnotationError, match="outside the 100x50 frame"):
        read_cvat_video(_xml(tmp_path, _track(0, "wave", _box(19, 120, 10, 130, 20))), fps=10)


# --- the writer ------------------------------------------------------------------------------

def _predictions() -> pd.DataFrame:
    rows = []
    for f in range(0, 6):  # person 4 walks, then sits; absent on frames 6-7; back at 8-9
        rows.append((4, f, 10 + f, 5, 40 + f, 45.5, "walk" if f < 3 else "sit"))
    for f in (8, 9):
        rows.append((4, f, 12, 5, 42, 45, "sit"))
    for f in range(3, 20):  # person 7 runs to the end of the video
        rows.append((7, f, 60, 1.25, 99, 49, "stand"))
    return pd.DataFrame(rows, columns=["person_id", "frame", "x1_px", "y1_px", "x2_px", "y2_px",
                                       "label_name"])


@pytest.mark.parametrize("attribute", ["action", None])
def test_writer_reader_round_trip(tmp_path, attribute):
    pred = _predictions()
    if attribute is None:  # action tubes: one action per track
        pred = pred.assign(person_id=np.where(pred["label_name"] == "sit", 5, pred["person_id"]))
    out = tmp_path / "pre.xml"
    write_cvat_video_xml(out, pred, 20, 100, 50, ["stand", "walk", "sit"],
                         action_attribute=attribute, source="take_01.mp4")
    back = read_cvat_video(out, fps=25, action_attribute=attribute)
    cols = ["person_id", "frame", "x1_px", "y1_px", "x2_px", "y2_px", "label_name"]
    got = back.boxes[cols].sort_values(["person_id", "frame"]).reset_index(drop=True)
    want = pred[cols].sort_values(["person_id", "frame"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert not back.boxes["interpolated"].any()
    assert back.boxes["video_id"].unique().tolist() == ["take_01"]
    assert back.classes == {1: "stand", 2: "walk", 3: "sit"}
    text = out.read_text()
    assert text.count('outside="1"') == (2 if attribute else 3)  # gaps and ends, not frame 19
    assert 'frame="6" keyframe="1" outside="1"' in text


def test_writer_from_normalised_boxes_and_timestamps(tmp_path):
    pred = pd.DataFrame({"video_id": ["v", "v"], "person_id": [0, 0], "timestamp": [0.0, 0.04],
                         "x1": [0.1, 0.2], "y1": [0.1, 0.1], "x2": [0.5, 0.6], "y2": [0.9, 0.9],
                         "label": [12, 12]})
    out = tmp_path / "pre.xml"
    write_cvat_video_xml(out, pred, 10, 320, 240, {12: "stand", 14: "walk"}, fps=25)
    back = read_cvat_video(out, fps=25, label_map={12: "stand", 14: "walk"})
    assert back.boxes["frame"].tolist() == [0, 1]
    assert back.boxes["x1_px"].tolist() == [32.0, 64.0]
    np.testing.assert_allclose(back.boxes[["x1", "y1", "x2", "y2"]].to_numpy(),
                               pred[["x1", "y1", "x2", "y2"]].to_numpy(), atol=1e-12)
    assert back.boxes["label"].tolist() == [12, 12]


def test_writer_keeps_the_best_scored_action(tmp_path):
    pred = pd.DataFrame({"person_id": [0, 0, 0], "frame": [0, 0, 1], "x1_px": [1, 1, 1],
                         "y1_px": [1, 1, 1], "x2_px": [9, 9, 9], "y2_px": [9, 9, 9],
                         "label_name": ["walk", "sit", "sit"], "score": [0.2, 0.7, 0.1]})
    out = tmp_path / "pre.xml"
    write_cvat_video_xml(out, pred, 5, 10, 10, ["walk", "sit"], action_attribute="action")
    assert read_cvat_video(out, fps=1, action_attribute="action").boxes["label_name"].tolist() \
        == ["sit", "sit"]
    with pytest.raises(AnnotationError, match="several rows at frame 0"):
        write_cvat_video_xml(out, pred.drop(columns="score"), 5, 10, 10, ["walk", "sit"],
                             action_attribute="action")


@pytest.mark.parametrize(("change", "fragment"), [
    ({"label_name": ["walk", "sit"]}, "several actions"),
    ({"label_name": ["walk", "jump"]}, "not in labels"),
    ({"frame": [0, 7]}, "past the video's last frame 4"),
    ({"frame": [0, 1.5]}, "not an integer"),
    ({"x2_px": [9, 0]}, "no area"),
    ({"video_id": ["a", "b"]}, "one file per video"),
])
def test_writer_errors(tmp_path, change, fragment):
    pred = pd.DataFrame({"person_id": [0, 0], "frame": [0, 1], "x1_px": [1, 1], "y1_px": [1, 1],
                         "x2_px": [9, 9], "y2_px": [9, 9], "label_name": ["walk", "walk"]})
    out = tmp_path / "pre.xml"
    with pytest.raises(AnnotationError, match=fragment) as exc:
        write_cvat_video_xml(out, pred.assign(**change), 5, 10, 10, ["walk", "sit"])
    assert "Fix" in str(exc.value)
    assert not out.exists()
    with pytest.raises(ValueError, match="'size' parameter of write_cvat_video_xml"):
        write_cvat_video_xml(out, pred, 0, 10, 10, ["walk"])


# --- bad files -------------------------------------------------------------------------------

def test_malformed_xml_names_file_and_parser_line(tmp_path):
    path = _xml(tmp_path, _track(0, "wave", _box(0, 0, 0, 10, 10)).replace("</track>", "</trak>"))
    with pytest.raises(AnnotationError, match="not well-formed XML") as exc:
        read_cvat_video(path, fps=10)
    lines = path.read_text().splitlines()
    assert exc.value.line == next(i for i, t in enumerate(lines, 1) if "</trak>" in t)
    assert str(exc.value).startswith(f"{path}, line {exc.value.line}: ")
    assert "Fix" in str(exc.value)


@pytest.mark.parametrize(("tracks", "fragment"), [
    ('  <track id="0" label="wave">\n    <box frame="0" keyframe="1" ytl="0" xbr="5" ybr="5"/>'
     "\n  </track>\n", "lacks the attribute(s) ['xtl']"),
    ('  <track label="wave">\n  </track>\n', "lacks its 'id' or 'label'"),
    (_track(0, "wave", _box(0, 0, 0, 10, 10)) + _track(0, "wave", _box(0, 0, 0, 10, 10)),
     "also that of the track at line"),
    (_track(0, "wave", _box("x", 0, 0, 10, 10)), "frame='x', not a frame number"),
    (_track(0, "wave", _box(0, 0, 0, "wide", 10)), "xbr='wide', not a number"),
    (_track(0, "wave", _box(0, 10, 0, 5, 10)), "has no area"),
    (_track(0, "wave", _box(0, 0, 0, 10, 10, outside=2)), "outside='2'"),
    (_track(0, "wave", _box(0, 0, 0, 10, 10) + _box(0, 1, 1, 9, 9)), "two keyframes at frame 0"),
    (_track(0, "wave", _box(25, 0, 0, 10, 10)), "past the task's last frame 19"),
    (_track(0, "dance", _box(0, 0, 0, 10, 10)), "'dance' is not in the task's labels"),
    ('  <track id="0" label="wave">\n    <polygon frame="0" points="0,0;1,1;2,0"/>\n'
     "  </track>\n", "holds a <polygon>"),
    (_track(0, "wave", _box(0, 0, 0, 10, 10).replace('z_order', 'rotation="30" z_order')),
     "rotated by 30 degrees"),
])
def test_bad_tracks_name_file_line_and_fix(tmp_path, tracks, fragment):
    path = _xml(tmp_path, tracks)
    with pytest.raises(AnnotationError) as exc:
        read_cvat_video(path, fps=10)
    message = str(exc.value)
    assert fragment in message and "Fix" in message
    assert exc.value.path == str(path) and exc.value.line is not None
    line = path.read_text().splitlines()[exc.value.line - 1]
    assert "<track" in line or "<box" in line or "<polygon" in line
    assert message.startswith(f"{path}, line {exc.value.line}: ")


@pytest.mark.parametrize(("text", "fragment"), [
    ("<annotations><version>1.1</version><image id='0' name='a.jpg' width='4' height='4'/>"
     "</annotations>", "CVAT for images"),
    ("<annotations><meta></meta></annotations>", "no <meta><task>"),
    ("<annotations><meta><project><name>p</name></project></meta></annotations>",
     "project export"),
    ("<annotations><meta><task><size>5</size></task></meta></annotations>",
     "no <original_size>"),
    ("<annotations><meta><task><size>five</size></task></meta></annotations>",
     "<size> is 'five'"),
    ("<annotations><meta><task><size>5</size><frame_filter>every other</frame_filter>"
     "</task></meta></annotations>", "not 'step=<n>'"),
    ("<tracks/>", "not <annotations>"),
    ('<!DOCTYPE a [<!ENTITY big "xxxx">]><annotations/>', "declares the entity"),
])
def test_bad_documents(tmp_path, text, fragment):
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(AnnotationError, match="Fix") as exc:
        read_cvat_video(path, fps=10)
    assert fragment in str(exc.value) and str(path) in str(exc.value)
    assert exc.value.line == 1


def test_bad_parameters(tmp_path):
    path = _xml(tmp_path, _track(0, "wave", _box(0, 0, 0, 10, 10)))
    with pytest.raises(ValueError, match="'fps' parameter of read_cvat_video"):
        read_cvat_video(path, fps=0)
    with pytest.raises(FileNotFoundError, match="CVAT annotation file"):
        read_cvat_video(tmp_path / "absent.xml", fps=10)


def test_frame_size_for_an_export_without_original_size(tmp_path):
    path = _xml(tmp_path, _track(0, "wave", _box(0, 0, 0, 10, 10)))
    text = path.read_text()
    cut = text[:text.index("      <original_size>")] + text[text.index("    </task>"):]
    bare = tmp_path / "bare.xml"
    bare.write_text(cut)
    with pytest.raises(AnnotationError, match="pass frame_size"):
        read_cvat_video(bare, fps=10)
    ann = read_cvat_video(bare, fps=10, frame_size=(200, 100))
    assert ann.boxes.iloc[0][["x2", "y2"]].tolist() == [0.05, 0.1]
    with pytest.raises(AnnotationError, match="disagrees with <original_size> 100x50"):
        read_cvat_video(path, fps=10, frame_size=(200, 100))


def test_writer_label_ids_need_a_mapping(tmp_path):
    pred = pd.DataFrame({"person_id": [0], "frame": [0], "x1_px": [1], "y1_px": [1],
                         "x2_px": [9], "y2_px": [9], "label": [1]})
    with pytest.raises(AnnotationError, match="id -> name mapping"):
        write_cvat_video_xml(tmp_path / "p.xml", pred, 5, 10, 10, ["walk"])
    write_cvat_video_xml(tmp_path / "p.xml", pred, 5, 10, 10, {1: "walk"})
    assert read_cvat_video(tmp_path / "p.xml", fps=5).boxes["label_name"].tolist() == ["walk"]
