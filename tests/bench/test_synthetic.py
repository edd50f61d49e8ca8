"""bench.data.datasets.synthetic: determinism, cache, and the designed structure of the classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.data.datasets import load_dataset
from bench.data.datasets._figure import POSE_FIELDS, action_poses, clip_poses
from bench.data.datasets.synthetic import (
    CLASSES,
    cache_key,
    generate,
    no_nuisances,
    preset_params,
    read_boxes,
    render_clip,
)
from bench.data.video import read_video

# A tiny dataset: every class, 3 actors, one clip each, small frames, every nuisance on often.
TINY = dict(n_actors=3, clips_per_class=1, width=48, height=36, n_frames=16, n_folds=3)
ALL_ON = {k: 0.6 for k in no_nuisances()}


@pytest.fixture(scope="module")
def tiny_entry(tmp_path_factory):
    params = preset_params("quick", **TINY, **ALL_ON)
    home = tmp_path_factory.mktemp("home_a")
    return params, generate(params, seed=3, home=home, jobs=1)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="preset"):
        preset_params("huge")
    with pytest.raises(ValueError, match="n_actorz"):
        preset_params("quick", n_actorz=3)
    with pytest.raises(ValueError, match="'noise_share'"):
        preset_params("quick", noise_share=1.5)
    with pytest.raises(ValueError, match="'n_folds'"):
        preset_params("quick", n_actors=2, n_folds=3)
    with pytest.raises(ValueError, match="annotations"):
        load_dataset("synthetic", annotations="labels.csv", preset="quick")


def test_same_seed_in_two_cache_folders_gives_identical_frames(tiny_entry, tmp_path):
    params, entry_a = tiny_entry
    # a second generation, elsewhere and in parallel, must decode to the very same frames
    manifest_a = load_dataset("synthetic", root=entry_a.parents[1], preset="quick", seed=3,
                              **TINY, **ALL_ON)
    manifest_b = load_dataset("synthetic", root=tmp_path, preset="quick", seed=3, jobs=2,
                              **TINY, **ALL_ON)
    assert manifest_a.root != manifest_b.root
    for fold in manifest_a.folds:
        assert manifest_a.fingerprint(fold) == manifest_b.fingerprint(fold)
    paths_a, paths_b = manifest_a.paths(), manifest_b.paths()
    assert len(paths_a) == 12 * 3
    for path_a, path_b in zip(paths_a, paths_b, strict=True):
        np.testing.assert_array_equal(read_video(path_a), read_video(path_b))
    # and the stored video is lossless: it decodes to exactly what was rendered
    row = manifest_a.table.iloc[7]
    actor, rep = int(row["video_id"][-6:-4]), int(row["video_id"][-2:])
    clip = render_clip(params, 3, row["label_name"], actor, rep)
    np.testing.assert_array_equal(read_video(paths_a[7]), clip.frames)
    np.testing.assert_array_equal(read_boxes(entry_a)[row["video_id"]], clip.boxes)
    # a different seed changes the frames
    other = render_clip(params, 4, row["label_name"], actor, rep)
    assert not np.array_equal(other.frames, clip.frames)


def test_cache_entry_reused_and_invalidated(tiny_entry, tmp_path):
    params, entry = tiny_entry
    marker = entry / "complete"
    stamp = marker.stat().st_mtime_ns
    assert generate(params, seed=3, home=entry.parents[1]) == entry
    assert marker.stat().st_mtime_ns == stamp  # reused, not regenerated
    # the same value written as int or float is the same dataset
    assert cache_key(preset_params("quick", fps=25), 0) == cache_key(preset_params("quick"), 0)
    changed = preset_params("quick", **{**TINY, "n_frames": 17}, **ALL_ON)
    assert generate(changed, seed=3, home=entry.parents[1], jobs=1) != entry
    assert generate(params, seed=4, home=tmp_path, jobs=1).name != entry.name
    # an interrupted entry (no `complete` marker) is never used: it is rebuilt
    small = preset_params("quick", **{**TINY, "n_actors": 2, "n_folds": 2})
    first = generate(small, seed=0, home=tmp_path, jobs=1)
    (first / "complete").unlink()
    (first / "metadata.csv").write_text("garbage\n")
    again = generate(small, seed=0, home=tmp_path, jobs=1)
    assert again == first and (again / "complete").exists()
    assert "video_id" in pd.read_csv(again / "metadata.csv").columns


def test_manifest_holds_actors_out(tiny_entry):
    params, entry = tiny_entry
    manifest = load_dataset("synthetic", root=entry.parents[1], preset="quick", seed=3,
                            **TINY, **ALL_ON)
    assert manifest.classes == list(CLASSES)
    assert manifest.folds == [1, 2, 3]
    for fold in manifest.folds:
        train = set(manifest.subset(fold, "train")["group"])
        test = set(manifest.subset(fold, "test")["group"])
        assert train and test and not train & test
        assert test == {f"actor{fold - 1:02d}"}
    meta = manifest.meta
    assert meta["allow_flip"] is True
    assert meta["class_pairs"]["time_reversal"] == ["sit_down", "stand_up"]
    assert meta["class_pairs"]["order"] == ["wave_then_clap", "clap_then_wave"]
    clips = pd.read_csv(meta["clip_metadata"])
    assert set(clips["video_id"]) == set(manifest.table["video_id"])
    for column in ("actor", "action_start", "action_end", "camera_motion", "noise", "occlusion",
                   "distractors", "illumination", "scale_change"):
        assert column in clips.columns
    assert clips["camera_motion"].dtype == bool
    assert manifest.missing_files() == []


def test_stand_up_is_sit_down_reversed():
    # pose level, for several lead-ins and lead-outs
    for lead_in, lead_out in ((2, 5), (4, 4), (6, 1)):
        sit, s0, s1 = clip_poses("sit_down", 30, lead_in, lead_out, 25.0, 1.03)
        stand, u0, u1 = clip_poses("stand_up", 30, lead_out, lead_in, 25.0, 1.03)
        np.testing.assert_array_equal(stand, sit[::-1])
        assert (u0, u1) == (30 - 1 - s1, 30 - 1 - s0)
        assert not np.array_equal(stand, sit)
    # rendered level: same actor and repetition, nuisances off
    params = preset_params("quick", **TINY, **no_nuisances())
    for actor, rep in ((0, 0), (2, 5)):
        sit = render_clip(params, 1, "sit_down", actor, rep)
        stand = render_clip(params, 1, "stand_up", actor, rep)
        np.testing.assert_array_equal(stand.frames, sit.frames[::-1])
        np.testing.assert_array_equal(stand.poses, sit.poses[::-1])
    # with every nuisance on the poses are still exact reversals
    params = preset_params("quick", **TINY, **{k: 1.0 for k in no_nuisances()})
    sit = render_clip(params, 1, "sit_down", 1, 1)
    stand = render_clip(params, 1, "stand_up", 1, 1)
    np.testing.assert_array_equal(stand.poses, sit.poses[::-1])


def test_order_pair_holds_the_same_sub_actions_in_opposite_order():
    params = preset_params("quick", **TINY, **no_nuisances())
    first = render_clip(params, 2, "wave_then_clap", 1, 0)
    second = render_clip(params, 2, "clap_then_wave", 1, 0)
    assert (first.action_start, first.action_end) == (second.action_start, second.action_end)
    start, end = first.action_start, first.action_end
    n = end - start + 1
    n_wave = first.sub_action_boundary - start
    n_clap = n - n_wave
    assert second.sub_action_boundary - start == n_clap
    style = first.scene.style
    wave = action_poses("wave1", n_wave, params.fps, style)
    clap = action_poses("clap", n_clap, params.fps, style)
    np.testing.assert_array_equal(first.poses[start:start + n_wave], wave)
    np.testing.assert_array_equal(first.poses[start + n_wave:end + 1], clap)
    np.testing.assert_array_equal(second.poses[start:start + n_clap], clap)
    np.testing.assert_array_equal(second.poses[start + n_clap:end + 1], wave)
    # the rendered frames of each part are the same, only their order differs
    np.testing.assert_array_equal(first.frames[start:start + n_wave],
                                  second.frames[start + n_clap:end + 1])
    np.testing.assert_array_equal(first.frames[start + n_wave:end + 1],
                                  second.frames[start:start + n_clap])
    assert not np.array_equal(first.frames, second.frames)


@pytest.mark.parametrize("class_name", CLASSES)
def test_box_contains_exactly_the_figure(class_name):
    params = preset_params("quick", **{**TINY, "width": 64, "height": 48},
                           **{k: 1.0 for k in no_nuisances()})
    clip = render_clip(params, 5, class_name, 1, 2)
    scene_only = render_clip(params, 5, class_name, 1, 2, figure=False)
    np.testing.assert_array_equal(scene_only.boxes, clip.boxes)
    changed = (clip.frames != scene_only.frames).any(axis=3)
    assert changed.any()
    for t, (x1, y1, x2, y2) in enumerate(clip.boxes):
        mask = clip.masks[t]
        assert x1 >= 0, "the figure left the frame"
        # every figure pixel lies inside the box and the box is tight around them
        assert mask[y1:y2, x1:x2].sum() == mask.sum() > 0
        assert mask[y1, x1:x2].any() and mask[y2 - 1, x1:x2].any()
        assert mask[y1:y2, x1].any() and mask[y1:y2, x2 - 1].any()
        # nothing outside the box differs from the scene rendered without the figure
        outside = changed[t].copy()
        outside[y1:y2, x1:x2] = False
        assert not outside.any()


@pytest.mark.parametrize("class_name", CLASSES)
def test_temporal_extent_matches_the_motion(class_name):
    params = preset_params("quick", **{**TINY, "n_frames": 24}, **no_nuisances())
    clip = render_clip(params, 6, class_name, 0, 1)
    start, end, poses, frames = clip.action_start, clip.action_end, clip.poses, clip.frames
    assert 0 < start < end < params.n_frames - 1
    # the pose is constant outside [start, end] and changes right after start / before end
    assert (poses[:start + 1] == poses[start]).all()
    assert (poses[end:] == poses[end]).all()
    assert not np.array_equal(poses[start + 1], poses[start])
    assert not np.array_equal(poses[end - 1], poses[end])
    # the rendered frames too (static scene): idle frames are identical, the action moves
    assert (frames[:start + 1] == frames[start]).all()
    assert (frames[end:] == frames[end]).all()
    assert any(not np.array_equal(frames[t], frames[start]) for t in range(start, end))


def test_walk_and_run_share_the_gait_and_differ_in_speed():
    walk = action_poses("walk", 30, 25.0)
    run = action_poses("run", 30, 25.0)
    x = POSE_FIELDS.index("root_x")
    joints = [i for i, f in enumerate(POSE_FIELDS) if f not in ("root_x",)]
    assert run[-1, x] == pytest.approx(2 * walk[-1, x])  # twice the distance
    # the same set of joint configurations (same gait, same amplitude)
    assert np.abs(walk[:, joints]).max() == pytest.approx(np.abs(run[:, joints]).max(), rel=0.05)
    # run's joints change faster: more motion per frame
    assert np.abs(np.diff(run[:, joints], axis=0)).sum() > 1.5 * np.abs(
        np.diff(walk[:, joints], axis=0)).sum()


def test_scene_is_independent_of_the_class():
    params = preset_params("quick", **TINY, **{k: 1.0 for k in no_nuisances()})
    scenes = [render_clip(params, 7, c, 2, 0).scene for c in CLASSES]
    for scene in scenes[1:]:
        np.testing.assert_array_equal(scene.background, scenes[0].background)
        np.testing.assert_array_equal(scene.cam_x, scenes[0].cam_x)
        assert scene.applied == scenes[0].applied
        assert scene.facing == scenes[0].facing


def test_hsv_to_rgb_matches_colorsys():
    import colorsys

    from bench.data.datasets._scene import hsv_to_rgb

    hsv = np.random.default_rng(0).random((300, 3))
    ours = hsv_to_rgb(hsv[:, 0], hsv[:, 1], hsv[:, 2])
    reference = np.array([colorsys.hsv_to_rgb(*row) for row in hsv]) * 255
    np.testing.assert_allclose(ours, reference, atol=1e-9)
