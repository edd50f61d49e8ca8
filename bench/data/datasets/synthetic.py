"""``synthetic``: the embedded default dataset, rendered on demand (no download).

Articulated figures perform twelve actions on textured backgrounds under controlled nuisances.
The classes are chosen so that each generation of methods solves something the previous one
could not (see ``docs/synthetic.md``, the dataset card):

* ``walk`` / ``run``: the same gait at two speeds and frequencies (motion magnitude);
* ``jump``, ``jack``, ``bend``, ``wave1``, ``wave2``, ``clap``: poses and limb motion;
* ``sit_down`` / ``stand_up``: one is the other played backwards (same frames, reversed order);
* ``wave_then_clap`` / ``clap_then_wave``: the same two sub-actions in opposite order.

Everything random about a clip except its motion program (background, actor placement, timing,
walking direction, nuisances) is drawn from a generator seeded by ``(seed, actor, repetition)``
and never by the class, so the twelve classes of one actor and repetition share their scene:
colours and backgrounds carry no information about the label.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from bench.data.datasets import register_dataset
from bench.data.datasets._figure import (
    Body,
    clip_poses,
    draw_figure,
    sample_body,
    sub_action_lengths,
)
from bench.data.datasets._scene import (
    NUISANCES,
    Scene,
    apply_light_and_noise,
    draw_distractors,
    draw_occluder,
    sample_scene,
)
from bench.data.manifest import Manifest
from bench.paths import cache_home

__all__ = [
    "CLASSES", "CLASS_PAIRS", "GENERATOR_VERSION", "PRESETS", "SyntheticParams", "RenderedClip",
    "preset_params", "cache_key", "render_clip", "generate", "load",
    "no_nuisances", "read_boxes",
]

#: The twelve classes, in label order.
CLASSES = ("walk", "run", "jump", "jack", "bend", "wave1", "wave2", "clap",
           "sit_down", "stand_up", "wave_then_clap", "clap_then_wave")

#: The designed class pairs (recorded in the manifest's ``meta``).
CLASS_PAIRS = {
    "speed": ["walk", "run"],
    "time_reversal": ["sit_down", "stand_up"],
    "order": ["wave_then_clap", "clap_then_wave"],
    "one_vs_two_hands": ["wave1", "wave2"],
}

#: Bumped whenever a change to the generator changes any rendered byte (new cache entries).
GENERATOR_VERSION = 4

_CODEC = "FFV1"  # lossless: decoded frames equal the rendered ones byte for byte
_SUFFIX = ".avi"


@dataclass(frozen=True)
class SyntheticParams:
    """All parameters of a synthetic dataset (the cache key hashes every field).

    Attributes
    ----------
    n_actors : int
        Number of actors (the ``group`` of the protocol; folds hold actors out).
    clips_per_class : int
        Clips per actor and class (repetitions).
    width, height : int
        Frame size in pixels.
    n_frames : int
        Frames per clip (idle lead-in + action + idle lead-out).
    fps : float
        Frame rate.
    n_folds : int
        Folds; fold ``k`` tests the actors with ``actor % n_folds == k - 1``.
    actor_height : float
        Nominal standing height as a fraction of the frame height.
    classes : tuple of str
        Classes to render (a subset of :data:`CLASSES`, kept in label order).
    <nuisance>_share, <nuisance>_strength : float
        For each nuisance in ``camera_motion, distractors, illumination, noise, occlusion,
        scale_change``: the probability that a clip has it and its magnitude (1 = nominal).
    """

    n_actors: int = 9
    clips_per_class: int = 11
    width: int = 160
    height: int = 120
    n_frames: int = 40
    fps: float = 25.0
    n_folds: int = 3
    actor_height: float = 0.6
    classes: tuple[str, ...] = CLASSES
    camera_motion_share: float = 0.3
    camera_motion_strength: float = 1.0
    distractors_share: float = 0.25
    distractors_strength: float = 1.0
    illumination_share: float = 0.3
    illumination_strength: float = 1.0
    noise_share: float = 0.2
    noise_strength: float = 1.0
    occlusion_share: float = 0.2
    occlusion_strength: float = 1.0
    scale_change_share: float = 0.25
    scale_change_strength: float = 1.0

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"The {name!r} parameter of the synthetic dataset must be {rule}. "
                              f"Got {getattr(self, name)!r} instead.")

        for name in ("n_actors", "clips_per_class", "width", "height", "n_frames", "n_folds"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise bad(name, "an int >= 1")
        if self.width < 32 or self.height < 24:
            raise bad("width" if self.width < 32 else "height", "at least 32 x 24 pixels")
        if self.n_frames < 12:
            raise bad("n_frames", "an int >= 12 (idle lead-in, action, lead-out)")
        if not 2 <= self.n_folds <= self.n_actors:
            raise bad("n_folds", f"in [2, n_actors] (n_actors = {self.n_actors})")
        for f in fields(self):  # 25 and 25.0 must give the same cache key
            value = getattr(self, f.name)
            if f.type in ("float", float) and isinstance(value, int | float | np.number) \
                    and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
        if not isinstance(self.fps, float) or not self.fps > 0:
            raise bad("fps", "> 0")
        if not 0.1 <= self.actor_height <= 0.8:
            raise bad("actor_height", "in [0.1, 0.8]")
        unknown = [c for c in self.classes if c not in CLASSES]
        if unknown or not self.classes:
            raise bad("classes", f"a non-empty subset of {CLASSES}")
        object.__setattr__(self, "classes", tuple(c for c in CLASSES if c in self.classes))
        for name in NUISANCES:
            if not 0.0 <= getattr(self, f"{name}_share") <= 1.0:
                raise bad(f"{name}_share", "in [0, 1]")
            if not getattr(self, f"{name}_strength") >= 0.0:
                raise bad(f"{name}_strength", ">= 0")

    def nuisance(self) -> dict[str, tuple[float, float]]:
        """``name -> (share, strength)`` for each nuisance."""
        return {n: (getattr(self, f"{n}_share"), getattr(self, f"{n}_strength")) for n in NUISANCES}


#: Named presets: ``default`` (the benchmark) and ``quick`` (tests and CI).
PRESETS: dict[str, SyntheticParams] = {
    "default": SyntheticParams(),
    # 6 actors (3 per training fold): with 2 training actors the deep small presets could not
    # generalise to a new actor's colours and background (evidence: docs/deep-recipes.md).
    "quick": SyntheticParams(n_actors=6, clips_per_class=3, width=80, height=60, n_frames=28,
                             n_folds=2),
}


def no_nuisances() -> dict[str, float]:
    """Overrides that switch every nuisance off (for structural tests)."""
    return {f"{name}_share": 0.0 for name in NUISANCES}


def preset_params(preset: str = "default", **overrides: Any) -> SyntheticParams:
    """The parameters of ``preset`` with ``overrides`` applied.

    Raises
    ------
    ValueError
        Unknown preset or parameter (the message lists the valid ones).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset!r}; use one of {sorted(PRESETS)}")
    valid = {f.name for f in fields(SyntheticParams)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown synthetic dataset parameter(s) {unknown}; valid: {sorted(valid)}")
    if "classes" in overrides:
        overrides["classes"] = tuple(overrides["classes"])
    return replace(PRESETS[preset], **overrides)


def cache_key(params: SyntheticParams, seed: int, kind: str = "trimmed") -> str:
    """Hash of every parameter, the seed, the kind and :data:`GENERATOR_VERSION`."""
    payload = {"generator_version": GENERATOR_VERSION, "seed": int(seed), "kind": kind,
               "params": asdict(params)}
    blob = json.dumps(payload, sort_keys=True, default=list).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


# ---------------------------------------------------------------------------- rendering
@dataclass
class RenderedClip:
    """One rendered clip and its ground truth.

    Attributes
    ----------
    frames : numpy.ndarray
        ``(T, H, W, 3)`` uint8 RGB.
    boxes : numpy.ndarray
        ``(T, 4)`` int ``(x1, y1, x2, y2)``; ``frames[t, y1:y2, x1:x2]`` holds every pixel the
        figure changed (x2, y2 exclusive; amodal: occluders do not shrink it). ``-1`` when the
        figure is entirely outside the frame.
    masks : numpy.ndarray
        ``(T, H, W)`` bool: the pixels the figure changed (before occlusion, light and noise).
    poses : numpy.ndarray
        ``(T, POSE_SIZE)`` joint parameters.
    action_start, action_end : int
        First and last action frame (inclusive).
    sub_action_boundary : int
        First frame of the second sub-action for the order classes, else -1.
    scene : Scene
    body : Body
    """

    frames: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    poses: np.ndarray
    action_start: int
    action_end: int
    sub_action_boundary: int
    scene: Scene
    body: Body


def _actor_body(seed: int, actor: int) -> Body:
    return sample_body(np.random.default_rng([int(seed), int(actor), 0xB0D1]))


def _scene_rng(seed: int, actor: int, rep: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(actor), int(rep), int(stream)])


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return (-1, -1, -1, -1)
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _render(poses: np.ndarray, body: Body, scene: Scene, foot_x: float, width: int, height: int,
            noise_rng: np.random.Generator, figure: bool = True) -> tuple[np.ndarray, ...]:
    n = len(poses)
    frames = np.empty((n, height, width, 3), np.uint8)
    masks = np.empty((n, height, width), bool)
    boxes = np.empty((n, 4), np.int32)
    height_px = scene.height_px * body.height_scale
    for t in range(n):
        y0, x0 = scene.margin_y + scene.cam_y[t], scene.margin_x + scene.cam_x[t]
        background = scene.background[y0:y0 + height, x0:x0 + width].copy()
        draw_distractors(background, scene, t)
        frame = background.copy()
        draw_figure(frame, poses[t], body, foot_x + scene.drift_x[t] - scene.cam_x[t],
                    scene.ground_y - scene.cam_y[t], height_px * scene.scale[t], scene.facing)
        masks[t] = (frame != background).any(axis=2)
        boxes[t] = _bbox(masks[t])
        if not figure:
            frame = background
        draw_occluder(frame, scene, t)
        frames[t] = apply_light_and_noise(frame, scene, t, noise_rng)
    return frames, boxes, masks


def _centred_foot_x(poses: np.ndarray, scene: Scene, body: Body) -> float:
    """Start position that centres the actor's travel (walk, run) on the sampled position."""
    travel = 0.5 * (poses[:, 0].max() + poses[:, 0].min())
    return scene.foot_x - scene.facing * travel * scene.height_px * body.height_scale


def render_clip(params: SyntheticParams, seed: int, class_name: str, actor: int, rep: int, *,
                figure: bool = True) -> RenderedClip:
    """Render one clip of the synthetic dataset in memory.

    Parameters
    ----------
    params : SyntheticParams
    seed : int
        Dataset seed.
    class_name : str
        One of :data:`CLASSES`.
    actor, rep : int
        Actor index and repetition; with ``seed`` they alone seed the scene and nuisances.
    figure : bool, default True
        If False the figure is left out of the frames (the boxes and masks are still those of
        the figure): the frames are then the clip's scene alone, used to check the boxes.

    Returns
    -------
    RenderedClip
    """
    if class_name not in CLASSES:
        raise ValueError(f"unknown class {class_name!r}; use one of {CLASSES}")
    body = _actor_body(seed, actor)
    scene = sample_scene(_scene_rng(seed, actor, rep, 1), width=params.width,
                         height=params.height, n_frames=params.n_frames,
                         actor_height=params.actor_height, nuisance=params.nuisance())
    lead_in, lead_out = scene.lead_in, scene.lead_out
    if class_name == "stand_up":  # the exact reversal of the matching sit_down clip
        lead_in, lead_out = lead_out, lead_in
    poses, start, end = clip_poses(class_name, params.n_frames, lead_in, lead_out, params.fps,
                                   scene.style)
    parts = sub_action_lengths(class_name, end - start + 1)
    boundary = start + parts[0][1] if len(parts) > 1 else -1
    frames, boxes, masks = _render(poses, body, scene, _centred_foot_x(poses, scene, body),
                                   params.width, params.height, _scene_rng(seed, actor, rep, 2),
                                   figure)
    return RenderedClip(frames, boxes, masks, poses, start, end, boundary, scene, body)


def _write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*_CODEC), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {_CODEC} video to {path}; install "
                           "opencv-contrib-python-headless with FFmpeg support")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def _video_id(class_name: str, actor: int, rep: int) -> str:
    return f"{class_name}_a{actor:02d}_r{rep:02d}"


def _render_and_write(params: SyntheticParams, seed: int, class_name: str, actor: int, rep: int,
                      out_dir: str) -> tuple[dict, np.ndarray]:
    clip = render_clip(params, seed, class_name, actor, rep)
    video_id = _video_id(class_name, actor, rep)
    rel = f"videos/{class_name}/{video_id}{_SUFFIX}"
    _write_video(Path(out_dir) / rel, clip.frames, params.fps)
    row = {
        "video_id": video_id, "path": rel, "label": params.classes.index(class_name),
        "label_name": class_name, "actor": actor, "rep": rep, "group": f"actor{actor:02d}",
        "n_frames": params.n_frames, "action_start": clip.action_start,
        "action_end": clip.action_end, "sub_action_boundary": clip.sub_action_boundary,
        "facing": clip.scene.facing, "background": clip.scene.family,
        "actor_height_px": round(clip.scene.height_px * clip.body.height_scale, 3),
        **clip.scene.applied,
    }
    return row, clip.boxes


def _run_jobs(tasks: list, jobs: int | None, progress: bool, desc: str) -> list:
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if n_jobs == 1 or len(tasks) < 8:
        iterator = tqdm(tasks, desc=desc, disable=not progress, leave=False)
        return [func(*args) for func, args in iterator]
    runner = Parallel(n_jobs=n_jobs, batch_size="auto", return_as="generator")
    results = runner(delayed(func)(*args) for func, args in tasks)
    return list(tqdm(results, total=len(tasks), desc=desc, disable=not progress, leave=False))


def _publish(tmp: Path, final: Path) -> Path:
    """Move a finished temporary entry into place (another process may have won the race)."""
    (tmp / "complete").write_text("ok\n", encoding="utf-8")
    if final.exists() and not (final / "complete").exists():
        shutil.rmtree(final)  # an old, interrupted entry: never used, replaced
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / "complete").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def generate(params: SyntheticParams, seed: int = 0, home: str | os.PathLike | None = None, *,
             jobs: int | None = None, progress: bool = False) -> Path:
    """Render the dataset into its cache entry (if not there yet) and return the entry folder.

    The entry ``<home>/synthetic/<cache_key>/`` holds ``videos/<class>/<video_id>.avi`` (FFV1,
    lossless), ``metadata.csv`` (one row per clip: label, actor, action extent, nuisances),
    ``boxes.npz`` (``video_id`` and ``boxes``: ``(N, T, 4)`` per-frame actor boxes),
    ``params.json`` and the ``complete`` marker. The entry is built in a temporary folder and
    renamed into place after the marker is written, so an interrupted run is never used.

    Parameters
    ----------
    params : SyntheticParams
    seed : int
    home : path-like, optional
        Cache home (default ``$ACTBENCH_HOME`` or ``~/.cache/actbench``).
    jobs : int, optional
        Worker processes (default: all cores).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
    """
    final = cache_home(home) / "synthetic" / cache_key(params, seed)
    if (final / "complete").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tasks = [(_render_and_write, (params, seed, c, a, r, str(tmp)))
                 for a in range(params.n_actors) for c in params.classes
                 for r in range(params.clips_per_class)]
        results = _run_jobs(tasks, jobs, progress, "synthetic")
        table = pd.DataFrame([row for row, _ in results])
        table.to_csv(tmp / "metadata.csv", index=False)
        np.savez_compressed(tmp / "boxes.npz", video_id=table["video_id"].to_numpy(str),
                            boxes=np.stack([b for _, b in results]).astype(np.int16))
        (tmp / "params.json").write_text(json.dumps(
            {"params": asdict(params), "seed": seed, "generator_version": GENERATOR_VERSION},
            indent=2, sort_keys=True, default=list) + "\n", encoding="utf-8")
        return _publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_boxes(entry: str | os.PathLike) -> dict[str, np.ndarray]:
    """``video_id -> (T, 4)`` per-frame boxes of a generated entry."""
    with np.load(Path(entry) / "boxes.npz") as data:
        return dict(zip(data["video_id"].tolist(), data["boxes"], strict=True))


def _manifest(entry: Path, params: SyntheticParams, preset: str, seed: int) -> Manifest:
    meta_table = pd.read_csv(entry / "metadata.csv")
    table = meta_table[["video_id", "path", "label", "label_name", "group"]].copy()
    for k in range(1, params.n_folds + 1):
        held_out = meta_table["actor"] % params.n_folds == k - 1
        table[f"fold{k}"] = np.where(held_out, "test", "train")
    meta = {
        "allow_flip": True,
        "class_pairs": {name: pair for name, pair in CLASS_PAIRS.items()
                        if all(c in params.classes for c in pair)},
        "clip_metadata": str((entry / "metadata.csv").resolve()),
        "boxes": str((entry / "boxes.npz").resolve()),
        "preset": preset,
        "seed": int(seed),
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(params).items()},
        "generator_version": GENERATOR_VERSION,
        "protocol": f"{params.n_folds} folds; fold k tests the actors with actor % "
                    f"{params.n_folds} == k - 1 and trains on the others",
    }
    return Manifest(table, entry, list(params.classes), "synthetic", meta)


@register_dataset("synthetic", "generated articulated-figure actions, 12 classes (no download)",
                  needs_root=False, default_options={"preset": "default"},
                  quick_options={"preset": "quick"})
def load(root: str | os.PathLike | None = None, annotations: str | None = None,
         preset: str = "default", seed: int = 0, jobs: int | None = None,
         progress: bool = False, **overrides: Any) -> Manifest:
    """Generate (or reuse from the cache) the synthetic dataset and return its manifest.

    Parameters
    ----------
    root : path-like, optional
        Cache home to use instead of ``$ACTBENCH_HOME`` (default ``~/.cache/actbench``).
    annotations : None
        Not used: the synthetic dataset carries its own labels.
    preset : {"default", "quick"}
        ``default``: 9 actors x 12 classes x 11 clips, 160 x 120, 40 frames, 3 folds.
        ``quick``: 6 actors x 12 classes x 3 clips, 80 x 60, 28 frames, 2 folds.
    seed : int
    jobs : int, optional
        Worker processes for the generation.
    progress : bool
    **overrides
        Any :class:`SyntheticParams` field, e.g. ``noise_share=0.0``.

    Returns
    -------
    bench.data.manifest.Manifest
        ``group`` is the actor; ``meta`` records ``allow_flip``, ``class_pairs``,
        ``clip_metadata`` (absolute path of ``metadata.csv``), ``boxes``, ``preset``, ``params``.

    References
    ----------
    .. [1] C. Schuldt, I. Laptev and B. Caputo, "Recognizing human actions: a local SVM
       approach", ICPR 2004. doi:10.1109/ICPR.2004.1334462 (actor-held-out protocol).
    .. [2] M. Blank, L. Gorelick, E. Shechtman, M. Irani and R. Basri, "Actions as space-time
       shapes", ICCV 2005. doi:10.1109/ICCV.2005.28 (the Weizmann-like classes).
    """
    if annotations is not None:
        raise ValueError("the synthetic dataset takes no --annotations (its labels are generated)")
    params = preset_params(preset, **overrides)
    entry = generate(params, seed, root, jobs=jobs, progress=progress)
    return _manifest(entry, params, preset, seed)
