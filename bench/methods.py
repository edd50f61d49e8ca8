"""The method registry: the only way the harness reaches the classical and deep tracks.

Every method serves one *task* (:data:`TASKS`, on its card). A recognition method is an
sklearn estimator over videos (``sklearn.base.clone`` must work on it)::

    method.fit(paths, y, groups=None) -> method
    method.decision_function(paths) -> (n_videos, n_classes) float array

where ``paths`` is a 1-D object array of absolute video paths, ``y`` integer labels in
``range(n_classes)`` and ``groups`` the dataset's group of each video (its actor), which a
method uses to keep a whole group on one side of its internal model selection (a method that
selects nothing ignores it). A video that fails inside a method (decoding, feature extraction, ...)
does not stop it: the method appends a :class:`VideoFailure` to its ``failures_`` list, leaves
the video out of training, and returns a row of NaN for it from ``decision_function``. The
runner records those in ``failures.csv`` and scores the remaining videos.

A detection method (the ``detection`` task) is an sklearn estimator over untrimmed videos::

    method.fit(paths, segments, groups=None) -> method
    method.detect(paths) -> DataFrame: video, t_start, t_end, label, score

where ``segments`` is a DataFrame of the training instances, columns ``video`` (a path of
``paths``), ``t_start`` and ``t_end`` (seconds) and ``label`` (an int in ``range(n_classes)``;
the class names are ``MethodContext.classes``); a video may have none. ``detect`` returns any
number of scored segments per video, in the same columns plus ``score`` (higher: more
confident). Failing videos go to ``failures_`` as for recognition, with no detections.

A localization method (the ``localization`` task: spatio-temporal action localization, AVA
style) is an sklearn estimator over untrimmed videos::

    method.fit(paths, boxes, groups=None) -> method
    method.localize(paths) -> DataFrame: video, timestamp, x1, y1, x2, y2, label, score

where ``boxes`` is a DataFrame of the training ground truth, one row per (keyframe, actor,
action): ``video`` (a path of ``paths``), ``timestamp`` (the keyframe's time in seconds),
``frame`` (its frame index, -1 where the dataset does not know it), ``x1, y1, x2, y2`` (the
actor's box as fractions of the frame's width and height, top left first), ``label`` (an int
in ``range(n_classes)``), ``person_id`` (the actor, the same across a video's keyframes); an
actor doing two actions at a keyframe is two rows with one box, and a video may have none.
``localize`` returns scored boxes at keyframes, in the same columns (``timestamp`` a keyframe
time, boxes in [0, 1]) plus ``score``, any number per keyframe (the AVA evaluator keeps the 50
best of each); it may add ``person_id``, a track id linking one actor's boxes across
keyframes. Keyframes are one a second, by the rule of
:func:`bench.data.datasets.localization_truth.keyframe_table` (keyframe ``k`` is the frame
nearest ``k`` seconds): what the AVA files of a run can hold (whole-second timestamps).
Failing videos go to ``failures_`` as for recognition, with no boxes.

Optional fitted attributes the runner reads: ``n_params_`` (learned numbers, when they depend
on the data), ``history_`` (one dict per epoch) with ``best_epoch_`` (whose weights were kept),
``budget_`` (the resolved training budget, e.g. ``{"epochs": .., "steps": ..}``) and
``selection_`` (what the internal model selection chose, with its grid, e.g.
``{"C": 10.0, "C_grid": [...]}``).

Each method is registered with a :class:`MethodCard` and a factory ``factory(ctx, **params)``
that builds a fresh, unfitted estimator for a :class:`MethodContext`.

The reference floors of recognition (``chance``) and detection (``random_segments``) are
defined here. The localization floor, ``random_boxes``, lives in
:mod:`bench.tasks.localization.floor`: it reads the videos' frame counts through the video
probe and places its boxes on the keyframes of the ground truth's rule, both in the data
stage, which this module (a small contract below every stage) may not import. The registry
imports it by module name (:data:`REFERENCE_MODULES`) when it loads the tracks, as it imports
the tracks.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from bench.paths import cache_home

__all__ = [
    "TASKS",
    "MethodCard",
    "MethodContext",
    "VideoFailure",
    "RegisteredMethod",
    "register_method",
    "get_method",
    "list_methods",
    "build_method",
    "ChanceClassifier",
    "TRACK_MODULES",
    "TRACK_PACKAGES",
    "REFERENCE_MODULES",
]

#: The tasks a method can serve; the run directory, the metrics and the report section of
#: each live in ``bench.tasks.<task>``.
TASKS = ("recognition", "detection", "localization")

#: The package of each track. ``bench`` reaches a track only through ``<package>.methods``
#: (imported once, it registers the track's methods) and ``<package>.perf`` (its kernels'
#: timings, ``python -m bench perf``).
TRACK_PACKAGES = {"classical": "baselines", "deep": "deep"}
#: Modules imported (once) to populate the registry.
TRACK_MODULES = tuple(f"{package}.methods" for package in TRACK_PACKAGES.values())
#: Modules of the harness that register reference methods this module cannot define itself
#: (they need a stage it may not import); imported (once) with the tracks.
REFERENCE_MODULES = ("bench.tasks.localization.floor",)


@dataclass(frozen=True)
class MethodCard:
    """What a method is: the facts a report needs about it.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"hog_bow_svm"``.
    track : {"classical", "deep", "reference"}
    family : str
        Short family description, e.g. ``"3D CNN"``.
    year : int
        Year of the paper the method reproduces.
    paper : str
        Citation (authors, title, venue, year; DOI or arXiv id where there is one).
    protocol : str
        Evaluation protocol in words (sampling, views, clip length).
    params : int or None
        Learnable parameter count of the default (registered) configuration, when known
        before training (deep models). Classical methods report it after fit.
    flops_per_clip : int or None
        FLOPs (not MACs) per evaluated clip, when known.
    description : str
        One line for ``python -m bench list``.
    task : str, default "recognition"
        The task the method serves (:data:`TASKS`).
    """

    name: str
    track: str
    family: str
    year: int
    paper: str
    protocol: str = ""
    params: int | None = None
    flops_per_clip: int | None = None
    description: str = ""
    task: str = "recognition"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MethodContext:
    """Run-level settings handed to every method factory.

    Attributes
    ----------
    seed : int
        Seed for every random choice the method makes.
    quick : bool
        Use the small/fast configuration (tests, CI).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (deep methods).
    jobs : int
        Worker processes/threads a method may use.
    cache_dir : Path
        Folder for on-disk caches (descriptors, decoded clips); default
        ``bench.paths.cache_home() / "cache"``, as the runner passes it.
    progress : bool
        Show progress bars.
    classes : list of str
        Class names of the dataset, in label order.
    allow_flip : bool
        Whether horizontal flips preserve labels (False when a class is direction-labelled).
    work_dir : Path or None
        Folder for checkpoints of this (method, fold) unit, when the runner provides one.
    options : dict
        Extra options from the command line or config (e.g. ``backend``, ``scheduler``).
    run_methods : dict
        Every method of the run with its parameters (``name -> params``), so that methods
        which share per-video work can do it once: the classical methods extract the
        descriptors of all the run's classical methods in one pass over each video.
    """

    seed: int = 0
    quick: bool = False
    device: str = "auto"
    jobs: int = 1
    cache_dir: Path = field(default_factory=lambda: cache_home() / "cache")
    progress: bool = True
    classes: list[str] = field(default_factory=list)
    allow_flip: bool = True
    work_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    run_methods: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoFailure:
    """A video that failed inside a method: which video, at which stage, and why."""

    video: str
    stage: str
    reason: str


@dataclass(frozen=True)
class RegisteredMethod:
    card: MethodCard
    factory: Callable[..., Any]
    default_params: dict[str, Any]


_REGISTRY: dict[str, RegisteredMethod] = {}
_TRACKS_LOADED = False
_TRACK_ERRORS: dict[str, str] = {}


def register_method(card: MethodCard, factory: Callable[..., Any], **default_params: Any) -> None:
    """Register a method under ``card.name``.

    Parameters
    ----------
    card : MethodCard
    factory : callable
        ``factory(ctx: MethodContext, **params) -> estimator``.
    **default_params
        Parameters recorded in the run's config and passed to ``factory``.
    """
    if card.track not in ("classical", "deep", "reference"):
        raise ValueError(f"track must be classical, deep or reference. Got {card.track!r}.")
    if card.task not in TASKS:
        raise ValueError(f"{card.name}: task must be one of {', '.join(TASKS)}. "
                         f"Got {card.task!r}.")
    _REGISTRY[card.name] = RegisteredMethod(card, factory, dict(default_params))


def _load_tracks() -> None:
    global _TRACKS_LOADED
    if _TRACKS_LOADED:
        return
    _TRACKS_LOADED = True
    for module in REFERENCE_MODULES:
        importlib.import_module(module)
    for module in TRACK_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a track not installed/importable
            if exc.name and module.startswith(exc.name.split(".")[0]):
                _TRACK_ERRORS[module] = str(exc)
            else:
                raise


def list_methods(pattern: str = "*", track: str | None = None,
                 task: str | None = None) -> list[MethodCard]:
    """Cards of the registered methods, in order of year then name.

    Parameters
    ----------
    pattern : str
        Shell-style wildcard on the name (``"r*d_18"``).
    track : str, optional
        Keep only this track.
    task : str, optional
        Keep only the methods of this task.
    """
    _load_tracks()
    cards = [m.card for m in _REGISTRY.values() if fnmatch.fnmatchcase(m.card.name, pattern)]
    if track is not None:
        cards = [c for c in cards if c.track == track]
    if task is not None:
        cards = [c for c in cards if c.task == task]
    return sorted(cards, key=lambda c: (c.year, c.name))


def get_method(name: str) -> RegisteredMethod:
    """The registered method called ``name``; a ``KeyError`` lists the known names."""
    _load_tracks()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown method {name!r}; known methods: {known}")
    return _REGISTRY[name]


def build_method(name: str, ctx: MethodContext, **overrides: Any) -> Any:
    """A fresh estimator for ``name`` built with its default parameters and ``overrides``."""
    entry = get_method(name)
    params = {**entry.default_params, **overrides}
    return entry.factory(ctx, **params)


# ---------------------------------------------------------------------------- chance
class ChanceClassifier(ClassifierMixin, BaseEstimator):
    """Seeded, stratified random scores: the floor every method must beat.

    Parameters
    ----------
    random_state : int, default 0

    Notes
    -----
    ``decision_function`` draws, per video, a class from the training label frequencies and
    gives it the top score; the other classes get uniform noise below it. Scores depend only
    on the seed and the order of the videos, so the same seed gives the same predictions.
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, paths: np.ndarray, y: np.ndarray, groups=None) -> ChanceClassifier:
        """Learn the training label frequencies (``paths`` and ``groups`` are not read)."""
        y = np.asarray(y, dtype=int)
        if len(y) == 0:
            raise ValueError("ChanceClassifier needs at least one training video")
        self.classes_ = np.arange(int(y.max()) + 1)
        counts = np.bincount(y, minlength=len(self.classes_)).astype(float)
        self.class_prior_ = counts / counts.sum()
        self.failures_: list[VideoFailure] = []
        return self

    def decision_function(self, paths: np.ndarray) -> np.ndarray:
        """Random scores, one row per video, the drawn class on top."""
        rng = np.random.default_rng(self.random_state)
        n, c = len(paths), len(self.classes_)
        scores = rng.uniform(0.0, 0.5, size=(n, c))
        picks = rng.choice(c, size=n, p=self.class_prior_)
        scores[np.arange(n), picks] = 1.0
        return scores


def _chance_factory(ctx: MethodContext) -> ChanceClassifier:
    return ChanceClassifier(random_state=ctx.seed)


register_method(
    MethodCard(
        name="chance",
        track="reference",
        family="random",
        year=1900,
        paper="Stratified random guessing (reference floor).",
        protocol="no input is read",
        params=0,
        flops_per_clip=0,
        description="seeded stratified random scores; the floor every method must beat",
    ),
    _chance_factory,
)


# ---------------------------------------------------------------------------- random segments
class RandomSegmentDetector(BaseEstimator):
    """Seeded random segments: the floor every temporal detector must beat.

    Parameters
    ----------
    random_state : int, default 0
    per_video : int or None, default None
        Segments drawn per video; None: 10 times the training mean of instances per video
        (at least 10), so that the floor's recall is not limited by too few guesses.

    Notes
    -----
    ``fit`` learns the training label frequencies and segment durations; ``detect`` draws,
    per video, labels from those frequencies, durations from the training durations and
    centres uniformly inside the video (read from the file's frame count and rate), with
    uniform scores. Only the seed and the order of the videos decide the draws.
    """

    def __init__(self, random_state: int = 0, per_video: int | None = None):
        self.random_state = random_state
        self.per_video = per_video

    def fit(self, paths: np.ndarray, segments, groups=None) -> RandomSegmentDetector:
        """Learn label frequencies, durations and instances per video (videos are not read)."""
        labels = np.asarray(segments["label"], dtype=int)
        if len(labels) == 0:
            raise ValueError("RandomSegmentDetector needs at least one training segment")
        counts = np.bincount(labels).astype(float)
        self.class_prior_ = counts / counts.sum()
        self.durations_ = np.asarray(segments["t_end"], float) - np.asarray(segments["t_start"],
                                                                            float)
        mean = len(labels) / max(1, len(paths))
        self.per_video_ = (int(self.per_video) if self.per_video is not None
                           else max(10, int(round(10 * mean))))
        self.failures_: list[VideoFailure] = []
        return self

    def detect(self, paths: np.ndarray):
        """Random scored segments for each readable video."""
        import pandas as pd

        rng = np.random.default_rng(self.random_state)
        n, rows = self.per_video_, []
        for path in paths:
            length = _video_seconds(path)
            if length is None:
                self.failures_.append(VideoFailure(str(path), "decode", "OpenCV could not "
                                                   "read its frame count and rate"))
                continue
            durations = np.minimum(rng.choice(self.durations_, size=n), length)
            centres = rng.uniform(0.0, length, size=n)
            start = np.clip(centres - durations / 2, 0.0, length - durations)
            rows.append(pd.DataFrame({
                "video": str(path), "t_start": start, "t_end": start + durations,
                "label": rng.choice(len(self.class_prior_), size=n, p=self.class_prior_),
                "score": rng.uniform(0.0, 1.0, size=n)}))
        columns = ["video", "t_start", "t_end", "label", "score"]
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def _video_seconds(path) -> float | None:
    """A video's length from its container's frame count and rate (None if unreadable)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = float(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
        return count / fps if fps > 0 and count > 0 else None
    finally:
        capture.release()


def _random_segments_factory(ctx: MethodContext) -> RandomSegmentDetector:
    return RandomSegmentDetector(random_state=ctx.seed)


register_method(
    MethodCard(
        name="random_segments",
        track="reference",
        family="random",
        year=1900,
        paper="Random segments with the training durations and label frequencies "
              "(reference floor).",
        protocol="only the videos' lengths are read",
        params=0,
        flops_per_clip=0,
        description="seeded random scored segments; the floor every detector must beat",
        task="detection",
    ),
    _random_segments_factory,
)
