"""Classical temporal action detection: sliding windows on dense-trajectory Fisher vectors.

The THUMOS'14 line of Oneata, Verbeek & Schmid (2014) [1]_: dense-trajectory descriptors
(HOG, HOF, MBH and the trajectory shape [2]_) are extracted once per video; every window of a
multi-scale sliding-window ladder is encoded as an improved Fisher vector [3]_ from prefix
sums of the descriptors' statistics over time (:mod:`baselines.temporal_fv`); one linear SVM
per class scores the windows against background and the other classes
(:mod:`baselines._detection_windows`); greedy temporal non-maximum suppression per class
(:func:`temporal_nms`) and a top-k per video give the detections.

The estimator follows the detection protocol of :mod:`bench.methods`::

    est = build_sliding_window_detector(ctx, **params)
    est.fit(videos, segments, groups=None)   # segments: video, t_start, t_end, label (int)
    est.detect(videos)                       # video, t_start, t_end, label, score

References
----------
.. [1] D. Oneata, J. Verbeek, C. Schmid, "The LEAR submission at THUMOS 2014", THUMOS'14
   Action Recognition Challenge notebook paper, 2014.
.. [2] H. Wang, C. Schmid, "Action recognition with improved trajectories", ICCV 2013.
   :doi:`10.1109/ICCV.2013.441`
.. [3] F. Perronnin, J. Sánchez, T. Mensink, "Improving the Fisher kernel for large-scale
   image classification", ECCV 2010. :doi:`10.1007/978-3-642-15561-1_11`
.. [4] D. Oneata, J. Verbeek, C. Schmid, "Action and event recognition with Fisher vectors
   on a compact feature set", ICCV 2013.
"""

from __future__ import annotations

import contextlib
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from baselines._detection_windows import (
    WindowPool,
    check_training_set,
    duration_prior,
    fit_duration_prior,
    fit_window_svms,
    hard_negatives,
    select_detections,
    temporal_nms,
    window_targets,
)
from baselines.extraction import DescriptorFile, ExtractorConfig, extract_to_cache
from baselines.flow import FlowConfig
from baselines.temporal_fv import (
    WindowGrid,
    fit_channel_encoders,
    temporal_statistics,
    window_fisher_vectors,
    window_ladder,
)
from bench.data.video import VideoDecodeError, probe_video
from bench.methods import MethodCard, MethodContext, VideoFailure
from bench.profile import WORKER_PREFIX, stage
from bench.profile import add as add_seconds

__all__ = ["SlidingWindowDetector", "build_sliding_window_detector",
           "SLIDING_WINDOW_DETECTOR_CARD", "temporal_nms", "window_targets"]

_DETECTION_COLUMNS = ["video", "t_start", "t_end", "label", "score"]


class SlidingWindowDetector(BaseEstimator):
    """Multi-scale sliding windows, dense-trajectory Fisher vectors, per-class linear SVMs.

    Parameters
    ----------
    extractor : ExtractorConfig
        Dense trajectories and their channels (``sampler="trajectories"``; read whole videos:
        ``max_frames=None``).
    n_components : int
        GMM components per channel (shrunk for small training sets, ``encoder_sizes_``).
    window_lengths : sequence of float or None
        Window lengths in seconds; None: :func:`baselines.temporal_fv.window_ladder`
        (0.6 s to 8 s, 8 scales).
    stride_fraction : float
        Each scale slides by this fraction of its length; also sets the time grid.
    positive_iou, negative_iou : float
        Labelling thresholds of :func:`window_targets`.
    negatives_per_video : int
        Background windows drawn (seeded) per training video, and the budget of hard
        negatives added per video and mining round.
    hard_negative_rounds : int
        Rounds of mining: the training videos are scanned with the current SVMs and each
        class's highest-scoring negatives inside the margin join the pool.
    max_training_windows : int
        Cap of the pool (seeded subset of the negatives beyond it); it bounds the memory of
        the SVM stage, ``max_training_windows x dim`` float32.
    C : float or "auto"
    C_grid : sequence of float
    cv_folds : int
        SVM model selection and calibration, :func:`baselines._detection_windows.fit_window_svms`.
    duration_prior : bool
        Multiply each class's window scores by a prior on the window's duration: a Gaussian
        on the log duration of the class's training instances (standard deviation at least
        0.35, about the log-ratio of two rungs of the ladder), 1 at its mean. An L2-normalised
        Fisher vector does not grow with its window, so a window inside an instance scores
        like the whole instance; the prior favours the durations the class has, after the
        duration re-scoring of sliding-window localisation in Oneata, Verbeek & Schmid
        (ICCV 2013) [4]_.
    nms_iou : float
        tIoU above which :func:`temporal_nms` suppresses a window of the same class.
    top_k : int
        Detections kept per video (all classes together, by calibrated score).
    n_classes : int or None
        Number of classes; None: the largest training label + 1 (``n_classes_``).
    n_jobs, backend, scheduler, cache_dir, progress : extraction settings
        As in :class:`baselines.methods.ClassicalVideoClassifier`: joblib processes, or one
        task per video on the ``dask.distributed`` scheduler at ``scheduler`` (its workers
        must see ``cache_dir``); no cache_dir: a temporary folder per call.
    random_state : int

    Attributes
    ----------
    encoders_ : dict of str to FisherVector
    svms_ : baselines._detection_windows.WindowSVMs
    C_, selection_ : the chosen C and ``{"C": .., "C_grid": [..]}``
    n_training_windows_ : int
    duration_prior_ : (n_classes, 2) ndarray
        Mean and standard deviation of the log duration of each class's training instances
        (NaN for a class without instances: no prior).
    failures_ : list of bench.methods.VideoFailure

    Notes
    -----
    Where this implementation departs from the pipeline of [1]_ and [2]_: trajectories at
    one spatial scale, without camera-motion compensation or human detection (the improved
    trajectories of [2]_); the dense-trajectory channels only; 128 GMM components by default
    (short windows hold few descriptors); the SVMs learn from windows of the untrimmed
    training videos only (THUMOS'14 also offers trimmed UCF101 clips); scores are
    Platt-calibrated per class. Each descriptor counts at the middle frame of its track.

    Memory per video: its descriptors, the cumulative statistics of every channel,
    ``(n_bins + 1) Σ_c (2 K D_c + 1)`` float64 with ``n_bins`` = duration / grid step
    (independent of the frame and descriptor counts), and the Fisher vectors of 64 windows at a
    time. The pool of training windows is at most ``max_training_windows`` float32 rows.
    """

    def __init__(self, extractor: ExtractorConfig | None = None, n_components: int = 128,
                 window_lengths=None, stride_fraction: float = 0.25,
                 positive_iou: float = 0.5, negative_iou: float = 0.3,
                 negatives_per_video: int = 100, hard_negative_rounds: int = 1,
                 max_training_windows: int = 3000, C="auto",
                 C_grid: tuple = (0.1, 1.0, 10.0, 100.0), cv_folds: int = 3,
                 duration_prior: bool = True, nms_iou: float = 0.4, top_k: int = 100,
                 n_classes: int | None = None, n_jobs: int = 1, backend: str = "joblib",
                 scheduler: str | None = None, cache_dir: str | None = None,
                 progress: bool = False, random_state: int = 0):
        self.extractor = extractor
        self.n_components = n_components
        self.window_lengths = window_lengths
        self.stride_fraction = stride_fraction
        self.positive_iou = positive_iou
        self.negative_iou = negative_iou
        self.negatives_per_video = negatives_per_video
        self.hard_negative_rounds = hard_negative_rounds
        self.max_training_windows = max_training_windows
        self.C = C
        self.C_grid = C_grid
        self.cv_folds = cv_folds
        self.duration_prior = duration_prior
        self.nms_iou = nms_iou
        self.top_k = top_k
        self.n_classes = n_classes
        self.n_jobs = n_jobs
        self.backend = backend
        self.scheduler = scheduler
        self.cache_dir = cache_dir
        self.progress = progress
        self.random_state = random_state

    # -- checks and extraction
    def _check_params(self) -> None:
        def bad(name, rule):
            return ValueError(f"The '{name}' parameter of SlidingWindowDetector must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")
        if not isinstance(self.extractor, ExtractorConfig) or \
                self.extractor.sampler != "trajectories":
            raise bad("extractor", "an ExtractorConfig with sampler='trajectories'")
        if not 0 < self.stride_fraction <= 1:
            raise bad("stride_fraction", "a float in (0, 1]")
        if not 0 < self.negative_iou <= self.positive_iou <= 1:
            raise bad("negative_iou", f"in (0, positive_iou={self.positive_iou}]")
        if not 0 < self.nms_iou <= 1:
            raise bad("nms_iou", "a float in (0, 1]")
        lowest = {"n_components": 1, "negatives_per_video": 1, "max_training_windows": 1,
                  "top_k": 1, "n_classes": 1, "hard_negative_rounds": 0, "cv_folds": 0}
        for name, low in lowest.items():
            value = getattr(self, name)
            if (name != "n_classes" or value is not None) and (
                    not isinstance(value, int | np.integer) or isinstance(value, bool)
                    or value < low):
                raise bad(name, f"an int in the range [{low}, inf)")
        if not (self.C == "auto" or (isinstance(self.C, int | float) and self.C > 0)):
            raise bad("C", "a float > 0 or 'auto'")

    @contextlib.contextmanager
    def _cache(self):
        if self.cache_dir is not None:
            yield self.cache_dir
            return
        with tempfile.TemporaryDirectory(prefix="actbench_detection_") as tmp:
            yield tmp

    def _videos(self, paths, cache) -> list[tuple[int, DescriptorFile, float, int]]:
        """``(index, handle, fps, n_frames)`` of the videos that extract; failures recorded."""
        with stage("extraction"):
            results = extract_to_cache(paths, self.extractor, cache_dir=cache,
                                       n_jobs=self.n_jobs, backend=self.backend,
                                       scheduler=self.scheduler, progress=self.progress)
        for result in results:
            if isinstance(result, DescriptorFile):
                add_seconds(result.seconds, prefix=WORKER_PREFIX)
        ok = []
        for i, (path, result) in enumerate(zip(paths, results, strict=True)):
            if isinstance(result, VideoFailure):
                self.failures_.append(result)
                continue
            try:
                info = probe_video(path)
            except VideoDecodeError as exc:
                self.failures_.append(VideoFailure(str(path), "decode", exc.reason))
                continue
            stride = self.extractor.stride
            n_frames = -(-info.frame_count // stride) if info.frame_count > 0 else 0
            if self.extractor.max_frames is not None:
                n_frames = min(n_frames, self.extractor.max_frames)
            ok.append((i, result, (info.fps or 25.0) / stride, n_frames))
        return ok

    # -- encoding
    def _windows(self, handle, fps, n_frames):
        """The video's windows (grid steps and seconds) and statistics; each descriptor
        counts at the middle frame of its track."""
        feats = handle.load()
        half = int(self.extractor.sampler_params.get("track_length", 15)) // 2
        frames = feats["xyt"][:, 2].astype(np.int64) + half
        if n_frames <= 0:
            n_frames = int(frames.max()) + 1 if len(frames) else 1
        lengths = self.window_lengths if self.window_lengths is not None else window_ladder()
        grid = WindowGrid.from_seconds(fps, lengths, self.stride_fraction)
        start, stop = grid.windows(n_frames)
        t0, t1 = grid.seconds(start, stop, n_frames, fps)
        n_bins = grid.n_bins(n_frames)
        stats = [temporal_statistics(self.encoders_[c], feats[c], frames, n_bins,
                                     grid.grid_frames) for c in self.extractor.channels]
        return start, stop, t0, t1, stats

    @staticmethod
    def _encode(stats, start, stop, rows) -> np.ndarray:
        return np.hstack([window_fisher_vectors(s, start[rows], stop[rows]) for s in stats])

    def _margins(self, stats, start, stop, block: int = 64) -> np.ndarray:
        out = np.empty((len(start), self.n_classes_))
        for i in range(0, len(start), block):
            rows = np.arange(i, min(i + block, len(start)))
            out[rows] = self.svms_.margins(self._encode(stats, start, stop, rows))
        return out

    # -- protocol
    def fit(self, videos, segments: pd.DataFrame, groups=None) -> SlidingWindowDetector:
        """Extract, encode the windows of the training videos and train the SVMs.

        Parameters
        ----------
        videos : 1-D array of str
            Training videos.
        segments : DataFrame
            ``video`` (a path of ``videos``), ``t_start``, ``t_end`` (s), ``label`` (int in
            ``range(n_classes)``).
        groups : 1-D array, optional
            Group of each video: SVM model selection and calibration hold whole groups out
            (without groups, or with a single one, each video is its own group).
        """
        self._check_params()
        videos = np.asarray(videos, dtype=object)
        self.n_classes_, groups = check_training_set(videos, segments, groups, self.n_classes)
        self.failures_: list[VideoFailure] = []
        by_video = {v: s for v, s in segments.groupby(segments["video"].astype(str))}
        with self._cache() as cache:
            ok = self._videos(videos, cache)
            if not ok:
                raise ValueError("no training video could be decoded and extracted")
            with stage("codebook / GMM fit"):
                self.encoders_, self.encoder_sizes_ = fit_channel_encoders(
                    [h for _, h, _, _ in ok], self.extractor.channels, self.n_components,
                    self.random_state)
            with stage("window pool"):
                pool = self._grow_pool(ok, videos, by_video, groups)
            for _ in range(int(self.hard_negative_rounds)):
                with stage("SVM fit + C selection"):
                    self.svms_ = self._fit_svms(pool, 1.0 if self.C == "auto" else self.C,
                                                calibrate=False)
                with stage("hard negatives"):
                    pool = self._grow_pool(ok, videos, by_video, groups, pool)
        with stage("SVM fit + C selection"):
            self.svms_ = self._fit_svms(pool, self.C, calibrate=True)
        self.C_ = self.svms_.C
        self.selection_ = {"C": self.C_, "C_grid": [float(c) for c in self.C_grid]}
        self.n_training_windows_ = int(len(pool["X"]))
        self.duration_prior_ = fit_duration_prior(segments, self.n_classes_)
        return self

    def _grow_pool(self, ok, videos, by_video, groups, pool: dict | None = None) -> dict:
        """The pool of training windows.

        Without ``pool``: every window positive for some class and a seeded draw of
        ``negatives_per_video`` background windows per video. With it (a mining round): the
        pool plus each class's highest-scoring negatives inside the margin that it lacks,
        about ``negatives_per_video`` per video in all
        (:func:`baselines._detection_windows.hard_negatives`).
        """
        grown = WindowPool(pool)
        if pool is not None:
            taken = set(zip(pool["video"].tolist(), pool["row"].tolist(), strict=True))
            classes = np.flatnonzero(self.svms_.has_model)
            per_class = max(1, -(-self.negatives_per_video // max(1, len(classes))))
        empty = pd.DataFrame(columns=["t_start", "t_end", "label"])
        for i, handle, fps, n_frames in ok:
            start, stop, t0, t1, stats = self._windows(handle, fps, n_frames)
            p, n = window_targets(t0, t1, by_video.get(str(videos[i]), empty), self.n_classes_,
                                  self.positive_iou, self.negative_iou)
            if pool is None:
                name = zlib.crc32(Path(str(videos[i])).name.encode())
                draw = np.random.default_rng([self.random_state, name]).permutation(
                    np.flatnonzero(n.all(axis=1)))[:self.negatives_per_video]
                rows = np.union1d(np.flatnonzero(p.any(axis=1)), draw).astype(np.int64)
            else:
                free = np.array([(i, r) not in taken for r in range(len(start))], dtype=bool)
                rows = hard_negatives(self._margins(stats, start, stop), n & free[:, None],
                                      classes, per_class)
            if len(rows):
                grown.add(self._encode(stats, start, stop, rows).astype(np.float32), p[rows],
                          n[rows], groups[i], i, rows)
        return grown.arrays(self.max_training_windows, self.random_state)

    def _fit_svms(self, pool: dict, C, calibrate: bool):
        return fit_window_svms(pool["X"], pool["pos"], pool["neg"], pool["group"], C=C,
                               C_grid=self.C_grid, cv=self.cv_folds if calibrate else 0)

    def detect(self, videos) -> pd.DataFrame:
        """Detections of every video that decodes: per class NMS, then the top-k per video.

        Returns
        -------
        DataFrame
            ``video, t_start, t_end, label, score`` (Platt-calibrated, times the duration
            prior: in [0, 1]), each video's rows by descending score.
        """
        check_is_fitted(self, "svms_")
        videos = np.asarray(videos, dtype=object)
        frames = []
        with self._cache() as cache:
            for i, handle, fps, n_frames in self._videos(videos, cache):
                with stage("encoding + SVM"):
                    start, stop, t0, t1, stats = self._windows(handle, fps, n_frames)
                    scores = self.svms_.probabilities(self._margins(stats, start, stop))
                    if self.duration_prior:
                        scores *= duration_prior(self.duration_prior_, t1 - t0)
                rows, labels = select_detections(t0, t1, scores, np.flatnonzero(
                    self.svms_.has_model), self.nms_iou, self.top_k)
                frames.append(pd.DataFrame({"video": str(videos[i]), "t_start": t0[rows],
                                            "t_end": t1[rows], "label": labels,
                                            "score": scores[rows, labels]}))
        empty = pd.DataFrame({"video": [], "t_start": 0.0, "t_end": 0.0, "label": 0,
                              "score": 0.0}).astype({"video": object})
        return pd.concat([empty, *frames], ignore_index=True)[_DETECTION_COLUMNS]


# ------------------------------------------------------------------ the method
SLIDING_WINDOW_DETECTOR_CARD = MethodCard(
    name="dt_fv_sliding_window",
    track="classical",
    family="sliding windows on dense-trajectory Fisher vectors + temporal NMS",
    year=2014,
    paper="D. Oneata, J. Verbeek, C. Schmid, \"The LEAR submission at THUMOS 2014\", THUMOS'14 "
          "Action Recognition Challenge notebook paper, 2014",
    protocol="dense trajectories (HOG/HOF/MBHx/MBHy/trajectory shape, W = 5 px, L = 15 "
             "frames, one spatial scale); PCA to D/2 + improved Fisher vectors (128 GMM "
             "components) of every window of an 8-scale ladder from 0.6 s to 8 s sliding by "
             "a quarter of its length, from prefix sums over time; one linear SVM per class "
             "(windows at tIoU >= 0.5 positive, < 0.3 negative, one round of hard negatives, "
             "C by grouped CV, Platt-calibrated scores, a duration prior per class); greedy "
             "temporal NMS at tIoU 0.4 per class, top 100 detections per video",
    description="multi-scale sliding windows over dense-trajectory Fisher vectors, linear "
                "SVMs, temporal NMS",
    task="detection",
)


def build_sliding_window_detector(ctx: MethodContext, *, channels: tuple | None = None,
                                  flow: str = "farneback", size: int | None = None,
                                  stride: int = 1, max_descriptors: int | None = None,
                                  **params: Any) -> SlidingWindowDetector:
    """The detector of :data:`SLIDING_WINDOW_DETECTOR_CARD` for ``ctx``.

    Parameters
    ----------
    ctx : MethodContext
        ``quick``: 3 channels (HOG, MBHx, MBHy), denser and shorter tracks, 16 GMM
        components, one mining round on a small pool, C from (1, 10); ``classes`` gives
        ``n_classes``; ``seed``, ``jobs``, ``cache_dir`` and ``progress`` as usual;
        ``options`` ``backend`` and ``scheduler`` (``--option backend=dask --option
        scheduler=tcp://HOST:PORT``) as for the recognition methods.
    channels : tuple of str, optional
        Descriptor channels among traj, hog, hof, mbhx, mbhy.
    flow, size, stride, max_descriptors
        Extractor settings (frames resized to ``size`` px short side, default 120).
    **params
        Any other :class:`SlidingWindowDetector` parameter.
    """
    from baselines.methods import _traj_params  # the recognition methods' trajectories

    quick = bool(ctx.quick)
    sampler_params = ({"grid_step": 4, "track_length": 10, "patch_size": 24} if quick
                      else _traj_params(False))
    default_channels = ("hog", "mbhx", "mbhy") if quick else ("traj", "hog", "hof", "mbhx",
                                                               "mbhy")
    extractor = ExtractorConfig(
        sampler="trajectories", sampler_params=sampler_params,
        channels=tuple(channels or default_channels), grid="densetrack",
        flow=FlowConfig(algorithm=flow), size=size if size is not None else 120,
        max_frames=None, stride=stride, max_descriptors=max_descriptors, seed=ctx.seed)
    defaults = {"n_components": 16, "negatives_per_video": 60, "max_training_windows": 1500,
                "C_grid": (1.0, 10.0)} if quick else {}
    return SlidingWindowDetector(**{
        "extractor": extractor,
        "n_classes": len(ctx.classes) if ctx.classes else None,
        "n_jobs": max(1, int(ctx.jobs)),
        "backend": (ctx.options or {}).get("backend", "joblib"),
        "scheduler": (ctx.options or {}).get("scheduler"),
        "cache_dir": str(ctx.cache_dir) if ctx.cache_dir is not None else None,
        "progress": bool(ctx.progress),
        "random_state": ctx.seed,
        **defaults, **params})
