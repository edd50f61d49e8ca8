"""bench.data.datasets.localization_truth: keyframe boxes and tubes recomputed from the tables.

Every check rebuilds the expected rows in plain Python from ``dataset.boxes`` and
``dataset.segments`` (and the keyframe rule from exact fractions), never through the module.
Each runs on the quick preset as generated and on a copy in which some actors are made
invisible (the generator's quick videos keep every actor in the frame).
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from bench.data.annotations.boxes import BOX_COLUMNS, BoxAnnotations, validate_boxes
from bench.data.datasets.localization_truth import (
    NO_ACTION,
    PERSON_COLUMNS,
    TUBE_COLUMNS,
    action_tubes,
    keyframe_boxes,
    keyframe_persons,
    keyframe_table,
    localization_properties,
    planned_tables,
    two_actor_keyframes,
)
from bench.data.datasets.untrimmed import CLASSES, generate_untrimmed, untrimmed_params
from bench.tasks.localization import frame_map, person_detection, video_map
from bench.tasks.localization.boxes import TUBE_COLUMNS as TASK_TUBE_COLUMNS
from bench.tasks.localization.boxes import validate_tubes

QUICK = untrimmed_params("quick")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return generate_untrimmed(tmp_path_factory.mktemp("home"), QUICK, seed=0, jobs=1)


def _hide(dataset):
    """A copy where the first listed actor of each video leaves the frame at every other
    keyframe (frames 50, 100, ...) and during the whole of the first instance."""
    boxes = dataset.boxes.copy()
    first = dataset.videos.set_index("video_id")["actors"].str.split(";").str[0].astype(int)
    own = boxes["actor"].to_numpy() == first.loc[boxes["video_id"]].to_numpy()
    seg = dataset.segments.iloc[0]
    gone = (own & (boxes["frame"].to_numpy() % 50 == 0)) | (
        (boxes["video_id"] == seg["video_id"]) & (boxes["actor"] == seg["actor"])
        & boxes["frame"].between(seg["start_frame"], seg["end_frame"])).to_numpy()
    boxes.loc[gone, ["x1", "y1", "x2", "y2"]] = -1
    boxes.loc[gone, "visible"] = False
    boxes.loc[gone, "visible_fraction"] = 0.0
    return dataclasses.replace(dataset, boxes=boxes)


@pytest.fixture(scope="module", params=["as_generated", "with_hidden_actors"])
def dataset(request, generated):
    return generated if request.param == "as_generated" else _hide(generated)


# ---------------------------------------------------------------------------- the oracle
def _rule_frames(n_frames: int, fps: float, rate: float) -> list[int]:
    """frame_k = floor(k fps / rate + 1/2), k >= 1, while frame_k < n_frames (exact)."""
    frames, k = [], 1
    while True:
        frame = math.floor(k * Fraction(fps) / Fraction(rate) + Fraction(1, 2))
        if frame > n_frames - 1:
            return frames
        frames.append(frame)
        k += 1


def _oracle(dataset, rate: float = 1.0) -> list[tuple]:
    """One tuple per (keyframe, visible actor) in video / keyframe / actors order:
    (video_id, timestamp, x1, y1, x2, y2, label, person_id, frame)."""
    box = {(r.video_id, r.frame, r.actor): r for r in dataset.boxes.itertuples()}
    rows = []
    for video in dataset.videos.itertuples():
        for frame in _rule_frames(video.n_frames, video.fps, rate):
            for actor in (int(a) for a in video.actors.split(";")):
                b = box[(video.video_id, frame, actor)]
                if not b.visible:
                    continue
                labels = [s.label_id for s in dataset.segments.itertuples()
                          if s.video_id == video.video_id and s.actor == actor
                          and s.start_frame <= frame <= s.end_frame]
                assert len(labels) <= 1
                rows.append((video.video_id, round(frame / video.fps, 6),
                             b.x1 / video.width, b.y1 / video.height,
                             b.x2 / video.width, b.y2 / video.height,
                             labels[0] if labels else NO_ACTION, actor, frame))
    return rows


def _tuples(table: pd.DataFrame) -> list[tuple]:
    columns = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "label", "person_id", "frame"]
    return [tuple(r) for r in table[columns].itertuples(index=False)]


# ---------------------------------------------------------------------------- keyframes
def test_keyframe_times_follow_the_rule(generated):
    videos = generated.videos
    table = keyframe_table(videos)
    for video in videos.itertuples():
        own = table[table["video_id"] == video.video_id]
        n = len(own)
        # 1 Hz at 25 fps: frames 25, 50, ..., timestamps 1.0, 2.0, ... while inside the video
        assert n == (video.n_frames - 1) // 25
        assert own["frame"].tolist() == [25 * k for k in range(1, n + 1)]
        assert own["timestamp"].tolist() == [float(k) for k in range(1, n + 1)]
    for rate in (2.0, 3.0, 25.0):  # 2 Hz: 12.5 s -> frame 13 (halves up); 3 Hz: 8, 17, 25, ...
        table = keyframe_table(videos, rate)
        for video in videos.itertuples():
            own = table[table["video_id"] == video.video_id]
            frames = _rule_frames(video.n_frames, video.fps, rate)
            assert own["frame"].tolist() == frames
            assert own["timestamp"].tolist() == [round(f / video.fps, 6) for f in frames]
    assert keyframe_table(videos, 2.0)["frame"].tolist()[:3] == [13, 25, 38]
    assert keyframe_table(videos, 3.0)["frame"].tolist()[:4] == [8, 17, 25, 33]
    assert keyframe_table(videos, 25.0)["frame"].tolist()[:2] == [1, 2]  # every frame but 0


@pytest.mark.parametrize("rate", [0, -1.0, 26.0, math.nan, True, "1"])
def test_bad_rate_is_named(generated, rate):
    with pytest.raises(ValueError, match=r"'rate_hz' parameter of keyframe_boxes .*\(0, fps\]"):
        keyframe_boxes(generated, rate)


def test_keyframe_boxes_are_the_generator_boxes_with_the_segment_labels(dataset):
    truth = keyframe_boxes(dataset)
    expected = [row for row in _oracle(dataset) if row[6] != NO_ACTION]
    assert isinstance(truth, BoxAnnotations)
    assert _tuples(truth.boxes) == expected  # exact: same box, same label, same order
    assert list(truth.boxes.columns) == list(PERSON_COLUMNS)
    assert tuple(truth.boxes.columns[:len(BOX_COLUMNS)]) == BOX_COLUMNS
    assert truth.classes == dict(enumerate(CLASSES))
    assert (truth.boxes["label_name"] == truth.boxes["label"].map(truth.classes)).all()
    pd.testing.assert_frame_equal(validate_boxes(truth.boxes, classes=truth.classes),
                                  truth.boxes)
    # pixel columns are the generator's; the normalised box is them over the frame size
    size = dataset.videos.set_index("video_id").loc[truth.boxes["video_id"]]
    np.testing.assert_array_equal(truth.boxes["x2_px"] / size["width"].to_numpy(),
                                  truth.boxes["x2"])
    assert truth.boxes[["x1", "y1", "x2", "y2"]].to_numpy().min() >= 0
    assert truth.boxes[["x1", "y1", "x2", "y2"]].to_numpy().max() <= 1
    keyframes = list(dict.fromkeys((r[0], r[1], r[8]) for r in expected))  # first appearance
    assert [tuple(r) for r in truth.keyframes.itertuples(index=False)] == keyframes
    assert truth.meta["n_keyframes"] == len(keyframe_table(dataset.videos))
    assert truth.meta["no_action_boxes"] == sum(r[6] == NO_ACTION for r in _oracle(dataset))


def test_labels_agree_with_the_boxes_table_label(dataset):
    """A third source: the generator's own per-frame ``label`` column ("" when idle)."""
    persons = keyframe_persons(dataset)
    own = dataset.boxes.set_index(["video_id", "frame", "actor"])["label"]
    generator = own.loc[list(zip(persons["video_id"], persons["frame"], persons["person_id"],
                                 strict=True))].to_numpy()
    assert (persons["label_name"].to_numpy() == generator).all()


def test_invisible_actors_give_no_row_and_idle_actors_only_a_person_row(dataset):
    persons, truth = keyframe_persons(dataset), keyframe_boxes(dataset)
    oracle = _oracle(dataset)
    assert _tuples(persons) == oracle
    n_grid = sum(len(_rule_frames(v.n_frames, v.fps, 1.0)) * v.n_actors
                 for v in dataset.videos.itertuples())
    n_hidden = n_grid - len(oracle)
    assert truth.meta["invisible"] == n_hidden
    assert (n_hidden > 0) == (not dataset.boxes["visible"].all())  # the hidden copy does hide keyframe actors
    idle = persons[persons["label"] == NO_ACTION]
    assert len(idle) > 0 and (idle["label_name"] == "").all()
    assert not (truth.boxes["label"] == NO_ACTION).any()
    assert len(truth.boxes) + len(idle) == len(persons)
    # person AP of the person table against itself is 1: it is a valid ground truth there
    assert person_detection(persons, persons.assign(score=1.0)).ap == 1.0


def test_other_rates_follow_the_same_oracle(generated):
    for rate in (2.0, 3.0):
        assert _tuples(keyframe_persons(generated, rate)) == _oracle(generated, rate)


# ---------------------------------------------------------------------------- tubes
def test_tubes_cover_exactly_the_instances_visible_frames(dataset):
    tubes = action_tubes(dataset)
    assert TUBE_COLUMNS == TASK_TUBE_COLUMNS
    assert tuple(tubes.columns[:len(TUBE_COLUMNS)]) == TUBE_COLUMNS
    validate_tubes(tubes)
    box = {(r.video_id, r.frame, r.actor): r for r in dataset.boxes.itertuples()}
    size = dataset.videos.set_index("video_id")
    expected, n_tubes = [], 0
    for s in dataset.segments.itertuples():
        w, h = size.at[s.video_id, "width"], size.at[s.video_id, "height"]
        frames = [f for f in range(s.start_frame, s.end_frame + 1)
                  if box[(s.video_id, f, s.actor)].visible]
        n_tubes += bool(frames)
        for f in frames:
            b = box[(s.video_id, f, s.actor)]
            expected.append((s.video_id, f"{s.actor}_{s.start_frame}", s.label_id, f,
                             b.x1 / w, b.y1 / h, b.x2 / w, b.y2 / h, s.label, s.actor))
    got = [tuple(r) for r in tubes[[*TUBE_COLUMNS, "label_name", "person_id"]]
           .itertuples(index=False)]
    assert got == expected
    assert tubes.groupby(["video_id", "tube_id", "label"]).ngroups == n_tubes
    hidden = not dataset.boxes["visible"].all()
    assert n_tubes == len(dataset.segments) - hidden  # the hidden copy loses one whole tube
    np.testing.assert_array_equal(tubes["timestamp"], np.round(tubes["frame"] / 25.0, 6))


def test_ground_truth_scores_perfectly_against_itself(generated):
    truth, tubes = keyframe_boxes(generated), action_tubes(generated)
    assert frame_map(truth.boxes, truth.boxes.assign(score=1.0)).map == 1.0
    assert video_map(tubes, tubes.assign(score=1.0)).map_per_threshold.tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------- properties
def _independent_counts(dataset, visible: bool = True) -> dict:
    per_keyframe: dict[tuple, list] = {}
    if visible:
        for r in _oracle(dataset):
            per_keyframe.setdefault((r[0], r[8]), []).append(r)
    else:  # every actor counts as visible: labels from the segments alone
        for video in dataset.videos.itertuples():
            for f in _rule_frames(video.n_frames, video.fps, 1.0):
                for a in (int(a) for a in video.actors.split(";")):
                    lab = [s.label_id for s in dataset.segments.itertuples()
                           if s.video_id == video.video_id and s.actor == a
                           and s.start_frame <= f <= s.end_frame]
                    per_keyframe.setdefault((video.video_id, f), []).append(
                        (0,) * 6 + (lab[0] if lab else NO_ACTION,))
    two = beside = overlap = 0
    for rows in per_keyframe.values():
        acting = [r[6] for r in rows if r[6] != NO_ACTION]
        two += len(set(acting)) >= 2
        beside += 1 <= len(acting) < len(rows)
        if visible:
            overlap += any(min(a[4], b[4]) > max(a[2], b[2]) and min(a[5], b[5]) > max(a[3], b[3])
                           for i, a in enumerate(rows) for b in rows[i + 1:])
    return {"two_actions": two, "beside_idle": beside, "overlap": overlap}


def test_two_actor_share_equals_an_independent_count(dataset):
    props = localization_properties(dataset.videos, dataset.segments, dataset.boxes)
    expected = _independent_counts(dataset)
    n = len(keyframe_table(dataset.videos))
    assert props["n_keyframes"] == n
    assert props["two_actions"] == expected["two_actions"] > 0
    assert props["share_two_actions"] == expected["two_actions"] / n
    assert props["beside_idle"] == expected["beside_idle"]
    assert props["overlap"] == expected["overlap"]
    table = two_actor_keyframes(dataset.videos, dataset.segments, dataset.boxes)
    assert len(table) == n and table["two_actions"].sum() == expected["two_actions"]
    assert props["partly_hidden"] == int((keyframe_persons(dataset)["visible_fraction"] < 1).sum())
    camera = dataset.videos.set_index("video_id")["camera_motion"]
    assert props["share_keyframes_camera_motion"] == \
        table["video_id"].map(camera).astype(bool).sum() / n


def test_planned_tables_match_the_generated_ones_and_measure_without_boxes(generated):
    videos, segments = planned_tables(QUICK, 0)
    pd.testing.assert_frame_equal(segments, generated.segments, check_dtype=False)
    for column in videos.columns:
        assert videos[column].astype(str).tolist() == \
            generated.videos[column].astype(str).tolist(), column
    props = localization_properties(videos, segments)
    assert props["visibility_from_boxes"] is False
    assert props["two_actions"] == _independent_counts(generated, visible=False)["two_actions"]


def test_the_keyframe_rule_is_one_function_the_tracks_can_import():
    """bench.data.keyframes.keyframe_frames follows the rule written as a slow loop, for
    integer and fractional frame rates and rates below 1 Hz; the tracks use it."""
    import math

    from bench.data.keyframes import keyframe_frames

    rng = np.random.default_rng(0)
    for _ in range(200):
        fps = float(rng.choice([25.0, 29.97, 30.0, 12.5, 7.0]))
        rate = float(rng.choice([1.0, 0.5, 2.0]))
        n_frames = int(rng.integers(1, 400))
        want, k = [], 1
        while math.floor(k * fps / rate + 0.5) <= n_frames - 1:
            want.append(math.floor(k * fps / rate + 0.5))
            k += 1
        frames, times = keyframe_frames(n_frames, fps, rate)
        assert frames.tolist() == want
        np.testing.assert_array_equal(times, np.round(np.array(want) / fps, 6))
    with pytest.raises(ValueError, match="keyframe rate"):
        keyframe_frames(100, 25.0, 30.0)
    with pytest.raises(ValueError, match="frame rate"):
        keyframe_frames(100, 0.0)
