"""Classical spatio-temporal action localization: HOG person tubes classified with
dense-trajectory Fisher vectors.

The 2015 classical line, as a two-stage pipeline over untrimmed videos:

1. **person detection** — :class:`baselines.person_detector.HOGPersonDetector` (Dalal &
   Triggs 2005 [1]_), trained on the training keyframes' actor boxes, run on every
   ``frame_stride``-th frame and on every keyframe;
2. **tubes** — the detections linked across the sampled frames with
   :func:`baselines.tubes.link_tubes` (Gkioxari & Malik 2015 [2]_);
3. **actions** — at each keyframe a tube covers, the dense trajectories
   (:mod:`baselines.extraction`) whose middle point lies in the tube's box within
   ``half_window_s`` of the keyframe are encoded as one improved Fisher vector per channel
   (:class:`baselines.encoders.FisherVector`) and scored by one linear SVM per class,
   one-vs-rest and multi-label (an actor may do two actions), as the per-tube features of
   Weinzaepfel et al. 2015 [3]_.

``localize`` returns one row per (box, class): the score is the tube's person score (a
sigmoid of the detector's margin, averaged over the tube's detections within
``half_window_s``) times a sigmoid of the class's SVM margin, so that a box that is not a
person ranks low for every class.

References
----------
.. [1] N. Dalal, B. Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005.
   :doi:`10.1109/CVPR.2005.177`
.. [2] G. Gkioxari, J. Malik, "Finding action tubes", CVPR 2015.
   :doi:`10.1109/CVPR.2015.7298676`
.. [3] P. Weinzaepfel, Z. Harchaoui, C. Schmid, "Learning to track for spatio-temporal action
   localization", ICCV 2015. :doi:`10.1109/ICCV.2015.362`
"""

from __future__ import annotations

import contextlib
import tempfile

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from baselines.encoders import FisherVector
from baselines.extraction import (
    DescriptorFile,
    ExtractorConfig,
    extract_to_cache,
    one_thread_per_video,
)
from baselines.flow import FlowConfig
from baselines.keyframes import (
    LOCALIZE_COLUMNS,
    TRAINING_COLUMNS,
    KeyframeVideo,
    empty_localization,
    sigmoid,
)
from baselines.person_detector import HOGPersonDetector
from baselines.tubes import link_tubes
from bench.data.video import VideoDecodeError
from bench.methods import MethodCard, MethodContext, VideoFailure
from bench.profile import stage

__all__ = ["TubeActionLocalizer", "build_hog_tubes", "HOG_TUBES_CARD", "TRAINING_COLUMNS",
           "LOCALIZE_COLUMNS"]

class TubeActionLocalizer(BaseEstimator):
    """HOG person tubes + dense-trajectory Fisher vectors + per-class linear SVMs.

    Parameters
    ----------
    detector : HOGPersonDetector or None
        The person detector (unfitted; cloned parameters are used). None: the defaults.
    extractor : ExtractorConfig
        Dense trajectories and their channels (``sampler="trajectories"``, whole videos).
    n_components : int
        GMM components per channel.
    C : float
        Regularisation of the per-class LinearSVC (balanced class weights).
    frame_stride : int
        The detector runs on every ``frame_stride``-th frame (and every keyframe); tubes link
        consecutive sampled frames.
    link_lambda, link_min_iou : float
        λ and the smallest IoU of :func:`baselines.tubes.link_tubes`.
    half_window_s : float
        Trajectories within this many seconds of a keyframe describe its boxes.
    avoid_s : float
        A training keyframe's negatives stay off the video's labelled boxes within this many
        seconds (a person labelled then may stand there idle, unlabelled, now).
    box_context : float
        Trajectories are gathered in the box grown by this fraction of its size per side.
    max_boxes : int
        Boxes (tubes) per keyframe kept, by person score; each gives one row per class.
    rate_hz : float
        Keyframes per second (the ground truth's rule, AVA's 1 Hz).
    n_jobs, cache_dir : extraction workers and descriptor cache (None: a temporary folder).
    random_state : int

    Attributes
    ----------
    detector_ : HOGPersonDetector
    encoders_ : dict of str to FisherVector
    svms_ : list of LinearSVC or None (a class without training box)
    n_classes_ : int
    failures_ : list of VideoFailure

    Notes
    -----
    Differences from [2]_ and [3]_: a HOG detector instead of R-CNN boxes; class-agnostic
    person tubes classified per keyframe instead of per-class tubes; the action SVMs learn
    from the ground-truth boxes only (no detected boxes as extra samples); trajectories at one
    scale, without camera-motion compensation.
    """

    def __init__(self, detector: HOGPersonDetector | None = None,
                 extractor: ExtractorConfig | None = None, n_components: int = 16,
                 C: float = 1.0, frame_stride: int = 5, link_lambda: float = 1.0,
                 link_min_iou: float = 0.1, half_window_s: float = 0.5, avoid_s: float = 2.0,
                 box_context: float = 0.1, max_boxes: int = 4, rate_hz: float = 1.0,
                 n_jobs: int = 1, cache_dir: str | None = None, random_state: int = 0):
        self.detector = detector
        self.extractor = extractor
        self.n_components = n_components
        self.C = C
        self.frame_stride = frame_stride
        self.link_lambda = link_lambda
        self.link_min_iou = link_min_iou
        self.half_window_s = half_window_s
        self.avoid_s = avoid_s
        self.box_context = box_context
        self.max_boxes = max_boxes
        self.rate_hz = rate_hz
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.random_state = random_state

    # -- checks
    def _check_params(self) -> None:
        def bad(name, rule):
            return ValueError(f"The '{name}' parameter of TubeActionLocalizer must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")
        if not isinstance(self.extractor, ExtractorConfig) or \
                self.extractor.sampler != "trajectories":
            raise bad("extractor", "an ExtractorConfig with sampler='trajectories'")
        if self.detector is not None and not isinstance(self.detector, HOGPersonDetector):
            raise bad("detector", "a HOGPersonDetector or None")
        for name in ("n_components", "frame_stride", "max_boxes", "n_jobs"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise bad(name, "an int in the range [1, inf)")
        for name in ("C", "half_window_s", "rate_hz"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value > 0:
                raise bad(name, "a float > 0")
        for name in ("link_lambda", "link_min_iou", "avoid_s", "box_context"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value >= 0:
                raise bad(name, "a float >= 0")

    @contextlib.contextmanager
    def _cache(self):
        if self.cache_dir is not None:
            yield self.cache_dir
            return
        with tempfile.TemporaryDirectory(prefix="actbench_localization_") as tmp:
            yield tmp

    def _decode(self, paths) -> dict[str, KeyframeVideo]:
        videos = {}
        for path in map(str, paths):
            try:
                videos[path] = KeyframeVideo(path, float(self.rate_hz))
            except VideoDecodeError as exc:
                self.failures_.append(VideoFailure(path, "decode", exc.reason))
            except ValueError as exc:  # a frame rate below the keyframe rate
                self.failures_.append(VideoFailure(path, "keyframes", str(exc)))
        return videos

    def _trajectories(self, videos: dict[str, KeyframeVideo], cache) -> dict[str, dict]:
        """Each video's trajectory descriptors with their middle point in frame pixels."""
        with stage("extraction"):
            results = extract_to_cache(list(videos), self.extractor, cache_dir=cache,
                                       n_jobs=int(self.n_jobs))
        out = {}
        half = int(self.extractor.sampler_params.get("track_length", 15)) // 2
        for (path, video), result in zip(list(videos.items()), results, strict=True):
            if not isinstance(result, DescriptorFile):
                self.failures_.append(result)
                del videos[path]
                continue
            feats = result.load()
            size = self.extractor.size
            scale = 1.0 if size is None else size / min(video.height, video.width)
            xyt = feats.pop("xyt")
            stride = self.extractor.stride
            out[path] = {"x": xyt[:, 0] / scale, "y": xyt[:, 1] / scale,
                         "frame": (xyt[:, 2] + half) * stride,
                         "channels": {c: feats[c] for c in self.extractor.channels}}
        return out

    def _sets(self, traj: dict, frame: int, box: np.ndarray, fps: float) -> dict:
        """The trajectories of one box around one frame, per channel."""
        w, h = box[2] - box[0], box[3] - box[1]
        g = float(self.box_context)
        inside = ((traj["x"] >= box[0] - g * w) & (traj["x"] < box[2] + g * w)
                  & (traj["y"] >= box[1] - g * h) & (traj["y"] < box[3] + g * h)
                  & (np.abs(traj["frame"] - frame) <= self.half_window_s * fps))
        return {c: d[inside] for c, d in traj["channels"].items()}

    def _encode(self, sets: list[dict]) -> np.ndarray:
        return np.hstack([self.encoders_[c].transform([s[c] for s in sets])
                          for c in self.extractor.channels])

    # -- protocol
    def fit(self, videos, boxes: pd.DataFrame, groups=None) -> TubeActionLocalizer:
        """Train the person detector and the action SVMs on the training keyframes.

        Parameters
        ----------
        videos : 1-D array of str
        boxes : DataFrame
            :data:`TRAINING_COLUMNS` (the method protocol of :mod:`bench.methods`).
        groups : ignored
            (No internal model selection.)
        """
        self._check_params()
        missing = [c for c in TRAINING_COLUMNS if c not in boxes.columns]
        if missing:
            raise ValueError(f"TubeActionLocalizer.fit: the training boxes lack the column(s) "
                             f"{missing}; it reads {list(TRAINING_COLUMNS)}")
        if len(boxes) == 0:
            raise ValueError("TubeActionLocalizer needs at least one training box; the "
                             "training videos have none (is the fold's ground truth empty?)")
        self.failures_: list[VideoFailure] = []
        self.n_classes_ = int(boxes["label"].max()) + 1
        with self._cache() as cache:
            decoded = self._decode(videos)
            traj = self._trajectories(decoded, cache)
        actors = []  # (video, frame, box px, labels)
        frames, persons, avoid = [], [], []
        for path, video in decoded.items():
            rows = boxes[boxes["video"].astype(str) == path]
            if not len(rows):
                continue
            px = rows[["x1", "y1", "x2", "y2"]].to_numpy(float) * [video.width, video.height,
                                                                    video.width, video.height]
            index = rows["frame"].to_numpy(int)
            index = np.where(index >= 0, index, np.round(rows["timestamp"].to_numpy() *
                                                         video.fps).astype(int))
            times, ids = rows["timestamp"].to_numpy(float), rows["person_id"].to_numpy()
            for t in np.unique(times):
                now = times == t
                here = np.unique(px[now], axis=0)
                near = (np.abs(times - t) <= self.avoid_s) & ~np.isin(ids, ids[now])
                frame = int(index[now][0])
                frames.append(video.frames[min(frame, len(video.frames) - 1)])
                persons.append(here)
                avoid.append(np.unique(px[near], axis=0))
                for b in here:
                    same = now & (px == b).all(axis=1)
                    actors.append((path, frame, b, rows["label"].to_numpy(int)[same]))
        if not actors:
            raise ValueError("TubeActionLocalizer: no training video with boxes could be "
                             "decoded and extracted")
        detector = self.detector if self.detector is not None else HOGPersonDetector()
        with stage("person detector"), one_thread_per_video():
            self.detector_ = HOGPersonDetector(**detector.get_params()).set_params(
                random_state=self.random_state).fit(frames, persons, avoid)
        with stage("Fisher vectors"):
            self.encoders_ = {}
            for c in self.extractor.channels:
                pooled = np.vstack([t["channels"][c] for t in traj.values()])
                k = int(min(self.n_components, max(1, len(pooled) // 10)))
                self.encoders_[c] = FisherVector(n_components=k, max_descriptors=20000,
                                                 random_state=self.random_state).fit(pooled)
            X = self._encode([self._sets(traj[p], f, b, decoded[p].fps)
                              for p, f, b, _ in actors])
        Y = np.zeros((len(actors), self.n_classes_), dtype=bool)
        for i, (_, _, _, labels) in enumerate(actors):
            Y[i, labels] = True
        with stage("SVM fit"):
            self.svms_ = [LinearSVC(C=float(self.C), class_weight="balanced", dual=True,
                                    max_iter=5000, random_state=self.random_state)
                          .fit(X, Y[:, c]) if 0 < Y[:, c].sum() < len(Y) else None
                          for c in range(self.n_classes_)]
        self.n_training_boxes_ = len(actors)
        return self

    def _class_scores(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), self.n_classes_))
        for c, svm in enumerate(self.svms_):
            out[:, c] = sigmoid(svm.decision_function(X)) if svm is not None else 0.0
        return out

    def _video_rows(self, video: KeyframeVideo, traj: dict) -> pd.DataFrame | None:
        positions = np.union1d(np.arange(0, len(video.frames), int(self.frame_stride)),
                               video.key_frames)
        with stage("person detection"), one_thread_per_video():
            found = [self.detector_.detect(video.frames[f]) for f in positions]
        boxes = [b for b, _ in found]
        scores = [sigmoid(s) for _, s in found]
        tubes = link_tubes(boxes, scores, self.link_lambda, self.link_min_iou)
        at = {int(f): i for i, f in enumerate(positions)}
        half = self.half_window_s * video.fps
        picks = []  # (keyframe index, tube id, box, person score)
        for k, frame in enumerate(video.key_frames):
            i = at[int(frame)]
            here = []
            for tube_id, tube in enumerate(tubes):
                step = [j for t, j in tube if t == i]
                if not step:
                    continue
                near = [scores[t][j] for t, j in tube if abs(positions[t] - frame) <= half]
                here.append((float(np.mean(near)), tube_id, boxes[i][step[0]]))
            here.sort(key=lambda e: (-e[0], e[1]))
            picks += [(k, tube_id, box, s) for s, tube_id, box in here[:self.max_boxes]]
        if not picks:
            return None
        with stage("Fisher vectors + SVM"):
            X = self._encode([self._sets(traj, int(video.key_frames[k]), b, video.fps)
                              for k, _, b, _ in picks])
            classes = self._class_scores(X)
        size = np.array([video.width, video.height, video.width, video.height], dtype=float)
        xyxy = np.clip(np.array([b for _, _, b, _ in picks]) / size, 0.0, 1.0)
        person = np.array([s for _, _, _, s in picks])
        n, C = len(picks), self.n_classes_
        return pd.DataFrame({
            "video": video.path,
            "timestamp": np.repeat(video.key_times[[k for k, _, _, _ in picks]], C),
            "x1": np.repeat(xyxy[:, 0], C), "y1": np.repeat(xyxy[:, 1], C),
            "x2": np.repeat(xyxy[:, 2], C), "y2": np.repeat(xyxy[:, 3], C),
            "label": np.tile(np.arange(C), n),
            "score": (person[:, None] * classes).ravel(),
            "person_id": np.repeat([t for _, t, _, _ in picks], C).astype(np.int64)})

    def localize(self, videos) -> pd.DataFrame:
        """Scored (box, class) rows at every keyframe of each video that decodes.

        Returns
        -------
        DataFrame
            :data:`LOCALIZE_COLUMNS`; ``person_id`` is the tube's id within its video.
        """
        check_is_fitted(self, "svms_")
        with self._cache() as cache:
            decoded = self._decode(videos)
            traj = self._trajectories(decoded, cache)
        rows = [self._video_rows(video, traj[path]) for path, video in decoded.items()]
        rows = [r for r in rows if r is not None]
        return pd.concat(rows, ignore_index=True) if rows else empty_localization()


# ------------------------------------------------------------------ the method
HOG_TUBES_CARD = MethodCard(
    name="hog_tubes_dt",
    track="classical",
    family="HOG person tubes + dense-trajectory Fisher vectors + linear SVMs",
    year=2015,
    paper="N. Dalal, B. Triggs, \"Histograms of Oriented Gradients for Human Detection\", CVPR "
          "2005, doi:10.1109/CVPR.2005.177; G. Gkioxari, J. Malik, \"Finding action tubes\", "
          "CVPR 2015, doi:10.1109/CVPR.2015.7298676; P. Weinzaepfel, Z. Harchaoui, C. Schmid, "
          "\"Learning to track for spatio-temporal action localization\", ICCV 2015, "
          "doi:10.1109/ICCV.2015.362",
    protocol="HOG person detector (4 px cells, 2x2-cell L2-Hys blocks, 9 bins; window of the "
             "training boxes' median aspect, 8 cells tall plus one cell of context; pyramid "
             "over the training heights in steps of 2^(1/4); LinearSVC, flipped and jittered "
             "positives, one round of hard negatives off every labelled box of the +-2 s "
             "neighbourhood; greedy NMS at IoU 0.3) on every 5th frame and every keyframe; "
             "Viterbi tube linking (s_t + s_t+1 + IoU, links at IoU >= 0.1); at each 1 Hz "
             "keyframe, the dense trajectories of the tube's box within +-0.5 s as improved "
             "Fisher vectors per channel; one-vs-rest LinearSVC per class (multi-label); score "
             "= person score x sigmoid(class margin), 4 boxes per keyframe",
    description="HOG person detector, linked person tubes, dense-trajectory Fisher vectors "
                "per tube and keyframe, one-vs-rest linear SVMs",
    task="localization",
)


def build_hog_tubes(ctx: MethodContext, *, channels: tuple | None = None,
                    flow: str = "farneback", size: int | None = None,
                    detector: dict | None = None, **params) -> TubeActionLocalizer:
    """The localizer of :data:`HOG_TUBES_CARD` for ``ctx``.

    Parameters
    ----------
    ctx : MethodContext
        ``quick``: HOG, MBHx and MBHy trajectories (shorter, denser tracks), 8 GMM
        components, the detector on every 5th frame with 10 random negatives per frame;
        ``seed``, ``jobs`` and ``cache_dir`` as usual.
    channels : tuple of str, optional
        Trajectory channels among traj, hog, hof, mbhx, mbhy.
    flow, size
        Extractor settings (frames resized to ``size`` px short side; default 120).
    detector : dict, optional
        :class:`HOGPersonDetector` parameters.
    **params
        Any other :class:`TubeActionLocalizer` parameter.
    """
    quick = bool(ctx.quick)
    sampler_params = ({"grid_step": 4, "track_length": 10, "patch_size": 24} if quick else
                      {"grid_step": 4, "track_length": 15, "patch_size": 32})
    extractor = ExtractorConfig(
        sampler="trajectories", sampler_params=sampler_params,
        channels=tuple(channels or (("hog", "mbhx", "mbhy") if quick else
                                    ("hog", "hof", "mbhx", "mbhy"))),
        grid="densetrack", flow=FlowConfig(algorithm=flow),
        size=size if size is not None else 120, max_frames=None, seed=ctx.seed)
    det = {"negatives_per_frame": 10} if quick else {}
    defaults = {"n_components": 8} if quick else {"n_components": 32}
    return TubeActionLocalizer(**{
        "detector": HOGPersonDetector(**{**det, **(detector or {})}),
        "extractor": extractor,
        "n_jobs": max(1, int(ctx.jobs)),
        "cache_dir": str(ctx.cache_dir) if ctx.cache_dir is not None else None,
        "random_state": ctx.seed,
        **defaults, **params})
