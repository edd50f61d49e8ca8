"""Clip sampling, crops, views and the decoded-clip cache, against index arithmetic."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest
from _moving_square import write_moving_square

from bench.data.video import read_video
from deep.cache import ClipCache
from deep.clips import (
    ClipSpec,
    _crop_resize_normalise,
    center_crop_box,
    dense_clip_indices,
    dense_test_starts,
    random_resized_crop_box,
    sample_test_views,
    sample_train_clip,
    segment_indices,
    three_crop_boxes,
)


def _frames(t=20, h=30, w=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("n", [1, 5, 17, 40])
@pytest.mark.parametrize(("clip_len", "interval"), [(8, 1), (4, 3), (16, 2)])
def test_dense_indices_step_by_interval_and_stay_in_range(n, clip_len, interval):
    for start in range(0, max(1, n - (clip_len - 1) * interval)):
        idx = dense_clip_indices(n, clip_len, interval, start)
        assert len(idx) == clip_len and idx.min() >= 0 and idx.max() <= n - 1
        expected = np.minimum(start + interval * np.arange(clip_len), n - 1)
        np.testing.assert_array_equal(idx, expected)


@pytest.mark.parametrize(("n", "clip_len", "interval", "n_clips"),
                         [(40, 8, 2, 1), (40, 8, 2, 3), (100, 16, 1, 5), (5, 8, 2, 2)])
def test_dense_test_starts_cover_the_video_symmetrically(n, clip_len, interval, n_clips):
    starts = dense_test_starts(n, clip_len, interval, n_clips)
    last = max(0, n - (clip_len - 1) * interval - 1)
    assert len(starts) == n_clips
    assert starts.min() >= 0 and starts.max() <= last
    assert np.all(np.diff(starts) >= 0)
    # symmetric around the middle of the valid start range (rounding: within one frame)
    assert np.all(np.abs(starts + starts[::-1] - last) <= 1)
    if n_clips == 1:
        assert abs(starts[0] - last / 2) <= 0.5


@pytest.mark.parametrize(("n", "k"), [(30, 3), (31, 8), (100, 7), (8, 8)])
def test_segments_one_frame_inside_each_segment(n, k):
    rng = np.random.default_rng(0)
    bounds = np.arange(k + 1) * n / k
    for _ in range(50):
        idx = segment_indices(n, k, rng)
        assert np.all(idx >= np.floor(bounds[:-1])) and np.all(idx < np.ceil(bounds[1:]))
    centre = segment_indices(n, k)
    np.testing.assert_array_equal(centre, np.floor((np.arange(k) + 0.5) * n / k).astype(int))


def test_segments_random_offsets_vary_but_centre_is_fixed():
    rng = np.random.default_rng(1)
    draws = {tuple(segment_indices(90, 3, rng)) for _ in range(20)}
    assert len(draws) > 1
    assert len({tuple(segment_indices(90, 3)) for _ in range(5)}) == 1


def test_random_resized_crop_box_inside_frame_with_area_in_scale():
    rng = np.random.default_rng(0)
    for _ in range(200):
        y0, x0, h, w = random_resized_crop_box(48, 64, (0.3, 0.9), (3 / 4, 4 / 3), rng)
        assert 0 <= y0 and 0 <= x0 and y0 + h <= 48 and x0 + w <= 64
        area = h * w / (48 * 64)
        assert 0.3 - 0.05 <= area <= 0.9 + 0.05  # rounding of h and w
        assert 3 / 4 - 0.1 <= w / h <= 4 / 3 + 0.1


def test_centre_and_three_crops_positions():
    assert center_crop_box(48, 64) == (0, 8, 48, 48)
    assert three_crop_boxes(48, 64) == [(0, 0, 48, 48), (0, 8, 48, 48), (0, 16, 48, 48)]
    assert three_crop_boxes(64, 48) == [(0, 0, 48, 48), (8, 0, 48, 48), (16, 0, 48, 48)]


def test_no_flip_ever_when_flips_are_forbidden():
    frames = _frames()
    spec = ClipSpec(num_frames=4, interval=2, crop_size=16)
    rng = np.random.default_rng(0)
    for _ in range(100):
        clip, info = sample_train_clip(frames, spec, rng, allow_flip=False)
        assert info["flip"] is False
        unflipped = _crop_resize_normalise(frames[info["indices"]], info["box"], 16, False)
        np.testing.assert_array_equal(clip, unflipped)
    flips = [sample_train_clip(frames, spec, rng, allow_flip=True)[1]["flip"] for _ in range(200)]
    assert 60 < sum(flips) < 140  # about half when allowed


def test_flip_mirrors_the_crop():
    frames = _frames()
    box = (2, 3, 20, 20)
    a = _crop_resize_normalise(frames, box, 20, False)
    b = _crop_resize_normalise(frames, box, 20, True)
    np.testing.assert_array_equal(a[..., ::-1], b)


def test_clip_normalisation_against_a_numpy_reference():
    frames = _frames(t=6, h=20, w=20)
    box = (0, 0, 20, 20)  # the whole frame at its own size: no resampling
    x = frames.astype(np.float64) / 255.0
    per_clip = _crop_resize_normalise(frames, box, 20, False, "clip")
    expected = (x - x.mean(axis=(0, 1, 2))) / x.std(axis=(0, 1, 2))
    np.testing.assert_allclose(per_clip, expected.transpose(3, 0, 1, 2), atol=1e-4)
    imagenet = _crop_resize_normalise(frames, box, 20, False, "imagenet")
    expected = (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(imagenet, expected.transpose(3, 0, 1, 2), atol=1e-4)
    # a flat clip (zero spread) stays finite
    flat = _crop_resize_normalise(np.full((2, 8, 8, 3), 90, np.uint8), (0, 0, 8, 8), 8, False)
    assert np.isfinite(flat).all() and np.abs(flat).max() < 1e-4


def test_spec_normalisation_reaches_the_clips_and_bad_values_are_named():
    frames = _frames(t=12)
    views = sample_test_views(frames, ClipSpec(num_frames=4, crop_size=16, test_clips=2))
    means = views.mean(axis=(2, 3, 4))  # per view and channel
    np.testing.assert_allclose(means, 0.0, atol=1e-4)
    imagenet = sample_test_views(frames, ClipSpec(num_frames=4, crop_size=16, test_clips=2,
                                                  normalise="imagenet"))
    assert not np.allclose(imagenet, views)
    with pytest.raises(ValueError, match="'normalise'"):
        ClipSpec(normalise="per_video")


@pytest.mark.parametrize("sampling", ["dense", "segments"])
def test_same_seed_same_clips(sampling):
    frames = _frames(t=40)
    spec = ClipSpec(sampling=sampling, num_frames=4, interval=3, crop_size=16)

    def draw(seed):
        rng = np.random.default_rng(seed)
        return [sample_train_clip(frames, spec, rng, True)[0] for _ in range(5)]

    for a, b in zip(draw(7), draw(7), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(draw(7), draw(8), strict=True))


@pytest.mark.parametrize(("sampling", "clips", "crops"), [("dense", 3, 1), ("dense", 2, 3),
                                                          ("segments", 2, 1)])
def test_test_views_are_clip_major_centre_or_three_crops(sampling, clips, crops):
    frames = _frames(t=40)
    spec = ClipSpec(sampling=sampling, num_frames=4, interval=2, crop_size=12,
                    test_clips=clips, test_crops=crops)
    views = sample_test_views(frames, spec)
    assert views.shape == (clips * crops, 3, 4, 12, 12)
    boxes = [center_crop_box(30, 40)] if crops == 1 else three_crop_boxes(30, 40)
    if sampling == "dense":
        starts = dense_test_starts(40, 4, 2, clips)
        temporal = [dense_clip_indices(40, 4, 2, int(s)) for s in starts]
    else:
        temporal = [segment_indices(40, 4, shift=(c + 0.5) / clips) for c in range(clips)]
    for c, idx in enumerate(temporal):
        for m, box in enumerate(boxes):
            expected = _crop_resize_normalise(frames[idx], box, 12, False)
            np.testing.assert_array_equal(views[c * crops + m], expected)
    np.testing.assert_array_equal(views, sample_test_views(frames, spec))


def test_clip_spec_rejects_bad_parameters():
    with pytest.raises(ValueError, match="sampling"):
        ClipSpec(sampling="sparse")
    with pytest.raises(ValueError, match="test_crops"):
        ClipSpec(test_crops=2)
    with pytest.raises(ValueError, match="scale"):
        ClipSpec(scale=(0.0, 1.0))


def _is_memory_map(array: np.ndarray) -> bool:
    while isinstance(array, np.ndarray) and not isinstance(array, np.memmap):
        array = array.base
    if isinstance(array, memoryview):
        array = array.obj
    return isinstance(array, (np.memmap, mmap.mmap))


def test_cache_rereads_a_removed_entry(tmp_path):
    video = write_moving_square(tmp_path / "v.avi", 0, seed=0)
    cache = ClipCache(tmp_path / "cache", short_side=24)
    first = np.array(cache.get(video))
    cache.entry_path(video).unlink()  # e.g. the user cleared the cache during a run
    np.testing.assert_array_equal(cache.get(video), first)
    assert cache.decodes == 2
    np.testing.assert_array_equal(cache.get(video), first)
    assert cache.decodes == 2


def test_cache_decodes_once_and_matches_read_video(tmp_path):
    video = write_moving_square(tmp_path / "v.avi", 0, seed=0)
    cache = ClipCache(tmp_path / "cache", short_side=24)
    first = cache.get(video)
    second = cache.get(video)
    assert cache.decodes == 1
    assert _is_memory_map(first) and _is_memory_map(second) and not second.flags.writeable
    np.testing.assert_array_equal(first, read_video(video, size=24))
    np.testing.assert_array_equal(first, second)
    # another object over the same folder: still no decoding
    again = ClipCache(tmp_path / "cache", short_side=24)
    again.get(video)
    assert again.decodes == 0
    # other decode parameters, or a changed file, give another key
    assert ClipCache(tmp_path / "cache", short_side=20).key(video) != cache.key(video)
    old_key = cache.key(video)
    stat = os.stat(video)
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache.key(video) != old_key
    cache.get(video)
    assert cache.decodes == 2
