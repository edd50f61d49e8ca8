"""``random_boxes``: seeded random actor boxes at every keyframe, the localization task's floor.

The reference every spatio-temporal localizer must beat, as ``chance`` is recognition's and
``random_segments`` detection's (:mod:`bench.methods`). It learns from the training ground
truth only what a method that never looks at a pixel can know: the sizes and positions of
the actor boxes, how many actors a keyframe holds and how often each action occurs. From the
test videos it reads only the frame count and rate (:func:`bench.data.video.probe_video`), to
place its boxes on the keyframes the ground truth uses
(:func:`bench.data.datasets.localization_truth.keyframe_table`: keyframe ``k`` is the frame
nearest ``k / rate_hz`` seconds).

It lives here rather than beside the other floors in :mod:`bench.methods` because it needs
the data stage (the probe and the keyframe rule), which the registry may not import; the
registry imports this module by name (:data:`bench.methods.REFERENCE_MODULES`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from bench.data.datasets.localization_truth import keyframe_table
from bench.data.video import VideoDecodeError, probe_video
from bench.methods import MethodCard, MethodContext, VideoFailure, register_method

__all__ = ["RandomBoxLocalizer", "TRAINING_COLUMNS", "LOCALIZE_COLUMNS"]

#: The columns :meth:`RandomBoxLocalizer.fit` reads from the training boxes.
TRAINING_COLUMNS = ("video", "timestamp", "x1", "y1", "x2", "y2", "label")
#: The columns :meth:`RandomBoxLocalizer.localize` returns (the method protocol's).
LOCALIZE_COLUMNS = ("video", "timestamp", "x1", "y1", "x2", "y2", "label", "score")


def _bad(name: str, rule: str, value) -> ValueError:
    return ValueError(f"The '{name}' parameter of RandomBoxLocalizer must be {rule}. "
                      f"Got {value!r} instead.")


class RandomBoxLocalizer(BaseEstimator):
    """Seeded random scored actor boxes at every keyframe: the floor of localization.

    Parameters
    ----------
    random_state : int, default 0
        Seed of every draw.
    per_keyframe : int or None, default None
        Boxes drawn per keyframe; None: twice the training mean of actor boxes per annotated
        keyframe, rounded up, at least 2, so that the floor's recall is not limited by too few
        guesses (the AVA evaluator keeps at most 50 per keyframe).
    rate_hz : float, default 1.0
        Keyframes per second (AVA's rate, the one the run's AVA files can hold).

    Attributes
    ----------
    class_prior_ : ndarray
        Training frequency of each label (one row per (actor box, action)).
    sizes_, centres_ : ndarray, shape (n_boxes, 2)
        Width and height, and centre, of each training actor box (an actor with two actions
        counted once), as fractions of the frame.
    per_keyframe_ : int
        Boxes drawn per keyframe.
    failures_ : list of VideoFailure
        Test videos whose frame count and rate could not be read (no boxes for them).

    Notes
    -----
    ``fit`` reads the training boxes only, never a video. ``localize`` probes each test
    video, lists its keyframes by the ground truth's rule and draws, per keyframe,
    ``per_keyframe_`` boxes: a size from one training box and a centre from another (both
    uniformly), the box shifted to lie inside the frame (so it keeps its size); a label from
    the training frequencies; a uniform score in [0, 1). Only the seed and the order of the
    videos decide the draws. It returns no ``person_id`` (no tracks), so a run reports no
    video-mAP for it.
    """

    def __init__(self, random_state: int = 0, per_keyframe: int | None = None,
                 rate_hz: float = 1.0):
        self.random_state = random_state
        self.per_keyframe = per_keyframe
        self.rate_hz = rate_hz

    def _check_params(self) -> None:
        k = self.per_keyframe
        if k is not None and (not isinstance(k, int | np.integer) or isinstance(k, bool)
                              or k < 1):
            raise _bad("per_keyframe", "an int in [1, inf) or None", k)
        rate = self.rate_hz
        if (not isinstance(rate, int | float | np.number) or isinstance(rate, bool)
                or not math.isfinite(float(rate)) or float(rate) <= 0):
            raise _bad("rate_hz", "a float in (0, inf)", rate)

    def fit(self, paths: np.ndarray, boxes: pd.DataFrame, groups=None) -> RandomBoxLocalizer:
        """Learn box sizes, positions, actors per keyframe and label frequencies.

        Parameters
        ----------
        paths : array of str
            The training videos (not read).
        boxes : DataFrame
            The training ground truth, :data:`TRAINING_COLUMNS` (``person_id`` used when
            present to count an actor with several actions once).
        groups : ignored

        Returns
        -------
        self

        Raises
        ------
        ValueError
            A parameter out of range, a missing column, or no training box.
        """
        self._check_params()
        missing = [c for c in TRAINING_COLUMNS if c not in boxes.columns]
        if missing:
            raise ValueError(f"RandomBoxLocalizer.fit: the training boxes lack the column(s) "
                             f"{missing}; it reads {list(TRAINING_COLUMNS)}")
        if len(boxes) == 0:
            raise ValueError("RandomBoxLocalizer needs at least one training box; the training "
                             "videos have none (is the fold's ground truth empty?)")
        labels = boxes["label"].to_numpy(dtype=int)
        counts = np.bincount(labels).astype(float)
        self.class_prior_ = counts / counts.sum()
        keys = ["video", "timestamp", "x1", "y1", "x2", "y2"]
        keys += ["person_id"] if "person_id" in boxes.columns else []
        actors = boxes.drop_duplicates(keys)
        xyxy = actors[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
        self.sizes_ = np.column_stack([xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]])
        self.centres_ = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2,
                                         (xyxy[:, 1] + xyxy[:, 3]) / 2])
        n_keyframes = len(actors[["video", "timestamp"]].drop_duplicates())
        self.per_keyframe_ = (int(self.per_keyframe) if self.per_keyframe is not None
                              else max(2, math.ceil(2 * len(actors) / n_keyframes)))
        self.failures_: list[VideoFailure] = []
        return self

    def _keyframes(self, path: str) -> np.ndarray | None:
        """The keyframe times of one video, or None (a failure recorded) if unreadable."""
        try:
            info = probe_video(path)
        except VideoDecodeError as exc:
            self.failures_.append(VideoFailure(path, "decode", exc.reason))
            return None
        if not info.fps > 0 or info.frame_count < 1:
            self.failures_.append(VideoFailure(path, "decode", "the container gives no frame "
                                               "rate or frame count; re-encode the video"))
            return None
        videos = pd.DataFrame({"video_id": [path], "n_frames": [info.frame_count],
                               "fps": [info.fps]})
        try:
            return keyframe_table(videos, float(self.rate_hz))["timestamp"].to_numpy()
        except ValueError as exc:  # a frame rate below the keyframe rate
            self.failures_.append(VideoFailure(path, "keyframes", str(exc)))
            return None

    def localize(self, paths: np.ndarray) -> pd.DataFrame:
        """Random scored boxes at every keyframe of each readable video.

        Parameters
        ----------
        paths : array of str

        Returns
        -------
        DataFrame
            :data:`LOCALIZE_COLUMNS`, by video (in the given order) then keyframe.
        """
        rng = np.random.default_rng(self.random_state)
        n, rows = self.per_keyframe_, []
        for path in map(str, paths):
            times = self._keyframes(path)
            if times is None or not len(times):
                continue
            m = n * len(times)
            size = self.sizes_[rng.integers(len(self.sizes_), size=m)]
            centre = self.centres_[rng.integers(len(self.centres_), size=m)]
            x1 = np.clip(centre[:, 0] - size[:, 0] / 2, 0.0, 1.0 - size[:, 0])
            y1 = np.clip(centre[:, 1] - size[:, 1] / 2, 0.0, 1.0 - size[:, 1])
            rows.append(pd.DataFrame({
                "video": path, "timestamp": np.repeat(times, n), "x1": x1, "y1": y1,
                "x2": x1 + size[:, 0], "y2": y1 + size[:, 1],
                "label": rng.choice(len(self.class_prior_), size=m, p=self.class_prior_),
                "score": rng.uniform(0.0, 1.0, size=m)}))
        if not rows:
            return pd.DataFrame({c: pd.Series([], dtype=object if c == "video" else
                                              np.int64 if c == "label" else np.float64)
                                 for c in LOCALIZE_COLUMNS})
        return pd.concat(rows, ignore_index=True)


def _random_boxes_factory(ctx: MethodContext, **params) -> RandomBoxLocalizer:
    return RandomBoxLocalizer(random_state=ctx.seed, **params)


register_method(
    MethodCard(
        name="random_boxes",
        track="reference",
        family="random",
        year=1900,
        paper="Random actor boxes with the training box sizes, positions and label "
              "frequencies (reference floor).",
        protocol="only the videos' frame counts and rates are read; boxes at every 1 Hz "
                 "keyframe",
        params=0,
        flops_per_clip=0,
        description="seeded random scored actor boxes at every keyframe; the floor every "
                    "localizer must beat",
        task="localization",
    ),
    _random_boxes_factory,
    per_keyframe=None,
    rate_hz=1.0,
)
