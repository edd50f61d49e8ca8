"""bench.data.datasets.untrimmed: determinism, exact ground truth, the designed properties."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from bench.data.datasets._scene import NUISANCES
from bench.data.datasets._sequence import (
    DURATION_S,
    MIN_GAP_MOTION,
    adjacency_problem,
    forbidden_pairs,
    pair_conflict,
)
from bench.data.datasets._untrimmed_preview import ACTOR_COLOURS
from bench.data.datasets.untrimmed import (
    CLASSES,
    cache_key,
    card,
    generate_untrimmed,
    plan_video,
    render_video,
    untrimmed_params,
    write_preview,
)
from bench.data.video import read_video

QUICK = untrimmed_params("quick")
ALL_ON = {f"{name}_share": 1.0 for name in NUISANCES}
STILL = {f"{name}_share": 0.0 for name in NUISANCES}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return generate_untrimmed(tmp_path_factory.mktemp("home_a"), QUICK, seed=0, jobs=1)


@pytest.fixture(scope="module")
def default_plans():
    """Ninety videos of the default preset, planned (drawn) but not rendered."""
    params = untrimmed_params("default")
    return params, [plan_video(params, 0, i) for i in range(90)]


def _files(entry):
    return {str(p.relative_to(entry)): p.read_bytes() for p in sorted(entry.rglob("*"))
            if p.is_file()}


def _pairs(plans):
    """(first, second, idle frames between) for consecutive instances of one actor."""
    for plan in plans:
        for seq in plan.sequences:
            for a, b in zip(seq.instances, seq.instances[1:], strict=False):
                yield a.label, b.label, b.start - a.end - 1


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="preset"):
        untrimmed_params("huge")
    with pytest.raises(ValueError, match="n_videoz"):
        untrimmed_params("quick", n_videoz=3)
    with pytest.raises(ValueError, match="'back_to_back'"):
        untrimmed_params("quick", back_to_back=1.5)
    with pytest.raises(ValueError, match="'actors_per_video'.*n_actors // n_folds"):
        untrimmed_params("quick", actors_per_video=(1, 4))
    with pytest.raises(ValueError, match="'actor_height'.*half the stage"):
        untrimmed_params("quick", actor_height=0.6)


def test_same_parameters_same_bytes_another_seed_other_bytes(quick, tmp_path):
    files = _files(quick.root)
    assert {"complete", "params.json", "videos.csv", "segments.csv", "boxes.csv"} <= set(files)
    assert sum(name.startswith("videos/") for name in files) == QUICK.n_videos
    again = generate_untrimmed(tmp_path / "b", QUICK, seed=0, jobs=2)  # elsewhere, in parallel
    assert again.root != quick.root and _files(again.root) == files
    other = generate_untrimmed(tmp_path / "b", QUICK, seed=1, jobs=1)
    assert other.root.name != quick.root.name
    other_files = _files(other.root)
    for name, blob in files.items():
        if name.startswith("videos/"):
            assert other_files[name] != blob
    assert not other.segments.equals(quick.segments)
    # lossless: the stored video decodes to exactly what was rendered
    video = render_video(QUICK, 0, 2)
    np.testing.assert_array_equal(read_video(quick.path("untrimmed_002")), video.frames)


def test_cache_entry_reused_and_keyed_by_value(quick):
    marker = quick.root / "complete"
    stamp = marker.stat().st_mtime_ns
    assert generate_untrimmed(quick.root.parents[1], QUICK, seed=0).root == quick.root
    assert marker.stat().st_mtime_ns == stamp
    same = untrimmed_params("quick", fps=25, duration_s=[6, 10])
    assert cache_key(same, 0) == cache_key(QUICK, 0)
    assert cache_key(untrimmed_params("quick", gap_s=(0.5, 4.0)), 0) != cache_key(QUICK, 0)


def test_ground_truth_is_consistent(quick):
    videos, segments, boxes = quick.videos, quick.segments, quick.boxes
    assert set(segments["video_id"]) == set(videos["video_id"])
    for _, video in videos.iterrows():
        frames = read_video(quick.root / video["path"])
        assert frames.shape == (video["n_frames"], QUICK.height, QUICK.width, 3)
        segs = segments[segments["video_id"] == video["video_id"]]
        actors = [int(a) for a in video["actors"].split(";")]
        assert sorted(set(segs["actor"])) == sorted(actors)  # everyone acts
        assert (segs["start_frame"] >= 0).all() and (segs["end_frame"] < video["n_frames"]).all()
        np.testing.assert_allclose(segs["t_start"], segs["start_frame"] / video["fps"])
        np.testing.assert_allclose(segs["t_end"], (segs["end_frame"] + 1) / video["fps"])
        assert (segs["t_end"] <= video["duration_s"] + 1e-9).all()
        rows = boxes[boxes["video_id"] == video["video_id"]]
        assert len(rows) == video["n_frames"] * len(actors)
        for actor, own in segs.groupby("actor"):
            own = own.sort_values("start_frame")
            # one actor's instances never overlap
            assert (own["end_frame"].to_numpy()[:-1] < own["start_frame"].to_numpy()[1:]).all()
            track = rows[rows["actor"] == actor].sort_values("frame")
            assert track["frame"].tolist() == list(range(video["n_frames"]))
            expected = np.full(video["n_frames"], "", dtype=object)
            for _, seg in own.iterrows():
                expected[seg["start_frame"]:seg["end_frame"] + 1] = seg["label"]
            assert track["label"].tolist() == expected.tolist()
    assert segments["label"].isin(CLASSES).all()
    assert (segments["label"].map(CLASSES.index) == segments["label_id"]).all()
    # every box lies inside the frame, and actors never leave it
    assert boxes["visible"].all()
    assert (boxes["x1"] >= 0).all() and (boxes["x2"] <= QUICK.width).all()
    assert (boxes["y1"] >= 0).all() and (boxes["y2"] <= QUICK.height).all()
    assert (boxes["x1"] < boxes["x2"]).all() and (boxes["y1"] < boxes["y2"]).all()
    annotations = quick.to_annotations()
    assert len(annotations.segments) == len(segments)


def test_boxes_hold_the_rendered_figures():
    params = untrimmed_params("quick", **ALL_ON)
    index = next(i for i in range(20) if len(plan_video(params, 4, i).scene.actors) >= 2)
    video = render_video(params, 4, index, keep_masks=True)
    scene_only = render_video(params, 4, index, figure=False)
    np.testing.assert_array_equal(scene_only.boxes, video.boxes)
    assert video.plan.scene.base.occluder is not None and video.plan.scene.applied["noise"]
    changed = (video.frames != scene_only.frames).any(axis=3)
    for t in range(len(video.frames)):
        union = np.zeros_like(changed[t])
        for k, (x1, y1, x2, y2) in enumerate(video.boxes[t]):
            mask = video.masks[t, k]
            # the box is tight around every pixel the figure changes
            assert mask[y1:y2, x1:x2].sum() == mask.sum() > 0
            assert mask[y1, x1:x2].any() and mask[y2 - 1, x1:x2].any()
            assert mask[y1:y2, x1].any() and mask[y1:y2, x2 - 1].any()
            if video.visible[t, k] > 0.05:  # the figure's pixels differ from the scene there
                assert changed[t, y1:y2, x1:x2].any()
            union[y1:y2, x1:x2] = True
        assert not (changed[t] & ~union).any()  # nothing changes outside the boxes
    assert (video.visible < 1).any()  # actors and the occluder do hide each other


def test_background_motion_between_instances():
    params = untrimmed_params("quick", actors_per_video=(1, 1), **STILL)
    checked = 0
    for index in range(3):
        video = render_video(params, 2, index)
        (x1, y1, x2, y2) = video.boxes[..., 0, :].T
        energy = np.abs(np.diff(video.frames.astype(int), axis=0)).sum(axis=(2, 3))
        # a still scene: only the actor changes pixels, within the union of its boxes
        union = np.zeros(video.frames.shape[1:3], bool)
        for a, b, c, d in zip(x1, y1, x2, y2, strict=True):
            union[b:d, a:c] = True
        assert not (np.diff(video.frames.astype(int), axis=0) != 0).any(axis=(0, 3))[~union].any()
        for gap in video.plan.sequences[0].gaps:
            if gap.n >= MIN_GAP_MOTION:
                assert gap.events
                assert energy[gap.start:gap.start + gap.n - 1].sum() > 0
                checked += 1
    assert checked >= 6


def test_designed_properties_over_many_sequences(default_plans):
    params, plans = default_plans
    segments = pd.concat([plan.segments() for plan in plans], ignore_index=True)
    seconds = (segments["end_frame"] - segments["start_frame"] + 1) / params.fps
    # durations span 0.6 s to 8 s, each class within its designed range
    assert seconds.min() >= 0.6 - 1e-9 and seconds.max() <= 8.0 + 1e-9
    assert seconds.min() <= 0.7 and seconds.max() >= 7.0
    for label, own in seconds.groupby(segments["label"]):
        lo, hi = DURATION_S[label]
        assert own.min() >= lo - 1e-9 and own.max() <= hi + 1e-9
    assert set(segments["label"]) == set(CLASSES)
    # back-to-back pairs of different classes occur, and never an ambiguous one
    pairs = list(_pairs(plans))
    joined = [(a, b) for a, b, gap in pairs if gap == 0]
    assert len(joined) >= 0.1 * len(pairs)
    assert all(adjacency_problem(a, b) is None and a != b for a, b in joined)
    separation = params.rules().frames(params.separation_s)
    assert all(gap >= separation for a, b, gap in pairs if pair_conflict(a, b) is not None)
    assert sum(pair_conflict(a, b) is not None for a, b, _ in pairs) > 0
    # every gap long enough holds background motion
    gaps = [gap for plan in plans for seq in plan.sequences for gap in seq.gaps]
    assert all(gap.events for gap in gaps if gap.n >= MIN_GAP_MOTION)
    # instances of different actors overlap in time in most multi-actor videos
    multi = [plan for plan in plans if len(plan.sequences) > 1]
    overlapping = 0
    for plan in multi:
        busy = [np.zeros(plan.scene.n_frames, bool) for _ in plan.sequences]
        for mask, seq in zip(busy, plan.sequences, strict=True):
            for inst in seq.instances:
                mask[inst.start:inst.end + 1] = True
        overlapping += bool((np.sum(busy, axis=0) >= 2).any())
    assert len(multi) >= 30 and overlapping >= 0.8 * len(multi)


def test_forbidden_pairs_are_the_ambiguous_ones():
    forbidden = forbidden_pairs()
    for pair in [("wave1", "clap"), ("clap", "wave1"), ("wave1", "clap_then_wave"),
                 ("clap", "wave_then_clap"), ("wave_then_clap", "clap"),
                 ("clap_then_wave", "wave1"), ("wave_then_clap", "clap_then_wave"),
                 ("clap_then_wave", "wave_then_clap"), ("wave1", "wave_then_clap")]:
        assert pair in forbidden
    assert all((c, c) in forbidden for c in CLASSES)
    for pair in [("wave1", "wave2"), ("jack", "clap"), ("sit_down", "stand_up"),
                 ("walk", "run"), ("wave_then_clap", "jack")]:
        assert pair not in forbidden and adjacency_problem(*pair) is None
    assert "turn" in adjacency_problem("jump", "clap")
    assert "seated" in adjacency_problem("sit_down", "walk")
    assert "seated" in adjacency_problem("jump", "stand_up")


def test_actors_of_different_folds_are_disjoint(quick, default_plans):
    params, plans = default_plans
    tables = [(quick.params, quick.videos)]
    rows = [{"actors": ";".join(str(a.actor) for a in p.scene.actors), "group": p.scene.group,
             **{f"fold{k}": "test" if p.scene.group == k - 1 else "train"
                for k in range(1, params.n_folds + 1)}} for p in plans]
    tables.append((params, pd.DataFrame(rows)))
    for p, videos in tables:
        for k in range(1, p.n_folds + 1):
            def actors(subset, videos=videos, k=k):
                chosen = videos[videos[f"fold{k}"] == subset]["actors"].astype(str)
                return {int(a) for cell in chosen for a in cell.split(";")}

            train, test = actors("train"), actors("test")
            assert train and test and not train & test
            assert all(a % p.n_folds == k - 1 for a in test)


def test_the_scene_does_not_depend_on_the_actions():
    params = untrimmed_params("quick", **ALL_ON)
    a = plan_video(params, 3, 1)
    b = plan_video(params, 3, 1, sequence_seed=77)
    labels = [[inst.label for inst in seq.instances] for seq in a.sequences]
    assert labels != [[inst.label for inst in seq.instances] for seq in b.sequences]
    sa, sb = a.scene, b.scene
    np.testing.assert_array_equal(sa.base.background, sb.base.background)
    for name in ("cam_x", "cam_y", "gain"):
        np.testing.assert_array_equal(getattr(sa.base, name), getattr(sb.base, name))
    np.testing.assert_array_equal(sa.distractor_path, sb.distractor_path)
    assert sa.applied == sb.applied and sa.base.occluder == sb.base.occluder
    assert sa.base.noise_sigma == sb.base.noise_sigma and sa.n_frames == sb.n_frames
    for la, lb in zip(sa.actors, sb.actors, strict=True):
        assert (la.actor, la.depth, la.x0, la.height_px) == (lb.actor, lb.depth, lb.x0, lb.height_px)
        np.testing.assert_array_equal(la.scale, lb.scale)
    # rendered without the figures, the two videos are the same bytes (noise included)
    first = render_video(params, 3, 1, figure=False)
    second = render_video(params, 3, 1, figure=False, sequence_seed=77)
    np.testing.assert_array_equal(first.frames, second.frames)
    assert not np.array_equal(render_video(params, 3, 1).frames,
                              render_video(params, 3, 1, sequence_seed=77).frames)


def test_preview_and_card(quick, tmp_path):
    out = write_preview(quick, tmp_path / "preview.png", n_frames=4, scale=2)
    sheet = cv2.imread(str(out))
    assert sheet is not None and sheet.shape[0] > 2 * QUICK.height
    assert not np.all(sheet == 255)
    red = np.array(ACTOR_COLOURS[0][::-1])  # BGR on disk
    assert (sheet == red).all(axis=2).any()  # the first actor's boxes and lane label
    text = card(QUICK)
    for phrase in ("0.6", "Back-to-back", "Background motion", "Overlapping", "`wave1` → `clap`",
                   "DETAD"):
        assert phrase in text
    for a, b in forbidden_pairs():
        assert f"`{a}` → `{b}`" in text
    assert quick.card() == text
