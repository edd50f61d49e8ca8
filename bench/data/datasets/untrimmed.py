"""The untrimmed, multi-actor mode of the synthetic generator (temporal detection, localization).

Long videos (15-40 s in the ``default`` preset) in which one to three actors each perform a
sequence of the twelve synthetic actions, with idle time and background motion between them,
on the recognition generator's backgrounds and under its nuisances, written as lossless videos
with exact ground truth: every instance's actor, label, first and last frame, and every actor's
box in every frame. :func:`card` is the dataset card; each designed property below names the
generation of methods it is meant to separate (THUMOS'14 [1]_ and ActivityNet [2]_ are the
field's benchmarks; DETAD [3]_ shows why durations and boundaries matter).

Designed properties
-------------------
* **Durations from 0.6 s to 8 s** (per class, log-uniform; :data:`DURATION_S`). Fixed-length
  sliding windows (the classical THUMOS'14 detectors) and a few fixed anchor scales (S-CNN
  [4]_) cannot reach a high temporal IoU on both the shortest and the longest instances;
  boundary regression (ActionFormer [6]_) can. DETAD [3]_ finds instance length the
  characteristic that moves detectors most.
* **Back-to-back instances of different classes** (no idle frame between them). Actionness
  stays high across the boundary, so grouping actionness alone (TAG [5]_) merges the two;
  only class-aware boundaries split them at the right frame.
* **Background motion between instances**: weight shifts, small steps, turning between the
  profile and the frontal view, glancing towards the camera, plus camera sway, distractors
  and light drift. A motion or frame-difference detector fires on all of it; a learned
  actionness (SSN / TAG [5]_) must tell it from the actions.
* **Overlapping instances of different actors**: every actor follows its own timeline, so two
  actors often act at once. A temporal detector must report overlapping segments; a localizer
  must say *who* does what (per-person boxes and an RoI head, as on AVA [7]_), which a
  whole-frame classifier cannot.

Ambiguous compositions are avoided by construction
(:func:`bench.data.datasets._sequence.pair_conflict`): ``wave1`` then ``clap`` without a gap
*is* ``wave_then_clap``, so such pairs (and repeats of one class or of one sub-action) never
meet back to back; they are separated by at least ``separation_s`` of idle time holding
background motion. Views and posture constrain the rest (see the card).

Matched design: a video's scene (background, camera, distractors, light, noise, occluder, the
actors' places and sizes) is drawn from a generator seeded by ``(seed, video)`` before and apart
from the action sequences, which come from their own streams seeded by ``(seed, video, actor
slot)``: changing only the sequences leaves the scene byte-identical. Actors are the
recognition generator's identities (same seed, same actor number: same body, clothes, size),
with a tempo of their own; video ``i`` holds actors of group ``i % n_folds`` only, and fold
``k`` tests the videos of group ``k - 1``, as the recognition folds test the actors with
``actor % n_folds == k - 1``.

References
----------
.. [1] H. Idrees, A. R. Zamir, Y.-G. Jiang, A. Gorban, I. Laptev, R. Sukthankar and M. Shah,
   "The THUMOS challenge on action recognition for videos 'in the wild'", CVIU 155, 1-23,
   2017. arXiv:1604.06182.
.. [2] F. Caba Heilbron, V. Escorcia, B. Ghanem and J. C. Niebles, "ActivityNet: a large-scale
   video benchmark for human activity understanding", CVPR 2015.
   doi:10.1109/CVPR.2015.7298698.
.. [3] H. Alwassel, F. Caba Heilbron, V. Escorcia and B. Ghanem, "Diagnosing error in temporal
   action detectors", ECCV 2018. doi:10.1007/978-3-030-01219-9_16.
.. [4] Z. Shou, D. Wang and S.-F. Chang, "Temporal action localization in untrimmed videos via
   multi-stage CNNs", CVPR 2016. arXiv:1601.02129.
.. [5] Y. Zhao, Y. Xiong, L. Wang, Z. Wu, X. Tang and D. Lin, "Temporal action detection with
   structured segment networks", ICCV 2017. arXiv:1704.06228.
.. [6] C.-L. Zhang, J. Wu and Y. Li, "ActionFormer: localizing moments of actions with
   transformers", ECCV 2022. arXiv:2202.07925.
.. [7] C. Gu et al., "AVA: a video dataset of spatio-temporally localized atomic visual
   actions", CVPR 2018. arXiv:1705.08421.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.annotations.segments import SegmentAnnotations, validate_segments
from bench.data.datasets._sequence import CLASSES, DURATION_S, ActorSequence, sample_sequence
from bench.data.datasets._timeline import ActorTrack, actor_track
from bench.data.datasets._untrimmed_card import card_text
from bench.data.datasets._untrimmed_params import (
    ACTOR_STYLE,
    PRESETS,
    UNTRIMMED_VERSION,
    UntrimmedParams,
    cache_key,
    untrimmed_params,
)
from bench.data.datasets._untrimmed_preview import preview_sheet, write_preview
from bench.data.datasets._untrimmed_scene import VideoScene, render_frames, sample_video_scene
from bench.data.datasets.synthetic import (
    GENERATOR_VERSION,
    _actor_body,
    _publish,
    _run_jobs,
    _write_video,
)
from bench.paths import cache_home

__all__ = [
    "CLASSES", "DURATION_S", "UNTRIMMED_VERSION", "PRESETS", "UntrimmedParams",
    "untrimmed_params", "cache_key", "VideoPlan", "plan_video", "RenderedVideo", "render_video",
    "UntrimmedDataset", "generate_untrimmed", "load_untrimmed", "card", "preview_sheet",
    "write_preview",
]

_SUFFIX = ".avi"


def _actor_style(seed: int, actor: int) -> float:
    return float(np.random.default_rng([int(seed), int(actor), 0x57E1]).uniform(*ACTOR_STYLE))


# ---------------------------------------------------------------------------- planning
@dataclass
class VideoPlan:
    """A video before rendering: its scene and one sampled sequence per actor slot."""

    index: int
    video_id: str
    fps: float
    scene: VideoScene
    bodies: list
    sequences: list[ActorSequence]

    def segments(self) -> pd.DataFrame:
        """The ground-truth instances (columns as :attr:`UntrimmedDataset.segments`)."""
        rows = [{"video_id": self.video_id, "actor": layout.actor, "label": inst.label,
                 "label_id": CLASSES.index(inst.label), "start_frame": inst.start,
                 "end_frame": inst.end, "t_start": round(inst.start / self.fps, 6),
                 "t_end": round((inst.end + 1) / self.fps, 6)}
                for layout, seq in zip(self.scene.actors, self.sequences, strict=True)
                for inst in seq.instances]
        columns = ["video_id", "actor", "label", "label_id", "start_frame", "end_frame",
                   "t_start", "t_end"]
        table = pd.DataFrame(rows, columns=columns)
        return table.sort_values(["start_frame", "actor"], kind="stable").reset_index(drop=True)

    def tracks(self) -> list[ActorTrack]:
        """Per-frame poses, positions and facing of each actor slot."""
        return [actor_track(seq, self.fps) for seq in self.sequences]


def plan_video(params: UntrimmedParams, seed: int, index: int, *,
               sequence_seed: int | None = None) -> VideoPlan:
    """Draw video ``index``'s scene and sequences without rendering anything.

    Parameters
    ----------
    params : UntrimmedParams
    seed : int
        Dataset seed: the scene, the identities and (by default) the sequences.
    index : int
        Video number.
    sequence_seed : int, optional
        Seed of the action sequences alone (default ``seed``): another value keeps the scene
        and changes only what the actors do (the matched design's check).

    Returns
    -------
    VideoPlan
    """
    scene = sample_video_scene(params, seed, index, lambda a: _actor_body(seed, a))
    rules = params.rules()
    seq_seed = seed if sequence_seed is None else sequence_seed
    sequences = [
        sample_sequence(np.random.default_rng([int(seq_seed), 0x5E0, int(index), slot]), rules,
                        n_frames=scene.n_frames, height_px=layout.height_px, stage=scene.stage,
                        x0=layout.x0, style=_actor_style(seed, layout.actor))
        for slot, layout in enumerate(scene.actors)]
    bodies = [_actor_body(seed, layout.actor) for layout in scene.actors]
    return VideoPlan(int(index), f"untrimmed_{int(index):03d}", params.fps, scene, bodies,
                     sequences)


@dataclass
class RenderedVideo:
    """One rendered video: frames ``(T, H, W, 3)``, boxes ``(T, n_actors, 4)``, visible
    shares ``(T, n_actors)``, masks (or None), its plan and tracks (slots in plan order)."""

    frames: np.ndarray
    boxes: np.ndarray
    visible: np.ndarray
    masks: np.ndarray | None
    plan: VideoPlan
    tracks: list[ActorTrack]

    def box_table(self) -> pd.DataFrame:
        """Per frame and actor: ``video_id, frame, time, actor, x1, y1, x2, y2, visible,
        visible_fraction, label`` (the class under way, ``""`` when idle)."""
        n_frames, n_actors = self.boxes.shape[:2]
        frame = np.repeat(np.arange(n_frames), n_actors)
        labels = np.array([*CLASSES, ""], dtype=object)
        per_frame = np.stack([track.label for track in self.tracks], axis=1).reshape(-1)
        xyxy = self.boxes.reshape(-1, 4)
        return pd.DataFrame({
            "video_id": self.plan.video_id, "frame": frame,
            "time": np.round(frame / self.plan.fps, 6),
            "actor": np.tile([a.actor for a in self.plan.scene.actors], n_frames),
            "x1": xyxy[:, 0], "y1": xyxy[:, 1], "x2": xyxy[:, 2], "y2": xyxy[:, 3],
            "visible": xyxy[:, 0] >= 0,
            "visible_fraction": np.round(self.visible.reshape(-1).astype(float), 4),
            "label": labels[per_frame],
        })


def render_video(params: UntrimmedParams, seed: int, index: int, *, figure: bool = True,
                 keep_masks: bool = False, sequence_seed: int | None = None) -> RenderedVideo:
    """Render video ``index`` in memory, exactly as :func:`generate_untrimmed` writes it.

    Parameters
    ----------
    params : UntrimmedParams
    seed, index : int
        Dataset seed and video number (see :func:`plan_video`).
    figure : bool, default True
        If False the figures are left out of the frames (boxes, masks and visible shares are
        still the figures'): the frames are then the scene alone, used to check the boxes.
    keep_masks : bool, default False
        Also keep each actor's mask per frame (the pixels its figure changes, drawn alone).
    sequence_seed : int, optional
        See :func:`plan_video`.

    Returns
    -------
    RenderedVideo
    """
    plan = plan_video(params, seed, index, sequence_seed=sequence_seed)
    tracks = plan.tracks()
    noise_rng = np.random.default_rng([int(seed), 0x0A7E, int(index), 2])
    frames, boxes, visible, masks = render_frames(
        plan.scene, tracks, plan.bodies, params.width, params.height, noise_rng, figure=figure,
        keep_masks=keep_masks)
    return RenderedVideo(frames, boxes, visible, masks, plan, tracks)


# ---------------------------------------------------------------------------- the dataset
@dataclass(frozen=True)
class UntrimmedDataset:
    """A generated untrimmed dataset: its folder and ground-truth tables.

    Attributes
    ----------
    root : pathlib.Path
        The cache entry; ``videos.path`` is relative to it.
    params : UntrimmedParams
    seed : int
    videos : DataFrame
        One row per video: ``video_id, path, duration_s, n_frames, fps, width, height, group,
        actors`` (``;``-separated identities), ``n_actors``, ``fold1 .. fold<K>`` (``train`` /
        ``test``), ``background`` and the nuisances applied.
    segments : DataFrame
        One row per instance: ``video_id, actor, label, label_id, start_frame, end_frame``
        (inclusive), ``t_start = start_frame / fps``, ``t_end = (end_frame + 1) / fps``
        (back-to-back instances share a time).
    boxes : DataFrame
        One row per frame and actor of each video (see :meth:`RenderedVideo.box_table`):
        amodal boxes, ``x2, y2`` exclusive, ``-1`` and ``visible = False`` when the figure has
        no pixel in the frame.
    """

    root: Path
    params: UntrimmedParams
    seed: int
    videos: pd.DataFrame
    segments: pd.DataFrame
    boxes: pd.DataFrame
    classes: tuple[str, ...] = CLASSES

    def path(self, video_id: str) -> Path:
        """Absolute path of a video file."""
        row = self.videos.loc[self.videos["video_id"] == video_id]
        if row.empty:
            raise KeyError(f"no video {video_id!r}; videos are {self.videos['video_id'].tolist()}")
        return self.root / row["path"].iloc[0]

    def video_boxes(self, video_id: str) -> pd.DataFrame:
        """The box rows of one video."""
        return self.boxes[self.boxes["video_id"] == video_id].reset_index(drop=True)

    def subset(self, fold: int, subset: str) -> pd.DataFrame:
        """The videos of ``fold`` (1-based) in ``subset`` (``train`` or ``test``)."""
        column = f"fold{int(fold)}"
        if column not in self.videos.columns:
            raise ValueError(f"fold {fold} does not exist; folds are 1 .. {self.params.n_folds}")
        return self.videos[self.videos[column] == subset].reset_index(drop=True)

    def to_annotations(self) -> SegmentAnnotations:
        """The ground truth as the detection task reads it.

        Returns
        -------
        bench.data.annotations.SegmentAnnotations
            Segments in seconds with class names and the ``actor`` column; every video with
            its duration and path (``subset`` is None: the folds say train or test).
        """
        segments = validate_segments(
            self.segments[["video_id", "t_start", "t_end", "label", "actor"]],
            durations=self.videos.set_index("video_id")["duration_s"], classes=CLASSES,
            tolerance=0.0, what="untrimmed ground truth")
        videos = pd.DataFrame({"video_id": self.videos["video_id"], "subset": None,
                               "duration": self.videos["duration_s"].astype(float),
                               "path": self.videos["path"]})
        return SegmentAnnotations(segments, videos, CLASSES,
                                  meta={"format": "actbench-untrimmed", "source": str(self.root)})

    def card(self) -> str:
        """The dataset card (markdown) of these parameters."""
        return card(self.params)


def card(params: UntrimmedParams | None = None) -> str:
    """The dataset card (markdown): what the videos hold, each designed property and the
    generation of methods it separates, the ambiguity rules, folds, files and presets."""
    return card_text(params if params is not None else PRESETS["default"], PRESETS)


def _render_and_write(params: UntrimmedParams, seed: int, index: int, out_dir: str):
    video = render_video(params, seed, index)
    plan, scene = video.plan, video.plan.scene
    rel = f"videos/{plan.video_id}{_SUFFIX}"
    _write_video(Path(out_dir) / rel, video.frames, params.fps)
    row = {"video_id": plan.video_id, "path": rel,
           "duration_s": round(scene.n_frames / params.fps, 6), "n_frames": scene.n_frames,
           "fps": params.fps, "width": params.width, "height": params.height,
           "group": scene.group, "actors": ";".join(str(a.actor) for a in scene.actors),
           "n_actors": len(scene.actors),
           **{f"fold{k}": "test" if scene.group == k - 1 else "train"
              for k in range(1, params.n_folds + 1)},
           "background": scene.base.family, **scene.applied}
    return row, plan.segments(), video.box_table()


def generate_untrimmed(root: str | os.PathLike | None = None,
                       params: UntrimmedParams | None = None, seed: int = 0, *,
                       jobs: int | None = None, progress: bool = False) -> UntrimmedDataset:
    """Render the dataset into its cache entry (if not there yet) and load it.

    The entry ``<root>/untrimmed/<cache_key>/`` holds ``videos/<video_id>.avi`` (FFV1, the
    recognition generator's writer), ``videos.csv``, ``segments.csv``, ``boxes.csv`` (the
    tables of :class:`UntrimmedDataset`), ``params.json`` (parameters, seed, versions) and the
    ``complete`` marker. It is built in a temporary folder and renamed into place after the
    marker is written, so an interrupted run is never used.

    Parameters
    ----------
    root : path-like, optional
        Cache home (default ``$ACTBENCH_HOME`` or ``~/.cache/actbench``).
    params : UntrimmedParams, optional
        Default: the ``default`` preset.
    seed : int
    jobs : int, optional
        Worker processes (default: all cores).
    progress : bool
        Show a progress bar.

    Returns
    -------
    UntrimmedDataset
    """
    params = params if params is not None else PRESETS["default"]
    final = cache_home(root) / "untrimmed" / cache_key(params, seed)
    if (final / "complete").exists():
        return load_untrimmed(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tasks = [(_render_and_write, (params, seed, i, str(tmp))) for i in range(params.n_videos)]
        results = _run_jobs(tasks, jobs, progress, "synthetic untrimmed")
        videos = pd.DataFrame([row for row, _, _ in results])
        segments = pd.concat([s for _, s, _ in results], ignore_index=True)
        validate_segments(segments, durations=videos.set_index("video_id")["duration_s"],
                          classes=CLASSES, tolerance=0.0, what="untrimmed ground truth")
        videos.to_csv(tmp / "videos.csv", index=False)
        segments.to_csv(tmp / "segments.csv", index=False)
        pd.concat([b for _, _, b in results], ignore_index=True).to_csv(tmp / "boxes.csv",
                                                                         index=False)
        (tmp / "params.json").write_text(json.dumps(
            {"params": asdict(params), "seed": int(seed), "untrimmed_version": UNTRIMMED_VERSION,
             "generator_version": GENERATOR_VERSION}, indent=2, sort_keys=True) + "\n",
            encoding="utf-8")
        return load_untrimmed(_publish(tmp, final))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_untrimmed(entry: str | os.PathLike) -> UntrimmedDataset:
    """Read a generated entry (a folder written by :func:`generate_untrimmed`).

    Raises
    ------
    FileNotFoundError
        The folder is not a complete entry.
    """
    entry = Path(entry)
    if not (entry / "complete").exists():
        raise FileNotFoundError(f"{entry} is not a complete untrimmed entry (no 'complete' "
                                "marker); generate it with generate_untrimmed()")
    meta = json.loads((entry / "params.json").read_text(encoding="utf-8"))
    params = UntrimmedParams(**meta["params"])
    text = {"video_id": str, "label": str, "actors": str, "occluder": str, "path": str}
    tables = [pd.read_csv(entry / f"{name}.csv", keep_default_na=False,
                          dtype={k: v for k, v in text.items() if k in columns})
              for name, columns in (("videos", ("video_id", "path", "actors", "occluder")),
                                    ("segments", ("video_id", "label")),
                                    ("boxes", ("video_id", "label")))]
    return UntrimmedDataset(entry, params, int(meta["seed"]), *tables)
