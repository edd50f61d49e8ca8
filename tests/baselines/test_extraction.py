"""Per-video extraction: real clips, streaming, cache, chunk-independence, Dask == local."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from baselines import extraction
from baselines.extraction import ExtractorConfig, cache_key, extract_many, extract_video
from bench.methods import VideoFailure

DT_CHANNELS = ("hog", "hof", "mbhx", "mbhy", "traj")


def _small_dt(**kw) -> ExtractorConfig:
    base = dict(sampler="trajectories", sampler_params={"track_length": 6, "grid_step": 6,
                                                         "patch_size": 16},
                channels=DT_CHANNELS, grid="densetrack", size=48, max_frames=10, chunk=4)
    base.update(kw)
    return ExtractorConfig(**base)


def _write_video(path: Path, n_frames: int, w: int = 48, h: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (h, w + n_frames), np.uint8), (5, 5), 1.5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    for t in range(n_frames):
        frame = texture[:, t:t + w].copy()
        x = 4 + (2 * t) % (w - 16)
        cv2.rectangle(frame, (x, 10), (x + 10, 22), 255, -1)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def _same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _sorted_rows(feats: dict) -> dict:
    order = np.lexsort(np.vstack([feats[k].T for k in sorted(feats)])[::-1])
    return {k: v[order] for k, v in feats.items()}


def test_extraction_runs_on_every_real_clip(real_clips):
    config = _small_dt()
    results = extract_many(real_clips, config)
    failures = [r for r in results if isinstance(r, VideoFailure)]
    assert not failures, failures
    for r in results:
        n = len(r["xyt"])
        assert r["hog"].shape == (n, 96) and r["hof"].shape == (n, 108)
        assert r["mbhx"].shape == (n, 96) and r["mbhy"].shape == (n, 96)
        assert r["traj"].shape == (n, 12)
        assert np.isfinite(r["hog"]).all()


def test_streaming_holds_a_bounded_window(tmp_path):
    config = ExtractorConfig(sampler="dense", sampler_params={"sizes": (16,), "lengths": (6,)},
                             channels=("hog", "hof"), chunk=5)
    peaks = {}
    for n in (30, 150):
        window: list = []
        feats = extract_video(_write_video(tmp_path / f"v{n}.avi", n), config, max_window=window)
        peaks[n] = window[0]
        assert len(feats["hog"]) > 0
    bound = 0 + config.chunk + 6 + 1  # pre + chunk + post + 1 for the dense sampler
    assert peaks[30] == peaks[150] == bound


@pytest.mark.parametrize("sampler,params,channels,grid", [
    ("dense", {"sizes": (16, 24), "lengths": (6, 8)}, ("hog", "hof"), "laptev"),
    ("harris3d", {"sigma2s": (4.0,), "tau2s": (2.0, 4.0)}, ("hog", "hof"), "laptev"),
    ("trajectories", {"track_length": 6, "grid_step": 6, "patch_size": 16}, DT_CHANNELS,
     "densetrack"),
])
def test_chunk_size_does_not_change_the_descriptors(tmp_path, sampler, params, channels, grid):
    video = _write_video(tmp_path / "v.avi", 40)
    small = extract_video(video, ExtractorConfig(sampler=sampler, sampler_params=params,
                                                 channels=channels, grid=grid, chunk=3))
    whole = extract_video(video, ExtractorConfig(sampler=sampler, sampler_params=params,
                                                 channels=channels, grid=grid, chunk=1000))
    assert len(whole["xyt"]) > 0
    _same(_sorted_rows(small), _sorted_rows(whole))


def test_cache_hit_recomputes_nothing_and_a_changed_parameter_misses(tmp_path, monkeypatch):
    video = _write_video(tmp_path / "v.avi", 12)
    config = _small_dt()
    first = extract_many([video], config, cache_dir=tmp_path / "cache")[0]
    files = list((tmp_path / "cache" / "descriptors").rglob("*.npz"))
    assert len(files) == 1 and cache_key(video, config) in files[0].name

    calls = []

    def counting(path, cfg, **kw):
        calls.append(path)
        return {"hog": np.zeros((0, 96), np.float32)}

    monkeypatch.setattr(extraction, "extract_video", counting)
    again = extract_many([video], config, cache_dir=tmp_path / "cache")[0]
    assert calls == []
    _same(first, again)
    extract_many([video], _small_dt(size=40), cache_dir=tmp_path / "cache")
    assert len(calls) == 1  # a changed parameter misses the cache
    assert cache_key(video, _small_dt(size=40)) != cache_key(video, config)
    # touching the video (new mtime) also misses
    Path(video).touch()
    import os

    st = os.stat(video)
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    extract_many([video], config, cache_dir=tmp_path / "cache")
    assert len(calls) == 2


def test_a_corrupt_or_missing_video_is_a_failure_not_a_crash(tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"this is not a video" * 100)
    good = _write_video(tmp_path / "good.avi", 12)
    results = extract_many([bad, good, tmp_path / "missing.avi"], _small_dt(),
                           cache_dir=tmp_path / "cache")
    assert isinstance(results[0], VideoFailure) and results[0].stage == "decode"
    assert str(bad) in results[0].video
    assert isinstance(results[1], dict)
    assert isinstance(results[2], VideoFailure) and "does not exist" in results[2].reason


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="grid must be one of"):
        ExtractorConfig(grid="sift")
    with pytest.raises(ValueError, match="mbhx"):
        ExtractorConfig(channels=("mbhx",), grid="laptev")
    with pytest.raises(ValueError, match="scheduler"):
        extract_many([], ExtractorConfig(), backend="dask")


def test_joblib_processes_give_the_local_features(tmp_path):
    videos = [_write_video(tmp_path / f"v{i}.avi", 12, seed=i) for i in range(3)]
    local = extract_many(videos, _small_dt(), n_jobs=1)
    parallel = extract_many(videos, _small_dt(), n_jobs=2)
    for a, b in zip(local, parallel, strict=True):
        _same(a, b)


def test_dask_local_cluster_gives_the_local_features(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    videos = [_write_video(tmp_path / f"v{i}.avi", 12, seed=i) for i in range(3)]
    local = extract_many(videos, _small_dt())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        remote = extract_many(videos, _small_dt(), backend="dask",
                              scheduler=cluster.scheduler_address,
                              cache_dir=tmp_path / "dask_cache")
    for a, b in zip(local, remote, strict=True):
        _same(a, b)
    assert len(list((tmp_path / "dask_cache").rglob("*.npz"))) == 3


def test_extract_to_cache_returns_small_handles_that_load_the_same_features(tmp_path):
    """Workers send back handles (path, count, dims), not arrays; loading a handle gives the
    arrays extract_many returns; failures stay failures; the cache folder is required."""
    import pickle

    from baselines.extraction import DescriptorFile, extract_to_cache

    videos = [_write_video(tmp_path / f"v{i}.avi", 12, seed=i) for i in range(3)]
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"this is not a video" * 100)
    local = extract_many(videos, _small_dt())
    handles = extract_to_cache([*videos, bad], _small_dt(), cache_dir=tmp_path / "cache",
                               n_jobs=2)
    assert isinstance(handles[-1], VideoFailure) and handles[-1].stage == "decode"
    for feats, handle in zip(local, handles[:-1], strict=True):
        assert isinstance(handle, DescriptorFile)
        assert handle.n == len(feats["xyt"]) > 0
        assert handle.dims == {k: v.shape[1] for k, v in feats.items()}
        _same(feats, handle.load())
        assert sorted(handle.load(["hof"])) == ["hof"]
        assert len(pickle.dumps(handle)) < 1000 < sum(v.nbytes for v in feats.values())
        # the worker's own stages (bench.profile) travel back with the handle
        assert {"decode", "flow", "descriptor maps", "sampling + pooling",
                "cache write"} <= set(handle.seconds)
        assert all(v >= 0 for v in handle.seconds.values())
    # a second call finds every entry in the cache
    again = extract_to_cache(videos, _small_dt(), cache_dir=tmp_path / "cache")
    assert [h.file for h in again] == [h.file for h in handles[:-1]]
    assert all(set(h.seconds) == {"cache read"} for h in again)  # nothing decoded again
    with pytest.raises(ValueError, match="cache_dir"):
        extract_to_cache(videos, _small_dt(), cache_dir=None)
    Path(handles[0].file).unlink()
    with pytest.raises(OSError, match="run again"):
        handles[0].load()


def _method_configs(quick: bool = True) -> dict[str, ExtractorConfig]:
    """The extractor configuration of every classical method (quick sizes)."""
    from baselines.methods import METHOD_NAMES, _build
    from bench.methods import MethodContext

    ctx = MethodContext(quick=quick, cache_dir=None, progress=False)
    return {name: _build(name, ctx).extractor for name in METHOD_NAMES}


def test_one_pass_for_every_method_gives_each_method_its_own_descriptors_bit_for_bit(tmp_path):
    video = _write_video(tmp_path / "v.avi", 30, w=80, h=64)
    configs = _method_configs()
    assert len({extraction._decode_key(c) for c in configs.values()}) == 1  # one shared pass
    together = extraction.extract_videos(video, list(configs.values()))
    for (name, config), feats in zip(configs.items(), together, strict=True):
        alone = extract_video(video, config)
        assert sorted(alone) == sorted(feats), name
        for channel in alone:
            assert alone[channel].dtype == feats[channel].dtype
            np.testing.assert_array_equal(alone[channel], feats[channel], err_msg=name)


def test_one_decode_and_one_flow_per_frame_pair_are_shared(tmp_path, monkeypatch):
    video = _write_video(tmp_path / "v.avi", 12)
    flows = []
    original = extraction.FlowComputer.__call__

    def counting(self, prev, nxt):
        flows.append(1)
        return original(self, prev, nxt)

    monkeypatch.setattr(extraction.FlowComputer, "__call__", counting)
    configs = [_small_dt(), _small_dt(channels=("hof",), sampler="dense",
                                      sampler_params={"sizes": (16,), "lengths": (4,)},
                                      grid="laptev")]
    extraction.extract_videos(video, configs)
    assert len(flows) == 10 - 1  # max_frames=10: one flow per frame pair for both


def test_siblings_are_cached_in_the_same_pass(tmp_path, monkeypatch):
    from baselines.extraction import extract_to_cache

    video = _write_video(tmp_path / "v.avi", 12)
    main, sibling = _small_dt(), _small_dt(channels=("hog",))
    cache = tmp_path / "cache"
    (handle,) = extract_to_cache([video], main, cache_dir=cache, also=(main, sibling))
    assert len(list((cache / "descriptors").rglob("*.npz"))) == 2
    passes = []
    monkeypatch.setattr(extraction, "extract_video", lambda *a, **k: passes.append(a))
    monkeypatch.setattr(extraction, "extract_videos", lambda *a, **k: passes.append(a))
    (again,) = extract_to_cache([video], sibling, cache_dir=cache)
    assert passes == []  # the sibling's descriptors were already there
    _same(again.load(), extract_video(video, sibling))
    _same(handle.load(), extract_video(video, main))
