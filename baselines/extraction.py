"""Per-video extraction of space-time descriptors: streamed, parallel, cached.

:func:`extract_video` decodes one video with :func:`bench.data.video.iter_frames`, computes the
optical flow of each frame pair once (shared by HOF and the MBH channels, and, through
:func:`extract_videos`, by every configuration of a run that decodes the video the same
way), builds per-frame integral histograms of every channel, asks a sampler (:mod:`baselines.sampling`) for tubes
and pools them into descriptors (:mod:`baselines.spacetime`). It holds only a sliding window
of ``pre + chunk + post + 1`` frames, so memory does not grow with the video's length.

:func:`extract_many` runs it over many videos with joblib (processes, the default) or on a
Dask cluster (``backend="dask"``, ``scheduler="tcp://host:port"``), and caches each video's
descriptors on disk under ``cache_dir/descriptors/`` keyed by the video (absolute path, size,
mtime) and a hash of the extractor's parameters. A video that fails comes back as a
:class:`bench.methods.VideoFailure`, never as an exception.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
import tracemalloc
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baselines.flow import FlowComputer, FlowConfig
from baselines.sampling import Window, make_sampler
from baselines.spacetime import (
    APPEARANCE_CHANNELS,
    DALAL_TRIGGS_GRID,
    DENSETRACK_GRID,
    LAPTEV_GRID,
    MOTION_CHANNELS,
    CellGrid,
    channel_maps,
    integral_maps,
    tube_descriptors,
)
from bench.atomic import atomic_path
from bench.data.video import VideoDecodeError, file_identity, iter_frames
from bench.methods import VideoFailure
from bench.profile import scope as profile_scope
from bench.profile import stage

__all__ = [
    "ExtractorConfig",
    "extract_video",
    "extract_videos",
    "extract_many",
    "extract_to_cache",
    "DescriptorFile",
    "cache_key",
    "one_thread_per_video",
    "extraction_perf_rows",
    "EXTRACTOR_VERSION",
]

#: Bump when the extractor's output changes for the same parameters (invalidates caches).
EXTRACTOR_VERSION = 1

_GRIDS = {"dalal_triggs": DALAL_TRIGGS_GRID, "laptev": LAPTEV_GRID,
          "densetrack": DENSETRACK_GRID}


#: Chunk length per sampler when ``ExtractorConfig.chunk`` is None. Harris3D needs ~2 x 29
#: context frames around each chunk (its Gaussian scale space): long chunks amortise them.
DEFAULT_CHUNK = {"harris3d": 64}


@dataclass(frozen=True)
class ExtractorConfig:
    """Everything that determines a video's descriptors (and so its cache key).

    Attributes
    ----------
    sampler : {"dense", "harris3d", "trajectories"}
    sampler_params : dict
        Keyword arguments of the sampler class.
    channels : tuple of str
        Descriptor channels among ``"hog"``, ``"hof"``, ``"mbhx"``, ``"mbhy"`` (and
        ``"traj"`` with the trajectory sampler).
    grid : {"dalal_triggs", "laptev", "densetrack"}
        Cell layout, bins and normalisation (:data:`baselines.spacetime.LAPTEV_GRID`, ...).
    flow : FlowConfig
    size : int or None
        Resize frames so the short side has this many pixels.
    max_frames : int or None
        Read at most this many frames (after ``stride``).
    stride : int
        Keep every ``stride``-th frame.
    max_descriptors : int or None
        Keep at most this many samples per video (seeded random subset).
    chunk : int or None
        Frames the extractor hands to the sampler at once; None: the sampler's default
        (``DEFAULT_CHUNK``). The descriptors do not depend on it (tested).
    seed : int
    """

    sampler: str = "dense"
    sampler_params: dict = field(default_factory=dict)
    channels: tuple = ("hog", "hof")
    grid: str = "laptev"
    flow: FlowConfig = field(default_factory=FlowConfig)
    size: int | None = None
    max_frames: int | None = None
    stride: int = 1
    max_descriptors: int | None = None
    chunk: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.chunk is None:
            object.__setattr__(self, "chunk", DEFAULT_CHUNK.get(self.sampler, 8))
        if self.grid not in _GRIDS:
            raise ValueError(f"grid must be one of {tuple(_GRIDS)}. Got {self.grid!r} instead.")
        known = set(_GRIDS[self.grid].bins) | {"traj"}
        bad = [c for c in self.channels if c not in known]
        if bad or not self.channels:
            raise ValueError(
                f"channels {bad or '()'} are not available with grid {self.grid!r}; "
                f"use some of {sorted(known)}"
            )
        if "traj" in self.channels and self.sampler != "trajectories":
            raise ValueError("the 'traj' channel needs sampler='trajectories'")
        if self.chunk < 1:
            raise ValueError(f"chunk must be >= 1. Got {self.chunk} instead.")
        make_sampler(self.sampler, **self.sampler_params)  # validates the parameters

    @property
    def cell_grid(self) -> CellGrid:
        return _GRIDS[self.grid]

    @property
    def needs_flow(self) -> bool:
        return self.sampler == "trajectories" or any(c in MOTION_CHANNELS for c in self.channels)

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-able form (the cache key hashes it)."""
        return {
            "sampler": self.sampler,
            "sampler_params": _jsonable(make_sampler(self.sampler, **self.sampler_params)
                                        .to_dict()),
            "channels": list(self.channels),
            "grid": self.grid,
            "cell_grid": self.cell_grid.to_dict(),
            "flow": self.flow.to_dict(),
            "size": self.size,
            "max_frames": self.max_frames,
            "stride": self.stride,
            "max_descriptors": self.max_descriptors,
            "chunk": self.chunk,
            "seed": self.seed,
        }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items())}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# ------------------------------------------------------------------ one video
@contextlib.contextmanager
def one_thread_per_video():
    """Run the Numba kernels and OpenCV single-threaded inside one video's extraction.

    Extraction is parallel across videos (joblib / Dask workers); threading inside the
    per-frame kernels on top of that only oversubscribes the cores (on small frames the
    thread start-up costs far more than the work). Restores the previous counts afterwards.
    """
    import cv2
    import numba

    before_numba, before_cv = numba.get_num_threads(), cv2.getNumThreads()
    numba.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before_numba)
        cv2.setNumThreads(before_cv)


def extract_video(
    path: str | os.PathLike, config: ExtractorConfig, *, max_window: list | None = None
) -> dict[str, np.ndarray]:
    """Descriptors of one video, computed from a sliding window of frames.

    Parameters
    ----------
    path : path-like
        The video.
    config : ExtractorConfig
    max_window : list, optional
        If given, the largest number of frames held at once is appended to it (to check the
        streaming property).

    Returns
    -------
    dict of str to numpy.ndarray
        One ``(n, D_c)`` float32 array per channel (the same ``n`` rows for every channel),
        plus ``"xyt"`` ``(n, 3)``: each sample's centre and first frame.

    Raises
    ------
    bench.data.video.VideoDecodeError
        The video cannot be decoded.

    Notes
    -----
    The window holds ``pre + chunk + post + 1`` frames (the sampler's context plus one chunk);
    flow is computed once per frame pair and shared by HOF, MBHx and MBHy; per-frame
    integral histograms sit in a ring buffer of fixed size. The result does not depend on
    ``chunk`` (tested). With ``max_descriptors`` a seeded subset of the samples is kept.

    References
    ----------
    .. [1] I. Laptev, M. Marszałek, C. Schmid, B. Rozenfeld, "Learning realistic human
       actions from movies", CVPR 2008, doi:10.1109/CVPR.2008.4587756.
    .. [2] H. Wang, A. Kläser, C. Schmid, C.-L. Liu, "Dense trajectories and motion boundary
       descriptors for action recognition", IJCV 103(1), 2013, doi:10.1007/s11263-012-0594-8.
    """
    with one_thread_per_video():
        return _extract_group(path, [config], max_window)[0]


class _Pipeline:
    """One configuration's streaming state over a frame stream it may share with others.

    The driver (:func:`_extract_group`) decodes each frame and computes its flow once; every
    pipeline keeps its own window of frames and flows (references, not copies), its ring of
    integral histograms and its sampler, and asks ``integrals`` for the maps of a channel:
    pipelines with the same grid share them.
    """

    def __init__(self, config: ExtractorConfig):
        self.config = config
        self.grid = config.cell_grid
        self.sampler = make_sampler(config.sampler, **config.sampler_params)
        self.sampler.reset()
        self.map_channels = [c for c in config.channels if c != "traj"]
        self.frames: deque = deque()
        self.flows: deque = deque()
        # Integral histograms live in one preallocated ring per channel (slot t % capacity):
        # no per-chunk copies, and the memory is fixed by the window, not by the video.
        self.capacity = self.sampler.pre + config.chunk + self.sampler.post + 2
        self.rings: dict[str, np.ndarray] = {}
        self.start = 0  # global index of frames[0]
        self.next_owned = 0
        self.n_read = 0
        self.parts: dict[str, list] = {c: [] for c in config.channels}
        self.parts["xyt"] = []
        self.peak = 0

    def _store(self, channel: str, t: int, integral: np.ndarray) -> None:
        if channel not in self.rings:
            n_bins, h1, w1 = integral.shape
            self.rings[channel] = np.zeros((self.capacity, n_bins, h1, w1))
        self.rings[channel][t % self.capacity] = integral

    @stage("sampling + pooling")
    def _process(self, owned: range) -> None:
        window = Window(self.start, np.stack(self.frames),
                        np.stack(self.flows) if self.flows else None)
        for tubes in self.sampler.sample(window, owned):
            if len(tubes) == 0:
                continue
            for c in self.map_channels:
                self.parts[c].append(tube_descriptors(self.rings[c], tubes, self.grid,
                                                      ring=True))
            if "traj" in self.config.channels:
                self.parts["traj"].append(tubes.extra["traj"])
            mid = tubes.centers[:, tubes.length // 2]
            self.parts["xyt"].append(np.column_stack([mid, tubes.t0]).astype(np.float32))

    def push(self, frame: np.ndarray, flow: np.ndarray | None, integrals) -> None:
        """Take frame ``t`` and, for ``t > 0``, the flow from frame ``t - 1`` to it.

        ``integrals(grid, channel, image, flow)`` returns the channel's integral histogram.
        """
        chunk, post, pre = self.config.chunk, self.sampler.post, self.sampler.pre
        self.frames.append(frame)
        self.n_read += 1
        t = self.n_read - 1
        for c in self.map_channels:
            if c in APPEARANCE_CHANNELS:
                self._store(c, t, integrals(self.config.grid, c, frame, None))
        if t > 0 and self.config.needs_flow:
            self.flows.append(flow)
            for c in self.map_channels:
                if c in MOTION_CHANNELS:
                    self._store(c, t - 1, integrals(self.config.grid, c, None, flow))
        self.peak = max(self.peak, len(self.frames))
        while self.n_read >= self.next_owned + chunk + post + 1:
            self._process(range(self.next_owned, self.next_owned + chunk))
            self.next_owned += chunk
            drop = max(0, (self.next_owned - pre) - self.start)
            for _ in range(drop):
                self.frames.popleft()
                if self.flows:
                    self.flows.popleft()
            self.start += drop

    def finish(self, path, max_window: list | None) -> dict[str, np.ndarray]:
        """Sample the last frames; return the descriptors (seeded subset when capped)."""
        config, grid = self.config, self.grid
        while self.next_owned < self.n_read - 1:
            stop = min(self.next_owned + config.chunk, self.n_read - 1)
            self._process(range(self.next_owned, stop))
            self.next_owned = stop
        if max_window is not None:
            max_window.append(self.peak)
        out = {}
        n_total = sum(len(x) for x in self.parts["xyt"])
        keep = None
        if config.max_descriptors is not None and n_total > config.max_descriptors:
            rng = np.random.default_rng([config.seed, zlib.crc32(Path(path).name.encode())])
            keep = np.sort(rng.choice(n_total, config.max_descriptors, replace=False))
        for c, chunks in self.parts.items():
            dim = 3 if c == "xyt" else (2 * config.sampler_params.get("track_length", 15)
                                        if c == "traj" else grid.dim(c))
            arr = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, dim),
                                                                                    np.float32)
            out[c] = arr[keep] if keep is not None else arr
        return out


def _decode_key(config: ExtractorConfig) -> tuple:
    """What the frames and flow of a configuration depend on: configurations with the same
    key share one decode and one flow computation per frame pair."""
    return (config.size, config.max_frames, config.stride, json.dumps(config.flow.to_dict(),
                                                                      sort_keys=True))


def _extract_group(path, configs: list[ExtractorConfig], max_window: list | None):
    """Descriptors of ``configs`` (one decode key) from one pass over the video."""
    first = configs[0]
    flow_fn = FlowComputer(first.flow) if any(c.needs_flow for c in configs) else None
    pipelines = [_Pipeline(c) for c in configs]
    memo: dict[tuple[str, str], np.ndarray] = {}

    def integrals(grid_name: str, channel: str, image, flow) -> np.ndarray:
        key = (grid_name, channel)
        if key not in memo:
            with stage("descriptor maps"):
                memo[key] = integral_maps(channel_maps(channel, image, flow, _GRIDS[grid_name]))
        return memo[key]

    decoded = iter(iter_frames(path, max_frames=first.max_frames, stride=first.stride,
                               size=first.size, gray=True))
    previous = None
    while True:
        with stage("decode"):
            frame = next(decoded, None)
        if frame is None:
            break
        flow = None
        if previous is not None and flow_fn is not None:
            with stage("flow"):
                flow = flow_fn(previous, frame)
        memo.clear()
        for pipeline in pipelines:
            pipeline.push(frame, flow, integrals)
        previous = frame
    return [p.finish(path, max_window) for p in pipelines]


def extract_videos(path: str | os.PathLike, configs) -> list[dict[str, np.ndarray]]:
    """The descriptors of one video under several configurations, each piece of work once.

    Configurations that decode the video the same way (size, frame cap, stride and flow
    parameters) share one decode, one optical flow per frame pair and, where they use the
    same grid, the per-frame channel maps and their integral histograms; each keeps its own
    sampler and window. The result for each configuration is the one :func:`extract_video`
    gives, bit for bit (tested).

    Parameters
    ----------
    path : path-like
    configs : sequence of ExtractorConfig

    Returns
    -------
    list of dict
        One descriptor dict per configuration, in order (see :func:`extract_video`).
    """
    configs = list(configs)
    groups: dict[tuple, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(_decode_key(config), []).append(i)
    out: list[dict[str, np.ndarray] | None] = [None] * len(configs)
    with one_thread_per_video():
        for members in groups.values():
            for i, feats in zip(members, _extract_group(path, [configs[i] for i in members],
                                                        None), strict=True):
                out[i] = feats
    return out  # type: ignore[return-value]


# ------------------------------------------------------------------ cache
def cache_key(path: str | os.PathLike, config: ExtractorConfig) -> str:
    """SHA-256 of the video's identity (absolute path, size, mtime) and the parameters."""
    p = Path(path).resolve()
    size, mtime_ns = file_identity(p)
    payload = {
        "video": str(p),
        "size": size,
        "mtime_ns": mtime_ns,
        "params": config.to_dict(),
        "version": EXTRACTOR_VERSION,
    }
    text = json.dumps(_jsonable(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _cache_file(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "descriptors" / key[:2] / f"{key}.npz"


def _save(path: Path, feats: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: savez adds no suffix
        np.savez(fh, **feats)


def _load_entry(file: Path) -> dict[str, np.ndarray] | None:
    """All arrays of a cache entry, or None when it is missing or unreadable."""
    if not file.exists():
        return None
    try:
        with np.load(file) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None  # unreadable cache entry: recompute it


def _cached_features(path: str, config: ExtractorConfig, cache_dir: str | None,
                     also: tuple = ()) -> tuple[dict[str, np.ndarray], Path | None]:
    """The video's descriptors (from the cache when possible) and its cache file (or None).

    When they must be computed, the configurations ``also`` whose entries are missing too are
    computed in the same pass (:func:`extract_videos`) and cached, so that the other methods
    of a run find their descriptors ready instead of decoding the video and computing its
    flow again.
    """
    key = cache_key(path, config) if cache_dir is not None and Path(path).exists() else None
    file = _cache_file(Path(cache_dir), key) if key is not None else None
    with stage("cache read"):
        feats = _load_entry(file) if file is not None else None
    if feats is not None:
        return feats, file
    if file is None:
        return extract_video(path, config), None
    entries = [(config, file)]
    for other in also:
        if any(other == seen for seen, _ in entries):
            continue
        other_file = _cache_file(Path(cache_dir), cache_key(path, other))
        if not other_file.exists():
            entries.append((other, other_file))
    if len(entries) == 1:
        results = [extract_video(path, config)]
    else:
        results = extract_videos(path, [c for c, _ in entries])
    with stage("cache write"):
        for (_, entry_file), entry_feats in zip(entries, results, strict=True):
            _save(entry_file, entry_feats)
    return results[0], file


def _as_failure(path: str, exc: Exception) -> VideoFailure:
    if isinstance(exc, VideoDecodeError):
        return VideoFailure(video=str(path), stage="decode", reason=exc.reason)
    return VideoFailure(video=str(path), stage="features", reason=f"{type(exc).__name__}: {exc}")


def _extract_one(path: str, config: ExtractorConfig, cache_dir: str | None):
    """Worker: cached descriptors, or a VideoFailure (never raises)."""
    try:
        return _cached_features(path, config, cache_dir)[0]
    except Exception as exc:  # noqa: BLE001 - one bad video must not stop the others
        return _as_failure(path, exc)


@dataclass(frozen=True)
class DescriptorFile:
    """A handle on one video's descriptors in the on-disk cache (instead of the arrays).

    Attributes
    ----------
    video : str
        The video's path.
    file : str
        The cache entry (``.npz``: one array per channel plus ``"xyt"``).
    n : int
        Number of descriptors (rows, the same in every channel).
    dims : dict of str to int
        Each array's number of columns.
    seconds : dict of str to float
        Where the worker's time went for this video (:mod:`bench.profile` stages: decode,
        flow, descriptor maps, sampling + pooling, cache read/write).
    """

    video: str
    file: str
    n: int
    dims: dict
    seconds: dict = field(default_factory=dict, compare=False)

    def load(self, channels=None) -> dict[str, np.ndarray]:
        """The arrays of ``channels`` (all when None), read from the cache entry.

        Raises
        ------
        OSError
            The cache entry was removed or damaged after extraction; run again (the entry is
            recomputed).
        """
        try:
            with np.load(self.file) as z:
                names = z.files if channels is None else list(channels)
                return {k: z[k] for k in names}
        except (OSError, ValueError, EOFError, KeyError) as exc:
            raise OSError(
                f"cannot read the cached descriptors of {self.video} from {self.file} ({exc}); "
                "the cache changed during the run: run again to recompute the entry"
            ) from exc


def _extract_one_to_file(path: str, config: ExtractorConfig, cache_dir: str, also: tuple = ()):
    """Worker: a :class:`DescriptorFile` for the cached descriptors, or a VideoFailure.

    Only the small handle travels back to the caller, never the arrays.
    """
    try:
        with profile_scope() as seconds:
            feats, file = _cached_features(path, config, cache_dir, also)
        if file is None:  # unreachable with a cache_dir unless the video vanished
            raise FileNotFoundError(f"video {path} does not exist")
        return DescriptorFile(video=str(path), file=str(file), n=int(len(feats["xyt"])),
                              dims={k: int(v.shape[1]) for k, v in feats.items()},
                              seconds=dict(seconds))
    except Exception as exc:  # noqa: BLE001 - one bad video must not stop the others
        return _as_failure(path, exc)


def _map_videos(worker, paths: list[str], config: ExtractorConfig, *, n_jobs: int,
                backend: str, scheduler: str | None, cache: str | None,
                progress: bool, also: tuple = ()) -> list:
    """``worker(path, config, cache[, also])`` over the videos: in order, joblib or Dask."""
    if also:
        worker = functools.partial(worker, also=tuple(also))
    if backend == "dask":
        if not scheduler:
            raise ValueError(
                "backend='dask' needs scheduler='tcp://HOST:PORT' (the address of a running "
                "dask.distributed scheduler)"
            )
        from dask.distributed import Client

        with Client(scheduler, set_as_default=False) as client:
            futures = client.map(worker, paths, config=config, cache_dir=cache, pure=False)
            return client.gather(futures)
    if backend != "joblib":
        raise ValueError(f"backend must be 'joblib' or 'dask'. Got {backend!r} instead.")
    if n_jobs == 1 or len(paths) <= 1:
        results = (worker(p, config, cache) for p in paths)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(worker)(p, config, cache) for p in paths
        )
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(paths), desc="descriptors", unit="video")
    return list(results)


def extract_many(
    paths,
    config: ExtractorConfig,
    *,
    n_jobs: int = 1,
    backend: str = "joblib",
    scheduler: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> list:
    """Descriptors of many videos, in parallel, with an on-disk cache.

    Every video's arrays come back into this process at once; for large training sets use
    :func:`extract_to_cache`, which returns small handles instead.

    Parameters
    ----------
    paths : sequence of path-like
    config : ExtractorConfig
    n_jobs : int
        Worker processes for the joblib backend (1: in this process).
    backend : {"joblib", "dask"}
        ``"dask"`` sends one task per video to the ``dask.distributed`` scheduler at
        ``scheduler`` (``"tcp://host:port"``); the workers must be able to read the videos
        and ``cache_dir`` at the same paths.
    scheduler : str, optional
        Address of the Dask scheduler (required with ``backend="dask"``).
    cache_dir : path-like, optional
        Root of the cache; entries go to ``cache_dir/descriptors/``. None disables caching.
    progress : bool
        Show a progress bar (joblib backend).

    Returns
    -------
    list
        One entry per path, in order: a dict of descriptor arrays, or a
        :class:`bench.methods.VideoFailure`.
    """
    cache = None if cache_dir is None else str(Path(cache_dir).resolve())
    return _map_videos(_extract_one, [str(p) for p in paths], config, n_jobs=n_jobs,
                       backend=backend, scheduler=scheduler, cache=cache, progress=progress)


def extract_to_cache(
    paths,
    config: ExtractorConfig,
    *,
    cache_dir: str | os.PathLike,
    n_jobs: int = 1,
    backend: str = "joblib",
    scheduler: str | None = None,
    progress: bool = False,
    also: tuple = (),
) -> list:
    """Extract (or find in the cache) every video's descriptors; return handles, not arrays.

    Same work and cache as :func:`extract_many`, but each worker writes the video's
    descriptors to ``cache_dir/descriptors/`` and sends back only a :class:`DescriptorFile`
    (path, row count, dimensions), so neither the workers' results nor this process ever hold
    more than one video's descriptors: memory does not grow with the number of videos.

    Parameters
    ----------
    paths : sequence of path-like
    config : ExtractorConfig
    cache_dir : path-like
        Root of the cache (required; with ``backend="dask"`` the workers must see it at the
        same path).
    n_jobs, backend, scheduler, progress
        As in :func:`extract_many`.
    also : tuple of ExtractorConfig
        Configurations of other methods of the run: a video whose descriptors must be
        computed gets theirs computed in the same pass and cached (one decode, one flow per
        frame pair, shared channel maps; :func:`extract_videos`).

    Returns
    -------
    list
        One entry per path, in order: a :class:`DescriptorFile` or a
        :class:`bench.methods.VideoFailure`.
    """
    if cache_dir is None:
        raise ValueError("extract_to_cache needs a cache_dir (a folder for the descriptors)")
    cache = str(Path(cache_dir).resolve())
    return _map_videos(_extract_one_to_file, [str(p) for p in paths], config, n_jobs=n_jobs,
                       backend=backend, scheduler=scheduler, cache=cache, progress=progress,
                       also=also)


# ------------------------------------------------------------------ perf
def _write_test_video(path: Path, width: int, height: int, n_frames: int, seed: int = 0) -> None:
    import cv2

    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (height, width), np.uint8), (5, 5), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for t in range(n_frames):
        frame = np.roll(texture, shift=t, axis=1)
        cv2.rectangle(frame, (10 + 2 * t % (width // 2), height // 3),
                      (30 + 2 * t % (width // 2), height // 3 + 20), 255, -1)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def extraction_perf_rows(quick: bool = False) -> list[dict]:
    """Whole-extraction throughput (frames/s, one process) and peak traced memory.

    Times :func:`extract_video` (decode + flow + HOG/HOF/MBH + trajectories, DenseTrack
    layout) on generated 160×120 and 320×240 videos, after one warm-up run, median of
    repeats. Rows follow ``bench perf``'s format; there is no reference implementation, so
    ``reference``, ``speedup`` and ``max_abs_diff`` are None.
    """
    n_frames = 20 if quick else 60
    repeats = 1 if quick else 3
    config = ExtractorConfig(sampler="trajectories", channels=("hog", "hof", "mbhx", "mbhy",
                                                               "traj"), grid="densetrack")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in ((160, 120), (320, 240)):
            video = Path(tmp) / f"perf_{width}x{height}.avi"
            _write_test_video(video, width, height, n_frames)
            extract_video(video, config)  # warm-up (Numba compilation, caches)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                extract_video(video, config)
                times.append(time.perf_counter() - t0)
            tracemalloc.start()
            extract_video(video, config)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            med = float(np.median(times))
            rows.append({
                "case": f"extraction dense trajectories HOG+HOF+MBH {width}x{height} "
                        "(frames/s per core)",
                "ours_s": med / n_frames,
                "reference": None,
                "reference_s": None,
                "speedup": None,
                "max_abs_diff": None,
                "target": None,
                "met": None,
                "notes": f"{n_frames / med:.1f} frames/s; peak traced memory "
                         f"{peak / 2**20:.1f} MiB",
            })
    return rows


#: The name :mod:`baselines.perf` looks up.
_extraction_rows = extraction_perf_rows
